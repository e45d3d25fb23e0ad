"""The comparison chart: bits per character per tokenizer, and learning curves.

`plot_comparison(comparison, path)` writes one PNG with three panels:

* left: bits per character on the test split, one bar per tokenizer at the
  mean over its seeds, with the 95 % t-interval as an error bar and each
  seed's figure as a dot when there are several (a hatched top segment is the
  `<unk>` penalty when it was charged; a hatched bar means `<unk>` occurred
  and was not charged, i.e. the bar is optimistic); with an extra evaluation
  text, a second bar per tokenizer;
* middle and right: validation bits per character against wall-clock seconds
  of training and against characters of training text read, one line per run
  (the periodic checks `train` logs in metrics.jsonl), one colour per
  tokenizer. Seconds show what a time budget buys on this machine; characters
  show what the same text teaches each tokenization.

It draws on a `matplotlib.figure.Figure` with the Agg canvas directly and never
imports pyplot, so no global backend is switched and no window can open (a
notebook's own backend is left alone). It reads a `Comparison` and writes a
file (through `wordgen._io`); the statistics come from wordgen.compare.seeds.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from wordgen import _io
from wordgen.compare.seeds import group_rows


def plot_comparison(comparison, path, *, dpi: int = 110) -> None:
    """Draw the three panels of `comparison` (a `wordgen.compare.Comparison`) into a PNG at `path`."""
    fig = Figure(figsize=(16, 4.8), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    bars, by_time, by_chars = fig.subplots(1, 3, width_ratios=[1, 1.1, 1.1])
    specs = comparison.settings.tokenizers
    colors = {spec: f"C{i % 10}" for i, spec in enumerate(specs)}  # one colour per tokenizer in every panel
    _draw_bars(bars, comparison, colors)
    _draw_curves(by_time, comparison.rows, colors, "elapsed", "wall-clock seconds of training")
    _draw_curves(by_chars, comparison.rows, colors, "chars", "characters of training text read")
    seeds = comparison.settings.seeds
    fig.suptitle(f"{comparison.settings.base.corpus}: {comparison.target_note.split(':')[0]}"
                 + (f"; {seeds} seeds per tokenizer, bars at the mean, 95 % intervals" if seeds > 1 else ""),
                 fontsize=11)
    _io.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def _draw_bars(bars, comparison, colors: dict) -> None:
    texts = ["test"] + (["eval_text"] if comparison.eval_text else [])  # Row attributes, one bar each
    width = 0.8 / len(texts)
    top, labels = 0.0, []
    for j, which in enumerate(texts):
        groups = group_rows(comparison, which)
        labels = labels or [g["tokenizer"] for g in groups]
        for i, g in enumerate(groups):
            x = i + (j - (len(texts) - 1) / 2) * width
            color, alpha = colors[g["tokenizer"]], 1.0 if j == 0 else 0.55
            raw, total = g["raw_bits_per_char"].mean, g["bits_per_char"].mean
            optimistic = bool(g["num_unk"]) and not g["penalised"]
            bars.bar(x, raw, width * 0.95, color=color, alpha=alpha, hatch="//" if optimistic else None,
                     edgecolor="white" if optimistic else None)
            if total > raw:
                bars.bar(x, total - raw, width * 0.95, bottom=raw, color=color, alpha=0.35, hatch="xx",
                         edgecolor="black")
            spread = g["bits_per_char"]
            if spread.low is not None:
                bars.errorbar(x, total, yerr=[[total - spread.low], [spread.high - total]], color="black",
                              capsize=4, linewidth=1)
                bars.scatter([x] * spread.n, spread.values, s=9, color="black", zorder=3)
            high = spread.high if spread.high is not None else total
            top = max(top, high)
            bars.annotate(f"{total:.3f}", (x, high), ha="center", va="bottom", fontsize=8,
                          xytext=(0, 2), textcoords="offset points")
    many = len(labels) > 4
    bars.set_xticks(range(len(labels)), labels, rotation=20 if many else 0, ha="right" if many else "center",
                    fontsize=9)
    bars.set_ylim(0, top * 1.15 if top > 0 else 1)
    bars.set_ylabel("bits per character (lower is better)")
    bars.set_title("Test bits per character" + (" (solid: test split, pale: extra text)" if len(texts) > 1 else ""),
                   fontsize=10)
    notes = []
    if any(r.test.raw.num_unk and not r.test.penalty_by for r in comparison.rows):
        notes.append("// <unk> not charged: optimistic")
    if any(r.test.penalty > 0 for r in comparison.rows):
        notes.append("xx <unk> spelling penalty")
    if comparison.settings.seeds > 1:
        notes.append("| 95 % interval, dots: seeds")
    if notes:
        bars.text(0.02, 0.98, "\n".join(notes), transform=bars.transAxes, va="top", fontsize=8)


def _draw_curves(axes, rows, colors: dict, key: str, xlabel: str) -> None:
    labelled = set()
    for row in rows:
        points = [(h[key], h["val_bpc"]) for h in row.history if h.get("val_bpc") is not None and key in h]
        if points:
            xs, ys = zip(*points)
            label = None if row.tokenizer in labelled else row.tokenizer
            labelled.add(row.tokenizer)
            axes.plot(xs, ys, marker="o", markersize=2.5, linewidth=1, color=colors[row.tokenizer], label=label,
                      alpha=0.85)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("validation bits per character")
    axes.set_title(f"Learning curves against {xlabel.split(' of ')[0]} (validation, no <unk> penalty)", fontsize=10)
    axes.grid(alpha=0.3)
    if labelled:
        axes.legend(fontsize=8)
