"""Conversion requests of tier-2 partners, processed or declined by their distributor (rule V1)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.conversion import ConversionOrder, OrderStatus
from trialhub.domain.errors import ErrorCollector, Forbidden, NotFound
from trialhub.domain.roles import Action, Reach
from trialhub.domain.trial import Trial
from trialhub.services.conversion.convert import _payload, complete
from trialhub.services.conversion.schemas import (
    DecideConversion,
    OrderPage,
    OrderView,
)
from trialhub.services.conversion.views import order_view
from trialhub.services.kernel import paging
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import trial_in_reach, trials_in_reach
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.store.uow import UnitOfWork


def decide_request(ctx: Context, actor: Actor, order_id: str, cmd: DecideConversion) -> OrderView:
    """Rule V1: the distributor processes (converts) or declines a tier-2 partner's request.
    The rules are checked again: the trial may have changed or lapsed since."""
    if not actor.is_distributor:
        raise Forbidden("Only the partner's distributor processes conversion requests.", rule="V1")
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        order = uow.orders.get(order_id)
        if order is None or order.distributor_id != actor.distributor_id:
            raise NotFound("No such conversion request.", rule="P3")
        trial = uow.trials.get(order.trial_id)
        assert trial is not None
        if cmd.approve:
            complete(ctx, uow, trial, order, actor, now, note=cmd.note)
        else:
            order.decline(by=actor.admin_id, note=cmd.note, at=now)
            _tell_requester(uow, trial, order, now)
        uow.commit()
        return order_view(ctx, order)


def _tell_requester(uow: UnitOfWork, trial: Trial, order: ConversionOrder, at: datetime) -> None:
    requester = uow.admins.get(order.created_by_admin_id) if order.created_by_admin_id else None
    if requester is not None:
        queue_trial_email(
            uow,
            order,
            "conversion_declined",
            requester.email,
            f"declined:{order.id}",
            at,
            {**_payload(uow, trial, order), "note": order.note},
        )


def list_orders(
    ctx: Context,
    actor: Actor,
    *,
    status: str | None = None,
    trial_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> OrderPage:
    """A partner's orders and requests, a distributor's queue, or every order (operator),
    oldest first, a page at a time."""
    errors = ErrorCollector()
    paging.one_of(errors, "status", status, (s.value for s in OrderStatus), "V1")
    size = paging.page_size(ctx.policy, limit, errors)
    after = paging.read_cursor(cursor, errors)
    errors.raise_if_any()
    _require_reader(actor)
    with ctx.uow(actor.scope) as uow:
        reach = _PageReach(uow, actor)
        found, next_cursor = paging.walk(
            lambda key, n: reach.load(
                uow.orders.listed(status=status, trial_id=trial_id, limit=n, after=key)
            ),
            reach.keeps,
            lambda o: (o.created_at, o.id),
            size=size,
            after=after,
        )
        return OrderPage(items=[order_view(ctx, o) for o in found], next_cursor=next_cursor)


def get_order(ctx: Context, actor: Actor, order_id: str) -> OrderView:
    _require_reader(actor)
    with ctx.uow(actor.scope) as uow:
        order = uow.orders.get(order_id)
        if order is None or not _reaches(uow, actor, order):
            raise NotFound("No such order.", rule="P3")
        return order_view(ctx, order)


def _require_reader(actor: Actor) -> None:
    if actor.is_partner_admin:
        require_partner(actor, Action.READ_CUSTOMERS)
    elif not (actor.is_operator or actor.is_distributor):
        raise Forbidden("Your role cannot read orders.", rule="P2")


class _PageReach:
    """Which orders of a page the caller reaches, decided a fetched batch at a time: two
    queries for an own-reach role, none for the others, never one per order (issue 11)."""

    def __init__(self, uow: UnitOfWork, actor: Actor) -> None:
        self._uow = uow
        self._actor = actor
        # the repositories already keep other partners' orders out (rule P3); own-reach
        # roles see only their customers' (rule P2)
        self._own = actor.is_partner_admin and (
            require_partner(actor, Action.READ_CUSTOMERS) is Reach.OWN
        )
        self._reached: set[str] = set()

    def load(self, orders: list[ConversionOrder]) -> list[ConversionOrder]:
        if self._own:
            trials = self._uow.trials.get_many({o.trial_id for o in orders})
            reached = trials_in_reach(self._uow, self._actor, trials.values())
            self._reached.update(o.id for o in orders if o.trial_id in reached)
        return orders

    def keeps(self, order: ConversionOrder) -> bool:
        return not self._own or order.id in self._reached


def _reaches(uow: UnitOfWork, actor: Actor, order: ConversionOrder) -> bool:
    """The repositories already keep other partners' orders out (rule P3); own-reach roles
    see only their customers' (rule P2)."""
    if not actor.is_partner_admin:
        return True
    trial = uow.trials.get(order.trial_id)
    return trial is not None and trial_in_reach(uow, actor, trial)
