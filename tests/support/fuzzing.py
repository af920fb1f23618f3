"""One set of hypothesis settings for every fuzz test: derandomized (a CI failure replays on
a laptop), no deadline (a busy 2-core machine is slow, not wrong), no example database.

`TRIALHUB_FUZZ=thorough` multiplies the examples, for a long run away from CI.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

THOROUGH = os.environ.get("TRIALHUB_FUZZ", "").lower() == "thorough"


def fuzzing(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * (10 if THOROUGH else 1),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
