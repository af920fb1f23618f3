"""The sandbox clock: only the trials team moves it (rule P2); moving it applies every
deadline on the way, in order (rule T10), and leaves delivery to the worker; refused
elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import Login, free_port, make_world, new_customer_body
from tests.support.apps import app_for
from tests.support.servers import start_smtp
from trialhub.bootstrap import build_context
from trialhub.cli import app as cli
from trialhub.domain.errors import Forbidden, ValidationFailed
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle import sandbox
from trialhub.services.lifecycle.sandbox import parse_duration
from trialhub.services.messaging import mailbox
from trialhub.settings import Settings
from trialhub.store.sandbox import load_offset
from trialhub.worker import Worker


@pytest.fixture
def sandbox_ctx(sqlite_url: str) -> Iterator[Context]:
    # a copy of the migrated template: migrating in every test is slow
    ctx = build_context(Settings(), database_url=sqlite_url, sandbox=True, migrate=False)
    yield ctx
    ctx.db.dispose()


def distributor_login(ctx: Context) -> Login:
    partner = accounts.create_partner(
        ctx, SYSTEM_OPERATOR, CreatePartner(name="Tier Two", tier=2, distributor_name="Dist")
    )
    assert partner.distributor_id is not None
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        None,
        CreateAdmin(
            email="dee@distributor.example",
            name="Dee",
            roles=["distributor"],
            distributor_id=partner.distributor_id,
        ),
    )
    token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin.id, IssueToken(label="t"))
    assert token.token is not None
    return Login(actor=accounts.actor_for_email(ctx, admin.email), token=token.token)


def calling_trial(client: TestClient, who: Login) -> dict[str, Any]:
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
    r = client.post("/v1/trials", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    trial: dict[str, Any] = r.json()
    return trial


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("P7D", timedelta(days=7)),
        ("PT12H", timedelta(hours=12)),
        ("P1Y2M", timedelta(days=425)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["soon", "99999999999d", "1000000000w", "P-3D", ""])
def test_bad_duration(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_duration(text)
    assert info.value.field == "advance"


def test_a_whole_life_in_one_call(sandbox_ctx: Context) -> None:
    world = make_world(sandbox_ctx)
    h, op = world.sales_full.headers, world.operator.headers
    with TestClient(app_for(sandbox_ctx)) as client:
        trial = calling_trial(client, world.sales_full)
        before = client.get("/v1/sandbox/clock", headers=h).json()["now"]
        moved = client.post("/v1/sandbox/clock", json={"advance": "P100D"}, headers=op)
        assert moved.status_code == 200
        assert moved.json()["applied"] == 3  # two notices and the end
        assert moved.json()["now"] > before
        assert client.get(f"/v1/trials/{trial['id']}", headers=h).json()["status"] == "expired"
        moved = client.post("/v1/sandbox/clock", json={"advance": "30d"}, headers=op)
        assert client.get(f"/v1/trials/{trial['id']}", headers=h).json()["status"] == "lapsed"
        timeline = client.get(f"/v1/trials/{trial['id']}/timeline", headers=h).json()
        actions = [e["action"] for e in timeline["events"]]
        assert actions.index("trial.expired") < actions.index("trial.lapsed")
    Worker(sandbox_ctx).run_once()  # the worker delivers, as the server's always does
    subjects = [m.subject for m in mailbox.list_mailbox(sandbox_ctx)]
    assert any("ends in 7 days" in s for s in subjects)  # delivered to the local mailbox
    assert any("has lapsed" in s for s in subjects)


@pytest.mark.parametrize(
    "body",
    [
        {"advance": "-3d"},
        {"advance": "0d"},
        {"advance": "99999999999d"},  # was a 500: the number overflowed
        {"advance": "P11000D"},
        {"advance": "7d", "to": "2030-01-01T00:00:00Z"},
        {},
    ],
)
def test_bad_moves_name_the_field_and_change_nothing(
    sandbox_ctx: Context, body: dict[str, str]
) -> None:
    world = make_world(sandbox_ctx)
    offset = load_offset(sandbox_ctx.db)
    with TestClient(app_for(sandbox_ctx)) as client:
        r = client.post("/v1/sandbox/clock", json=body, headers=world.operator.headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "advance"
    assert load_offset(sandbox_ctx.db) == offset


@pytest.mark.parametrize("to", ["2001-01-01T00:00:00Z", "2030-01-01T00:00:00"])
def test_a_past_or_naive_instant_names_to(sandbox_ctx: Context, to: str) -> None:
    world = make_world(sandbox_ctx)
    with TestClient(app_for(sandbox_ctx)) as client:
        r = client.post("/v1/sandbox/clock", json={"to": to}, headers=world.operator.headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "to"


@pytest.mark.parametrize(
    "role",
    ["sales_full_admin", "sales_admin", "partner_full_admin", "partner_admin", "read_only"],
)
def test_only_the_trials_team_moves_the_clock(sandbox_ctx: Context, role: str) -> None:
    """Rule P2: moving the clock fires every partner's deadlines; reading it is open."""
    world = make_world(sandbox_ctx)
    offset = load_offset(sandbox_ctx.db)
    who = world.login(role)
    with TestClient(app_for(sandbox_ctx)) as client:
        trial = calling_trial(client, world.sales_full)
        assert client.get("/v1/sandbox/clock", headers=who.headers).status_code == 200
        r = client.post("/v1/sandbox/clock", json={"advance": "P100D"}, headers=who.headers)
        assert r.status_code == 403
        assert (r.json()["code"], r.json()["rule"]) == ("forbidden", "P2")
        # refused before the input is even read: no hint about what would be accepted
        bad = client.post("/v1/sandbox/clock", json={"advance": "soon"}, headers=who.headers)
        assert bad.status_code == 403
        assert load_offset(sandbox_ctx.db) == offset  # nothing moved, nothing fired
        status = client.get(f"/v1/trials/{trial['id']}", headers=world.sales_full.headers)
        assert status.json()["status"] == "active"
        ok = client.post(
            "/v1/sandbox/clock", json={"advance": "P100D"}, headers=world.operator.headers
        )
        assert ok.status_code == 200
        assert ok.json()["applied"] == 3


