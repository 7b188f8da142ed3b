"""Descriptors of each reference photo tilted both ways, for listing photos taken at an angle.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Empty in existing rows: the catalog fills it in when it next rebuilds its index.
    op.add_column('reference_images', sa.Column('tilted_descriptors', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reference_images') as batch_op:
        batch_op.drop_column('tilted_descriptors')
