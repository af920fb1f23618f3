"""The worker's batch loader (issue 11) gives the same aggregates as the mapping's own
loading: every part of a trial and of an organization, in the mapping's order."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from tests.support.factories import new_customer_body
from trialhub.domain.organization import Organization
from trialhub.domain.trial import Trial
from trialhub.services.trials import operations
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import ExtendTrial, StartTrial
from trialhub.store.repositories import Scope
from trialhub.store.repositories.batch import load_many

pytestmark = pytest.mark.both_backends  # the queries are the subject


def _shape(entity: Any, parts: tuple[str, ...]) -> dict[str, Any]:
    """Each part as the ids of its rows, in order (None for an absent one-to-one part)."""
    out: dict[str, Any] = {}
    for part in parts:
        value = getattr(entity, part)
        if isinstance(value, list):
            out[part] = [child.id for child in value]
        else:
            out[part] = None if value is None else value.id
    return out


def test_a_batch_loads_the_same_aggregates_as_the_mapping(world: World) -> None:
    ctx, actor = world.ctx, world.sales_full.actor
    started = [trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))]
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None)
    started.append(trials.start_trial(ctx, actor, StartTrial.model_validate(body)))
    operations.extend_trial(ctx, actor, started[0].id, ExtendTrial())
    operations.extend_trial(ctx, actor, started[0].id, ExtendTrial())
    ids = [t.id for t in started]
    trial_parts = ("services", "extensions", "site")
    org_parts = ("admins", "users", "subscriptions")
    with ctx.uow(Scope.system("test")) as uow:
        expected_trials = [_shape(uow.trials.get(i), trial_parts) for i in ids]
        org_ids = [uow.trials.get(i).org_id for i in ids]  # type: ignore[union-attr]
        expected_orgs = [_shape(uow.organizations.get(i), org_parts) for i in org_ids]
    assert expected_trials[0]["site"] is not None  # the parts are really there
    assert len(expected_trials[0]["extensions"]) == 2
    assert expected_trials[1]["site"] is None
    with ctx.uow(Scope.system("test")) as uow:
        session = uow._live()
        loaded = {t.id: t for t in load_many(session, Trial, ids)}
        orgs = {o.id: o for o in load_many(session, Organization, org_ids)}
        held = len(session.identity_map)
        assert [_shape(loaded[i], trial_parts) for i in ids] == expected_trials
        assert [_shape(orgs[i], org_parts) for i in org_ids] == expected_orgs
        assert len(session.identity_map) == held  # nothing loaded lazily after


def test_an_entity_the_transaction_holds_is_answered_from_the_identity_map(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the worker asks for each trial of its batch several times; a trial,
    customer or organization already held costs a dict lookup, not `Session.get`. One
    expired, deleted or never loaded is still `Session.get`'s to answer."""
    ctx, actor = world.ctx, world.sales_full.actor
    view = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    with ctx.uow(Scope.system("test")) as uow:
        session = uow._live()
        trial = uow.trials.get(view.id)
        assert trial is not None
        customer = uow.customers.get(trial.customer_id)
        org = uow.organizations.get(trial.org_id)
        asked: list[Any] = []
        real_get = type(session).get

        def counting_get(self: Any, entity: Any, ident: Any, **kw: Any) -> Any:
            asked.append((entity.__name__, ident))
            return real_get(self, entity, ident, **kw)

        monkeypatch.setattr(type(session), "get", counting_get)
        assert uow.trials.get(view.id) is trial
        assert uow.customers.get(trial.customer_id) is customer
        assert uow.organizations.get(trial.org_id) is org
        assert asked == []  # all three from the identity map
        session.expire(trial)
        assert uow.trials.get(view.id) is trial  # reloaded by Session.get, the same object
        assert asked == [("Trial", view.id)]
        assert trial.status == view.status
        assert uow.trials.get("trl_nonexistent") is None
        assert asked[-1] == ("Trial", "trl_nonexistent")
