"""Alembic environment: runs on the connection storage.migrate hands over (either backend)."""

from alembic import context

from teller_guard.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
