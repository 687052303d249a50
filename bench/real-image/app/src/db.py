"""Database access."""
from sqlalchemy import create_engine, text

from . import settings

engine = create_engine(settings.DATABASE_URL, pool_pre_ping=True)


def order_count() -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from orders")).scalar_one()
