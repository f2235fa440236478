"""benchmark noise flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:50:00

Issue 12: a run measured while other processes used more than half the cores is flagged `noisy`
(core.measure.benchmark); Compare's headline latency comes from the runs not flagged. Rows stored
before have no such reading and count as not noisy. The index serves that headline's median
(a window over each model, precision and noisy flag, ordered by latency).
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('noisy', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_benchmark_results_evidence', 'benchmark_results',
                    ['hint', 'batch', 'model_id', 'precision', 'noisy', 'latency_median_ms'])


def downgrade() -> None:
    op.drop_index('ix_benchmark_results_evidence', table_name='benchmark_results')
    with op.batch_alter_table('benchmark_results', schema=None) as batch_op:
        batch_op.drop_column('noisy')
