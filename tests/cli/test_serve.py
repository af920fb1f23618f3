"""`trialhub serve` as `make serve` runs it, in a real process on a loopback port: what it
prints at start-up, what it serves, and what its access log keeps."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

TRIALHUB = Path(sys.executable).parent / "trialhub"


@dataclass
class Served:
    url: str
    log: Path
    pid: int

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def serving(
    url: str, tmp_path: Path, *args: str, worker: bool = False, **env: str
) -> Iterator[Served]:
    """`trialhub serve` on `url` (a migrated copy: start-up then skips the migrations);
    the lifecycle worker only when `worker`."""
    port = free_port()
    log = tmp_path / "serve.log"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRIALHUB_")},
        "TRIALHUB_DATABASE_URL": url,
        "COLUMNS": "200",
        **env,
    }
    command = [str(TRIALHUB), "serve", "--port", str(port), *args]
    command += [] if worker else ["--no-worker"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environ)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Served(url=base, log=log, pid=process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def demo_served(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One `trialhub serve --demo` (as `make serve` runs it) for the tests that only read
    what it prints and serves: starting a process costs seconds."""
    folder = tmp_path_factory.mktemp("demo-serve")
    shutil.copyfile(sqlite_template, folder / "trialhub.db")
    with serving(f"sqlite:///{folder / 'trialhub.db'}", folder, "--demo") as served:
        yield served


def test_demo_server_serves_the_mailbox_and_says_who_can_read_it(demo_served: Served) -> None:
    served = demo_served
    assert httpx.get(f"{served.url}/mailbox").status_code == 200
    landing = httpx.get(f"{served.url}/").text
    assert f"{served.url}/v1/me" in landing  # the port actually served, not 8000
    token = "tok3nTh4tMustN0tB3Logg3d"
    assert httpx.get(f"{served.url}/consent/{token}").status_code == 404
    assert httpx.get(f"{served.url}/v1/consent/{token}").status_code == 404
    time.sleep(0.2)  # the access log line is written after the response
    out = served.output()
    assert f"local mailbox at {served.url}/mailbox" in out
    # the demo organizations, after the sign-ins, with an administrator email to try (C3)
    signins, _, rest = out.partition("Demo organizations")
    assert "sales@demo-partner.example" in signins
    assert re.search(r"Globex \(European Union\), org_[0-9a-f]+", rest)
    assert "hank@globex.example" in rest
    assert "Webex Free (United States)" in rest
    assert f"{served.url}/v1/customers" in out
    assert "anyone who can reach this port can read every email" in out
    assert "GET /consent/*** HTTP/1.1" in out  # the access log works, without the token
    assert token not in out


def test_the_printed_demo_sign_ins_work_in_the_portal(demo_served: Served) -> None:
    served = demo_served
    out = served.output()
    assert f"Demo sign-ins (local data only) at {served.url}/signin:" in out
    email = re.findall(r"email:\s+(\S+)", out)[0]
    password = re.findall(r"password:\s+(\S+)", out)[0]
    with httpx.Client(base_url=served.url) as browser:
        form = browser.get("/signin").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        data = {"email": email, "password": password, "csrf_token": csrf.group(1)}
        assert browser.post("/signin", data=data).headers["location"] == "/customers"
        assert "<h1>Customers</h1>" in browser.get("/customers").text


def test_smtp_configured_turns_the_mailbox_off_even_in_demo(
    sqlite_url: str, tmp_path: Path
) -> None:
    port = str(free_port())  # nobody listens: emails would wait, none is sent here
    smtp = {"TRIALHUB_SMTP_HOST": "127.0.0.1", "TRIALHUB_SMTP_PORT": port}
    with serving(sqlite_url, tmp_path, "--demo", **smtp) as served:
        assert httpx.get(f"{served.url}/mailbox").status_code == 404
        assert httpx.get(f"{served.url}/mailbox/1").status_code == 404
        out = served.output()
    assert f"sent through SMTP 127.0.0.1:{port}; the local mailbox is off" in out
