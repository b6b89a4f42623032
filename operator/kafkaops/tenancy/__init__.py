"""Tenancy: which topics, consumer groups and clusters a namespace may use (pure rules)."""
