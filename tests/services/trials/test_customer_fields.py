"""The new customer's fields (rule C1), as the start and its preview check them."""

from __future__ import annotations

import pytest

from tests.conftest import World, new_customer_body
from trialhub.domain.errors import ErrorCollector
from trialhub.services.trials.form import validate_customer
from trialhub.services.trials.schemas import NewCustomer


def _errors(world: World, email: str) -> dict[str, tuple[str, str | None]]:
    customer = NewCustomer.model_validate({**new_customer_body()["customer"], "admin_email": email})
    errors = ErrorCollector()
    validate_customer(world.ctx.catalog, world.ctx.policy, customer, errors)
    return {e.field: (e.message, e.rule) for e in errors.errors}


@pytest.mark.parametrize("email", ["", "   "])
def test_an_empty_administrator_email_is_required(world: World, email: str) -> None:
    assert _errors(world, email) == {
        "customer.admin_email": ("The administrator email is required.", "C1")
    }


def test_a_malformed_email_still_names_what_is_wrong(world: World) -> None:
    message, rule = _errors(world, "not-an-email")["customer.admin_email"]
    assert message.startswith("Enter a valid email address: ")
    assert rule == "C1"
