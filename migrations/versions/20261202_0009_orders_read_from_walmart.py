"""Orders read from Walmart's Marketplace API, kept beside the threads about them, and the API's
health per mailbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('order_number', sa.String(length=20), nullable=False),
    sa.Column('purchase_order_id', sa.String(length=40), nullable=True),
    sa.Column('customer_order_id', sa.String(length=40), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('error_kind', sa.String(length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_order_copies_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_copies')),
    sa.UniqueConstraint('mailbox_id', 'order_number', name=op.f('uq_order_copies_mailbox_id_order_number'))
    )
    with op.batch_alter_table('order_copies', schema=None) as batch_op:
        batch_op.create_index('ix_order_copies_attempted_at', ['attempted_at'], unique=False)

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('walmart_ok_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('walmart_error_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('walmart_error_kind', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('walmart_error', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('walmart_error')
        batch_op.drop_column('walmart_error_kind')
        batch_op.drop_column('walmart_error_at')
        batch_op.drop_column('walmart_ok_at')

    with op.batch_alter_table('order_copies', schema=None) as batch_op:
        batch_op.drop_index('ix_order_copies_attempted_at')

    op.drop_table('order_copies')
