"""Helpers of the lifecycle worker's tests: trials to start in numbers, and what was applied."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text

from tests.support.factories import new_customer_body
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial

# audit actions that only a deadline records (rules K6, T4-T8, D7): each once per instant
DEADLINE_ACTIONS = (
    "trial.notice_before_end",
    "trial.notice_on_end",
    "trial.expired",
    "trial.users_notified",
    "trial.lapsed",
    "trial.numbers_released",
)


def start_trials(ctx: Context, actor: Actor, n: int, *, days: int = 30) -> list[str]:
    """`n` new customers' Messaging trials of `days` days, started by `actor`; their ids."""
    body = {"services": [{"code": "messaging"}], "meetings": None, "user_licenses": 1}
    return [
        trials.start_trial(
            ctx, actor, StartTrial.model_validate(new_customer_body(duration_days=days, **body))
        ).id
        for _ in range(n)
    ]


def applied_actions(ctx: Context) -> Counter[tuple[str, str]]:
    """How many times each (trial, audit action) was recorded: a deadline applied twice
    shows as a 2."""
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            text("select trial_id, action from audit_events where trial_id is not null")
        )
        return Counter((r[0], r[1]) for r in rows)
