"""Alembic environment: runs on the connection db.session.upgrade_schema passes in."""

from alembic import context

from db.models import Base
from db.session import get_engine

connection = context.config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with get_engine().begin() as conn:
        _run(conn)
