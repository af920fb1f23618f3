"""The lifecycle worker: applies due deadlines and delivers the outbox, again and again.

Run it as `trialhub worker` (as many as you like on one PostgreSQL database: claims are
exclusive), or inside `trialhub serve` (the default).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from trialhub.services.context import Context
from trialhub.services.delivery import DeliveryReport, deliver
from trialhub.services.lifecycle import TickReport, tick

log = logging.getLogger("trialhub.worker")


@dataclass
class Worker:
    ctx: Context
    interval: float = 1.0

    def run_once(self) -> tuple[TickReport, DeliveryReport]:
        """One pass: every deadline due now, then every message due now."""
        ticked = tick(self.ctx)
        sent = deliver(self.ctx)
        if ticked.processed or sent.sent or sent.failed:
            log.info(
                "applied %d deadlines (%d obsolete, %d failed); sent %d messages (%d failed)",
                ticked.applied,
                ticked.obsolete,
                ticked.failed,
                sent.sent,
                sent.failed,
            )
        return ticked, sent

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; an error in one pass is logged and the next pass goes on."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("worker pass failed; retrying")
            stop.wait(self.interval)

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run, args=(stop,), name="trialhub-worker", daemon=True
        )
        thread.start()
        return thread, stop
