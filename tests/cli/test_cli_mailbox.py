"""`trialhub mail` prints consent links only where the local mailbox is served (demo and
sandbox databases without SMTP), and `trialhub outbox` never does (decision 0010):
terminals and their logs are kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SALES = "sales@demo-partner.example"
GLOBEX = ["--admin-email", "homer@globex.example", "--vertical", "retail", "--country", "DE"]


def _ask_globex_for_consent(run) -> None:  # type: ignore[no-untyped-def]
    args = ["trial", "start", "--as", SALES, "--company", "X", *GLOBEX, "--supported-location"]
    args += ["--service", "calling", "--licenses", "5"]
    out = run(*args, ok=False)
    org_id = re.search(r"confirm_existing_org_id=(org_[0-9a-f]+)", out).group(1)  # type: ignore[union-attr]
    run(*args, "--confirm-org", org_id)
    run("worker", "--once")


def test_demo_database_shows_the_mailbox_and_links(run) -> None:  # type: ignore[no-untyped-def]
    _ask_globex_for_consent(run)
    assert "/consent/" not in run("outbox")
    listed = run("mail", "--to", "hank@globex.example")
    assert re.search(r"/consent/[\w-]{20,}", listed)


def test_smtp_configured_refuses_the_mailbox(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask_globex_for_consent(run)
    monkeypatch.setenv("TRIALHUB_SMTP_HOST", "127.0.0.1")
    refused = run("mail", ok=False)
    assert "local mailbox is off" in refused
    assert "TRIALHUB_SMTP_HOST" in refused
    assert "/consent/" not in refused
    assert "/consent/" not in run("outbox")


def test_a_plain_database_refuses_the_mailbox(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRIALHUB_DATABASE_URL", f"sqlite:///{tmp_path}/plain.db")
    refused = run("mail", "--show", "1", ok=False)
    assert "local mailbox is off" in refused
    assert "demo and sandbox" in refused
