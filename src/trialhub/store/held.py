"""A use case's transaction held open past its commit, so that an idempotent request can
record its answer in the same transaction as its effects (services/kernel/idempotency.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trialhub.store.uow import UnitOfWork

_active: ContextVar[HeldTransaction | None] = ContextVar("trialhub_held", default=None)


class HeldTransaction:
    """Inside `with held.active():` the unit of work that commits flushes instead, and
    hands its still-open transaction here; `commit()` or `rollback()` ends it.

    One request, one transaction (architecture 4): a second unit of work opened after the
    first was handed over would not see its uncommitted changes, so it is refused.
    """

    def __init__(self) -> None:
        self.uow: UnitOfWork | None = None

    @contextmanager
    def active(self) -> Iterator[HeldTransaction]:
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def take(self, uow: UnitOfWork) -> None:
        if self.uow is not None:
            raise RuntimeError("an idempotent request commits one unit of work, not two")
        self.uow = uow

    def forget(self, uow: UnitOfWork) -> None:
        """The unit of work left with an error and rolled back itself."""
        if self.uow is uow:
            self.uow = None

    def commit(self) -> None:
        uow, self.uow = self.uow, None
        if uow is not None:
            uow.end(commit=True)

    def rollback(self) -> None:
        uow, self.uow = self.uow, None
        if uow is not None:
            uow.end(commit=False)


def active_hold() -> HeldTransaction | None:
    """The hold of the idempotent request running in this context, if any."""
    return _active.get()
