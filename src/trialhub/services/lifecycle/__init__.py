"""Time: the worker's tick over the deadline handlers, the sandbox clock, the worker's status."""

from __future__ import annotations

from trialhub.services.lifecycle.registry import tick
from trialhub.services.lifecycle.runner import TickReport

__all__ = ["TickReport", "tick"]
