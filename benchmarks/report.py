"""One row per measurement, and the table `make bench` prints (issue 11).

Every goal module (`benchmarks/goal_*.py`) returns a list of `Row`s; `benchmarks/run.py`
collects them and prints one table: measured, bare, ratio, goal, met or not. Figures are
measured side by side in one run; only ratios are meant to be compared across machines.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

SIZES = {
    # customers, trials per customer
    "smoke": (1_000, 2),
    "full": (100_000, 10),
}


def size() -> str:
    """`TRIALHUB_BENCH_SIZE`: `full` (100k customers / 1M trials, `make bench`) or `smoke`
    (CI: the same benchmarks, small, so that they never rot)."""
    name = os.environ.get("TRIALHUB_BENCH_SIZE", "full")
    if name not in SIZES:
        raise SystemExit(f"TRIALHUB_BENCH_SIZE must be one of {sorted(SIZES)}, not {name!r}")
    return name


@dataclass(frozen=True)
class Row:
    backend: str  # sqlite | postgresql
    goal: str  # "1 start", "2 list", "3 worker", "4 statements", "5 memory"
    measure: str  # what was measured, e.g. "start over HTTP, 8 clients"
    measured: float  # in `unit`
    unit: str  # "/s", "ms", "statements", "MB"
    bare: float | None = None  # the reference measured side by side (same unit), if any
    target: str = ""  # the goal in words, e.g. ">= 0.5 x bare"
    met: bool | None = None  # None: informative row, no goal

    @property
    def ratio(self) -> float | None:
        if self.bare in (None, 0):
            return None
        return self.measured / self.bare  # type: ignore[operator]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:,.1f} {unit}".strip()


def markdown(rows: list[Row]) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
        "| backend | goal | measure | measured | bare | ratio | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.backend} | {r.goal} | {r.measure} | {_fmt(r.measured, r.unit)} "
            f"| {_fmt(r.bare, r.unit)} | {ratio} | {r.target} | {met} |"
        )
    return "\n".join(lines)
