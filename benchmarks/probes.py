"""The machine's own roofs: peak float32 matrix-product FLOP/s and memory copy bandwidth.

A roof is the best the machine does, so each probe takes the fastest of 10+
timed calls (a median probe once landed on a slow moment of this shared VM and
put a training run above 1.0 of "peak"). Bandwidth is probed at several sizes,
all at least twice the last-level cache (read from /sys on Linux), so no size
is served from the cache; the highest of them is the roof the generation
figures use, and its size is named in the output. On the 2-core VM a 64 MB and
a 256 MB copy once gave 36.7 and 23.7 GB/s, which moved "0.78 of the bound" to
about 0.5 -- printing every size shows how much the choice matters.

`Roofs` holds one probe; `probe_roofs` runs both probes; benchmarks/run.py
probes before and after every section and divides by the higher of the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

MB = 2**20


def best_time(fn, repeats: int) -> float:
    """Fastest of `repeats` timed calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def probe_peak_flops(n: int, repeats: int = 10) -> float:
    """float32 FLOP/s of an n x n by n x n matrix product (2 n^3 FLOPs), best of 10+ calls."""
    a, b = torch.randn(n, n), torch.randn(n, n)  # (n, n)
    out = torch.empty(n, n)
    return 2 * n**3 / best_time(lambda: torch.mm(a, b, out=out), max(10, repeats))


def probe_copy_bandwidth(megabytes: float, repeats: int = 10) -> float:
    """Bytes moved per second (read + write, the STREAM "copy" convention) by a copy of `megabytes`, best of 10+."""
    src = torch.randn(int(megabytes * MB) // 4)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_time(lambda: dst.copy_(src), max(10, repeats))


def last_level_cache_bytes() -> int | None:
    """The size of the largest cache level of CPU 0 (/sys/devices/system/cpu/cpu0/cache), or None."""
    best = None
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            text = (index / "size").read_text().strip().upper()
        except (OSError, ValueError):
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        size = int(text.rstrip("KMG")) * scale
        if best is None or level > best[0] or (level == best[0] and size > best[1]):
            best = (level, size)
    return best[1] if best else None


def bandwidth_sizes(llc: int | None, count: int) -> list[float]:
    """`count` copy sizes in MB, doubling from twice the last-level cache (64 MB upward when it is unknown)."""
    first = max(64.0, 2 * llc / MB) if llc else 64.0
    return [first * 2**i for i in range(count)]


@dataclass
class Roofs:
    peak: float  # FLOP/s
    bandwidth: float  # bytes/s, the highest of `by_size`
    by_size: dict = field(default_factory=dict)  # MB -> bytes/s
    bandwidth_size: float = 0.0  # MB of the copy that gave `bandwidth`

    def describe(self) -> str:
        sizes = ", ".join(f"{mb:g} MB {bw / 1e9:.1f}" for mb, bw in self.by_size.items())
        return (f"peak {self.peak / 1e9:.1f} GFLOP/s; copy bandwidth {self.bandwidth / 1e9:.1f} GB/s at "
                f"{self.bandwidth_size:g} MB (GB/s by size: {sizes})")

    def to_dict(self) -> dict:
        return {"peak_flops": self.peak, "bandwidth": self.bandwidth, "bandwidth_size_mb": self.bandwidth_size,
                "bandwidth_by_size_mb": {str(k): v for k, v in self.by_size.items()}}


def probe_roofs(matmul: int, sizes_mb: list[float], repeats: int) -> Roofs:
    """Both probes: the matmul peak and the copy bandwidth at every size (the highest is the roof)."""
    by_size = {mb: probe_copy_bandwidth(mb, repeats) for mb in sizes_mb}
    size = max(by_size, key=by_size.get)
    return Roofs(probe_peak_flops(matmul, repeats), by_size[size], by_size, size)


def higher(a: Roofs, b: Roofs) -> Roofs:
    """The higher peak and the higher bandwidth of two probes (the roof a section is divided by)."""
    bw = a if a.bandwidth >= b.bandwidth else b
    return Roofs(max(a.peak, b.peak), bw.bandwidth, bw.by_size, bw.bandwidth_size)
