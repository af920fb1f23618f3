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
from trialhub.services.context import Actor, Context
from trialhub.services.fields import invalid_input
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
    return value or Settings().database_url


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
