"""Remembering the outcome of mutating requests sent with an `Idempotency-Key`.

A request claims its key for a short lease, then runs its use case with the use case's
transaction held open (store/held.py) and records its answer in that same transaction, so
the effects and the stored answer commit together or not at all:
- killed before that commit, it did nothing; once its lease ran out, a retry takes the key
  over and runs;
- killed after it, a retry replays the stored answer;
- slow but alive past its lease while a retry took over, it finds its claim gone when it
  records, and rolls back: only one of them ever acts."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from trialhub.domain.errors import Conflict, ValidationFailed
from trialhub.domain.records import IdempotencyRecord
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.store.held import HeldTransaction
from trialhub.store.repositories import Scope


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


@dataclass
class Claim:
    """This request holds the key; `held` carries its use case's transaction."""

    admin_id: str
    key: str
    owner: str = field(default_factory=lambda: secrets.token_hex(16))
    held: HeldTransaction = field(default_factory=HeldTransaction)


def claim(ctx: Context, actor: Actor, key: str, request_hash: str) -> Claim | StoredResponse:
    """Claims the key for this request, or returns the response stored for it.

    The claim is committed on its own before the work starts, so a concurrent retry with the
    same key finds it (the primary key makes exactly one first claim win, the conditional
    takeover exactly one later one).
    """
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "The Idempotency-Key must be 1 to 255 characters.", field="Idempotency-Key"
        )
    now = ctx.now()
    mine = Claim(actor.admin_id, key)
    lease_until = now + ctx.policy.idempotency_lease
    scope = Scope(actor.admin_id, actor.email, actor.partner_id, actor.is_operator)
    with ctx.uow(scope) as uow:
        uow.idempotency.purge_older_than(now - ctx.policy.idempotency_ttl)
        existing = uow.idempotency.get(actor.admin_id, key)
        if existing is None:
            uow.idempotency.add(
                IdempotencyRecord(
                    admin_id=actor.admin_id,
                    key=key,
                    request_hash=request_hash,
                    created_at=now,
                    owner=mine.owner,
                    lease_until=lease_until,
                )
            )
        else:
            stored = _settled(existing, request_hash, now)
            if stored is not None:
                return stored
            # the owner's lease ran out (it died, or is too slow): this retry takes over
            taken = uow.idempotency.take_over(
                actor.admin_id,
                key,
                previous=existing.owner,
                owner=mine.owner,
                now=now,
                lease_until=lease_until,
            )
            if not taken:
                return _answer_from_record(ctx, scope, actor.admin_id, key, request_hash)
        try:
            uow.commit()
        except Conflict:  # a concurrent first claim won
            return _answer_from_record(ctx, scope, actor.admin_id, key, request_hash)
    return mine


def _answer_from_record(
    ctx: Context, scope: Scope, admin_id: str, key: str, request_hash: str
) -> StoredResponse:
    """Someone else claimed, took or finished the key just now: answer from its record."""
    now = ctx.now()
    with ctx.uow(scope) as uow:
        record = uow.idempotency.get(admin_id, key)
        if record is None:  # the other claim was released in between
            raise _in_progress(1)
        stored = _settled(record, request_hash, now)
        if stored is None:
            raise _in_progress(1)
        return stored


def _settled(record: IdempotencyRecord, request_hash: str, now: datetime) -> StoredResponse | None:
    """The stored answer; or an error while the owner's lease runs; None once it ran out."""
    if record.request_hash != request_hash:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    if record.status_code is not None and record.response_body is not None:
        return StoredResponse(record.status_code, record.response_body)
    if record.lease_until is not None and record.lease_until > now:
        raise _in_progress(math.ceil((record.lease_until - now).total_seconds()))
    return None


def _in_progress(retry_after: int) -> Conflict:
    error = Conflict(
        "A request with this Idempotency-Key is still in progress; retry after Retry-After "
        "seconds to get its outcome.",
        field="Idempotency-Key",
        code="idempotency_in_progress",
    )
    error.retry_after = max(1, retry_after)
    return error


def finish(ctx: Context, mine: Claim, status_code: int, body: str) -> None:
    """Records the answer: with the use case's effects in its held transaction if it wrote
    anything, else on its own. Raises if a retry took the key over meanwhile; the effects
    of this request are then rolled back, so the retry is the only one that acted."""
    held = mine.held
    if held.uow is not None:
        recorded = held.uow.idempotency.complete(
            mine.admin_id, mine.key, owner=mine.owner, status_code=status_code, body=body
        )
        if recorded:
            held.commit()
        else:
            held.rollback()
    else:
        with ctx.uow(Scope.system("idempotency")) as uow:
            recorded = uow.idempotency.complete(
                mine.admin_id, mine.key, owner=mine.owner, status_code=status_code, body=body
            )
            uow.commit()
    if not recorded:
        raise Conflict(
            "This request ran past its Idempotency-Key's lease and a retry took the key over; "
            "this one changed nothing. Retry to get the outcome.",
            field="Idempotency-Key",
            code="idempotency_in_progress",
        )


def abandon(ctx: Context, mine: Claim) -> None:
    """The request failed unexpectedly: undo what it did and free the key for a retry."""
    mine.held.rollback()
    with ctx.uow(Scope.system("idempotency")) as uow:
        uow.idempotency.release(mine.admin_id, mine.key, owner=mine.owner)
        uow.commit()
