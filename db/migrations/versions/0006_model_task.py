"""model task

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:30:00

Issue 13: a model records its task (core/tasks: classification, detection, segmentation,
text-recognition, embedding, regression) and how its outputs are read (charset, thresholds).
Models stored before have no task and are judged as classifiers, as they were.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # if SQLite rebuilds the table, it keeps AUTOINCREMENT (0003: ids are never reused)
    with op.batch_alter_table('models', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('task', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('task_settings', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('models', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('task_settings')
        batch_op.drop_column('task')
