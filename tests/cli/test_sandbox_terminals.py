"""`make sandbox` in one terminal; in another, the commands its start-up lines print
(`trialhub clock advance 7d`, `trialhub mail`) act on the sandbox that server runs: one
place decides the database for the server and every command."""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import free_port, new_customer_body
from trialhub.cli import app as cli
from trialhub.cli import common

REPO = Path(__file__).resolve().parents[2]


def make_recipe(target: str, port: int) -> list[str]:
    """The command `make <target>` runs, as words (leading VAR=value words included)."""
    if not (REPO / "Makefile").exists() or shutil.which("make") is None:
        pytest.skip("needs the source tree and make")
    venv = Path(sys.executable).parent.parent
    args = [target, f"PORT={port}", f"VENV={venv}"]
    shown = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")  # a recipe line continued with a backslash is one line
    (line,) = [x for x in shown.splitlines() if " serve " in x]
    return shlex.split(line)


class Server:
    """A process started from a make recipe, its output read line by line."""

    def __init__(self, words: list[str], cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALHUB_")}
        while words and "=" in words[0] and not words[0].startswith("/"):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        env["COLUMNS"] = "250"
        self.proc = subprocess.Popen(
            words, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read_until(self, text: str, timeout: float = 60) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                assert self.proc.poll() is None, "\n".join(seen)
                continue
            if text in seen[-1]:
                return seen
        raise AssertionError(f"no {text!r} in:\n" + "\n".join(seen))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The second terminal: the same directory, no TRIALHUB_ variables."""
    for name in [k for k in os.environ if k.startswith("TRIALHUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(common.console, "width", 250)
    monkeypatch.setattr(common.err, "width", 250)
    return tmp_path


def run_printed(command: str) -> str:
    """Runs a command the server printed, as typed (through the CLI in this process)."""
    words = shlex.split(command)
    program = words.pop(0)
    assert Path(program).name == "trialhub"
    assert shutil.which(program) is not None, f"{program} cannot be run from this directory"
    result = CliRunner().invoke(cli, words)
    assert result.exit_code == 0, result.output
    return result.output


def test_make_sandbox_and_a_second_terminal_share_one_database(terminal: Path) -> None:
    port = free_port()
    server = Server(make_recipe("sandbox", port), terminal)
    try:
        start = server.read_until("Sandbox clock:")
        hints = server.read_until("mail ")
        token = next(x.split(":", 1)[1].strip() for x in start if "API token:" in x)
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        before = datetime.fromisoformat(
            httpx.get(base + "/v1/sandbox/clock", headers=headers).json()["now"]
        )
        body = new_customer_body(services=[{"code": "messaging"}], meetings=None)
        r = httpx.post(base + "/v1/trials", json=body, headers=headers, timeout=30)
        assert r.status_code == 201, r.text
        commands = {
            line.split("#")[0].strip().split()[1]: line.split("#")[0].strip()
            for line in hints
            if line.startswith("  ") and "trialhub" in line
        }
        assert commands["clock"].endswith("clock advance 7d")  # the exact command, no flags
        moved = run_printed(commands["clock"])
        assert "applied" in moved
        now = before
        for _ in range(50):  # the server rereads the clock's offset every half second
            reply = httpx.get(base + "/v1/sandbox/clock", headers=headers).json()
            now = datetime.fromisoformat(reply["now"])
            if now - before >= timedelta(days=7):
                break
            time.sleep(0.1)
        assert now - before >= timedelta(days=7)  # the server's clock moved
        admin = body["customer"]["admin_email"]
        mail = ""
        for _ in range(100):  # the server's worker delivers the welcome email
            mail = run_printed(commands["mail"])
            if admin in mail:
                break
            time.sleep(0.2)
        assert admin in mail  # the server's mailbox, read from the second terminal
    finally:
        server.stop()
    assert (terminal / "var" / "trialhub.db").exists()
    assert not (terminal / "var" / "sandbox.db").exists()
