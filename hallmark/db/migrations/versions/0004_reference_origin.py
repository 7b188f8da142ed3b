"""Where a reference photo came from: the brand's catalog, or a listing photo a reviewer confirmed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Every photo stored before this came from a catalog import or upload.
    op.add_column(
        'reference_images',
        sa.Column('origin', sa.String(16), nullable=False, server_default='catalog'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reference_images') as batch_op:
        batch_op.drop_column('origin')
