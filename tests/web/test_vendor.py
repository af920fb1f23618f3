"""The vendored htmx is the unmodified release its SHA256SUMS names, and every portal page
loads it from this server (no CDN)."""

from __future__ import annotations

import hashlib
from importlib.resources import files

from fastapi.testclient import TestClient

HTMX = files("trialhub.web") / "static" / "vendor" / "htmx"


def _sums() -> dict[str, str]:
    lines = (HTMX / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_the_files_match_their_checksums() -> None:
    sums = _sums()
    version = (HTMX / "VERSION").read_text().strip()
    assert version.startswith("2.0.")
    assert f"htmx.org-{version}.tgz" in sums  # the release it was taken from
    for name in ("htmx.min.js", "LICENSE"):
        assert hashlib.sha256((HTMX / name).read_bytes()).hexdigest() == sums[name], name


def test_pages_load_it_from_this_server(browser: TestClient) -> None:
    page = browser.get("/signin")
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in page.text
    served = browser.get("/static/vendor/htmx/htmx.min.js")
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == _sums()["htmx.min.js"]
