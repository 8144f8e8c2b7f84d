"""A real Celery app for the engine tests (Debian's python3-celery, Redis as broker), imported as app.celery_app.

beat sends the task `tick` every BEAT_EVERY seconds (1); each send is also recorded by beat itself, in its own
process, as "<hostname> <epoch>" on the Redis list railyard:beat: two beats running at once show up as two
hostnames sending within one period. The worker runs `tick`, and answers `celery inspect ping`.
APP_MODE=crash fails the import with a KeyError, as a release missing a setting does (a crash on start).
"""
import os
import socket
import time

import redis
from celery import Celery
from celery.signals import before_task_publish

if os.environ.get("APP_MODE") == "crash":
    raise KeyError("CELERY_BROKER_SETTING")

BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("app", broker=BROKER)
app.conf.update(
    beat_schedule={"tick": {"task": "app.celery_app.tick", "schedule": float(os.environ.get("BEAT_EVERY", "1"))}},
    beat_schedule_filename="/tmp/celerybeat-schedule",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="app.celery_app.tick")
def tick():
    return "tick"


@before_task_publish.connect
def record_send(sender=None, **_):
    if sender == "app.celery_app.tick":
        redis.Redis.from_url(BROKER).rpush("railyard:beat", f"{socket.gethostname()} {time.time():.3f}")
