"""Storage: the database engine, the ORM models and the Alembic migrations."""
