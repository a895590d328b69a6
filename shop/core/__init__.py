"""Plumbing every domain uses: raw SQL helpers, id parsing, the client's address, encrypted fields, log redaction."""
