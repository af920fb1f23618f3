"""Time: the worker's tick over the deadline handlers, the sandbox clock, the worker's status."""

from __future__ import annotations

from trialhub.services.lifecycle.registry import tick
from trialhub.services.lifecycle.runner import TickReport
from trialhub.services.lifecycle.sandbox import (
    SandboxClock,
    enable_sandbox,
    is_sandbox,
    move_clock,
    read_clock,
)
from trialhub.services.lifecycle.status import WorkerStatus, worker_status

__all__ = [
    "SandboxClock",
    "TickReport",
    "WorkerStatus",
    "enable_sandbox",
    "is_sandbox",
    "move_clock",
    "read_clock",
    "tick",
    "worker_status",
]
