"""A comparison as text and files: Markdown tables, report.md, results.csv, results.json.

`summary` is what the CLI prints; `write_report` writes the four files (the chart
through `wordgen.compare.plot`), each through `wordgen._io` so a half-written
report never replaces a whole one. Footnote marks: † means `<unk>` occurred and
was not charged (the figures are optimistic), ‡ that it was charged its
spelling cost.

Not here: computing any figure (they come in the `Comparison`), printing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from wordgen import _io
from wordgen.compare.records import CSV_FILE, JSON_FILE, PLOT_FILE, REPORT_FILE, RUNS_DIR, Comparison, Row
from wordgen.compare.score import Score

MARK_OPTIMISTIC = "†"  # <unk> occurred and was not charged
MARK_PENALISED = "‡"  # <unk> occurred and was charged its spelling cost

_COLUMNS = [
    # (header, key, format); keys are looked up in table_rows' dicts
    ("tokenizer", "label", "{}"),
    ("vocab", "vocab_size", "{:,}"),
    ("params", "parameters", "{:,}"),
    ("hidden", "hidden_size", "{}"),
    ("tokens/char", "tokens_per_char", "{:.3f}"),
    ("train tokens/s", "tokens_per_second", "{:,.0f}"),
    ("wall s", "wall_seconds", "{:.0f}"),
    ("ppl/token", "ppl_token", "{:.2f}"),
    ("bits/char", "bits_per_char", "{:.3f}"),
    ("ppl/word", "ppl_word", "{:.1f}"),
    ("<unk> rate", "unk_rate", "{:.2%}"),
]
_EVAL_COLUMNS = [c for c in _COLUMNS if c[1] in ("label", "tokens_per_char", "ppl_token", "bits_per_char", "ppl_word", "unk_rate")]

_CSV_FIELDS = [
    "tokenizer", "text", "vocab_size", "parameters", "embedding_dim", "hidden_size", "steps", "tokens_seen",
    "train_seconds", "wall_seconds", "tokens_per_second", "num_tokens", "num_chars", "num_words", "num_unk",
    "tokens_per_char", "nll", "ppl_token", "bits_per_char", "ppl_word", "unk_rate", "raw_bits_per_char",
    "unk_penalty_bits_per_char", "unk_penalty_by", "checkpoint", "sample",
]


def _label(row: Row, score: Score) -> str:
    if not score.raw.num_unk:
        return row.tokenizer
    return f"{row.tokenizer} {MARK_PENALISED if score.penalty_by else MARK_OPTIMISTIC}"


def table_rows(comparison: Comparison, which: str = "test") -> list[dict]:
    """Flat dicts, one per tokenizer, of the figures for `which` ('test' or 'eval_text')."""
    out = []
    for row in comparison.rows:
        score = getattr(row, which)
        if score is None:
            continue
        d = {k: v for k, v in row.to_dict().items() if k not in ("history", "test", "eval_text")}
        d.update(score.to_dict(), label=_label(row, score), text=which)
        out.append(d)
    return out


def _cell(text: str, width: int = 40) -> str:
    # A sample may hold newlines and bars; inside a Markdown table both would break
    # the row. The full samples are in report.md below the table and in the files.
    text = " ".join(text.replace("\n", " ⏎ ").split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict], columns=None, sample: bool = False) -> str:
    """A Markdown table with padded columns (readable as plain text too)."""
    columns = list(columns or _COLUMNS)
    header = [c[0] for c in columns] + (["sample"] if sample else [])
    body = [[fmt.format(r[key]) for _, key, fmt in columns] + ([_cell(r["sample"])] if sample else []) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    numeric = [False] + [True] * (len(columns) - 1) + ([False] if sample else [])

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if n else (":" + "-" * (w + 1)) for w, n in zip(widths, numeric)) + "|"
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def footnotes(comparison: Comparison) -> list[str]:
    """The lines a reader needs under the table: marks, penalty, matching, texts."""
    notes = [
        f"Evaluated on {comparison.test_text}; validation only chose each run's best checkpoint.",
        f"Models matched by {comparison.target_note}.",
    ]
    rows = [r for r in comparison.rows if r.test and r.test.raw.num_unk]
    if any(not r.test.penalty_by for r in rows):
        notes.append(f"{MARK_OPTIMISTIC} <unk> occurs and is not charged: unseen words share one token, so these "
                     "figures are optimistic (rerun with --unk-penalty).")
    if comparison.penalty_note:
        notes.append(f"{MARK_PENALISED} {comparison.penalty_note[0].upper()}{comparison.penalty_note[1:]}.")
    return notes


def summary(comparison: Comparison) -> str:
    """The table(s) and notes, as the CLI prints them."""
    parts = [markdown_table(table_rows(comparison, "test"), sample=True), "", *footnotes(comparison)]
    if comparison.eval_text:
        parts += ["", f"Also evaluated on {comparison.eval_text}:", "",
                  markdown_table(table_rows(comparison, "eval_text"), _EVAL_COLUMNS)]
    return "\n".join(parts)


def report_markdown(comparison: Comparison, plot_name: str | None = PLOT_FILE) -> str:
    """report.md: settings, the table with samples, the plot, the samples, the rules."""
    lines = [*_setting_lines(comparison), "", "## Results", "",
             markdown_table(table_rows(comparison, "test"), sample=True), "",
             *(f"- {n}" for n in footnotes(comparison))]
    if comparison.eval_text:
        lines += ["", f"### Also evaluated on {comparison.eval_text}", "",
                  markdown_table(table_rows(comparison, "eval_text"), _EVAL_COLUMNS)]
    if plot_name:
        lines += ["", f"![bits per character and learning curves]({plot_name})"]
    s = comparison.settings
    prompt = repr(s.prompt) if s.prompt else "a new line"
    lines += ["", "## Samples", "",
              f"Prompt: {prompt}; temperature {s.temperature:g}, seed {s.base.seed}; {s.sample_chars} characters each.", ""]
    for row in comparison.rows:
        lines += [f"**{row.tokenizer}**", "", "```", row.sample.strip("\n"), "```", ""]
    lines += ["## How the figures are measured", "", *_rule_lines(comparison)]
    return "\n".join(lines) + "\n"


def _setting_lines(comparison: Comparison) -> list[str]:
    s, base = comparison.settings, comparison.settings.base
    stop = ", ".join(f"{label} {value:g}" for label, value in (
        ("time budget (s)", base.time_budget), ("epochs", base.epochs), ("max steps", base.max_steps))
        if value is not None)
    m = comparison.machine
    return [
        f"# Tokenizer comparison on `{base.corpus}`",
        "",
        f"Tokenizers: {', '.join(f'`{t}`' for t in s.tokenizers)}. Every model: {base.model.num_layers} "
        f"{base.model.rnn_type.upper()} layer(s), dropout {base.model.dropout:g}, batch {base.batch_size} x "
        f"{base.seq_len} tokens, learning rate {base.lr:g}, seed {base.seed}; each stopped at: {stop}.",
        f"Whole comparison: {comparison.seconds:.0f} s on {m['cores']} CPU cores ({m['torch_threads']} torch "
        f"threads); load average before {_load(m['load_average_before'])}, after {_load(m['load_average_after'])} "
        "(time budgets are wall-clock, so a busy machine trains less).",
    ]


def _rule_lines(comparison: Comparison) -> list[str]:
    s = comparison.settings
    return [
        "- One total negative log-likelihood (NLL) per model and text. Perplexity per token = exp(NLL / tokens); "
        "bits per character = NLL / ln 2 / characters of the *original* text; perplexity per word = "
        "exp(NLL / whitespace-separated words of the original text). Only the last two compare across tokenizers.",
        "- The first token of a text has no context and is charged ln(vocabulary size).",
        "- Vocabularies and BPE merges are learned on the training split only.",
        "- A word model maps every unseen word to one `<unk>` token whose probability covers all of them at once, "
        "so its figures are optimistic; the `<unk>` rate is reported beside them"
        + (" and each `<unk>` is charged its spelling cost (see the notes above)." if s.unk_penalty
           else " (rerun with `--unk-penalty` to charge each `<unk>` the cost of spelling its word)."),
        f"- Models are matched by {comparison.target_note}.",
        "- Tokens/char is measured on the evaluation text; train tokens/s counts the validation pauses; wall s "
        "covers the training, evaluation and the sample of that row (every tokenizer is trained once, before "
        "the first run).",
        f"- Periodic validation reads the first {s.eval_chars:,} characters of the validation split for every "
        "tokenizer (the learning curves); the table uses the whole test split." if s.eval_chars else
        "- Periodic validation reads the whole validation split (the learning curves).",
        f"- Checkpoints: `{Path(s.out) / RUNS_DIR}/<name>`; `wordgen evaluate <checkpoint> --split test` "
        "reproduces the bits per character without the `<unk>` penalty (`raw_bits_per_char` in results.json).",
    ]


def _load(load) -> str:
    return "n/a" if not load else " / ".join(f"{x:.2f}" for x in load)


def results_csv(comparison: Comparison) -> str:
    """One line per tokenizer and evaluation text ('test', then 'eval_text')."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for which in ("test", "eval_text"):
        writer.writerows(table_rows(comparison, which))
    return buffer.getvalue()


def write_report(comparison: Comparison, out) -> dict:
    """Write report.md, results.csv, results.json and comparison.png into `out`; return their paths."""
    from wordgen.compare.plot import plot_comparison  # matplotlib only when a report is written

    files = {name: _io.expand(out) / name for name in (REPORT_FILE, CSV_FILE, JSON_FILE, PLOT_FILE)}
    plot_comparison(comparison, files[PLOT_FILE])
    _io.atomic_write_text(files[JSON_FILE], json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n")
    _io.atomic_write_text(files[CSV_FILE], results_csv(comparison))
    _io.atomic_write_text(files[REPORT_FILE], report_markdown(comparison))
    return {name: str(path) for name, path in files.items()}
