"""Partner administrator roles and what each may do (rule P2), as data."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A role an administrator holds. Partner roles follow rule P2; the others are actors."""

    PARTNER_FULL_ADMIN = "partner_full_admin"
    PARTNER_ADMIN = "partner_admin"
    SALES_FULL_ADMIN = "sales_full_admin"
    SALES_ADMIN = "sales_admin"
    READ_ONLY = "read_only"
    OPERATOR = "operator"  # the trials team
    DISTRIBUTOR = "distributor"


PARTNER_ROLES = frozenset(
    {
        Role.PARTNER_FULL_ADMIN,
        Role.PARTNER_ADMIN,
        Role.SALES_FULL_ADMIN,
        Role.SALES_ADMIN,
        Role.READ_ONLY,
    }
)


class Action(StrEnum):
    """What a partner administrator can try to do."""

    READ_CUSTOMERS = "read_customers"
    START_TRIAL = "start_trial"
    EDIT_TRIAL = "edit_trial"  # edit, extend, cancel, delete, provision
    CONVERT = "convert"
    MANAGE_ADMINS = "manage_admins"  # manage admins, assign customers, tokens for others


class Reach(StrEnum):
    """Which customers an allowed action reaches."""

    ALL = "all"
    OWN = "own"  # those it provisioned or was assigned


# rule P2: role -> action -> reach; an absent action is refused (least privilege)
PERMISSIONS: dict[Role, dict[Action, Reach]] = {
    Role.PARTNER_FULL_ADMIN: {
        Action.READ_CUSTOMERS: Reach.ALL,
        Action.EDIT_TRIAL: Reach.ALL,
        Action.CONVERT: Reach.ALL,
        Action.MANAGE_ADMINS: Reach.ALL,
    },
    Role.PARTNER_ADMIN: {
        Action.READ_CUSTOMERS: Reach.OWN,
        Action.EDIT_TRIAL: Reach.OWN,
        Action.CONVERT: Reach.OWN,
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
    },
    Role.READ_ONLY: {
        Action.READ_CUSTOMERS: Reach.ALL,
    },
}

WRITE_ACTIONS = frozenset({Action.START_TRIAL, Action.EDIT_TRIAL, Action.CONVERT})

# how far a reach goes, to compare two of them (ALL covers OWN)
_WIDTH = {Reach.OWN: 1, Reach.ALL: 2}


def reach(roles: frozenset[Role] | set[Role], action: Action) -> Reach | None:
    """The widest reach any of the roles gives for the action, or None when none allows it."""
    best: Reach | None = None
    for role in roles:
        got = PERMISSIONS.get(role, {}).get(action)
        if got is Reach.ALL:
            return Reach.ALL
        if got is Reach.OWN:
            best = Reach.OWN
    return best


def may_grant(granter: frozenset[Role] | set[Role], role: Role) -> bool:
    """Rule P2, least privilege: the trials team grants any role; a partner administrator who
    manages admins grants a partner role only when it may do everything that role allows,
    each with at least the same reach (so no one hands out rights it does not hold)."""
    if Role.OPERATOR in granter:
        return True
    if role not in PARTNER_ROLES or reach(granter, Action.MANAGE_ADMINS) is None:
        return False
    for action, needed in PERMISSIONS[role].items():
        held = reach(granter, action)
        if held is None or _WIDTH[held] < _WIDTH[needed]:
            return False
    return True
