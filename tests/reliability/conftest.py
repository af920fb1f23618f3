"""What the crash tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trialhub.bootstrap import make_context
from trialhub.services.kernel.context import Context
from trialhub.services.lifecycle.sandbox import SandboxClock, enable_sandbox
from trialhub.store.db import Database


@pytest.fixture
def sandbox(pg_url: str) -> Iterator[Context]:
    """The test's view of the database the servers use, on their shared sandbox clock."""
    db = Database.open(pg_url)
    enable_sandbox(db)
    try:
        yield make_context(db=db, clock=SandboxClock(db, refresh=0), sandbox=True)
    finally:
        db.dispose()
