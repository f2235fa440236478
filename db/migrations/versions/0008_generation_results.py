"""generation benchmark points, and details of an accuracy row

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 03:00:00

Issue 14: one row per (prompt tokens, new tokens) point of an openvino.genai generation benchmark
(core.measure.generation), and accuracy_results.details for what a metric keeps beside its value
(the similarity metric's worst answers).
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('generation_results',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('model_id', sa.Integer(), nullable=False),
                    sa.Column('job_id', sa.Integer(), nullable=True),
                    sa.Column('device', sa.String(length=40), nullable=False),
                    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
                    sa.Column('input_tokens', sa.Integer(), nullable=False),
                    sa.Column('new_tokens', sa.Integer(), nullable=False),
                    sa.Column('generated_tokens', sa.Integer(), nullable=False),
                    sa.Column('repeats', sa.Integer(), nullable=False),
                    sa.Column('ttft_ms', sa.Float(), nullable=False),
                    sa.Column('tpot_ms', sa.Float(), nullable=False),
                    sa.Column('tokens_per_s', sa.Float(), nullable=False),
                    sa.Column('generate_ms', sa.Float(), nullable=False),
                    sa.Column('peak_memory_mb', sa.Float(), nullable=True),
                    sa.Column('stats', sa.JSON(), nullable=False),
                    sa.Column('environment', sa.JSON(), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sqlite_autoincrement=True)
    op.create_index('ix_generation_results_model_id', 'generation_results', ['model_id'])
    with op.batch_alter_table('accuracy_results', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accuracy_results', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_column('details')
    op.drop_index('ix_generation_results_model_id', table_name='generation_results')
    op.drop_table('generation_results')