def test_a_distributor_cannot_move_the_clock(sandbox_ctx: Context) -> None:  # rule P2
    dee = distributor_login(sandbox_ctx)
    with TestClient(app_for(sandbox_ctx)) as client:
        assert client.get("/v1/sandbox/clock", headers=dee.headers).status_code == 200
        r = client.post("/v1/sandbox/clock", json={"advance": "7d"}, headers=dee.headers)
    assert r.status_code == 403
    assert r.json()["rule"] == "P2"


def test_the_service_itself_refuses_non_operators(sandbox_ctx: Context) -> None:
    world = make_world(sandbox_ctx)
    offset = load_offset(sandbox_ctx.db)
    for who in (world.read_only, world.sales_full, distributor_login(sandbox_ctx)):
        with pytest.raises(Forbidden) as info:
            sandbox.move_clock(sandbox_ctx, who.actor, advance="7d")
        assert info.value.rule == "P2"
    assert load_offset(sandbox_ctx.db) == offset
    moved = sandbox.move_clock(sandbox_ctx, world.operator.actor, advance="7d")
    assert moved.now - sandbox_ctx.wall_clock.now() > timedelta(days=6, hours=23)


def test_moving_the_clock_delivers_nothing_the_worker_does(tmp_path: Path) -> None:
    """Delivery (a slow or absent SMTP server) never runs inside the request: the clock
    moves, the deadlines apply, the call returns, and the worker sends."""
    smtp_port = free_port()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False)
    ctx = build_context(settings, database_url=f"sqlite:///{tmp_path}/smtp.db", sandbox=True)
    world = make_world(ctx)
    controller, inbox = start_smtp(smtp_port)
    try:
        with TestClient(app_for(ctx)) as client:
            calling_trial(client, world.sales_full)
            moved = client.post(
                "/v1/sandbox/clock", json={"advance": "P1Y2M"}, headers=world.operator.headers
            )
            assert moved.status_code == 200
            body = moved.json()
            assert inbox.messages == []  # nothing was sent inside the request
            assert body["applied"] == 6  # notices, end, users told, lapse, numbers released
            assert body["waiting"] >= 6  # the welcome email, the notices, the lapse...
            assert "delivered" not in body
        _, sent = Worker(ctx).run_once()
        assert sent.sent == body["waiting"]
        with ctx.db.engine.connect() as conn:  # SMTP configured: the local mailbox stays empty
            assert conn.execute(text("select count(*) from mailbox")).scalar_one() == 0
    finally:
        controller.stop()
        ctx.db.dispose()
    assert len(inbox.messages) == body["waiting"]


