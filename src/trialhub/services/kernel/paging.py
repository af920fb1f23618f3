"""Cursor pages for lists whose rows are kept or dropped after loading (reach, rule P2).

A list is walked in a stable order (an instant, then the id) from the cursor on, in batches,
until the page is full; the cursor is the key of the page's last item, so a dropped row is
never counted and a kept one never repeated. Lists answer `{"items", "next_cursor"}`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from trialhub.domain.errors import ErrorCollector
from trialhub.domain.policy import Policy
from trialhub.store.repositories import decode_key, encode_cursor

Row = TypeVar("Row")


Key = tuple[datetime, str]


def page_size(policy: Policy, limit: int | None, errors: ErrorCollector) -> int:
    size = policy.default_page_size if limit is None else limit  # 0 is refused, not defaulted
    if not 1 <= size <= policy.max_page_size:
        errors.add("limit", f"Give a page size from 1 to {policy.max_page_size}.")
    return size


def one_of(
    errors: ErrorCollector, field: str, value: str | None, allowed: Iterable[str], rule: str
) -> None:
    """A list's filter takes one of its known values (or none)."""
    known = list(allowed)
    if value is not None and value not in known:
        errors.add(field, f"{field} is one of {', '.join(known)}.", rule)


def read_cursor(cursor: str | None, errors: ErrorCollector) -> Key | None:
    if not cursor:
        return None
    try:
        instant, row_id = decode_key(cursor, str)
    except (ValueError, TypeError, KeyError):
        errors.add("cursor", "The cursor is not valid; start again without it.")
        return None
    return instant, row_id


def walk(
    fetch: Callable[[Key | None, int], list[Row]],
    keep: Callable[[Row], bool],
    key: Callable[[Row], Key],
    *,
    size: int,
    after: Key | None,
) -> tuple[list[Row], str | None]:
    """The next `size` rows that `keep` accepts, and the cursor of the page after (or None)."""
    kept: list[Row] = []
    batch_size = size + 1
    while True:
        batch = fetch(after, batch_size)
        for row in batch:
            after = key(row)
            if not keep(row):
                continue
            if len(kept) == size:  # one more exists: the page is full and has a successor
                last = key(kept[-1])
                return kept, encode_cursor([last[0], last[1]])
            kept.append(row)
        if len(batch) < batch_size:
            return kept, None
