"""Conversion from the command line (rules V1-V5)."""

from __future__ import annotations

from tests.cli.test_cli import SALES
from tests.cli.test_cli_devices import start


def test_convert_with_and_without_confirmations(run) -> None:  # type: ignore[no-untyped-def]
    trial = start(run, "calling", "messaging")
    convert = ["trial", "convert", trial, "--as", SALES, "--service", "calling:8"]
    out = run(*convert, "--provisioning-email", "nobody@else.example", ok=False)
    assert "rule V2" in out
    out = run(*convert, "--provisioning-email", SALES, ok=False)
    assert "rule V3" in out
    assert "messaging" in out
    out = run(*convert, "--provisioning-email", SALES, "--lose-services")
    assert "8 x Webex Calling" in out
    assert "completed: the trial is converted" in out
    assert "lost: messaging" in out
    assert "converted" in run("trial", "show", trial, "--as", SALES).lower()
    listed = run("order", "list", "--as", SALES)
    assert "calling:8" in listed
    assert "completed" in listed
    assert "rule V1" in run("order", "list", "--as", SALES, "--status", "maybe", ok=False)
