"""What every feature shares: the context, the caller and its rights, loading with reach,
idempotency, throttling, ports and the base schemas."""

from __future__ import annotations

from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context, Hooks
from trialhub.services.kernel.fields import explain, invalid_input, model_in

__all__ = ["Actor", "Context", "Hooks", "explain", "invalid_input", "model_in"]
