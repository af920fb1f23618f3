"""The command line's fixture: a demo world on a SQLite file, and a way to type commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialhub.cli import app, common


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRIALHUB_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("COLUMNS", "250")
    # the consoles are made at import, before COLUMNS is set (and pytest-xdist workers have
    # no terminal): widen them so that no line folds in the middle of an id
    monkeypatch.setattr(common.console, "width", 250)
    monkeypatch.setattr(common.err, "width", 250)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, list(args))
        out = result.output
        assert (result.exit_code == 0) is ok, out
        return out

    invoke("demo")
    return invoke
