"""The state tables of a trial's parts, walked pair by pair (architecture point 2): a device
shipment (rules D4, D8), a device extension request (rule D6) and a conversion order
(rule V1). Every allowed move stamps its instant and records the states before and after;
every forbidden one is refused with the part's own rule and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest

from trialhub.domain.conversion import ORDER_STATES, ConversionOrder, OrderStatus
from trialhub.domain.devices import (
    EXTENSION_DECISIONS,
    SHIPMENT_STATES,
    DeviceExtensionRequest,
    DeviceShipment,
    ExtensionDecision,
    ShipmentStatus,
)
from trialhub.domain.errors import Conflict
from trialhub.domain.statemachine import StateMachine

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
OWNERS = {"trial_id": "trl_1", "partner_id": "ptn_1", "org_id": "org_1"}


def shipment(status: StrEnum) -> DeviceShipment:
    return DeviceShipment(
        id="shp_1",
        device_type="room",
        demo_order="D12345678",
        recipient="customer",
        address={"country": "US", "email": "ann@acme.example"},
        status=status.value,
        **OWNERS,
    )


def extension_request(decision: StrEnum) -> DeviceExtensionRequest:
    return DeviceExtensionRequest(
        id="dxr_1", requested_end=LATER, requested_at=NOW, decision=decision.value, **OWNERS
    )


def order(status: StrEnum) -> ConversionOrder:
    return ConversionOrder(
        id="ord_1",
        services=[{"service": "calling", "quantity": 10}],
        provisioning_email="ann@acme.example",
        path="distributor_request",
        created_at=NOW,
        status=status.value,
        **OWNERS,
    )


Machine = StateMachine[Any]
Make = Callable[[StrEnum], Any]
PARTS: list[tuple[str, Machine, Make]] = [
    ("shipment", SHIPMENT_STATES, shipment),
    ("extension_request", EXTENSION_DECISIONS, extension_request),
    ("order", ORDER_STATES, order),
]


def pairs(kind: str) -> list[Any]:
    return [
        pytest.param(machine, make, a, b, id=f"{name}:{a}->{b}")
        for name, machine, make in PARTS
        for a, b in getattr(machine, f"{kind}_pairs")()
    ]


def test_the_tables() -> None:
    S, D, Os = ShipmentStatus, ExtensionDecision, OrderStatus
    assert set(SHIPMENT_STATES.allowed_pairs()) == {(S.ORDERED, S.SHIPPED), (S.SHIPPED, S.RETURNED)}
    assert set(EXTENSION_DECISIONS.allowed_pairs()) == {
        (D.PENDING, D.APPROVED),
        (D.PENDING, D.DENIED),
    }
    assert set(ORDER_STATES.allowed_pairs()) == {
        (Os.REQUESTED, Os.COMPLETED),
        (Os.REQUESTED, Os.DECLINED),
    }
    # the instant each part keeps: shipped_at and returned_at, decided_at, processed_at
    assert dict(SHIPMENT_STATES.stamps) == {S.SHIPPED: "shipped_at", S.RETURNED: "returned_at"}
    assert set(EXTENSION_DECISIONS.stamps.values()) == {"decided_at"}
    assert set(ORDER_STATES.stamps.values()) == {"processed_at"}


@pytest.mark.parametrize(("machine", "make", "start", "to"), pairs("allowed"))
def test_allowed_moves(machine: Machine, make: Make, start: StrEnum, to: StrEnum) -> None:
    part = make(start)
    machine.move(part, to, LATER)
    assert machine.state_of(part) is to
    assert getattr(part, machine.stamps[to]) == LATER
    (event,) = part.drain_events()
    assert (event.before, event.after) == (
        {machine.attribute: start.value},
        {machine.attribute: to.value},
    )
    assert (event.trial_id, event.partner_id, event.org_id) == ("trl_1", "ptn_1", "org_1")


def refused_under(to: StrEnum) -> str:
    """Rule D4: a shipment ships once; D8: only shipped devices come back, once; D6: a
    request is decided once; V1: an order is processed once."""
    if isinstance(to, ShipmentStatus):
        return "D4" if to is ShipmentStatus.SHIPPED else "D8"
    return "D6" if isinstance(to, ExtensionDecision) else "V1"


@pytest.mark.parametrize(("machine", "make", "start", "to"), pairs("forbidden"))
def test_forbidden_moves(machine: Machine, make: Make, start: StrEnum, to: StrEnum) -> None:
    part = make(start)
    before = dict(vars(part))
    with pytest.raises(Conflict) as info:
        machine.move(part, to, LATER)
    assert info.value.rule == refused_under(to)
    assert (dict(vars(part)), part.drain_events()) == (before, [])
