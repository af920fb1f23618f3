"""`trialhub serve --workers N` (issue 11): N server processes answer on one port, and the
lifecycle worker runs once, in the parent, not in every server process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.cli.test_serve import Served, serving


def _when_started(served: Served, processes: int) -> str:
    """The output once `processes` server processes have said they started (one may answer
    while the other still boots, on a busy machine)."""
    deadline = time.monotonic() + 30
    while True:
        out = served.output()
        started = set(re.findall(r"Started server process \[(\d+)\]", out))
        if len(started) >= processes or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


def test_two_server_processes_answer_and_one_lifecycle_worker_runs(
    sqlite_url: str, tmp_path: Path
) -> None:
    with serving(sqlite_url, tmp_path, "--workers", "2", "--demo", worker=True) as served:
        token = re.search(r"API token: (\S+)", served.output())
        assert token is not None
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        with httpx.Client(base_url=served.url, headers=headers) as client:
            answers = [client.get("/v1/me").status_code for _ in range(6)]
            assert client.get("/customers", follow_redirects=False).status_code in (200, 303)
        out = _when_started(served, processes=2)
    assert answers == [200] * 6
    started = re.findall(r"Started server process \[(\d+)\]", out)
    assert len(set(started)) >= 2  # uvicorn's own processes, each with its own app
    assert str(served.pid) not in started  # the parent only supervises them
    # the lifecycle worker: one line, in the parent; the server processes start none
    assert re.findall(r"Lifecycle worker: running in process (\d+)", out) == [str(served.pid)]


def test_one_process_is_the_default(sqlite_url: str, tmp_path: Path) -> None:
    with serving(sqlite_url, tmp_path, worker=True) as served:
        assert httpx.get(f"{served.url}/healthz").status_code == 200
        out = served.output()
    assert "Started parent process" not in out
    assert f"Lifecycle worker: running in process {served.pid}" in out
