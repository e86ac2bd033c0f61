"""Plumbing shared by the persistent backends: connections, schema versions, error mapping."""
