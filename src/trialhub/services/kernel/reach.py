"""Loading what the caller may reach: a trial of its partner within its role's reach, or 404
(rules P2, P3)."""

from __future__ import annotations

from collections.abc import Iterable

from trialhub.domain.errors import Forbidden, NotFound
from trialhub.domain.organization import Customer
from trialhub.domain.roles import Action, Reach
from trialhub.domain.trial import Trial
from trialhub.services.kernel.actor import Actor, require_partner, require_reach
from trialhub.store.uow import UnitOfWork


def load_trial(uow: UnitOfWork, actor: Actor, trial_id: str, action: Action) -> Trial:
    """A trial of the caller's partner, within the caller's reach, or 404 (rules P2, P3)."""
    if actor.is_operator:
        # the trials team sees every trial but changes none: partners own their trials
        if action is not Action.READ_CUSTOMERS:
            raise Forbidden("The trials team can read trials but not change them.", rule="P2")
        trial = uow.trials.get(trial_id)
        if trial is None:
            raise NotFound("No such trial.", rule="P3")
        return trial
    require_partner(actor, action)
    trial = uow.trials.get(trial_id)
    if trial is None:
        raise NotFound("No such trial.", rule="P3")
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    if customer is None:
        raise NotFound("No such trial.", rule="P3")
    require_reach(actor, action, customer)
    return trial


def trial_in_reach(
    uow: UnitOfWork, actor: Actor, trial: Trial, action: Action = Action.READ_CUSTOMERS
) -> bool:
    """Whether the caller reaches the trial's customer (rules P2, P3); the trials team
    reaches every trial. A role that lacks the action still raises Forbidden."""
    if actor.is_operator:
        return True
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    if customer is None:
        return False
    try:
        require_reach(actor, action, customer)
    except NotFound:
        return False
    return True


def trials_in_reach(
    uow: UnitOfWork, actor: Actor, trials: Iterable[Trial], action: Action = Action.READ_CUSTOMERS
) -> set[str]:
    """`trial_in_reach` for a page of trials: the ids of those whose customer the caller
    reaches (rules P2, P3), their customers loaded in one query, not one a trial."""
    trials = list(trials)
    if actor.is_operator:
        return {t.id for t in trials}
    got = require_partner(actor, action)
    customers = uow.customers.get_many({t.customer_id for t in trials})
    return {
        t.id
        for t in trials
        if (customer := customers.get(t.customer_id)) is not None
        and (got is not Reach.OWN or customer.reachable_by(actor.admin_id))
    }


def load_customer(uow: UnitOfWork, customer_id: str, *, field: str | None = None) -> Customer:
    """A customer in the caller's partner's list (the unit of work's scope), or 404 (rule P3)."""
    customer = uow.customers.get(customer_id)
    if customer is None:
        raise NotFound("No such customer.", field=field, rule="P3")
    return customer


def _customer_in_reach(uow: UnitOfWork, actor: Actor, customer_id: str, action: Action) -> Customer:
    customer = load_customer(uow, customer_id, field="customer_id")
    require_reach(actor, action, customer)
    return customer
