"""The command line's fixtures: a demo world on a SQLite file, and a way to type commands
(`run`). A plugin of tests/conftest.py, so that any test can type a command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialhub.cli import app, common


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`trialhub demo` once per session (it builds through the use cases); tests copy it."""
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIALHUB_DATABASE_URL", f"sqlite:///{path}")
        result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_database: Path):  # type: ignore[no-untyped-def]
    shutil.copyfile(demo_database, tmp_path / "cli.db")  # what `trialhub demo` leaves
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

    return invoke
