"""A form that starts something runs at most once per key it was issued with: the portal's
side of `Idempotency-Key` (services/kernel/idempotency.py), so a double click, a reload
that posts again or a second tab acts once and every copy lands on the same result."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from trialhub.domain.errors import Conflict, ValidationFailed
from trialhub.services import trials
from trialhub.services.kernel import Actor, Context, idempotency
from trialhub.services.trials.schemas import TrialView
from trialhub.web.wizard_draft import Draft

# a copy that arrives while the first still runs waits for its outcome this long
WAIT_STEP_SECONDS = 0.2
WAIT_STEPS = 50
ALREADY_SENT = (
    "This form was already sent with other values and did what it said; to start another "
    "trial, begin again from Customers."
)


def start_once(ctx: Context, actor: Actor, draft: Draft, setup: str = "now") -> str:
    """The id of the trial the draft starts (the use case of `POST /v1/trials`), once per
    its idempotency key."""
    cmd = draft.command(ctx.catalog, setup=setup)
    key, fingerprint = draft.idempotency_key, draft.fingerprint(setup)
    return run_once(ctx, actor, key, fingerprint, lambda: trials.start_trial(ctx, actor, cmd))


def run_once(
    ctx: Context, actor: Actor, key: str, fingerprint: str, act: Callable[[], TrialView]
) -> str:
    """The id of what `act` made: made now, or by the first copy of this form. An error
    changes nothing and frees the key, so the corrected form can be sent again."""
    for _ in range(WAIT_STEPS):
        try:
            claimed = idempotency.claim(ctx, actor, key, fingerprint)
        except ValidationFailed as error:
            if error.code != "idempotency_key_reused":
                raise
            raise ValidationFailed(ALREADY_SENT, field="idempotency_key") from None
        except Conflict as error:
            if error.code != "idempotency_in_progress":
                raise
            time.sleep(WAIT_STEP_SECONDS)
            continue
        if isinstance(claimed, idempotency.StoredResponse):
            return str(json.loads(claimed.body)["id"])
        try:
            with claimed.held.active():  # its commit waits until the outcome is recorded
                view = act()
        except BaseException:
            idempotency.abandon(ctx, claimed)
            raise
        idempotency.finish(ctx, claimed, 201, view.model_dump_json())
        return view.id
    raise Conflict(
        "This form was sent twice and the first copy is still being processed; reload the "
        "page in a moment.",
        field="idempotency_key",
    )
