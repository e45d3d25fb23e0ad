"""The comparison chart: bits per character per tokenizer, and learning curves.

`plot_comparison(comparison, path)` writes one PNG with two panels:

* left: bits per character on the test split, one bar per tokenizer (a hatched
  top segment is the `<unk>` penalty when it was charged; a hatched bar means
  `<unk>` occurred and was not charged, i.e. the bar is optimistic); with an
  extra evaluation text, a second bar per tokenizer;
* right: validation bits per character against wall-clock seconds of training,
  one line per tokenizer (the periodic checks `train` logs in metrics.jsonl).

It draws on a `matplotlib.figure.Figure` with the Agg canvas directly and never
imports pyplot, so no global backend is switched and no window can open (a
notebook's own backend is left alone). It reads a `Comparison` and writes a
file (through `wordgen._io`); it computes no metric itself.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wordgen import _io


def plot_comparison(comparison, path, *, dpi: int = 110) -> None:
    """Draw the two panels of `comparison` (a `wordgen.compare.Comparison`) into a PNG at `path`."""
    fig = Figure(figsize=(12, 4.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    bars, curves = fig.subplots(1, 2, width_ratios=[1, 1.3])
    colors = [f"C{i % 10}" for i in range(len(comparison.rows))]  # one colour per tokenizer in both panels
    _draw_bars(bars, comparison, colors)
    _draw_curves(curves, comparison.rows, colors)
    fig.suptitle(f"{comparison.settings.base.corpus}: {comparison.target_note.split(':')[0]}", fontsize=11)
    _io.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def _draw_bars(bars, comparison, colors: list[str]) -> None:
    rows = comparison.rows
    texts = ["test"] + (["eval_text"] if comparison.eval_text else [])  # Row attributes, one bar each
    width = 0.8 / len(texts)
    top = 0.0
    for j, which in enumerate(texts):
        for i, row in enumerate(rows):
            score = getattr(row, which)
            x = i + (j - (len(texts) - 1) / 2) * width
            raw = score.raw.bits_per_char
            extra = score.metrics.bits_per_char - raw
            optimistic = bool(score.raw.num_unk) and not score.penalty_by
            alpha = 1.0 if j == 0 else 0.55
            bars.bar(x, raw, width * 0.95, color=colors[i], alpha=alpha, hatch="//" if optimistic else None,
                     edgecolor="white" if optimistic else None)
            if extra > 0:
                bars.bar(x, extra, width * 0.95, bottom=raw, color=colors[i], alpha=0.35, hatch="xx", edgecolor="black")
            total = raw + extra
            top = max(top, total)
            bars.annotate(f"{total:.2f}", (x, total), ha="center", va="bottom", fontsize=8,
                          xytext=(0, 2), textcoords="offset points")
    bars.set_xticks(range(len(rows)), [r.tokenizer for r in rows], rotation=20 if len(rows) > 4 else 0,
                   ha="right" if len(rows) > 4 else "center", fontsize=9)
    bars.set_ylim(0, top * 1.15 if top > 0 else 1)
    bars.set_ylabel("bits per character (lower is better)")
    title = "Test bits per character"
    if len(texts) > 1:
        title += " (solid: test split, pale: extra text)"
    bars.set_title(title, fontsize=10)
    notes = []
    if any(r.test.raw.num_unk and not r.test.penalty_by for r in rows):
        notes.append("// <unk> not charged: optimistic")
    if any(r.test.penalty > 0 for r in rows):
        notes.append("xx <unk> spelling penalty")
    if notes:
        bars.text(0.02, 0.98, "\n".join(notes), transform=bars.transAxes, va="top", fontsize=8)


def _draw_curves(curves, rows, colors: list[str]) -> None:
    for i, row in enumerate(rows):
        points = [(h["elapsed"], h["val_bpc"]) for h in row.history if h.get("val_bpc") is not None]
        if points:
            xs, ys = zip(*points)
            curves.plot(xs, ys, marker="o", markersize=3, color=colors[i], label=row.tokenizer)
    curves.set_xlabel("wall-clock seconds of training")
    curves.set_ylabel("validation bits per character")
    curves.set_title("Learning curves (validation, no <unk> penalty)", fontsize=10)
    curves.grid(alpha=0.3)
    if rows:
        curves.legend(fontsize=8)
