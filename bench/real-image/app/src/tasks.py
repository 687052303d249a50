"""Background jobs."""
from celery import Celery

from . import settings, storage

app = Celery("orders", broker=settings.REDIS_URL)


@app.task
def export_orders(day: str) -> str:
    return storage.put_export(f"{day}.csv", b"id,total\n")
