"""Walmart's own Seller Response Rate: its summary figures per window, the report of the orders
behind them, and when each endpoint was last called (one call a minute per seller)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('walmart_rate_reads',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('summary_called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_days', sa.Integer(), nullable=True),
    sa.Column('report_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_attempted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('report_error_kind', sa.String(length=20), nullable=True),
    sa.Column('report_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_walmart_rate_reads_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('mailbox_id', name=op.f('pk_walmart_rate_reads'))
    )
    op.create_table('walmart_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=True),
    sa.Column('trend', sa.String(length=30), nullable=True),
    sa.Column('impacted_customers', sa.Integer(), nullable=True),
    sa.Column('risk_level', sa.String(length=60), nullable=True),
    sa.Column('no_data', sa.Boolean(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('error_kind', sa.String(length=20), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_walmart_rates_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walmart_rates')),
    sa.UniqueConstraint('mailbox_id', 'days', name=op.f('uq_walmart_rates_mailbox_id_days'))
    )
    op.create_table('walmart_report_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('purchase_order_id', sa.String(length=40), nullable=True),
    sa.Column('customer_order_id', sa.String(length=40), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('in_time', sa.Boolean(), nullable=True),
    sa.Column('row', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_walmart_report_orders_mailbox_id_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_walmart_report_orders'))
    )
    with op.batch_alter_table('walmart_report_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_walmart_report_orders_mailbox_id'), ['mailbox_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('walmart_report_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_walmart_report_orders_mailbox_id'))

    op.drop_table('walmart_report_orders')
    op.drop_table('walmart_rates')
    op.drop_table('walmart_rate_reads')
