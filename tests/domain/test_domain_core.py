"""Pure domain: the state table, roles, field rules and deadlines (no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialhub.catalog import get_catalog
from trialhub.domain.deadlines import DeadlineKind, trial_deadlines
from trialhub.domain.errors import InvalidTransition, IrreversibleLapse
from trialhub.domain.policy import DEFAULT_POLICY
from trialhub.domain.roles import PERMISSIONS, Action, Reach, Role, reach
from trialhub.domain.rules import (
    clean_company_name,
    eligibility,
    normalize_email,
    parse_site_name,
)
from trialhub.domain.states import OPEN_STATUSES, TRANSITIONS, TRIAL_STATES, TrialStatus
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import TrialService

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CATALOG = get_catalog()


def make_trial(status: TrialStatus, **kw: object) -> Trial:
    trial = Trial(
        id="trl_1",
        partner_id="ptn_1",
        org_id="org_1",
        customer_id="cus_1",
        kind="new_customer",
        status=status.value,
        duration_days=90,
        user_licenses=10,
        setup="now",
        created_at=NOW,
        updated_at=NOW,
    )
    trial.services.append(
        TrialService(
            id="tsv_1",
            trial_id="trl_1",
            org_id="org_1",
            service="calling",
            quantity=10,
            is_open=status in OPEN_STATUSES,
            added_at=NOW,
        )
    )
    for key, value in kw.items():
        setattr(trial, key, value)
    return trial


ALL_PAIRS = list(itertools.product(TrialStatus, TrialStatus))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "to"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition_sets_status_stamp_event(start: TrialStatus, to: TrialStatus) -> None:
    trial = make_trial(start)
    TRIAL_STATES.move(trial, to, NOW + timedelta(hours=1))
    assert trial.status == to.value
    assert getattr(trial, f"{to.value}_at") == NOW + timedelta(hours=1)
    (event,) = trial.drain_events()
    assert event.action == f"trial.{to.value}"
    assert event.before == {"status": start.value}
    # rule S3: leaving the open statuses frees the services for other trials
    assert trial.services[0].is_open is (to in OPEN_STATUSES)


@pytest.mark.parametrize(("start", "to"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_transition_changes_nothing(start: TrialStatus, to: TrialStatus) -> None:
    trial = make_trial(start)
    expected = IrreversibleLapse if start is TrialStatus.LAPSED else InvalidTransition
    with pytest.raises(expected):
        TRIAL_STATES.move(trial, to, NOW)
    assert trial.status == start.value
    assert trial.drain_events() == []


def test_lapsed_is_final_and_says_so() -> None:  # rule T7
    assert TRANSITIONS[TrialStatus.LAPSED] == frozenset()
    with pytest.raises(IrreversibleLapse) as info:
        TRIAL_STATES.move(make_trial(TrialStatus.LAPSED), TrialStatus.ACTIVE, NOW)
    assert info.value.rule == "T7"


def test_k4_labels() -> None:
    assert TrialStatus.PENDING_CONSENT.label == "Trial pending customer consent"
    assert TrialStatus.AWAITING_PROVISIONING.label == "Awaiting provisioning details"


# ---- rule P2 -----------------------------------------------------------------------------

P2_TABLE = {
    Role.PARTNER_FULL_ADMIN: {
        Action.READ_CUSTOMERS: Reach.ALL,
        Action.START_TRIAL: None,
        Action.EDIT_TRIAL: Reach.ALL,
        Action.CONVERT: Reach.ALL,
        Action.MANAGE_ADMINS: Reach.ALL,
    },
    Role.PARTNER_ADMIN: {
        Action.READ_CUSTOMERS: Reach.OWN,
        Action.START_TRIAL: None,
        Action.EDIT_TRIAL: Reach.OWN,
        Action.CONVERT: Reach.OWN,
        Action.MANAGE_ADMINS: None,
    },
    Role.SALES_FULL_ADMIN: {
        Action.READ_CUSTOMERS: Reach.ALL,
        Action.START_TRIAL: Reach.ALL,
        Action.EDIT_TRIAL: Reach.ALL,
        Action.CONVERT: Reach.ALL,
        Action.MANAGE_ADMINS: Reach.ALL,
    },
    Role.SALES_ADMIN: {
        Action.READ_CUSTOMERS: Reach.OWN,
        Action.START_TRIAL: Reach.OWN,
        Action.EDIT_TRIAL: Reach.OWN,
        Action.CONVERT: Reach.OWN,
        Action.MANAGE_ADMINS: None,
    },
    Role.READ_ONLY: {
        Action.READ_CUSTOMERS: Reach.ALL,
        Action.START_TRIAL: None,
        Action.EDIT_TRIAL: None,
        Action.CONVERT: None,
        Action.MANAGE_ADMINS: None,
    },
}


@pytest.mark.parametrize(
    ("role", "action"), [(r, a) for r in P2_TABLE for a in Action], ids=lambda v: str(v)
)
def test_rule_p2_table(role: Role, action: Action) -> None:
    assert reach(frozenset({role}), action) == P2_TABLE[role][action]


def test_widest_reach_of_several_roles_wins() -> None:
    roles = frozenset({Role.SALES_ADMIN, Role.PARTNER_FULL_ADMIN})
    assert reach(roles, Action.EDIT_TRIAL) is Reach.ALL
    assert reach(roles, Action.START_TRIAL) is Reach.OWN
    assert set(PERMISSIONS) == set(P2_TABLE)


# ---- rules C1, S2, S3 --------------------------------------------------------------------


def test_company_name_trimmed_and_bounded() -> None:  # rule C1
    assert clean_company_name("  Acme   Corp ", DEFAULT_POLICY) == "Acme Corp"
    assert clean_company_name("x" * 50, DEFAULT_POLICY) == "x" * 50
    for bad in ("", "   ", "x" * 51):
        with pytest.raises(ValueError, match="company name"):
            clean_company_name(bad, DEFAULT_POLICY)


def test_email_normalized_to_lower_case() -> None:  # rule C1
    assert normalize_email("  Ann.Lee@ACME.Example ") == "ann.lee@acme.example"
    for bad in ("ann", "ann@", "@acme.example", "ann@@acme.example"):
        with pytest.raises(ValueError, match=r"\w"):
            normalize_email(bad)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("acme", "acme"),
        ("ACME.webex.com", "acme"),
        ("https://acme-eu.webex.com/", "acme-eu"),
        ("a1b", "a1b"),
        ("x" * 63, "x" * 63),
    ],
)
def test_site_name_accepted(raw: str, name: str) -> None:  # rule S2
    assert parse_site_name(raw, DEFAULT_POLICY) == name


@pytest.mark.parametrize(
    "raw", ["-acme", "acme-", "ac", "x" * 64, "a_b", "acme.other.com", "ac me", "acmé"]
)
def test_site_name_refused(raw: str) -> None:  # rule S2
    with pytest.raises(ValueError, match="site"):
        parse_site_name(raw, DEFAULT_POLICY)


LABEL = st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True)


@given(LABEL)
def test_any_dns_label_round_trips_through_its_url(label: str) -> None:  # rule S2
    assert parse_site_name(f"https://{label}.webex.com", DEFAULT_POLICY) == label


def test_eligibility_reasons() -> None:  # rule S3
    holders = {"calling": "ptn_other", "messaging": "ptn_me"}
    args = {"purchased": {"meetings"}, "open_holders": holders, "partner_id": "ptn_me"}
    assert eligibility("meetings", **args).code == "purchased"  # type: ignore[arg-type]
    assert eligibility("calling", **args).code == "open_trial_other"  # type: ignore[arg-type]
    assert eligibility("messaging", **args).code == "open_trial_own"  # type: ignore[arg-type]
    assert eligibility("boards", **args).eligible  # type: ignore[arg-type]


# ---- deadlines (rules K6, T4-T9) -----------------------------------------------------------


def test_deadlines_of_an_active_calling_trial() -> None:
    end = NOW + timedelta(days=90)
    trial = make_trial(TrialStatus.ACTIVE, starts_at=NOW, ends_at=end)
    got = [(d.kind, d.at) for d in trial_deadlines(trial, DEFAULT_POLICY, CATALOG)]
    assert got == [
        (DeadlineKind.NOTICE_BEFORE_END, end - timedelta(days=7)),
        (DeadlineKind.NOTICE_ON_END, end),
        (DeadlineKind.END, end),
        (DeadlineKind.USER_NOTICE, end + timedelta(days=30)),
        (DeadlineKind.GRACE_END, end + timedelta(days=30)),
        (DeadlineKind.NUMBER_RELEASE, end + timedelta(days=45)),
    ]


def test_deadlines_follow_the_status() -> None:
    end = NOW + timedelta(days=30)
    pending = make_trial(TrialStatus.PENDING_CONSENT, consent_deadline=NOW + timedelta(days=10))
    assert [d.kind for d in trial_deadlines(pending, DEFAULT_POLICY, CATALOG)] == [
        DeadlineKind.CONSENT_EXPIRY
    ]
    expired = make_trial(TrialStatus.EXPIRED, ends_at=end)
    expired.services[0].service = "messaging"  # no Calling: no numbers to keep (rule T8)
    kinds = [d.kind for d in trial_deadlines(expired, DEFAULT_POLICY, CATALOG)]
    assert kinds == [DeadlineKind.USER_NOTICE, DeadlineKind.GRACE_END]
    deleted = make_trial(TrialStatus.DELETED, numbers_release_at=NOW + timedelta(days=15))
    assert [(d.kind, d.at) for d in trial_deadlines(deleted, DEFAULT_POLICY, CATALOG)] == [
        (DeadlineKind.NUMBER_RELEASE, NOW + timedelta(days=15))
    ]
    for status in (TrialStatus.CANCELLED, TrialStatus.CONVERTED, TrialStatus.AWAITING_PROVISIONING):
        assert trial_deadlines(make_trial(status), DEFAULT_POLICY, CATALOG) == []
