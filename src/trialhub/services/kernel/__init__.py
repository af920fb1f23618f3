"""What every feature shares: the context, the caller and its rights, loading with reach,
idempotency, throttling, ports and the base schemas."""

from __future__ import annotations

from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context, Hooks
from trialhub.services.kernel.fields import explain, invalid_input, model_in

__all__ = [
    "Actor",
    "Context",
    "Hooks",
    "explain",
    "invalid_input",
    "model_in",
    "require_partner",  # pages check a role before showing a form (rules P1, P2)
]
