"""Order events from Walmart (cancellation requests, auto and fraud cancellations), the pending
cancellation request on a thread, and how far the poll of recent orders has read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:53:29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('purchase_order_id', sa.String(length=40), nullable=False),
    sa.Column('customer_order_id', sa.String(length=40), nullable=True),
    sa.Column('line_number', sa.String(length=20), nullable=False),
    sa.Column('product_name', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_order_events_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events')),
    sa.UniqueConstraint('mailbox_id', 'kind', 'purchase_order_id', 'line_number', name=op.f('uq_order_events_mailbox_id_kind_purchase_order_id_line_number'))
    )
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.create_index('ix_order_events_customer_order', ['mailbox_id', 'customer_order_id'], unique=False)
        batch_op.create_index('ix_order_events_purchase_order', ['mailbox_id', 'purchase_order_id'], unique=False)

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_events_read_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_threads_cancel_due_at'), ['cancel_due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_threads_cancel_due_at'))
        batch_op.drop_column('cancel_due_at')
        batch_op.drop_column('cancel_requested_at')

    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.drop_column('order_events_read_until')

    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_index('ix_order_events_purchase_order')
        batch_op.drop_index('ix_order_events_customer_order')

    op.drop_table('order_events')
