"""accuracy split

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 06:55:00

Issue 5: accuracy is stored per (model, dataset, split, metric): 'validation' when the dataset was
split into calibration / validation parts and the metric read the validation part, 'all' otherwise.
Rows stored before have none (the model page infers it for them).
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accuracy_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('split', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accuracy_results', schema=None) as batch_op:
        batch_op.drop_column('split')
