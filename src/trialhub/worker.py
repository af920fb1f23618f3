"""The lifecycle worker: applies due deadlines and delivers the outbox, again and again.

Run it as `trialhub worker` (as many as you like on one PostgreSQL database: claims are
exclusive), or inside `trialhub serve` (the default). Webhooks have their own thread, so an
email never waits behind a slow webhook endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from trialhub.services.kernel import Context
from trialhub.services.lifecycle import TickReport, tick
from trialhub.services.messaging import DeliveryReport, deliver, deliver_emails, deliver_webhooks

log = logging.getLogger("trialhub.worker")


@dataclass
class Worker:
    ctx: Context
    interval: float = 1.0

    def run_once(self) -> tuple[TickReport, DeliveryReport]:
        """One pass: every deadline due now, then every email, then every webhook."""
        ticked = tick(self.ctx)
        sent = deliver(self.ctx)
        _log(ticked, sent)
        return ticked, sent

    def _main_pass(self) -> None:
        ticked = tick(self.ctx)
        _log(ticked, deliver_emails(self.ctx))

    def _webhook_pass(self) -> None:
        _log(None, deliver_webhooks(self.ctx))

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: deadlines and emails here, webhooks in a second thread."""
        lane = threading.Thread(
            target=self._loop,
            args=(stop, self._webhook_pass),
            name="trialhub-webhook-lane",
            daemon=True,
        )
        lane.start()
        self._loop(stop, self._main_pass)
        lane.join(timeout=self.ctx.policy.webhook_timeout_seconds * 2)

    def _loop(self, stop: threading.Event, one_pass: Callable[[], None]) -> None:
        """An error in one pass is logged and the next pass goes on."""
        while not stop.is_set():
            try:
                one_pass()
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


def _log(ticked: TickReport | None, sent: DeliveryReport) -> None:
    if (ticked and ticked.processed) or sent.sent or sent.failed:
        log.info(
            "applied %d deadlines (%d obsolete, %d failed); sent %d messages (%d failed)",
            ticked.applied if ticked else 0,
            ticked.obsolete if ticked else 0,
            ticked.failed if ticked else 0,
            sent.sent,
            sent.failed,
        )
