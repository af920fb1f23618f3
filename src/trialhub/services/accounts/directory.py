"""Reading and revoking what administrators hold: a partner's administrators, the roles the
caller may grant (rule P2's `may_grant`), an administrator's API tokens and revoking one."""

from __future__ import annotations

from trialhub.domain.accounts import Admin
from trialhub.domain.errors import Forbidden, NotFound
from trialhub.domain.roles import PARTNER_ROLES, Action, Role, may_grant
from trialhub.services.accounts.schemas import AdminView, TokenView
from trialhub.services.accounts.views import admin_view
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.views import view_of
from trialhub.store.uow import UnitOfWork

# the order roles are offered in, widest first
_ROLE_ORDER = [r for r in Role if r in PARTNER_ROLES]


def list_admins(ctx: Context, actor: Actor, partner_id: str) -> list[AdminView]:
    """A partner's administrators and their roles, by email: the trials team's, or a partner
    full administrator's own (rules P2, P3)."""
    if not actor.is_operator:
        require_partner(actor, Action.MANAGE_ADMINS)
        if partner_id != actor.partner_id:
            raise NotFound("No such partner.", rule="P3")
    with ctx.uow(actor.scope) as uow:
        if uow.partners.get(partner_id) is None:
            raise NotFound("No such partner.", rule="P3")
        return [admin_view(a) for a in uow.admins.list_for_partner(partner_id)]


def grantable_roles(actor: Actor) -> list[Role]:
    """Rule P2: the partner roles the caller may give a new administrator, exactly those
    `may_grant` allows (none for a role that does not manage administrators)."""
    return [r for r in _ROLE_ORDER if may_grant(actor.roles, r)]


def list_tokens(ctx: Context, actor: Actor, admin_id: str) -> list[TokenView]:
    """An administrator's API tokens, newest first: only their prefix, never the token
    (rule P2: one's own; the trials team's any)."""
    with ctx.uow(actor.scope) as uow:
        _token_holder(uow, actor, admin_id)
        return [view_of(TokenView, t, token=None) for t in uow.admins.tokens_of(admin_id)]


def revoke_token(ctx: Context, actor: Actor, admin_id: str, token_id: str) -> TokenView:
    """The token stops authenticating at once; revoking it again changes nothing."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        admin = _token_holder(uow, actor, admin_id)
        token = uow.admins.token_of(admin.id, token_id)
        if token is None:
            raise NotFound("No such API token.", rule="P3")
        if token.revoked_at is None:  # rule E1: recorded like its issue
            token.revoked_at = now
            token.record_event(
                "token.revoked",
                now,
                partner_id=admin.partner_id,
                admin_id=admin.id,
                label=token.label,
                prefix=token.prefix,
            )
        uow.commit()
        return view_of(TokenView, token, token=None)


def _token_holder(uow: UnitOfWork, actor: Actor, admin_id: str) -> Admin:
    if not actor.is_operator and admin_id != actor.admin_id:
        raise Forbidden("You can manage only your own API tokens.", rule="P2")
    admin = uow.admins.get(admin_id)
    if admin is None:
        raise NotFound("No such administrator.", rule="P3")
    return admin
