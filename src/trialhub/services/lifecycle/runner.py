"""Applies due deadlines through a table of handlers: each exactly once, in due order, in
batches (rules T10, K6, T4-T8, D7).

A batch claims its rows with one read and one conditional UPDATE (PostgreSQL skips rows
another worker holds) and applies them in one transaction, so a crash loses nothing and
repeats nothing. What the handlers ask of every row is loaded once per batch (trials,
customers, partners' administrators, the messages already queued), and what they write
goes back in a few statements (the audit rows and the emails in one each, the outcomes in
one per outcome), so a batch costs about the same number of statements whatever it holds,
but for the versioned UPDATE of each trial it changes (issue 11).

When a handler raises, or the commit fails, the batch is rolled back and done again with a
savepoint per row, so that only the failing deadline is set aside; it waits for its next
attempt with the outbox's backoff instead of going again on every pass, and the trial's
later deadlines wait behind it. A deadline whose effect schedules another one that is
already due (an earlier instant than the rest of the batch) ends the batch there, so the
new one runs next, in its place in time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from trialhub.domain.deadlines import READS_VALUES, Deadline, DeadlineKind, trial_deadlines
from trialhub.domain.devices import DeviceShipment
from trialhub.domain.policy import backoff
from trialhub.domain.records import ClaimedDeadline, ScheduledDeadline, TrialFacts
from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.deadlines import DeadlineHandler, NoticeHandler
from trialhub.services.trials.schedule import sync_trial
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork

log = logging.getLogger("trialhub.worker")


# a notice's handler reads its trial as values (`READS_VALUES`), any other the entity
Handler = DeadlineHandler | NoticeHandler


@dataclass
class TickReport:
    applied: int = 0
    obsolete: int = 0
    failed: int = 0
    batches: int = 0  # transactions that applied something
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)  # (trial, kind, outcome)

    @property
    def processed(self) -> int:
        return self.applied + self.obsolete + self.failed

    def add(self, other: TickReport) -> None:
        self.applied += other.applied
        self.obsolete += other.obsolete
        self.failed += other.failed
        self.batches += other.batches
        self.outcomes.extend(other.outcomes)


class _HandlerFailed(Exception):
    """A handler raised while the batch ran without savepoints."""


def run_due(
    ctx: Context, handlers: Mapping[DeadlineKind, Handler], *, batch: int, max_batches: int
) -> TickReport:
    """Every deadline due now, oldest first, `batch` rows per transaction."""
    report = TickReport()
    for _ in range(max_batches):
        try:
            more = _run_batch(ctx, handlers, batch, report, careful=False)
        except _HandlerFailed:
            more = _run_batch(ctx, handlers, batch, report, careful=True)
        if not more:
            break
    return report


def _run_batch(
    ctx: Context,
    handlers: Mapping[DeadlineKind, Handler],
    limit: int,
    report: TickReport,
    *,
    careful: bool,
) -> bool:
    """One transaction; True when more rows may be due."""
    now = ctx.now()
    done = TickReport(batches=1)
    with ctx.uow(Scope.system("worker")) as uow:
        rows = uow.deadlines.claim_due_for_worker(now, limit)
        if not rows:
            return False
        facts = _BatchFacts(uow, rows)
        if not careful:
            _prime(uow, rows, facts)
        schedule = _BatchSchedule(ctx, uow, rows)
        made_due = False
        held: set[str] = set()  # trials whose earlier deadline just failed
        outcomes: dict[str, list[int]] = {}
        released: list[int] = []
        for i, row in enumerate(rows):
            if row.trial_id in held:
                # its later deadlines wait behind it (rule T10: in order): unclaimed, and
                # the next passes do not select them while the failed one is pending
                released.append(row.id)
                continue
            valued = row.kind in READS_VALUES
            if not valued:
                schedule.watch(row.trial_id)
            outcome = _apply_one(ctx, uow, handlers, facts, row, now, done, careful=careful)
            if outcome is None:
                held.add(row.trial_id)
            else:
                outcomes.setdefault(outcome, []).append(row.id)
                done.outcomes.append((row.trial_id, row.kind, outcome))
                if outcome == "obsolete":
                    done.obsolete += 1
                else:
                    done.applied += 1
            if valued:
                continue  # it changed no entity: its trial's deadlines are what they were
            facts.written(row.trial_id)
            if schedule.resync(row.trial_id, now):
                made_due = True
                # not claimed after all: the next batch takes them
                released.extend(later.id for later in rows[i + 1 :])
                break
        uow.deadlines.complete_for_worker(outcomes, now)
        uow.deadlines.release_for_worker(released)
        _commit(uow, careful=careful)
    report.add(done)
    # after an applied row, rows that waited behind a failed one may be free: look again
    return made_due or len(rows) == limit or done.processed > done.failed


def _prime(uow: UnitOfWork, rows: list[ClaimedDeadline], facts: _BatchFacts) -> None:
    """What the handlers ask of every row, loaded for the whole batch at once: the
    partners' administrators (who hears of a trial, rule T4) and the messages already
    queued for its trials (rule E2's dedupe). Only without savepoints: a row undone alone
    would leave its messages in the in-memory dedupe."""
    trial_ids = list(dict.fromkeys(r.trial_id for r in rows))
    loaded = (uow.trials.get(r.trial_id) for r in rows if r.kind not in READS_VALUES)
    partners = {t.partner_id for t in loaded if t is not None} | facts.partners()
    uow.admins.prime_partners_for_worker(partners)
    uow.outbox.prime_trials_for_worker(trial_ids)


def _commit(uow: UnitOfWork, *, careful: bool) -> None:
    """Commits the batch. Without savepoints, a failure at commit (say, a message that
    another trial queued under the same cause, rule E2) sends the batch to the careful
    path, where each row meets its own error alone."""
    if careful:
        uow.commit()
        return
    try:
        uow.commit()
    except Exception as error:
        raise _HandlerFailed from error


def _apply_one(
    ctx: Context,
    uow: UnitOfWork,
    handlers: Mapping[DeadlineKind, Handler],
    facts: _BatchFacts,
    row: ClaimedDeadline,
    now: datetime,
    report: TickReport,
    *,
    careful: bool,
) -> str | None:
    """The row's outcome; None when its handler failed and it was set aside."""
    if not careful:
        try:
            return _apply(ctx, uow, handlers, facts, row)
        except Exception as error:
            raise _HandlerFailed from error
    try:
        with uow.savepoint():  # undone alone, with the events the failed handler recorded
            return _apply(ctx, uow, handlers, facts, row)
    except Exception as error:  # one bad row must not stop the others
        row.attempts += 1
        message = f"{type(error).__name__}: {error}"[:2000]
        retry_at = now + backoff(row.attempts, ctx.policy)
        uow.deadlines.mark_failed_for_worker(row, message, retry_at)
        report.failed += 1
        log.exception("deadline %s of trial %s failed", row.kind, row.trial_id)
        return None


def _apply(
    ctx: Context,
    uow: UnitOfWork,
    handlers: Mapping[DeadlineKind, Handler],
    facts: _BatchFacts,
    row: ClaimedDeadline,
) -> str:
    handler = handlers[DeadlineKind(row.kind)]
    if row.kind in READS_VALUES:
        values = facts.of(row.trial_id)
        if values is None:
            return "obsolete"
        uow.carry(values)  # its events are the transaction's, undone with a savepoint
        return cast(NoticeHandler, handler)(ctx, uow, values, row)
    trial = uow.trials.get(row.trial_id)
    if trial is None:
        return "obsolete"
    return cast(DeadlineHandler, handler)(ctx, uow, trial, row)


class _BatchFacts:
    """The trials of the batch's notices as values (`READS_VALUES`), read at once.

    A row applied before a notice may have changed what the notice reads. A handler
    changes only its own trial's organization: the trial, its services, the
    organization's people and the customer, never another trial's organization (a lapse
    moves people to the free organization, which holds no trial, rule T7; a test checks it
    for every kind). So once a row of a trial has been applied, a notice of a trial of the
    same organization reads its values again, after a flush; the others keep theirs."""

    def __init__(self, uow: UnitOfWork, rows: list[ClaimedDeadline]) -> None:
        self._uow = uow
        trials = {r.trial_id for r in rows if r.kind in READS_VALUES}
        self._facts = uow.trials.facts_for_worker(trials)
        self._written: set[str] = set()  # organizations a row was applied to

    def partners(self) -> set[str]:
        return {f.partner_id for f in self._facts.values()}

    def written(self, trial_id: str) -> None:
        """A row of this trial (its entity) was applied."""
        trial = self._uow.trials.get(trial_id)
        if trial is not None:
            self._written.add(trial.org_id)

    def of(self, trial_id: str) -> TrialFacts | None:
        """The trial's values as they are now; None when it does not exist."""
        facts = self._facts.get(trial_id)
        if facts is not None and facts.org_id in self._written:
            self._uow.flush()
            facts = self._uow.trials.facts_for_worker([trial_id]).get(trial_id)
        return facts


class _BatchSchedule:
    """The deadlines and shipments of the batch's trials, loaded once, so that each applied
    row can rewrite its trial's schedule at once and say whether it made one due now."""

    def __init__(self, ctx: Context, uow: UnitOfWork, rows: list[ClaimedDeadline]) -> None:
        self._ctx = ctx
        self._uow = uow
        # the trials whose entities a row changes; a notice changes none (`READS_VALUES`)
        self._ids = list(dict.fromkeys(r.trial_id for r in rows if r.kind not in READS_VALUES))
        self._shipments: dict[str, list[DeviceShipment]] = uow.shipments.for_trials(self._ids)
        self._due: dict[str, list[ScheduledDeadline]] | None = None  # loaded when needed
        # the trial watched and its deadlines before the row; None for the deadlines when
        # nothing they are computed from was touched yet in this transaction
        self._watched: tuple[str, list[Deadline] | None] | None = None

    def _deadlines(self, trial: Trial) -> list[Deadline]:
        policy, catalog = self._ctx.policy, self._ctx.catalog
        return trial_deadlines(trial, policy, catalog, shipments=self._shipments[trial.id])

    def _untouched(self, trial: Trial) -> bool:
        """Nothing the trial's deadlines are computed from (the trial, its services, its
        shipments) was added, changed or deleted in this transaction."""
        return self._uow.untouched(trial, *trial.services, *self._shipments[trial.id])

    def watch(self, trial_id: str) -> None:
        """Notes the trial's deadlines before a row is applied to it; for a trial nothing
        touched yet, only that (its deadlines are still the ones its schedule holds)."""
        trial = self._uow.trials.get(trial_id)
        if trial is None:
            self._watched = None
        elif self._untouched(trial):
            self._watched = (trial_id, None)
        else:
            self._watched = (trial_id, self._deadlines(trial))

    def resync(self, trial_id: str, now: datetime) -> bool:
        """Rewrites the trial's schedule if the row changed its deadlines (most rows, an
        expiry notice say, change nothing they are computed from: their deadlines are not
        computed at all, and the batch never loads its schedule). Says whether it made a
        deadline due now."""
        trial = self._uow.trials.get(trial_id)
        if trial is None:
            return False
        if self._watched == (trial_id, None):
            if self._untouched(trial):
                return False
            # touched by this row: its schedule, as stored, is what it was before
        elif self._watched == (trial_id, self._deadlines(trial)):
            return False
        if self._due is None:
            self._due = self._uow.deadlines.for_trials(self._ids)
        added = sync_trial(
            self._uow,
            trial,
            self._ctx.policy,
            self._ctx.catalog,
            now,
            existing=self._due[trial_id],
            shipments=self._shipments[trial_id],
        )
        return any(r.due_at <= now for r in added)
