"""The shop's own API v2 for resellers: action definitions, handlers, the endpoint, keys and limits."""
