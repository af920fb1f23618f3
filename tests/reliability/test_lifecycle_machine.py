"""A hypothesis state machine over the trial lifecycle (issue 11): starts (new customers and
consent requests), consent accepted or declined, provisioning, extensions, services added
and removed, deletion, conversion, device orders, clock moves of any size and worker passes,
in any order, through the service layer on SQLite.

Whatever the order, after every step:
- every status a trial went through is a move of the domain's table (`TRANSITIONS`), the
  moves chain up, and the last one is the trial's status (rules K4, T5, T7, V5, T9);
- no deadline fired twice (rule T10): one audit event per trial, action and instant, one
  lapse, one users' notice, one number release per trial, and no handler failed;
- after a worker pass nothing due is left pending;
- the label a partner sees is the label of the status (rule K4).

Refusals (`TrialhubError`) are expected answers; anything else fails the run. Derandomized;
`TRIALHUB_FUZZ=thorough` multiplies the examples (tests/support/fuzzing.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from sqlalchemy import text

from tests.conftest import START, BuiltWorld, World, new_customer_body, open_context
from tests.support.factories import dispatch_body, links, order_body
from tests.support.fuzzing import THOROUGH, fuzzing
from tests.support.lifecycle import DEADLINE_ACTIONS
from tests.support.list_keys import assert_keys_follow_trials
from trialhub.clock import MovableClock
from trialhub.domain.errors import TrialhubError
from trialhub.domain.states import TRANSITIONS, TrialStatus
from trialhub.services import consent, conversion, devices, trials
from trialhub.services.consent.schemas import ConsentDecision
from trialhub.services.conversion.schemas import ConvertTrial
from trialhub.services.customers import organizations as orgs
from trialhub.services.customers.schemas import AddOrgAdmin, CreateOrganization
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.devices.schemas import DispatchShipment, OrderShipment
from trialhub.services.lifecycle import registry as lifecycle
from trialhub.services.trials.schemas import (
    ChangeServices,
    ExtendTrial,
    ProvisionTrial,
    StartTrial,
)

pytestmark = pytest.mark.reliability

ONCE_PER_TRIAL = ("trial.lapsed", "trial.users_notified", "trial.numbers_released")


def refused(call: Any, *args: Any, **kw: Any) -> Any:
    """The call's answer, or None when the domain refused it (an expected answer)."""
    try:
        return call(*args, **kw)
    except TrialhubError:
        return None


