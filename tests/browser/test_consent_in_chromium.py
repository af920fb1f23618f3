"""A customer's full administrator accepts a trial in a real browser (headless Chromium)."""

from __future__ import annotations

import re

from tests.conftest import LiveServer, World, make_world
from tests.support.factories import links, make_org
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import NewCustomer, StartTrial
from trialhub.store.repositories import Scope


def test_accept_with_provisioning_access_only(live: LiveServer, page: object) -> None:
    ctx = live.ctx
    world: World = make_world(ctx)
    org = make_org(ctx, full=("boss@globex.example",))
    trial = trials.start_trial(
        ctx,
        world.sales_full.actor,
        StartTrial(
            customer=NewCustomer(
                company_name="Globex",
                admin_email="boss@globex.example",
                business_vertical="manufacturing",
                country="DE",
                supported_location_ack=True,
            ),
            confirm_existing_org_id=org,
            services=[{"code": "calling"}],  # type: ignore[list-item]
            user_licenses=10,
        ),
    )
    token = links(ctx)["boss@globex.example"]
    page.goto(f"{live.url}/consent/{token}")  # type: ignore[attr-defined]
    assert "Partner A" in page.text_content("body")  # type: ignore[attr-defined]
    page.get_by_label(re.compile("Full Admin")).uncheck()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Accept").click()  # type: ignore[attr-defined]
    status = page.get_by_role("status")  # type: ignore[attr-defined]
    assert "provisioning administrator access" in status.text_content()
    with ctx.uow(Scope.system()) as uow:
        customer = uow.customers.get(trial.customer_id)
        assert customer is not None
        assert (customer.state, customer.access) == ("active", "provisioning")  # rule K3
    page.reload()  # type: ignore[attr-defined]
    assert "already used" in page.text_content("body")  # type: ignore[attr-defined]
