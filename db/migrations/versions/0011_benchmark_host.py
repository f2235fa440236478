"""benchmark host

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:10:00

Issue 16: each benchmark row records the machine it ran on (the worker's OPTLAB_HOST), so Compare
can take a row's latency from one machine's runs. Rows stored before have none (NULL).
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
    op.create_index('ix_benchmark_results_host', 'benchmark_results', ['host'])


def downgrade() -> None:
    op.drop_index('ix_benchmark_results_host', table_name='benchmark_results')
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.drop_column('host')
