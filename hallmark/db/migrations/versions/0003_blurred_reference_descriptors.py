"""A second descriptor per reference photo, of a blurred copy, for heavily blurred listing copies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 22:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Nullable: existing rows get theirs when the index is next rebuilt (Catalog._rebuild).
    op.add_column('reference_images', sa.Column('blurred_descriptor', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reference_images') as batch_op:
        batch_op.drop_column('blurred_descriptor')
