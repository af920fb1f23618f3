"""The audit feeds within the caller's reach (rules P2, E1), on each backend: an own-reach
role (partner administrator, sales administrator) reads the events of the customers it
provisioned or was assigned, and of the partner only those of its own account; full-reach
roles read the whole partner's log. The reach is part of the feed's one query."""

from __future__ import annotations

import pytest

from tests.conftest import World, new_customer_body
from tests.support.factories import Login
from trialhub.services import customers
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial, TrialView

pytestmark = pytest.mark.both_backends


def _start(world: World, login: Login, company: str) -> TrialView:
    body = new_customer_body()
    body["customer"]["company_name"] = company
    return trials.start_trial(world.ctx, login.actor, StartTrial.model_validate(body))


def _orgs(world: World, login: Login) -> tuple[set[str | None], set[str | None]]:
    """The organizations in the caller's activity feed and in its event log."""
    feed = customers.activity(world.ctx, login.actor, limit=100).items
    log = customers.list_events(world.ctx, login.actor, limit=100).items
    return {e.org_id for e in feed}, {e.org_id for e in log}


def test_own_reach_roles_read_only_their_customers_events(world: World) -> None:
    assigned = _start(world, world.sales_full, "Assigned")
    other = _start(world, world.sales_full, "Other")
    own = _start(world, world.sales, "Provisioned by sales")
    admin_id = str(world.partner_admin.actor.admin_id)
    customers.assign_customer(world.ctx, world.sales_full.actor, assigned.customer_id, admin_id)
    for login, reached in ((world.partner_admin, assigned), (world.sales, own)):
        for orgs in _orgs(world, login):
            assert reached.org_id in orgs
            assert orgs - {reached.org_id, None} == set()  # rule P2
        partner_level = [
            e
            for e in customers.activity(world.ctx, login.actor, limit=100).items
            if e.org_id is None
        ]
        me = login.actor
        assert partner_level  # its own account's events, such as its creation
        assert all(e.subject_id == me.admin_id or me.email in e.actor_label for e in partner_level)
    for login in (world.sales_full, world.partner_full, world.read_only):
        for orgs in _orgs(world, login):
            assert {assigned.org_id, other.org_id, own.org_id} <= orgs
