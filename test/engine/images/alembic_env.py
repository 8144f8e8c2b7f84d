"""Alembic's env.py for the test app: online migrations against DATABASE_URL (exported from its Swarm secret)."""
import logging
import os

from alembic import context
from sqlalchemy import create_engine

logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")
engine = create_engine(os.environ["DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
