"""Persistence: SQLAlchemy models, the one session scope, and a repository that returns records."""
