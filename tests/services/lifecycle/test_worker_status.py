"""A deadline that keeps failing is visible to the trials team, on the command line and
over the API, with its error and its next attempt (rules T10, P2); failed messages wait
with the same backoff, however often they failed (rule E2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import World, new_customer_body
from trialhub.cli import app as cli
from trialhub.cli import common
from trialhub.clock import MovableClock
from trialhub.notify.render import JinjaRenderer
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.ports import DeliveryError, Email
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.services.messaging import delivery
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.repositories import Scope


def break_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> str:
        raise RuntimeError("licensing service unreachable [/x]")

    monkeypatch.setitem(lifecycle._HANDLERS, lifecycle.DeadlineKind.END, broken)


def stuck_trial(world: World, clock: MovableClock) -> str:
    """A 30-day trial whose end failed as often as the policy calls stuck."""
    ctx = world.ctx
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, duration_days=30)
    trial = trials.start_trial(ctx, world.sales_full.actor, StartTrial.model_validate(body))
    clock.advance(timedelta(days=30))
    for _ in range(ctx.policy.deadline_stuck_after_attempts):
        assert lifecycle.tick(ctx).failed == 1
        with ctx.uow(Scope.system()) as uow:
            row = next(d for d in uow.deadlines.for_trial(trial.id) if d.kind == "end")
            assert row.next_attempt_at is not None
            clock.set(row.next_attempt_at)
    return trial.id


def test_operators_see_a_stuck_deadline_over_the_api(
    client: TestClient, world: World, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_the_end(monkeypatch)
    trial_id = stuck_trial(world, clock)
    r = client.get("/v1/worker/status", headers=world.operator.headers)
    assert r.status_code == 200, r.text
    status = r.json()
    assert (status["deadlines_failing"], status["deadlines_stuck"]) == (1, 1)
    assert status["deadlines_due"] == 1  # its next attempt has come
    (failing,) = status["failing"]
    assert (failing["trial_id"], failing["kind"], failing["stuck"]) == (trial_id, "end", True)
    assert failing["attempts"] == 5
    assert failing["last_error"] == "RuntimeError: licensing service unreachable [/x]"
    assert failing["next_attempt_at"] is not None
    assert {q["channel"]: q["pending"] for q in status["outbox"]}["email"] >= 1  # no mailer here


@pytest.mark.parametrize(
    "role",
    ["sales_full_admin", "sales_admin", "partner_full_admin", "partner_admin", "read_only"],
)
def test_partners_cannot_see_the_worker(client: TestClient, world: World, role: str) -> None:
    r = client.get("/v1/worker/status", headers=world.login(role).headers)
    assert r.status_code == 403
    assert r.json()["rule"] == "P2"


def test_worker_status_on_the_command_line(
    sqlite_world: World,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    break_the_end(monkeypatch)
    trial_id = stuck_trial(sqlite_world, clock)
    monkeypatch.setattr(common.console, "width", 250)
    url = sqlite_world.ctx.db.url
    out = CliRunner().invoke(cli, ["worker", "status", "--database-url", url])
    assert out.exit_code == 0, out.output
    assert "1 failing (1 stuck: 5 attempts or more)" in out.output
    (line,) = [x for x in out.output.splitlines() if trial_id in x]
    assert "end (stuck)" in line
    assert "RuntimeError: licensing service unreachable [/x]" in line
    assert " 5 " in line  # tries
    assert "email" in out.output  # the outbox, per channel
    # the worker itself still runs as before
    once = CliRunner().invoke(cli, ["worker", "--once", "--database-url", url])
    assert once.exit_code == 0, once.output
    assert "Applied" in once.output


class Refusing:
    """An SMTP server that is always down."""

    def send(self, message: Email) -> None:
        raise DeliveryError("connection refused")


def test_a_message_that_failed_very_often_waits_six_hours(
    sqlite_world: World, clock: MovableClock
) -> None:  # rule E2: never dropped, and no arithmetic overflow after weeks of failures
    ctx: Context = sqlite_world.ctx
    ctx.renderer = JinjaRenderer("http://127.0.0.1:8000", "https://example.test/{org_id}")
    ctx.mailer = Refusing()
    trials.start_trial(
        ctx, sqlite_world.sales_full.actor, StartTrial.model_validate(new_customer_body())
    )
    with ctx.db.engine.begin() as conn:
        conn.execute(text("update outbox set attempts = 60"))
    report = delivery.deliver(ctx)
    assert report.failed >= 1
    with ctx.uow(Scope.system()) as uow:
        waits = {m.available_at - clock.now() for m in uow.outbox.all()}
    assert waits == {timedelta(hours=6)}
