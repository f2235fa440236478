"""training curves

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:10:00

Issue 15: QAT and pruning jobs store one row per epoch (loss, validation metric, sparsity), the
training curve the job panel draws while the job runs.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training_epochs',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('job_id', sa.Integer(), nullable=False),
                    sa.Column('phase', sa.String(length=20), nullable=False),
                    sa.Column('epoch', sa.Integer(), nullable=False),
                    sa.Column('loss', sa.Float(), nullable=True),
                    sa.Column('metric', sa.String(length=40), nullable=True),
                    sa.Column('value', sa.Float(), nullable=True),
                    sa.Column('sparsity', sa.Float(), nullable=True),
                    sa.Column('seconds', sa.Float(), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sqlite_autoincrement=True)
    op.create_index('ix_training_epochs_job_id', 'training_epochs', ['job_id'])


def downgrade() -> None:
    op.drop_index('ix_training_epochs_job_id', table_name='training_epochs')
    op.drop_table('training_epochs')
