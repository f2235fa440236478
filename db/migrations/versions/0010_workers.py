"""workers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:00:00

Issue 16: each worker announces itself (host, queue, devices, CPU, OpenVINO version) and is seen
alive by the database's clock, so the pages can show which targets have a live worker.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('host', sa.String(length=255), nullable=False),
                    sa.Column('queue', sa.String(length=100), nullable=False),
                    sa.Column('pid', sa.Integer(), nullable=False),
                    sa.Column('devices', sa.JSON(), nullable=False),
                    sa.Column('cpu', sa.String(length=200), nullable=False),
                    sa.Column('openvino', sa.String(length=60), nullable=False),
                    sa.Column('started_at', sa.DateTime(), nullable=False),
                    sa.Column('last_seen', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('host', 'queue', name='uq_workers_host_queue'),
                    sqlite_autoincrement=True)
    op.create_index('ix_workers_queue', 'workers', ['queue'])


def downgrade() -> None:
    op.drop_index('ix_workers_queue', table_name='workers')
    op.drop_table('workers')
