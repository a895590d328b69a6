"""Money coming in: top-ups through payment gateways, credited exactly once."""
