"""The benchmark table: rows as they are measured, and rows that wait for the roofs of their section."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.probes import Roofs


def median_time(fn, repeats: int) -> float:
    """Median of `repeats` timed calls after one warm-up call."""
    fn()  # warm-up: allocations, oneDNN primitives
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Table:
    """The rows of a run. Rows measured against the roofs wait in `pending` until the probe after the section."""

    def __init__(self):
        self.rows: list[dict] = []
        self.pending: list[tuple[dict, object]] = []

    def add(self, section: str, figure: str, value: float, unit: str = "", note: str = "") -> None:
        self.rows.append(dict(section=section, figure=figure, value=value, unit=unit, note=note))
        self._print(self.rows[-1])

    def add_roofed(self, section: str, figure: str, compute, unit: str = "") -> None:
        """A row whose (value, note) = compute(roofs) needs the roofs of its section (see `resolve`)."""
        row = dict(section=section, figure=figure, value=None, unit=unit, note="")
        self.rows.append(row)
        self.pending.append((row, compute))

    def resolve(self, roofs: Roofs) -> None:
        for row, compute in self.pending:
            row["value"], row["note"] = compute(roofs)
            self._print(row)
        self.pending = []

    @staticmethod
    def _print(r: dict) -> None:
        print(f"  {r['section']:10} {r['figure']:58} {_fmt(r['value']):>12} {r['unit']:10} {r['note']}", flush=True)

    def print(self) -> None:
        print(f"\n{'section':10} {'figure':58} {'value':>12} {'unit':10} note")
        print("-" * 116)
        for r in self.rows:
            print(f"{r['section']:10} {r['figure']:58} {_fmt(r['value']):>12} {r['unit']:10} {r['note']}")


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"
