"""The deadlines table and the worker's claims on it (rule T10)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from trialhub.domain.deadlines import (
    READS_PEOPLE,
    READS_SITE,
    READS_SUBSCRIPTIONS,
    READS_VALUES,
)
from trialhub.domain.organization import Customer, Organization
from trialhub.domain.records import ClaimedDeadline, ScheduledDeadline
from trialhub.domain.trial import Trial
from trialhub.store import dialect, tables
from trialhub.store.insert_flush import insert_at_flush
from trialhub.store.repositories.base import (
    Repository,
    Scope,
)
from trialhub.store.repositories.batch import fill, load_many


class DeadlineRepository(Repository):
    """The deadlines table (rule T10). The worker's queries touch only due rows."""

    def __init__(self, session: Session, scope: Scope) -> None:
        super().__init__(session, scope)
        # the rows this transaction claimed and has not given back, and the claim's instant
        self._claimed: set[int] = set()
        self._claimed_at: datetime | None = None

    def for_trial(self, trial_id: str) -> list[ScheduledDeadline]:
        return self.for_trials([trial_id])[trial_id]

    def for_trials(self, trial_ids: Sequence[str]) -> dict[str, list[ScheduledDeadline]]:
        """The deadlines of several trials in one query (the schedule of a whole batch)."""
        d = tables.due_events
        name = dialect.name_of(self._session)
        stmt = (
            select(ScheduledDeadline)
            .where(dialect.among(d.c.trial_id, trial_ids, name))
            .order_by(d.c.due_at, d.c.id)
        )
        out: dict[str, list[ScheduledDeadline]] = {t: [] for t in trial_ids}
        for row in self._session.scalars(self._scoped_by_trial(stmt, d.c.trial_id)):
            if row.id in self._claimed and row.done_at is None:
                # claimed by a locking read, not written yet (PostgreSQL): as a claim
                # reads, so that no schedule sync takes it for a pending row
                set_committed_value(row, "done_at", self._claimed_at)
                set_committed_value(row, "outcome", "claimed")
            out[row.trial_id].append(row)
        return out

    def add(self, event: ScheduledDeadline) -> None:
        self._session.add(event)

    def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New deadlines as rows (trial_id, kind, due_at, created_at), written with the next
        flush, after the trials they belong to (with a new trial, in one statement on
        PostgreSQL: `insert_at_flush`), their ids in the rows' order (the worker takes rows
        due at one instant by id)."""
        insert_at_flush(self._session, tables.due_events, rows)

    def delete(self, event: ScheduledDeadline) -> None:
        self._session.delete(event)

    def claim_due_for_worker(self, now: datetime, limit: int) -> list[ClaimedDeadline]:
        """Claims up to `limit` due rows, oldest first, and returns them in due order.

        One read picks them (PostgreSQL locks them until the batch commits, skipping rows
        another worker holds, and re-checks each: they are the batch's, and the outcome's
        UPDATE marks them done, one write a row; a pass with nothing due stops there, a read
        only). On SQLite, which serializes writers, one UPDATE marks them done if nobody
        did yet, and returns them. A row that failed waits for its next attempt, and the
        trial's later rows wait behind it: each checks the state the earlier one leaves, so
        run first they would close as obsolete and the trial would never, say, lapse (rule
        T10: in order). The trials and customers their handlers read are loaded alongside:
        a batch costs a few queries, not a few per row. The batch then writes the outcomes
        back (`complete_for_worker`) or gives rows back (`release_for_worker`). The
        trials of the rows that read values (`READS_VALUES`) are not loaded here."""
        d = tables.due_events
        name = dialect.name_of(self._session)
        picked = self._session.execute(self._due(now, limit, name)).all()
        ids = _runnable(picked)
        if not ids:
            return []
        if dialect.read_locks(name):
            runnable = set(ids)
            rows = [
                ClaimedDeadline(row_id, trial_id, kind, due_at, attempts)
                for row_id, trial_id, _, kind, due_at, attempts in picked
                if row_id in runnable
            ]
        else:
            claim = (
                update(d)
                .where(dialect.among(d.c.id, ids, name), d.c.done_at.is_(None))
                .values(done_at=now, outcome="claimed")
                .returning(d.c.id, d.c.trial_id, d.c.kind, d.c.due_at, d.c.attempts)
            )
            rows = [ClaimedDeadline(*row) for row in self._session.execute(claim)]
        rows.sort(key=lambda r: (r.due_at, r.id))
        self._claimed.update(r.id for r in rows)
        self._claimed_at = now
        # the entities only of trials with a deadline that reads them: a notice reads its
        # trial as values (`READS_VALUES`, `TrialRepository.facts_for_worker`). No deadline
        # reads a trial's extensions (read when it is extended, or shown): a sixth of a
        # batch went to filling each entity's collections (issue 11); its Meetings site
        # only the deadlines that free it
        entities = {r.trial_id for r in rows if r.kind not in READS_VALUES}
        trials = load_many(self._session, Trial, entities, skip=("extensions", "site"))
        freeing = {r.trial_id for r in rows if r.kind in READS_SITE}
        fill(self._session, [t for t in trials if t.id in freeing], "site")
        customers = load_many(self._session, Customer, {t.customer_id for t in trials})
        # an organization's users and purchased services only for the deadlines that read
        # them: a batch of notices loaded every user of 500 organizations (50 users each:
        # 3.7 x the time per event)
        orgs = load_many(
            self._session,
            Organization,
            {c.org_id for c in customers},
            skip=("users", "subscriptions"),
        )
        for part, kinds in (("users", READS_PEOPLE), ("subscriptions", READS_SUBSCRIPTIONS)):
            reading = {r.trial_id for r in rows if r.kind in kinds}
            read = {t.org_id for t in trials if t.id in reading}
            fill(self._session, [o for o in orgs if o.id in read], part)
        return rows

    def complete_for_worker(self, outcomes: Mapping[str, Sequence[int]], now: datetime) -> None:
        """The claimed rows done, with their outcomes, one statement per outcome
        ("notified", "expired", ...)."""
        d = tables.due_events
        name = dialect.name_of(self._session)
        for outcome, ids in outcomes.items():
            if ids:
                stmt = update(d).where(dialect.among(d.c.id, ids, name))
                self._session.execute(stmt.values(done_at=now, outcome=outcome))

    def release_for_worker(self, ids: Sequence[int]) -> None:
        """Claimed rows the batch did not run after all: due again for the next batch."""
        self._claimed.difference_update(ids)
        if ids:
            d = tables.due_events
            name = dialect.name_of(self._session)
            stmt = update(d).where(dialect.among(d.c.id, ids, name))
            self._session.execute(stmt.values(done_at=None, outcome=None))

    def mark_failed_for_worker(self, row: ClaimedDeadline, error: str, retry_at: datetime) -> None:
        """A claimed row whose handler failed: not done, tried again not before `retry_at`."""
        self._claimed.discard(row.id)
        d = tables.due_events
        stmt = (
            update(d)
            .where(d.c.id == row.id)
            .values(
                done_at=None,
                outcome=None,
                attempts=row.attempts,
                last_error=error,
                next_attempt_at=retry_at,
            )
        )
        self._session.execute(stmt)

    def _due(self, now: datetime, limit: int, name: str) -> Select[Any]:
        """Due rows, oldest first, each with how many earlier rows of its trial are not
        done (`_runnable` decides which run now)."""
        d = tables.due_events
        earlier = tables.due_events.alias("earlier")
        of_trial = earlier.c.trial_id == d.c.trial_id
        failing_before = (
            select(earlier.c.id)
            .where(
                of_trial,
                earlier.c.done_at.is_(None),
                earlier.c.next_attempt_at.is_not(None),
                earlier.c.due_at < d.c.due_at,
            )
            .exists()
        )
        undone_before = (
            select(func.count())
            .select_from(earlier)
            .where(
                of_trial,
                earlier.c.done_at.is_(None),
                or_(
                    earlier.c.due_at < d.c.due_at,
                    and_(earlier.c.due_at == d.c.due_at, earlier.c.id < d.c.id),
                ),
            )
            .scalar_subquery()
        )
        stmt = (  # each row's count, then what a claim reads of it (`ClaimedDeadline`)
            select(d.c.id, d.c.trial_id, undone_before, d.c.kind, d.c.due_at, d.c.attempts)
            .where(
                d.c.done_at.is_(None),
                d.c.due_at <= now,
                or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
                ~failing_before,
            )
            .order_by(d.c.due_at, d.c.id)
            .limit(limit)
        )
        return dialect.skip_locked(stmt, name)

    def pending_count_for_worker(self) -> int:
        stmt = (
            select(func.count())
            .select_from(tables.due_events)
            .where(tables.due_events.c.done_at.is_(None))
        )
        return int(self._session.scalar(stmt) or 0)

    def due_count_for_worker(self, now: datetime) -> int:
        """Rows the next pass would take (not those waiting for a retry)."""
        d = tables.due_events
        stmt = (
            select(func.count())
            .select_from(d)
            .where(
                d.c.done_at.is_(None),
                d.c.due_at <= now,
                or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
            )
        )
        return int(self._session.scalar(stmt) or 0)

    def failure_counts_for_worker(self, stuck_after: int) -> tuple[int, int]:
        """Pending rows that failed at least once, and those that failed `stuck_after` times."""
        d = tables.due_events
        stmt = select(func.count(), func.count().filter(d.c.attempts >= stuck_after)).where(
            d.c.done_at.is_(None), d.c.attempts > 0
        )
        failing, stuck = self._session.execute(stmt).one()
        return int(failing), int(stuck)

    def failing_for_worker(self, limit: int) -> list[ScheduledDeadline]:
        """Pending rows whose handler failed at least once, oldest deadline first."""
        d = tables.due_events
        stmt = (
            select(ScheduledDeadline)
            .where(d.c.done_at.is_(None), d.c.attempts > 0)
            .order_by(d.c.due_at, d.c.id)
            .limit(limit)
        )
        return list(self._session.scalars(stmt))


def _runnable(picked: Sequence[Any]) -> list[int]:
    """The picked rows this batch may run (rule T10, in order): a row whose trial has earlier
    rows not done runs only behind them, in this same batch. An earlier row the batch does
    not hold (in another worker's batch that has not committed yet, or failing) holds the
    row back, with the trial's later rows: run first, they would check a state the earlier
    one has not left yet and close as obsolete (a trial that never lapses). They wait for
    the next batch; rows of other trials keep their time order."""
    taken: dict[str, int] = {}
    held: set[str] = set()
    ids: list[int] = []
    for row_id, trial_id, undone_before, *_ in picked:
        if trial_id in held or undone_before != taken.get(trial_id, 0):
            held.add(trial_id)
            continue
        taken[trial_id] = taken.get(trial_id, 0) + 1
        ids.append(int(row_id))
    return ids
