"""UIDs the server answered FETCH without their body or sender header, counted until read or kept
as dead letters (which then hold no raw message)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unanswered_fetches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cursor_id', sa.Integer(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cursor_id'], ['folder_cursors.id'], name=op.f('fk_unanswered_fetches_cursor_id_folder_cursors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unanswered_fetches')),
    sa.UniqueConstraint('cursor_id', 'uidvalidity', 'uid', name=op.f('uq_unanswered_fetches_cursor_id_uidvalidity_uid'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # A dead letter without its message cannot be kept by the older schema.
    op.execute('DELETE FROM dead_letters WHERE raw IS NULL')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table('unanswered_fetches')
