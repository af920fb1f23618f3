"""No status is assigned outside the domain (architecture points 2 and 15): every entity's
state moves through its state machine, so the table stays the whole truth."""

from __future__ import annotations

import re
from pathlib import Path

import trialhub

SRC = Path(trialhub.__file__).parent
# `entity.status = ...`, `entity.state = ...`, `entity.decision = ...`, or setattr with the name
ASSIGNMENT = re.compile(
    r"\.(status|state|decision)\s*=[^=]|setattr\([^,]+,\s*[\"'](status|state|decision)[\"']"
)
# the domain decides; the store maps columns (it never assigns a status either)
ALLOWED = ("domain/", "store/")
# issue 9, part 2 moved shipments', extension requests' and orders' statuses into their
# domain: the test holds for every feature
BEING_MOVED: tuple[str, ...] = ()


def test_no_status_is_assigned_outside_the_domain() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith(ALLOWED + BEING_MOVED):
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if ASSIGNMENT.search(line.split("#")[0]):
                found.append(f"{where}:{number}: {line.strip()}")
    assert found == [], "statuses assigned outside the domain:\n" + "\n".join(found)


def test_the_pattern_sees_what_it_forbids() -> None:
    assert ASSIGNMENT.search("    customer.state = CustomerState.ACTIVE.value")
    assert ASSIGNMENT.search('setattr(trial, "status", "active")')
    assert not ASSIGNMENT.search("    if trial.status == TrialStatus.ACTIVE:")
