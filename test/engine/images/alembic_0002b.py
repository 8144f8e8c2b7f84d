"""One of two revisions that follow 0001 (two heads).

Revision ID: 0002b
"""
from alembic import op

revision = "0002b"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("select 1")


def downgrade():
    pass
