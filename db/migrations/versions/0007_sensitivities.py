"""layer sensitivity rankings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:45:00

Issue 13: a sensitivity job ranks a model's INT8 layers by how much of a task metric keeping each
in float recovers (core.optimize.sensitivity); one row per ranking, the layers as JSON.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sensitivities',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('model_id', sa.Integer(), nullable=False),
                    sa.Column('job_id', sa.Integer(), nullable=True),
                    sa.Column('dataset_id', sa.Integer(), nullable=True),
                    sa.Column('metric', sa.String(length=40), nullable=False),
                    sa.Column('float_value', sa.Float(), nullable=False),
                    sa.Column('int8_value', sa.Float(), nullable=False),
                    sa.Column('layers', sa.JSON(), nullable=False),
                    sa.Column('seconds', sa.Float(), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
                    sa.ForeignKeyConstraint(['model_id'], ['models.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sqlite_autoincrement=True)
    op.create_index('ix_sensitivities_model_id', 'sensitivities', ['model_id'])


def downgrade() -> None:
    op.drop_index('ix_sensitivities_model_id', table_name='sensitivities')
    op.drop_table('sensitivities')
