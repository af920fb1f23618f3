"""The sandbox clock: moving it runs the worker up to the new time; refused elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import make_world, new_customer_body
from trialhub.api.app import create_app
from trialhub.bootstrap import build_context
from trialhub.cli import app as cli
from trialhub.domain.errors import ValidationFailed
from trialhub.services import mailbox
from trialhub.services.context import Context
from trialhub.services.sandbox import parse_duration
from trialhub.settings import Settings


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Context]:
    ctx = build_context(Settings(), database_url=f"sqlite:///{tmp_path}/sbx.db", sandbox=True)
    yield ctx
    ctx.db.dispose()


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("P7D", timedelta(days=7)),
        ("PT12H", timedelta(hours=12)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


def test_bad_duration() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_duration("soon")
    assert info.value.field == "advance"


def test_a_whole_life_in_one_call(sandbox: Context) -> None:
    world = make_world(sandbox)
    h = world.sales_full.headers
    with TestClient(create_app(sandbox)) as client:
        body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
        trial = client.post("/v1/trials", json=body, headers=h).json()
        before = client.get("/v1/sandbox/clock", headers=h).json()["now"]
        moved = client.post("/v1/sandbox/clock", json={"advance": "P100D"}, headers=h)
        assert moved.status_code == 200
        assert moved.json()["applied"] == 3  # two notices and the end
        assert moved.json()["now"] > before
        assert client.get(f"/v1/trials/{trial['id']}", headers=h).json()["status"] == "expired"
        moved = client.post("/v1/sandbox/clock", json={"advance": "30d"}, headers=h)
        assert client.get(f"/v1/trials/{trial['id']}", headers=h).json()["status"] == "lapsed"
        timeline = client.get(f"/v1/trials/{trial['id']}/timeline", headers=h).json()
        actions = [e["action"] for e in timeline["events"]]
        assert actions.index("trial.expired") < actions.index("trial.lapsed")
        bad = client.post("/v1/sandbox/clock", json={"advance": "-3d"}, headers=h)
        assert bad.status_code == 422
        assert bad.json()["field"] == "advance"
    subjects = [m.subject for m in mailbox.list_mailbox(sandbox)]
    assert any("ends in 7 days" in s for s in subjects)  # delivered to the local mailbox
    assert any("has lapsed" in s for s in subjects)


def test_not_a_sandbox_answers_404(tmp_path: Path) -> None:
    ctx = build_context(Settings(), database_url=f"sqlite:///{tmp_path}/real.db")
    world = make_world(ctx)
    with TestClient(create_app(ctx)) as client:
        for method, body in (("get", None), ("post", {"advance": "7d"})):
            r = client.request(method, "/v1/sandbox/clock", json=body, headers=world.sales.headers)
            assert r.status_code == 404
    ctx.db.dispose()


def test_cli_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    real = f"sqlite:///{tmp_path}/real.db"
    out = runner.invoke(cli, ["clock", "advance", "7d", "--database-url", real])
    assert out.exit_code == 1
    assert "--sandbox" in out.output
    sbx = f"sqlite:///{tmp_path}/sbx.db"
    build_context(Settings(), database_url=sbx, sandbox=True).db.dispose()
    first = runner.invoke(cli, ["clock", "show", "--database-url", sbx])
    assert first.exit_code == 0
    moved = runner.invoke(cli, ["clock", "advance", "10d", "--database-url", sbx])
    assert moved.exit_code == 0, moved.output
    assert "applied 0 deadlines" in moved.output
    later = runner.invoke(cli, ["clock", "show", "--database-url", sbx])
    assert later.output[:10] > first.output[:10]


def test_devices_come_due_on_the_sandbox_clock(sandbox: Context) -> None:  # rule D7
    from tests.devices.test_shipments import dispatch_body, order_body

    world = make_world(sandbox)
    h = world.sales_full.headers
    with TestClient(create_app(sandbox)) as client:
        body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
        trial = client.post("/v1/trials", json=body, headers=h).json()
        order = client.post(f"/v1/trials/{trial['id']}/shipments", json=order_body(), headers=h)
        shipment = order.json()["id"]
        sent = client.post(
            f"/v1/shipments/{shipment}/dispatch",
            json=dispatch_body("SBX-1", "SBX-2"),
            headers=world.operator.headers,
        )
        assert sent.status_code == 200
        client.post("/v1/sandbox/clock", json={"advance": "P110D"}, headers=h)
        view = client.get(f"/v1/shipments/{shipment}", headers=h).json()
        assert view["overdue"] is True
    subjects = [m.subject for m in mailbox.list_mailbox(sandbox)]
    assert sum("trial devices are on their way" in s for s in subjects) == 2  # contact, admin
    assert any("Please return the trial devices" in s for s in subjects)
    assert any("are overdue" in s for s in subjects)
