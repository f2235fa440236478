"""ids are never reused

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 06:45:00

SQLite gives a new row the largest id + 1, so after deleting the newest model (or dataset, job, ...)
the next one took its number, and a bookmarked "#5" named another model. AUTOINCREMENT rules that
out; SQLite only takes it when a table is created, so each table is rebuilt with its rows (foreign
key enforcement is off meanwhile: db.session.upgrade_schema). Other databases use sequences already.
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TABLES = ('models', 'datasets', 'jobs', 'benchmark_results', 'profiles', 'accuracy_results')


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always',
                                  table_kwargs={'sqlite_autoincrement': autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