class Lifecycle(RuleBasedStateMachine):
    template: ClassVar[BuiltWorld]

    trials = Bundle("trials")
    requests = Bundle("requests")  # (trial id, the consent recipient) still pending
    shipments = Bundle("shipments")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="lifecycle-"))
        assert self.template.file is not None
        shutil.copyfile(self.template.file, self.dir / "trialhub.db")
        self.clock = MovableClock(START)
        self.opened = open_context(f"sqlite:///{self.dir / 'trialhub.db'}", self.clock)
        self.ctx = self.opened.__enter__()
        self.world: World = self.template.world
        self.actor = self.world.sales_full.actor
        self.orgs = 0
        self.serials = 0

    def teardown(self) -> None:
        self.opened.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- starting ----------------------------------------------------------------------

    def _start(self, **kw: Any) -> Any:
        body = new_customer_body(
            services=[{"code": "calling"}, {"code": "messaging"}],
            meetings=None,
            user_licenses=5,
            **kw,
        )
        return trials.start_trial(self.ctx, self.actor, StartTrial.model_validate(body))

    @initialize(target=trials, days=st.sampled_from([30, 60, 90]))
    def first_trial(self, days: int) -> str:
        return str(self._start(duration_days=days).id)

    @rule(target=trials, days=st.sampled_from([30, 90]), later=st.booleans())
    def start_new_customer(self, days: int, later: bool) -> str:
        return str(self._start(duration_days=days, setup="later" if later else "now").id)

    @rule(target=requests)
    def request_consent(self) -> Any:
        """An existing organization: the trial waits for its administrator (rule K2)."""
        self.orgs += 1
        email = f"boss{self.orgs}@globex.example"
        org = orgs.create_organization(
            self.ctx, SYSTEM_OPERATOR, CreateOrganization(name=f"Globex {self.orgs}", country="DE")
        ).id
        orgs.add_org_admin(self.ctx, SYSTEM_OPERATOR, org, AddOrgAdmin(email=email, name="Boss"))
        view = refused(self._start, confirm_existing_org_id=org, customer=_customer(email))
        return multiple() if view is None else (str(view.id), email)

    @rule(target=trials, request=consumes(requests), accept=st.booleans())
    def decide_consent(self, request: tuple[str, str], accept: bool) -> str:
        trial_id, email = request
        token = links(self.ctx).get(email)
        if token is not None:
            decision = ConsentDecision(decision="accept" if accept else "decline")
            refused(consent.decide, self.ctx, token, decision, address=None)
        return trial_id

    # ---- operations --------------------------------------------------------------------

    @rule(trial=trials)
    def provision(self, trial: str) -> None:
        refused(trials.provision_trial, self.ctx, self.actor, trial, ProvisionTrial())

    @rule(trial=trials)
    def extend(self, trial: str) -> None:
        refused(trials.extend_trial, self.ctx, self.actor, trial, ExtendTrial(reason="fuzz"))

    @rule(trial=trials, add=st.booleans())
    def change_services(self, trial: str, add: bool) -> None:
        cmd = (
            ChangeServices(add=[{"code": "messaging"}])
            if add
            else ChangeServices(remove=["messaging"])
        )
        refused(trials.change_services, self.ctx, self.actor, trial, cmd)

    @rule(trial=trials)
    def delete(self, trial: str) -> None:
        refused(trials.delete_trial, self.ctx, self.actor, trial, confirm=True)

    @rule(trial=trials)
    def convert(self, trial: str) -> None:
        cmd = ConvertTrial(
            services=[{"code": "calling"}],
            provisioning_email=self.actor.email,
            confirm_lost_services=True,
        )
        refused(conversion.convert_trial, self.ctx, self.actor, trial, cmd)

    @rule(target=shipments, trial=trials)
    def order_devices(self, trial: str) -> Any:
        cmd = OrderShipment.model_validate(order_body())
        view = refused(devices.order_shipment, self.ctx, self.actor, trial, cmd)
        return multiple() if view is None else str(view.id)

    @rule(shipment=shipments)
    def dispatch_devices(self, shipment: str) -> None:
        """The trials team ships them: the return reminders are scheduled (rule D7)."""
        self.serials += 2
        serials = (f"FOC{self.serials:05d}", f"FOC{self.serials + 1:05d}")
        cmd = DispatchShipment.model_validate(dispatch_body(*serials))
        refused(devices.dispatch_shipment, self.ctx, self.world.operator.actor, shipment, cmd)

    # ---- time --------------------------------------------------------------------------

    @rule(hours=st.integers(min_value=1, max_value=24 * 120))
    def move_clock(self, hours: int) -> None:
        self.clock.set(self.clock.now() + timedelta(hours=hours))

    @rule()
    def worker_pass(self) -> None:
        lifecycle.tick(self.ctx)
        # rule T10: one pass applies everything due (what it makes due included)
        left = self._scalar(
            "select count(*) from due_events where done_at is null and due_at <= :now "
            "and next_attempt_at is null",
            now=self.clock.now(),
        )
        assert left == 0, f"{left} deadlines due but not applied after a pass"

    # ---- invariants --------------------------------------------------------------------

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        with self.ctx.db.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def _scalar(self, sql: str, **params: Any) -> int:
        return int(self._rows(sql, **params)[0][0])

    @invariant()
    def every_status_is_a_move_of_the_table(self) -> None:
        statuses = dict(self._rows("select id, status from trials"))
        moves: dict[str, list[tuple[str, str, str]]] = {t: [] for t in statuses}
        for trial_id, action, before, after in self._rows(
            "select subject_id, action, before, after from audit_events "
            "where subject_type = 'trial' order by id"
        ):
            was, now = _status(before), _status(after)
            if now is not None and trial_id in moves and (was or moves[trial_id]):
                moves[trial_id].append((action, was or "", now))
        for trial_id, status in statuses.items():
            current = None
            for action, was, now in moves[trial_id]:
                if was and was != now:
                    assert TrialStatus(now) in TRANSITIONS[TrialStatus(was)], (trial_id, action)
                    assert current in (None, was), (trial_id, action, current, was)
                current = now
            assert current in (None, status), (trial_id, current, status)

    @invariant()
    def no_deadline_fired_twice(self) -> None:
        fired = Counter(
            (t, a, str(at))
            for t, a, at in self._rows(
                "select trial_id, action, at from audit_events where action in "
                f"({', '.join(repr(a) for a in DEADLINE_ACTIONS)})"
            )
        )
        assert [k for k, n in fired.items() if n > 1] == []
        once = Counter((t, a) for t, a, _ in fired if a in ONCE_PER_TRIAL)
        assert [k for k, n in once.items() if n > 1] == []
        failed = self._scalar("select count(*) from due_events where attempts > 0")
        assert failed == 0, self._rows("select kind, last_error from due_events where attempts > 0")

    @invariant()
    def list_keys_follow_the_trials(self) -> None:
        """The customer list's sort keys and status rows (decision 0019) are what the trials
        say, after any operation or clock move, whichever path wrote the trials."""
        assert_keys_follow_trials(self.ctx.db.engine)

    @invariant()
    def labels_follow_statuses(self) -> None:
        for (trial_id,) in self._rows("select id from trials"):
            view = trials.get_trial(self.ctx, self.actor, trial_id)
            assert view.status_label == TrialStatus(view.status).label


def _customer(email: str) -> dict[str, Any]:
    return {
        "company_name": email.split("@")[0].title(),
        "admin_email": email,
        "business_vertical": "retail",
        "country": "DE",
        "supported_location_ack": True,
    }


def _status(value: Any) -> str | None:
    if isinstance(value, str):  # JSON as text on SQLite
        import json

        value = json.loads(value)
    return value.get("status") if isinstance(value, dict) else None


def test_the_lifecycle_never_reaches_an_illegal_state(world_built_sqlite: BuiltWorld) -> None:
    Lifecycle.template = world_built_sqlite
    run = Lifecycle.TestCase
    # no shrinking in the default run: a failure replays as is (derandomized), in seconds
    phases = list(Phase) if THOROUGH else [Phase.explicit, Phase.generate]
    run.settings = settings(fuzzing(max_examples=12), stateful_step_count=30, phases=phases)
    run("runTest").runTest()
