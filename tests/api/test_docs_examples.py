"""The start-trial examples of the README and docs/api.md, followed in that order against a
fresh demo server, all succeed: each starts its own customer (no 409, rule C4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.apps import app_for
from trialhub.bootstrap import build_context
from trialhub.services import demo
from trialhub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# a curl that POSTs to /v1/trials (not /preview), with its -d '…' JSON body
START = re.compile(r"curl[^\n]*-X POST \S+/v1/trials (?:[^\n]*\\\n)*?[^\n]*?-d '(.*?)'", re.S)


def start_bodies(path: Path, org_id: str) -> list[dict[str, object]]:
    """The bodies, with the existing organization's id that `make serve` printed filled in;
    those needing an id from an earlier answer (a customer's) are left out."""
    out = []
    for raw in START.findall(path.read_text()):
        raw = re.sub(r'"org_[0-9a-f]*…"', f'"{org_id}"', raw)
        if "…" in raw or "<" in raw:
            continue
        out.append(json.loads(raw))
    return out


def test_readme_then_api_guide_start_different_customers(sqlite_url: str) -> None:
    ctx = build_context(Settings(), database_url=sqlite_url, demo=True)
    try:
        sales = demo.ensure_demo(ctx)[0]
        (globex,) = [o.id for o in demo.demo_organizations(ctx) if o.name == "Globex"]
        bodies = start_bodies(ROOT / "README.md", globex)
        bodies += start_bodies(ROOT / "docs" / "api.md", globex)
        assert len(bodies) >= 3  # README's, the new customer's and the existing one's
        client = TestClient(app_for(ctx))
        for body in bodies:
            got = client.post(
                "/v1/trials", json=body, headers={"Authorization": f"Bearer {sales.token}"}
            )
            assert got.status_code == 201, (body, got.text)
    finally:
        ctx.db.dispose()
