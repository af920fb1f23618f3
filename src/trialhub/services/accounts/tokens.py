"""API tokens: issued once and stored hashed, and the caller they authenticate."""

from __future__ import annotations

from trialhub.domain.accounts import ApiToken
from trialhub.domain.errors import Forbidden, NotFound, Unauthenticated
from trialhub.domain.ids import new_id
from trialhub.domain.roles import Action, reach
from trialhub.services.accounts.schemas import IssueToken, MeView, TokenView
from trialhub.services.accounts.views import admin_view, partner_view
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_token, new_token
from trialhub.services.kernel.throttle import Attempt, Secret, checking
from trialhub.services.kernel.views import view_of
from trialhub.store.credentials import TokenOwner, token_owner, token_owner_and_hits
from trialhub.store.repositories import Scope


def issue_token(ctx: Context, actor: Actor, admin_id: str, cmd: IssueToken) -> TokenView:
    """A new API token; the token itself is returned once and stored only as a hash.

    Rule P2: an administrator mints tokens only for itself (a token for someone else would
    act with that person's roles, which may be wider); the trials team mints any.
    """
    now = ctx.now()
    if not actor.is_operator and admin_id != actor.admin_id:
        raise Forbidden("You can issue API tokens only for yourself.", rule="P2")
    with ctx.uow(actor.scope) as uow:
        admin = uow.admins.get(admin_id)
        if admin is None:
            raise NotFound("No such administrator.", rule="P3")
        raw = new_token()
        token = ApiToken(
            id=new_id("tok"),
            admin_id=admin.id,
            token_hash=hash_token(raw),
            prefix=raw[:10],
            label=cmd.label,
            created_at=now,
        )
        uow.admins.add_token(token)
        token.record_event(
            "token.issued",
            now,
            partner_id=admin.partner_id,
            admin_id=admin.id,
            label=cmd.label,
            prefix=token.prefix,
        )
        uow.commit()
        return view_of(TokenView, token, token=raw)  # shown once, never stored


def authenticate_token(ctx: Context, raw: str, *, address: str) -> Actor:
    """The actor a bearer token belongs to; unknown, revoked or disabled -> Unauthenticated.

    Failures count against the client's address; past the limit no token from there is
    answered, valid or not, or a guess that hit would still be told so (rule X1).
    """
    attempt = Attempt(Secret.BEARER_TOKEN, address)
    throttle = ctx.throttle
    if throttle.kept_in(ctx.db):
        # one statement, no session (issue 11): the address's counts and the token together;
        # the counts decide first, and past a limit the answer is 429 whatever the token
        limits = throttle.limits(ctx.policy, attempt)
        hits, found = token_owner_and_hits(
            ctx.db, hash_token(raw), throttle.keys(limits), ctx.now()
        )
        with checking(ctx, attempt, failure=Unauthenticated, counts=(limits, hits)):
            found = _usable(found)
    else:  # the counts elsewhere (Redis): read first, then the token
        with checking(ctx, attempt, failure=Unauthenticated):
            found = _usable(token_owner(ctx.db, hash_token(raw)))
    actor = Actor.of_token(found)
    token_id, last_used_at = found.token_id, found.last_used_at
    now = ctx.now()
    stale = now - ctx.policy.token_touch_interval
    if last_used_at is None or last_used_at <= stale:  # once a minute at most
        with ctx.uow(Scope.system("auth")) as writing:
            writing.admins.touch_token(token_id, now, unless_since=stale)
            writing.commit()
    return actor


def _usable(found: TokenOwner | None) -> TokenOwner:
    if found is None or not found.usable:
        raise Unauthenticated("The bearer token is not valid.")
    return found


def actor_for_email(ctx: Context, email: str) -> Actor:
    """The CLI acts as a named administrator of the local database (it has the database)."""
    with ctx.uow(Scope.system("cli")) as uow:
        admin = uow.admins.get_by_email_unscoped(email.strip().lower())
        if admin is None:
            raise NotFound(f"No administrator with email {email}.", field="as")
        partner = uow.partners.get(admin.partner_id) if admin.partner_id else None
        return Actor.of(admin, partner)


def me(ctx: Context, actor: Actor) -> MeView:
    with ctx.reader(actor.scope) as uow:
        admin = uow.admins.get_self()
        assert admin is not None
        partner = uow.partners.get(admin.partner_id) if admin.partner_id else None
        return MeView(
            admin=admin_view(admin),
            partner=partner_view(partner) if partner else None,
            roles=sorted(actor.roles),
            can_start_trials=reach(actor.roles, Action.START_TRIAL) is not None
            and actor.partner_certified,
            reach={a.value: (r.value if (r := reach(actor.roles, a)) else None) for a in Action},
        )