def test_not_a_sandbox_answers_404(tmp_path: Path) -> None:
    ctx = build_context(Settings(), database_url=f"sqlite:///{tmp_path}/real.db")
    world = make_world(ctx)
    with TestClient(app_for(ctx)) as client:
        for who in (world.sales, world.operator):
            for method, body in (("get", None), ("post", {"advance": "7d"})):
                r = client.request(method, "/v1/sandbox/clock", json=body, headers=who.headers)
                assert r.status_code == 404
    ctx.db.dispose()


def test_cli_clock(tmp_path: Path) -> None:
    runner = CliRunner()
    real = f"sqlite:///{tmp_path}/real.db"
    out = runner.invoke(cli, ["clock", "advance", "7d", "--database-url", real])
    assert out.exit_code == 1
    assert "--sandbox" in out.output
    sbx = f"sqlite:///{tmp_path}/sbx.db"
    ctx = build_context(Settings(), database_url=sbx, sandbox=True)
    world = make_world(ctx)
    with TestClient(app_for(ctx)) as client:
        calling_trial(client, world.sales_full)
    first = runner.invoke(cli, ["clock", "show", "--database-url", sbx])
    assert first.exit_code == 0
    moved = runner.invoke(cli, ["clock", "advance", "85d", "--database-url", sbx])
    assert moved.exit_code == 0, moved.output
    assert "applied 1 deadlines" in moved.output  # the 7-day notice of the 90-day trial
    # honest about delivery: this command has no worker; it says who sends and how
    waiting = re.search(r"(\d+) messages wait in the outbox", moved.output)
    assert waiting is not None, moved.output
    assert int(waiting.group(1)) == 4  # the welcome email, the notice to three people
    assert f"trialhub worker --once --database-url {sbx}" in moved.output
    assert mailbox.list_mailbox(ctx) == []
    once = runner.invoke(cli, ["worker", "--once", "--database-url", sbx])
    assert "sent 4 messages" in once.output
    assert len(mailbox.list_mailbox(ctx)) == 4
    later = runner.invoke(cli, ["clock", "show", "--database-url", sbx])
    assert later.output[:10] > first.output[:10]
    ctx.db.dispose()


def test_devices_come_due_on_the_sandbox_clock(sandbox_ctx: Context) -> None:  # rule D7
    from tests.support.factories import dispatch_body, order_body

    world = make_world(sandbox_ctx)
    h = world.sales_full.headers
    with TestClient(app_for(sandbox_ctx)) as client:
        trial = calling_trial(client, world.sales_full)
        order = client.post(f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=h)
        shipment = order.json()["id"]
        sent = client.post(
            f"/v1/shipments/{shipment}/dispatch",
            json=dispatch_body("SBX-1", "SBX-2"),
            headers=world.operator.headers,
        )
        assert sent.status_code == 200
        client.post("/v1/sandbox/clock", json={"advance": "P110D"}, headers=world.operator.headers)
        view = client.get(f"/v1/shipments/{shipment}", headers=h).json()
        assert view["overdue"] is True
    Worker(sandbox_ctx).run_once()
    subjects = [m.subject for m in mailbox.list_mailbox(sandbox_ctx)]
    assert sum("trial devices are on their way" in s for s in subjects) == 2  # contact, admin
    assert any("Please return the trial devices" in s for s in subjects)
    assert any("are overdue" in s for s in subjects)


def test_fuzzing_the_move_never_breaks_the_server(sandbox_ctx: Context) -> None:  # rule E3
    """What an operator (or a stolen operator token) sends to the clock is a move or a
    problem+json naming the field, never a 500; it is fuzzed here, on a sandbox."""
    import schemathesis
    from hypothesis import given

    from tests.reliability.test_fuzz_api import check
    from tests.support.fuzzing import fuzzing

    world = make_world(sandbox_ctx)
    with TestClient(app_for(sandbox_ctx)) as client:
        calling_trial(client, world.sales_full)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app_for(sandbox_ctx))
    (operation,) = [
        r.ok()
        for r in schema.get_all_operations()
        if (r.ok().method.upper(), r.ok().path) == ("POST", "/v1/sandbox/clock")
    ]

    @given(case=operation.as_strategy())
    @fuzzing(max_examples=25)
    def fuzz(case: Any) -> None:
        check(case.call(headers={**(case.headers or {}), **world.operator.headers}))

    fuzz()
