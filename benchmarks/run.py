"""`make bench`: every goal of issue 11 on SQLite and PostgreSQL, one table.

    make bench                              # full size: 100k customers / 1M trials (cached)
    TRIALHUB_BENCH_SIZE=smoke make bench    # CI: the same benchmarks, small
    make bench GOALS=goal_list              # one goal module only

Each `benchmarks/goal_*.py` module exposes `run(size: str) -> list[Row]` and measures its
goal and its bare reference side by side in one run. `benchmarks/flat.py` keeps the older
"does not grow with the data" measurements (N vs 10 x N) and the portal's page timings.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import Row, markdown, size  # noqa: E402

GOALS = ["goal_start", "goal_list", "goal_worker", "goal_statements", "goal_memory"]


def main() -> int:
    chosen = os.environ.get("GOALS", "").split(",") if os.environ.get("GOALS") else GOALS
    which = size()
    rows: list[Row] = []
    for name in chosen:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"benchmarks.{name}":
                print(f"({name}: not written yet)")
                continue
            raise
        print(f"== {name} ({which})", flush=True)
        rows.extend(module.run(which))
    print()
    print(markdown(rows))
    missed = [r for r in rows if r.met is False]
    # a smoke run checks that the benchmarks run, not that a small machine meets full goals
    return 1 if missed and which == "full" and os.environ.get("BENCH_STRICT") else 0


if __name__ == "__main__":
    raise SystemExit(main())
