"""Alembic revision scripts, oldest first; v0001 is the schema of release 0.1.0."""
