"""Keeps the due-events table in step with every trial a transaction changed (rule T10).

Runs as a unit-of-work hook, so no use case can forget it: a trial started, extended,
cancelled, deleted or moved along by the worker, or one whose devices were shipped or
returned, gets its future deadlines rewritten in the same transaction. Rows already done are
history and are never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from trialhub.catalog import Catalog
from trialhub.domain.deadlines import trial_deadlines
from trialhub.domain.devices import DeviceShipment
from trialhub.domain.policy import Policy
from trialhub.domain.records import ScheduledDeadline
from trialhub.domain.trial import Trial
from trialhub.store.uow import UnitOfWork


def sync_trial(
    uow: UnitOfWork,
    trial: Trial,
    policy: Policy,
    catalog: Catalog,
    now: datetime,
    *,
    existing: list[ScheduledDeadline] | None = None,
    shipments: list[DeviceShipment] | None = None,
) -> list[ScheduledDeadline]:
    """Rewrites the trial's pending deadlines and returns the rows it added. A caller that
    loaded the trial's rows (`existing`, kept up to date here) and shipments for many
    trials at once passes them in."""
    deadlines = trial_deadlines(
        trial,
        policy,
        catalog,
        shipments=uow.shipments.for_trial(trial.id) if shipments is None else shipments,
    )
    wanted = {(d.kind.value, d.at) for d in deadlines}
    rows = uow.deadlines.for_trial(trial.id) if existing is None else existing
    have = {(e.kind, e.due_at) for e in rows}
    for row in list(rows):
        if row.done_at is None and (row.kind, row.due_at) not in wanted:
            uow.deadlines.delete(row)  # the trial changed: this deadline no longer exists
            rows.remove(row)
    # in the deadlines' own order, so that rows due at the same instant run in rule order
    # (the worker takes them by due_at, then id)
    added = []
    for d in deadlines:
        if (d.kind.value, d.at) not in have:
            row = ScheduledDeadline(
                id=None, trial_id=trial.id, kind=d.kind.value, due_at=d.at, created_at=now
            )
            uow.deadlines.add(row)
            added.append(row)
    rows.extend(added)
    return added


def schedule_hook(
    policy: Policy, catalog: Catalog, clock_now: Callable[[], datetime]
) -> Callable[[UnitOfWork], None]:
    """The before-commit hook for one context."""

    def hook(uow: UnitOfWork) -> None:
        touched = uow.touched()
        changed = {o.id: o for o in touched if isinstance(o, Trial)}
        shipped = [o for o in touched if isinstance(o, DeviceShipment)]
        if not changed and not shipped:
            return
        now = clock_now()
        for trial_id in sorted({o.trial_id for o in shipped} - set(changed)):
            trial = uow.trials.get(trial_id)
            if trial is not None:
                changed[trial_id] = trial
        # a trial this transaction created has no due rows yet, and only the shipments it
        # created too: nothing to read back (issue 11)
        new = {i for i, trial in changed.items() if uow.created(trial)}
        old = [i for i in changed if i not in new]
        due = uow.deadlines.for_trials(old) if old else {}
        shipments = uow.shipments.for_trials(old) if old else {}
        rows: list[dict[str, Any]] = []
        for trial_id in changed:
            if trial_id not in new:
                sync_trial(
                    uow,
                    changed[trial_id],
                    policy,
                    catalog,
                    now,
                    existing=due[trial_id],
                    shipments=shipments[trial_id],
                )
                continue
            held = sorted(
                (o for o in shipped if o.trial_id == trial_id and uow.created(o)),
                key=lambda o: (o.ordered_at is None, o.ordered_at or now, o.id),
            )
            # all of a new trial's deadlines are new: rows, not entities, in the deadlines'
            # order, in one statement for every new trial (issue 11: the ORM sent one INSERT
            # a row on SQLite, five for a start)
            rows.extend(
                {"trial_id": trial_id, "kind": d.kind.value, "due_at": d.at, "created_at": now}
                for d in trial_deadlines(changed[trial_id], policy, catalog, shipments=held)
            )
        uow.deadlines.add_rows(rows)

    return hook
