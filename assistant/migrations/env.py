"""Alembic environment. Run through `assistant.graph.migrate`, which hands us a connection."""

from alembic import context

from assistant.graph.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always pass one
    raise RuntimeError("run migrations through `assistant db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
