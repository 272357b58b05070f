"""Alembic migrations: the only way Klaster's schema is created or changed."""
