"""Remembering the outcome of mutating requests sent with an `Idempotency-Key`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trialhub.domain.errors import Conflict, ValidationFailed
from trialhub.domain.model import IdempotencyRecord
from trialhub.services.context import Actor, Context
from trialhub.store.repositories import Scope

# a claim that never completed (a crash mid-request) blocks its key for this long; after it,
# retries are told the outcome is unknown rather than run again, so nothing is done twice
_STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


def claim(ctx: Context, actor: Actor, key: str, request_hash: str) -> StoredResponse | None:
    """Claims the key for this request, or returns the response stored for it.

    The claim is committed on its own before the work starts, so a concurrent retry with the
    same key finds it (the primary key makes exactly one claim win).
    """
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "The Idempotency-Key must be 1 to 255 characters.", field="Idempotency-Key"
        )
    now = ctx.now()
    scope = Scope(actor.admin_id, actor.email, actor.partner_id, actor.is_operator)
    with ctx.uow(scope) as uow:
        uow.idempotency.purge_older_than(now - ctx.policy.idempotency_ttl)
        existing = uow.idempotency.get(actor.admin_id, key)
        if existing is None:
            uow.idempotency.add(
                IdempotencyRecord(
                    admin_id=actor.admin_id, key=key, request_hash=request_hash, created_at=now
                )
            )
            try:
                uow.commit()
            except Conflict:
                return _replay_stored(ctx, scope, actor.admin_id, key, request_hash, now)
            else:
                return None
        return _replay(existing, request_hash, now)


def _replay_stored(
    ctx: Context, scope: Scope, admin_id: str, key: str, request_hash: str, now: object
) -> StoredResponse:
    """A concurrent request claimed the key first: answer from its record."""
    with ctx.uow(scope) as uow:
        record = uow.idempotency.get(admin_id, key)
        if record is None:  # the other claim was released in between
            raise Conflict(
                "A request with this Idempotency-Key was just in progress; retry it.",
                field="Idempotency-Key",
                code="idempotency_in_progress",
            )
        return _replay(record, request_hash, now)


def _replay(record: IdempotencyRecord, request_hash: str, now: object) -> StoredResponse:
    if record.request_hash != request_hash:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    if record.status_code is None or record.response_body is None:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress (or was interrupted); "
            "check the result before retrying with a new key.",
            field="Idempotency-Key",
            code="idempotency_in_progress",
        )
    return StoredResponse(record.status_code, record.response_body)


def complete(ctx: Context, actor: Actor, key: str, status_code: int, body: str) -> None:
    with ctx.uow(Scope.system("idempotency")) as uow:
        record = uow.idempotency.get(actor.admin_id, key)
        if record is not None:
            record.status_code = status_code
            record.response_body = body
            uow.commit()


def release(ctx: Context, actor: Actor, key: str) -> None:
    """Forgets a claim whose request failed unexpectedly, so that a retry can run."""
    with ctx.uow(Scope.system("idempotency")) as uow:
        record = uow.idempotency.get(actor.admin_id, key)
        if record is not None and record.status_code is None:
            uow.session.delete(record)
            uow.commit()
