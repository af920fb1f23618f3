"""Device trials from the command line: order, ship, return, extend (rules D1-D9)."""

from __future__ import annotations

import re

from tests.cli.test_cli import SALES
from trialhub.services.demo import OPERATOR_EMAIL

ADDRESS = [
    "--name",
    "Ann",
    "--phone",
    "+33 1 23 45 67",
    "--email",
    "ann@acme.example",
    "--street",
    "1 rue X",
    "--city",
    "Paris",
    "--postal-code",
    "75001",
    "--country",
    "FR",
]


def start(run, *services: str) -> str:  # type: ignore[no-untyped-def]
    args = ["trial", "start", "--as", SALES, "--company", "Acme", "--vertical", "retail"]
    args += ["--admin-email", f"ann{len(services)}@acme{len(services)}.example"]
    args += ["--country", "FR", "--supported-location", "--licenses", "5"]
    for s in services:
        args += ["--service", s]
    out = run(*args)
    return re.search(r"trl_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]


def test_order_ship_and_return_phones(run) -> None:  # type: ignore[no-untyped-def]
    trial = start(run, "calling")
    phones = ["device", "order", trial, "--as", SALES, "--device", "desk-phone-9841:2", *ADDRESS]
    assert "rule D3" in run(*phones, ok=False)  # phones need the PoE answer
    out = run(*phones, "--no-poe")
    assert "contact the trials team" in out
    shipment = re.search(r"shp_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    demo_order = re.search(r"D\d{8}", out).group(0)  # type: ignore[union-attr]
    org = re.search(r"org_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    ship = ["device", "ship", shipment, "--as", OPERATOR_EMAIL, "--carrier", "DHL"]
    ship += ["--tracking", "JD01", "--serial", "desk-phone-9841=SN-1"]
    assert "rule D4" in run(*ship, ok=False)  # two phones, one serial
    assert "rule P2" in run(*[a if a != OPERATOR_EMAIL else SALES for a in ship], ok=False)
    out = run(*ship, "--serial", "desk-phone-9841=SN-2")
    assert "due back by" in out
    assert "DHL" in out
    listed = run("device", "list", trial, "--as", SALES)
    assert demo_order in listed
    assert "SN-1, SN-2" in listed
    found = run("device", "find", "--as", OPERATOR_EMAIL, "--org", org, "--serial", "sn-2")
    assert demo_order in found
    timeline = run("trial", "timeline", trial, "--as", SALES)
    assert "Device return reminder" in timeline
    bad = run("device", "return", shipment, "--as", OPERATOR_EMAIL, "--serial", "SN-1", ok=False)
    assert "SN-2 was shipped but is not returned" in bad
    out = run(
        "device", "return", shipment, "--as", OPERATOR_EMAIL, "--serial", "SN-1", "--serial", "SN-2"
    )
    assert "returned" in out
    assert "rule D8" in run("device", "label", shipment, "--as", SALES, ok=False)
    too_many = run(
        "device", "order", trial, "--as", SALES, "--device", "room-bar:9", *ADDRESS, ok=False
    )
    # not a traceback, nor Pydantic's words: what rule D1 says (issue 8, item 16)
    assert "quantity: Give 1 to 5 devices of a model." in too_many
    assert "rule D1" in too_many


def test_device_extension_through_the_trials_team(run) -> None:  # type: ignore[no-untyped-def]
    trial = start(run, "room_devices:2", "calling")
    assert "rule D6" in run("trial", "extend", trial, "--as", SALES, ok=False)
    shown = run("trial", "show", trial, "--as", SALES)
    end = re.search(r"ends (\d{4}-\d{2}-\d{2})", shown).group(1)  # type: ignore[union-attr]
    year, month, day = (int(x) for x in end.split("-"))
    later = f"{year + (month + 1) // 13}-{(month % 12) + 1:02d}-{min(day, 28):02d}"
    out = run("device", "extend", trial, "--as", SALES, "--until", later, "--reason", "pilot")
    assert "pending" in out
    request = re.search(r"dxr_[0-9a-f]+", out).group(0)  # type: ignore[union-attr]
    assert request in run("device", "requests", "--as", OPERATOR_EMAIL, "--decision", "pending")
    assert "approved" in run("device", "decide", request, "--as", OPERATOR_EMAIL, "--approve")
    assert f"ends {later}" in run("trial", "show", trial, "--as", SALES)
