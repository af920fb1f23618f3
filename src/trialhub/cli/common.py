"""Shared pieces of the command line: the Typer apps, consoles, options, the context."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Protocol, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from trialhub.domain.errors import TrialhubError
from trialhub.services import accounts
from trialhub.services.kernel import Actor, Context, invalid_input
from trialhub.settings import Settings

Item = TypeVar("Item", covariant=True)
console = Console()
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TRIALHUB_DATABASE_URL", help="SQLAlchemy URL"),
]
AsOpt = Annotated[
    str, typer.Option("--as", envvar="TRIALHUB_AS", help="Act as this administrator (email)")
]


def database_url(value: str | None) -> str:
    """The one place every command (serve and the worker included) gets its database from:
    --database-url, else TRIALHUB_DATABASE_URL, else the default SQLite file."""
    return value or Settings().database_url


def is_relative_sqlite(url: str) -> bool:
    """An SQLite file named relative to the working directory (the default one is)."""
    scheme, sep, rest = url.partition(":///")
    name = rest.split("?", 1)[0]
    return (
        scheme.startswith("sqlite")
        and bool(sep)
        and name not in ("", ":memory:")
        and (not name.startswith("/"))
    )


def command_line(*args: str, url: str) -> str:
    """The command, as typed in another terminal, that acts on the database at `url`: this
    same program, and the URL unless it is the default one. A URL with a password is not
    printed: that terminal needs the same TRIALHUB_DATABASE_URL."""
    import shlex
    from urllib.parse import urlsplit

    words = [_program(), *args]
    if url != Settings.model_fields["database_url"].default and not urlsplit(url).password:
        words += ["--database-url", url]
    return shlex.join(words)


def _program() -> str:
    """How to run this program again: `trialhub` when that is what the PATH finds, else the
    path it was started from (`.venv/bin/trialhub` under make)."""
    import shutil
    import sys
    from pathlib import Path

    started = Path(sys.argv[0])
    if started.name != "trialhub":
        return "trialhub"
    found = shutil.which("trialhub")
    if found and Path(found).absolute() == started.absolute():
        return "trialhub"
    if started.is_absolute() and started.is_relative_to(Path.cwd()):
        return str(started.relative_to(Path.cwd()))
    return str(started)


@contextmanager
def open_context(url: str | None, *, migrate: bool = True) -> Iterator[Context]:
    """The database (migrated first) and a context; rule errors end the command cleanly."""
    from trialhub.bootstrap import build_context

    ctx = build_context(Settings(), database_url=database_url(url), migrate=migrate)
    try:
        yield ctx
    except TrialhubError as error:
        fail(error)
    except ValidationError as error:  # a command built from options the schema refuses
        fail(invalid_input(error))
    finally:
        ctx.db.dispose()


class _Page(Protocol[Item]):
    @property
    def items(self) -> Sequence[Item]: ...
    @property
    def next_cursor(self) -> str | None: ...


def every_page(fetch: Callable[[str | None], _Page[Item]]) -> list[Item]:
    """A whole list: a command prints everything, page after page."""
    items: list[Item] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


def acting(ctx: Context, email: str) -> Actor:
    return accounts.actor_for_email(ctx, email)


def fail(error: TrialhubError) -> None:
    """Prints the error with its rule and the fields involved, and exits 1."""
    rule = f" (rule {error.rule})" if error.rule else ""
    if len(error.errors) == 1:
        only = error.errors[0]
        err.print(f"[bold red]error[/]{rule}: {only.field}: {only.message}", highlight=False)
    else:
        err.print(f"[bold red]error[/]{rule}: {error.message}", highlight=False)
        for e in error.errors:
            why = f" (rule {e.rule})" if e.rule else ""
            err.print(f"  [yellow]{e.field}[/]: {e.message}{why}", highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def checked_input() -> Iterator[None]:
    """Input the command models refuse (a quantity out of range, a short serial number) is
    printed field by field with its rule, like the API's 422, instead of a traceback."""
    try:
        yield
    except ValidationError as error:
        fail(invalid_input(error))


def redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
