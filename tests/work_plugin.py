"""A worker plugin for queue tests: ``HALLMARK_WORKER_PLUGINS='["work_plugin"]'`` adds kind ``test_record``.

Its handler records each item in the database, in the transaction that completes the item (as a serial
``ITEM-<id>``, whose column is unique, so a second recording would fail loudly), and appends
``start <id> <pid> <attempt>`` to the file named in the payload before it works. An item whose payload
says ``sleep`` sleeps that long on its first attempt: long enough to be killed mid-item.
"""

from __future__ import annotations

import os
import time

from hallmark.db import Serial, utcnow
from hallmark.work_queue import HandlerRegistry, WorkContext

KIND = "test_record"


def record(context: WorkContext) -> None:
    payload = context.item.payload
    with open(payload["log"], "a") as log:
        log.write(f"start {context.item.id} {os.getpid()} {context.item.attempts}\n")
    if context.item.attempts == 1:
        time.sleep(float(payload.get("sleep", 0)))
    context.session.add(
        Serial(serial=f"ITEM-{context.item.id}", sku="test", batch=None, imported_at=utcnow())
    )


def register_handlers(registry: HandlerRegistry) -> None:
    registry.register(KIND, record)
