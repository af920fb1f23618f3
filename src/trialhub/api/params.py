"""Bounded integer parameters shared by the API and the pages (rule E3: never a 500).

An unbounded `int` lets a client send 99999999999999999999999, which the database driver
cannot bind (SQLite raises OverflowError): every integer a path or query string carries is
declared through one of these aliases, so FastAPI answers 422 naming the field first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from trialhub.domain.policy import DEFAULT_POLICY

# the largest value a 64-bit signed column (BIGINT, SQLite INTEGER) holds: every numeric id
DB_INT_MAX = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="A numeric id")]
AfterId = Annotated[
    int | None, Query(ge=0, le=DB_INT_MAX, description="The last event id you have")
]
BeforeId = Annotated[
    int | None, Query(ge=0, le=DB_INT_MAX, description="The oldest event id you have")
]
PageSize = Annotated[
    int | None,
    Query(ge=1, le=DEFAULT_POLICY.max_page_size, description="How many items per page"),
]
Days = Annotated[int | None, Query(ge=0, le=3650, description="A number of days (0-3650)")]
Cursor = Annotated[
    str | None,
    Query(max_length=1000, description="The `next_cursor` of the previous page"),
]
