"""A state machine as data: a table of allowed moves, and one move that checks it, sets the
state, stamps the instant and records the event (architecture point 2).

Every aggregate with a status keeps one `StateMachine` beside its class and moves only
through it, so the table is the whole truth about what may follow what:

    SHIPMENT_STATES = StateMachine(
        ShipmentStatus,
        {ORDERED: frozenset({SHIPPED}), SHIPPED: frozenset({RETURNED}), RETURNED: frozenset()},
        stamps={SHIPPED: "shipped_at", RETURNED: "returned_at"},
    )
    SHIPMENT_STATES.move(shipment, ShipmentStatus.SHIPPED, at, carrier="UPS")

The entity is an `EventSource`: the move records `<subject>.<state>` (or the `action` given)
with the state before and after. A forbidden move raises the machine's refusal (by default
`InvalidTransition`) and changes nothing. Tests walk `allowed_pairs()` and
`forbidden_pairs()`: every pair of the table, allowed or not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from trialhub.domain.errors import InvalidTransition, TrialhubError
from trialhub.domain.events import EventSource

S = TypeVar("S", bound=StrEnum)


def _refuse(current: StrEnum, to: StrEnum) -> TrialhubError:
    return InvalidTransition(f"Cannot go from {current.value} to {to.value}.", field="status")


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """The states of one kind of entity and the moves between them."""

    states: type[S]
    table: Mapping[S, frozenset[S]]
    # the entity's attribute that holds the state (a plain string column)
    attribute: str = "status"
    # the attribute stamped with the instant a state is entered, where the entity keeps one
    stamps: Mapping[S, str] = field(default_factory=dict)
    # the error for a move the table forbids, given (current, to)
    refusal: Callable[[S, S], TrialhubError] = _refuse
    # what else entering a state does to the entity, before the event is recorded
    entered: Callable[[Any, S, datetime], None] | None = None

    def __post_init__(self) -> None:
        missing = set(self.states) - set(self.table)
        if missing:
            raise ValueError(f"the table has no row for {sorted(missing)}")

    def allows(self, current: S, to: S) -> bool:
        return to in self.table[current]

    def state_of(self, entity: object) -> S:
        return self.states(getattr(entity, self.attribute))

    def check(self, entity: object, to: S) -> S:
        """The entity's state, if the table lets it move to `to`; else the refusal."""
        current = self.state_of(entity)
        if not self.allows(current, to):
            raise self.refusal(current, to)
        return current

    def move(
        self,
        entity: EventSource,
        to: S,
        at: datetime,
        *,
        action: str | None = None,
        trial_id: str | None = None,
        **after: Any,
    ) -> S:
        """Moves the entity to `to` and records the event; returns the state it left."""
        current = self.check(entity, to)
        setattr(entity, self.attribute, to.value)
        stamp = self.stamps.get(to)
        if stamp is not None:
            setattr(entity, stamp, at)
        if self.entered is not None:
            self.entered(entity, to, at)
        entity.record_event(
            action or f"{entity.SUBJECT_TYPE}.{to.value}",
            at,
            before={self.attribute: current.value},
            trial_id=trial_id,
            **{self.attribute: to.value, **after},
        )
        return current

    def allowed_pairs(self) -> list[tuple[S, S]]:
        return [(a, b) for a, b in itertools.product(self.states, self.states) if self.allows(a, b)]

    def forbidden_pairs(self) -> list[tuple[S, S]]:
        return [
            (a, b) for a, b in itertools.product(self.states, self.states) if not self.allows(a, b)
        ]
