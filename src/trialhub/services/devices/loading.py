"""Loading a shipment or its trial within the caller's reach (rules P2, P3)."""

from __future__ import annotations

from trialhub.domain.devices import (
    DeviceShipment,
)
from trialhub.domain.errors import (
    Forbidden,
    NotFound,
)
from trialhub.domain.roles import Action
from trialhub.domain.trial import Trial
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.reach import trial_in_reach
from trialhub.store.uow import UnitOfWork


def _trial(uow: UnitOfWork, s: DeviceShipment) -> Trial:
    trial = uow.trials.get(s.trial_id)
    if trial is None:  # pragma: no cover - shipments are scoped like their trials
        raise NotFound("No such shipment.", rule="P3")
    return trial


def _load(uow: UnitOfWork, actor: Actor, shipment_id: str, action: Action) -> DeviceShipment:
    """A shipment of the caller's partner within the caller's reach, or 404 (rules P2, P3)."""
    shipment = uow.shipments.get(shipment_id)
    if shipment is None or not _in_reach(uow, actor, shipment, action):
        raise NotFound("No such shipment.", rule="P3")
    if action is not Action.READ_CUSTOMERS and actor.is_operator:
        raise Forbidden("The trials team ships and takes returns; the partner orders.", rule="P2")
    return shipment


def _in_reach(
    uow: UnitOfWork, actor: Actor, s: DeviceShipment, action: Action = Action.READ_CUSTOMERS
) -> bool:
    return trial_in_reach(uow, actor, _trial(uow, s), action)
