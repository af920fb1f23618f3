"""Identifiers of the domain's entities."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    """A random, URL-safe identifier with a readable prefix (`trl_…`)."""
    return f"{prefix}_{uuid.uuid4().hex}"
