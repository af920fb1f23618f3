"""The customer's side of a trial request: links, the consent page, decisions, expiry."""

from __future__ import annotations

from trialhub.services.consent.decisions import decide, view

__all__ = ["decide", "view"]
