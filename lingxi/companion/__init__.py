"""伴: personas with long-term memory, per user."""
