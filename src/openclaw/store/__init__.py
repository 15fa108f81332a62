"""Durable state in SQLite in the state dir: the send ledger, the inbox, channel cursors."""
