"""The lifecycle worker's use case: apply every due deadline exactly once, in order
(rules K6, T4-T8, D7, T10).

`tick` claims due rows in batches (`deadline_runner`); each row is marked done by a
conditional UPDATE and its effect (status change, emails in the outbox, next deadlines) is
written in the same transaction, so a crash loses nothing and repeats nothing. Effects are
stamped with the deadline's own instant, so a worker that was down for weeks writes the
history as it should have happened."""

from __future__ import annotations

from trialhub.domain.deadlines import DeadlineKind
from trialhub.domain.records import ClaimedDeadline
from trialhub.domain.trial import Trial
from trialhub.services.consent import deadlines as consent
from trialhub.services.devices import reminders as devices
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle.runner import Handler, TickReport, run_due
from trialhub.services.trials import deadlines as trials
from trialhub.store.uow import UnitOfWork

BATCH = 500  # rows per transaction: 100 cost a quarter more CPU per row (issue 11)


def tick(ctx: Context, *, batch: int = BATCH, max_batches: int = 1000) -> TickReport:
    """Applies every deadline due now, oldest first, in batches of `batch` rows."""
    return run_due(ctx, _HANDLERS, batch=batch, max_batches=max_batches)


def _device_reminder(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rule D7: devices due back soon; reminders go out before the return date."""
    return devices.send_reminders(ctx, uow, trial, row.due_at)


def _device_overdue(ctx: Context, uow: UnitOfWork, trial: Trial, row: ClaimedDeadline) -> str:
    """Rule D7: the return date passed with devices still out; the shipment is flagged."""
    return devices.flag_overdue(ctx, uow, trial, row.due_at)


# each feature owns the handlers of its deadlines; the tick adds them up
_HANDLERS: dict[DeadlineKind, Handler] = {
    **consent.DEADLINE_HANDLERS,
    **trials.NOTICE_HANDLERS,
    **trials.DEADLINE_HANDLERS,
    DeadlineKind.DEVICE_REMINDER: _device_reminder,
    DeadlineKind.DEVICE_OVERDUE: _device_overdue,
}
