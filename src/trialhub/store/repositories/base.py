"""What every repository shares: the caller's scope, its filter, and keyset cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Select, Table, and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from trialhub.store import tables

E = TypeVar("E")


@dataclass(frozen=True)
class Scope:
    """Who is acting, and which partner's data it may see (None: operator, sees all)."""

    actor_id: str | None
    actor_label: str
    partner_id: str | None
    is_operator: bool = False
    distributor_id: str | None = None  # a distributor sees the partners it serves (rule V1)

    @classmethod
    def system(cls, label: str = "system") -> Scope:
        return cls(actor_id=None, actor_label=label, partner_id=None, is_operator=True)

    @property
    def unrestricted(self) -> bool:
        return self.is_operator and self.partner_id is None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    padded = cursor + "=" * (-len(cursor) % 4)
    values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    if not isinstance(values, list):
        raise ValueError("cursor")
    return values


def decode_key(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """A keyset cursor: an aware instant, then values of `kinds`. Anything else, such as a
    number too large for the database or a naive time, is a ValueError (rule E3)."""
    values = decode_cursor(cursor)
    if len(values) != 1 + len(kinds) or not isinstance(values[0], str):
        raise ValueError("cursor")
    instant = datetime.fromisoformat(values[0])
    if instant.tzinfo is None:
        raise ValueError("cursor")
    try:  # the database stores UTC: an offset can push year 1 or 9999 out of range
        instant = instant.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("cursor") from error
    if not all(type(v) is kind for v, kind in zip(values[1:], kinds, strict=True)):
        raise ValueError("cursor")
    return (instant, *values[1:])


def _after(instant: Any, row_id: Any, key: tuple[datetime, str]) -> Any:
    """Rows after `key` in (instant, id) order: a keyset page's condition."""
    return or_(instant > key[0], and_(instant == key[0], row_id > key[1]))


class Repository:
    """A repository on the unit of work's session, reading as `scope` may (rule P3).

    Every public read is scoped to the caller unless its name says otherwise (`_unscoped`,
    `_for_worker`, `_any_partner`); a repository of data that belongs to no partner says
    so with `partner_data = False` (tests/store/test_store_sealed.py checks both).
    """

    partner_data: ClassVar[bool] = True

    def __init__(self, session: Session, scope: Scope) -> None:
        self._session = session
        self.scope = scope

    def _by_id(self, entity: type[E], ident: Any) -> E | None:
        """`Session.get`, with the identity map looked at first: the worker asks for each
        trial of its batch four or five times, and `Session.get` costs ten times a dict
        lookup even for an entity it holds (issue 11). The same answer: an entity held and
        not expired as such, else whatever `Session.get` finds."""
        found = self._session.identity_map.get((entity, (ident,), None))
        if found is not None and not instance_state(found).expired:
            return found
        return self._session.get(entity, ident)

    def _scoped(self, stmt: Select[Any], partner_column: Any) -> Select[Any]:
        """Adds the partner filter unless the caller is the unrestricted operator (rule P3)."""
        if self.scope.unrestricted:
            return stmt
        if self.scope.distributor_id is not None:
            served = select(tables.partners.c.id).where(
                tables.partners.c.distributor_id == self.scope.distributor_id
            )
            return stmt.where(partner_column.in_(served))
        return stmt.where(partner_column == self.scope.partner_id)

    def _oldest_first(
        self,
        entity: type,
        table: Table,
        instant: Any,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        **equal: str | None,
    ) -> list[Any]:
        """A keyset page of the caller's rows, oldest first: those whose columns equal the
        given values (None: any), after `after`, the (instant, id) key of the last one seen."""
        stmt: Select[Any] = select(entity)
        for column, value in equal.items():
            if value is not None:
                stmt = stmt.where(table.c[column] == value)
        if after is not None:
            stmt = stmt.where(_after(instant, table.c.id, after))
        stmt = stmt.order_by(instant, table.c.id).limit(limit)
        return list(self._session.scalars(self._scoped(stmt, table.c.partner_id)))

    def _scoped_by_trial(self, stmt: Select[Any], trial_column: Any) -> Select[Any]:
        """Rows of the trials the caller may see, for tables without a partner column."""
        if self.scope.unrestricted:
            return stmt
        t = tables.trials.c
        return stmt.where(trial_column.in_(self._scoped(select(t.id), t.partner_id)))


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
