"""Drafts fix their envelope (recipient, From, Subject, reply ids) and approve it with the body;
a send whose outcome is not known is 'unknown', not 'failed'

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = ('draft', 'approved', 'sending', 'sent', 'failed')
NEW_STATES = (*OLD_STATES, 'unknown')


def _state(states: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*states, name='draft_state', native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_address', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('to_name', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('from_address', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('in_reply_to', sa.String(length=998), nullable=True))
        batch_op.add_column(sa.Column('references', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('recipient_chosen_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('approved_envelope', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_drafts_recipient_chosen_by_id_users'),
            'users',
            ['recipient_chosen_by_id'],
            ['id'],
            ondelete='SET NULL',
        )
        batch_op.alter_column(
            'state', existing_type=_state(OLD_STATES), type_=_state(NEW_STATES), existing_nullable=False
        )
    # An approval given before the envelope was part of it approved no recipient: a draft not yet
    # sent needs a person to look again (saving it fixes its envelope).
    op.execute(
        "UPDATE drafts SET state = 'draft', approved_by_id = NULL, approved_at = NULL, "
        "approved_body_sha256 = NULL WHERE state IN ('approved', 'failed')"
    )


def downgrade() -> None:
    op.execute("UPDATE drafts SET state = 'failed' WHERE state = 'unknown'")
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.alter_column(
            'state', existing_type=_state(NEW_STATES), type_=_state(OLD_STATES), existing_nullable=False
        )
        batch_op.drop_constraint(batch_op.f('fk_drafts_recipient_chosen_by_id_users'), type_='foreignkey')
        batch_op.drop_column('approved_envelope')
        batch_op.drop_column('approved_sha256')
        batch_op.drop_column('recipient_chosen_by_id')
        batch_op.drop_column('references')
        batch_op.drop_column('in_reply_to')
        batch_op.drop_column('subject')
        batch_op.drop_column('from_address')
        batch_op.drop_column('to_name')
        batch_op.drop_column('to_address')
