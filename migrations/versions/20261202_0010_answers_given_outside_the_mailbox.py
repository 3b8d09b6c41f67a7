"""Answers given outside the mailbox (Seller Center's inbox, the phone), and the channel a wait
was answered on

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ('seller_center', 'phone', 'other')


def _channel(name: str) -> sa.Enum:
    return sa.Enum(*CHANNELS, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table('outside_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', _channel('answer_channel'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_outside_answers_thread_id_threads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outside_answers_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outside_answers'))
    )
    with op.batch_alter_table('outside_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outside_answers_thread_id'), ['thread_id'], unique=False)

    with op.batch_alter_table('response_episodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_channel', _channel('episode_answer_channel'), nullable=True))


def downgrade() -> None:
    # The older schema has no channel: a wait answered outside the mailbox stays answered then,
    # as if by mail, until its thread's clock is computed again (without the outside answers).
    with op.batch_alter_table('response_episodes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_response_episodes_episode_answer_channel'), type_='check')
        batch_op.drop_column('answered_channel')

    with op.batch_alter_table('outside_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outside_answers_thread_id'))

    op.drop_table('outside_answers')
