"""A comparison as text and files: Markdown tables, report.md, results.csv, results.json.

`summary` is what the CLI prints; `write_report` writes the four files (the chart
through `wordgen.compare.plot`), each through `wordgen._io` so a half-written
report never replaces a whole one. With one seed the table has a line per
tokenizer; with several, a line per tokenizer over its seeds (mean ± standard
deviation, the 95 % interval, and whether the best row can be told apart;
wordgen.compare.seeds), while results.csv and results.json keep every run.
Footnote marks: † means `<unk>` occurred and was not charged (the figures are
optimistic), ‡ that it was charged its spelling cost, ⚠ that other processes
took a real share of the CPU while the row trained (wordgen.cpu).

`budget_note` says which stop rule made the models equal and what that favours;
`recipe_lines` what every run trained with, read from the runs' own configs: one
sentence when they share their recipe, a table when each had its own.

Not here: computing any figure (they come in the `Comparison`), printing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from wordgen import _io
from wordgen.compare.recipe import describe, differences
from wordgen.compare.records import CSV_FILE, JSON_FILE, PLOT_FILE, REPORT_FILE, RUNS_DIR, SHARED, Comparison
from wordgen.compare.seeds import group_rows, group_to_dict

MARK_OPTIMISTIC = "†"  # <unk> occurred and was not charged
MARK_PENALISED = "‡"  # <unk> occurred and was charged its spelling cost
MARK_BUSY = "⚠"  # other processes used the CPU while the row trained

_COLUMNS = [
    # (header, key, format); keys are looked up in table_rows' dicts
    ("tokenizer", "label", "{}"),
    ("vocab", "vocab_size", "{:,}"),
    ("params", "parameters", "{:,}"),
    ("hidden", "hidden_size", "{}"),
    ("tokens/char", "tokens_per_char", "{:.3f}"),
    ("train tokens/s", "tokens_per_second", "{:,.0f}"),
    ("train chars", "chars_seen", "{:,.0f}"),
    ("wall s", "wall_seconds", "{:.0f}"),
    ("ppl/token", "ppl_token", "{:.2f}"),
    ("bits/char", "bits_per_char", "{:.3f}"),
    ("ppl/word", "ppl_word", "{:.1f}"),
    ("<unk> rate", "unk_rate", "{:.2%}"),
]
_EVAL_COLUMNS = [c for c in _COLUMNS if c[1] in ("label", "tokens_per_char", "ppl_token", "bits_per_char", "ppl_word", "unk_rate")]
# Several seeds: one line per tokenizer (seed_table_rows formats the spreads as text).
_SEED_COLUMNS = [
    ("tokenizer", "label", "{}"),
    ("vocab", "vocab_size", "{:,}"),
    ("params", "parameters", "{:,}"),
    ("tokens/char", "tokens_per_char", "{:.3f}"),
    ("train tokens/s", "tokens_per_second", "{:,.0f}"),
    ("train chars", "chars_seen", "{:,.0f}"),
    ("bits/char", "bpc", "{}"),
    ("95% interval", "bpc_interval", "{}"),
    ("ppl/word", "ppl_word_text", "{}"),
    ("95% interval ", "ppl_word_interval", "{}"),
    ("<unk> rate", "unk_rate", "{:.2%}"),
    ("vs best", "verdict", "{}"),
]
_SEED_EVAL_COLUMNS = [c for c in _SEED_COLUMNS if c[1] in (
    "label", "tokens_per_char", "bpc", "bpc_interval", "ppl_word_text", "ppl_word_interval", "unk_rate", "verdict")]

_CSV_FIELDS = [
    "tokenizer", "seed", "text", "vocab_size", "parameters", "embedding_dim", "hidden_size", "steps", "tokens_seen",
    "train_seconds", "wall_seconds", "tokens_per_second", "chars_seen", "other_cores", "num_tokens", "num_chars", "num_words", "num_unk",
    "tokens_per_char", "nll", "ppl_token", "bits_per_char", "ppl_word", "unk_rate", "raw_bits_per_char",
    "unk_penalty_bits_per_char", "unk_penalty_by", "checkpoint", "sample",
]


def _label(tokenizer: str, num_unk: int, penalised: bool, busy: bool) -> str:
    marks = ([MARK_PENALISED if penalised else MARK_OPTIMISTIC] if num_unk else []) + ([MARK_BUSY] if busy else [])
    return " ".join([tokenizer, *marks])


def table_rows(comparison: Comparison, which: str = "test") -> list[dict]:
    """Flat dicts, one per run (tokenizer and seed), of the figures for `which` ('test' or 'eval_text')."""
    out = []
    for row in comparison.rows:
        score = getattr(row, which)
        if score is None:
            continue
        d = {k: v for k, v in row.to_dict().items() if k not in ("history", "test", "eval_text")}
        d.update(score.to_dict(), text=which, other_cores=row.cpu.get("other_cores"),
                 label=_label(row.tokenizer, score.raw.num_unk, bool(score.penalty_by), row.cpu.get("busy", False)))
        out.append(d)
    return out


def _pm(s, digits: int) -> str:
    if s.sd is None:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ×/÷ {s.sd:.2f}" if s.geometric else f"{s.mean:.{digits}f} ± {s.sd:.{digits}f}"


def _interval(s, digits: int) -> str:
    return "-" if s.low is None else f"{s.low:.{digits}f} – {s.high:.{digits}f}"


def seed_table_rows(comparison: Comparison, which: str = "test") -> list[dict]:
    """One dict per tokenizer over its seeds (wordgen.compare.seeds.group_rows), spreads as text."""
    rows = []
    for g in group_rows(comparison, which):
        rows.append({**g, "label": _label(g["tokenizer"], g["num_unk"], g["penalised"], bool(g["busy_runs"])),
                     "bpc": _pm(g["bits_per_char"], 3), "bpc_interval": _interval(g["bits_per_char"], 3),
                     "ppl_word_text": _pm(g["ppl_word"], 0), "ppl_word_interval": _interval(g["ppl_word"], 0)})
    return rows


def _table(comparison: Comparison, which: str) -> str:
    if comparison.settings.seeds > 1:
        return markdown_table(seed_table_rows(comparison, which),
                              _SEED_COLUMNS if which == "test" else _SEED_EVAL_COLUMNS)
    if which == "test":
        return markdown_table(table_rows(comparison, which), sample=True)
    return markdown_table(table_rows(comparison, which), _EVAL_COLUMNS)


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
        notes.append(f"{MARK_OPTIMISTIC} <unk> occurs and is not charged (the penalty was turned off): unseen words "
                     "share one token, so these figures are optimistic and the ranking favours these rows (rerun "
                     "without --no-unk-penalty to charge it).")
    if comparison.penalty_note:
        notes.append(f"{MARK_PENALISED} {comparison.penalty_note[0].upper()}{comparison.penalty_note[1:]}.")
    notes.append(f"Budget: {comparison.budget}")
    notes.append(_seed_note(comparison))
    notes += _busy_notes(comparison)
    return notes


def budget_note(base) -> str:
    """Which stop rule every model shared, and whom it favours (a TrainConfig's limits, in words)."""
    parts = []
    if base.max_chars is not None:
        parts.append(f"the same {base.max_chars:,} characters of training text per model (tokens read x the "
                     "training text's characters per token; each run stops within one batch of it). Equal data: "
                     "no tokenizer reads more text than another, but one with more tokens per character (char) "
                     "takes more steps, compute and time to read it -- compare train s and tokens/s")
    if base.epochs is not None:
        parts.append(f"{base.epochs:g} pass(es) over the training text per model. Equal data, as with --chars; a "
                     "tokenizer with more tokens per character takes more steps and time for it")
    if base.max_steps is not None:
        batches = (f"{base.batch_size} x {base.seq_len} tokens" if base.batch_size and base.seq_len
                   else "each tokenizer's own batch of tokens")
        parts.append(f"{base.max_steps:,} optimizer steps of {batches} per model. "
                     "Equal steps favour tokenizers with more characters per token (words, large BPE "
                     "vocabularies): they read more text in the same steps -- see train chars")
    if base.time_budget is not None:
        parts.append(f"{base.time_budget:g} seconds of wall-clock training per model. Equal time favours "
                     "tokenizers that read more text per second (fewer tokens per character, cheap steps), and "
                     "the figures depend on this machine and on what else ran on it -- see train chars; "
                     "--chars N gives every model the same text instead")
    if len(parts) > 1:
        return "each run stopped at the first of: " + "; or ".join(parts) + "."
    return parts[0] + "."


def _seed_note(comparison: Comparison) -> str:
    s = comparison.settings
    if s.seeds == 1:
        return (f"One run per tokenizer (seed {s.base.seed}): differences of a few hundredths of a bit per "
                "character can be seed noise; --seeds 3 or more gives means and intervals.")
    seeds = comparison.seeds
    return (f"{s.seeds} runs per tokenizer, seeds {seeds[0]}..{seeds[-1]} (initial weights, dropout, sample; the "
            f"split is seed {s.base.seed}'s for all): mean ± sample standard deviation, and the 95 % t-interval of "
            "the mean (perplexity per word: geometric mean ×/÷ geometric standard deviation, interval computed "
            "on ln perplexity, the NLL per word). vs best: `best` has the lowest mean bits per character; `≈ best` marks a row whose interval "
            "overlaps the best one's, so this many seeds cannot tell the two apart (overlap is a conservative "
            "test); an empty cell, a row the seeds do tell apart. results.csv and results.json hold every run.")


def _busy_notes(comparison: Comparison) -> list[str]:
    busy = [r for r in comparison.rows if r.cpu.get("busy")]
    if not busy:
        return []
    several = comparison.settings.seeds > 1

    def entry(r) -> str:
        other, load = r.cpu.get("other_cores"), r.cpu.get("load_average_after")
        used = f"{other:.1f} cores" if other is not None else "busy"
        return (f"{r.tokenizer}{f' seed {r.seed}' if several else ''} ({used}; "
                f"1-min load average {load[0]:.1f} after)" if load else f"{r.tokenizer} ({used})")

    cores = busy[0].cpu.get("cores", "?")
    cost = ("their tokens/s is low, and so is the text they read in the time budget, so their figures are "
            "pessimistic" if comparison.settings.base.time_budget else "their tokens/s and seconds are low; "
            "the figures themselves do not depend on speed under this budget")
    return [f"{MARK_BUSY} Other processes used a real share of the {cores} cores while these runs trained: "
            + ", ".join(entry(r) for r in busy) + f": {cost}. Rerun on an idle machine to compare speeds."]


def recipe_lines(comparison: Comparison) -> list[str]:
    """What every run trained with, from the runs' configs: one line if shared, else a line and a table."""
    s = comparison.settings
    recipes = [r.recipe for r in comparison.rows if r.recipe]
    if not recipes:
        return []
    differ = differences(recipes)
    if s.recipe == SHARED:
        line = (f"**Every tokenizer trained with the same recipe:** {describe(recipes[0])}. Where it came from: "
                f"{comparison.recipe_note}. Each run's config.json marks these settings `compare`; "
                "`--recipe per-tokenizer` lets the size rule choose for each tokenizer instead.")
        if differ:  # a field the caller set per run could do this; say so rather than claim the same recipe
            line += f" The runs' configs nevertheless differ in: {', '.join(differ)}."
        return [line]
    lines = [f"**Each tokenizer trained with its own recipe** (`--recipe per-tokenizer`): {comparison.recipe_note}; "
             f"they differ in {', '.join(differ) or 'nothing, for this list'}.", ""]
    first = {}
    for row in comparison.rows:
        first.setdefault(row.tokenizer, row.recipe)
    body = [{"tokenizer": spec, "optimizer": r["optimizer"], "lr": r["lr"], "clip": r["grad_clip"],
             "batch": f"{r['batch_size']} x {r['seq_len']}", "decay": r["weight_decay"],
             "softmax": r["model.softmax"] + (" tied" if r["model.tie_weights"] else ""),
             "dropout": " / ".join(f"{r['model.' + n]:g}" for n in (
                 "dropout", "input_dropout", "hidden_dropout", "embedding_dropout", "weight_dropout"))}
            for spec, r in first.items()]
    columns = [("tokenizer", "tokenizer", "{}"), ("optimizer", "optimizer", "{}"), ("lr", "lr", "{:g}"),
               ("clip", "clip", "{:g}"), ("batch x window", "batch", "{}"), ("weight decay", "decay", "{:g}"),
               ("output layer", "softmax", "{}"), ("dropout / input / hidden / embedding / weight", "dropout", "{}")]
    return [*lines, markdown_table(body, columns)]


def summary(comparison: Comparison) -> str:
    """The recipe, the table(s) and notes, as the CLI prints them."""
    recipe = recipe_lines(comparison)
    parts = [*recipe, *([""] if recipe else []), _table(comparison, "test"), "", *footnotes(comparison)]
    if comparison.eval_text:
        parts += ["", f"Also evaluated on {comparison.eval_text}:", "", _table(comparison, "eval_text")]
    return "\n".join(parts)


def report_markdown(comparison: Comparison, plot_name: str | None = PLOT_FILE) -> str:
    """report.md: settings, the table with samples, the plot, the samples, the rules."""
    lines = [*_setting_lines(comparison), "", "## Results", "", _table(comparison, "test"), "",
             *(f"- {n}" for n in footnotes(comparison))]
    if comparison.eval_text:
        lines += ["", f"### Also evaluated on {comparison.eval_text}", "", _table(comparison, "eval_text")]
    if plot_name:
        lines += ["", f"![bits per character and learning curves]({plot_name})"]
    s = comparison.settings
    prompt = repr(s.prompt) if s.prompt else "a new line"
    lines += ["", "## Samples", "",
              f"Prompt: {prompt}; temperature {s.temperature:g}, seed {s.base.seed}; {s.sample_chars} characters each"
              + (f" (the runs with seed {s.base.seed})." if s.seeds > 1 else "."), ""]
    for row in comparison.rows:
        if row.seed == s.base.seed:
            lines += [f"**{row.tokenizer}**", "", "```", row.sample.strip("\n"), "```", ""]
    lines += ["## How the figures are measured", "", *_rule_lines(comparison)]
    return "\n".join(lines) + "\n"


def _setting_lines(comparison: Comparison) -> list[str]:
    s, base = comparison.settings, comparison.settings.base
    stop = ", ".join(f"{label} {value:g}" for label, value in (
        ("time budget (s)", base.time_budget), ("epochs", base.epochs), ("max steps", base.max_steps),
        ("characters", base.max_chars)) if value is not None)
    seeds = comparison.seeds
    seed_text = f"seed {base.seed}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    m = comparison.machine
    return [
        f"# Tokenizer comparison on `{base.corpus}`",
        "",
        f"Tokenizers: {', '.join(f'`{t}`' for t in s.tokenizers)}; {seed_text}; each run stopped at: {stop}; "
        f"<unk> {'charged its spelling cost' if s.unk_penalty else 'not charged (--no-unk-penalty)'}.",
        "",
        *recipe_lines(comparison),
        "",
        f"Whole comparison: {comparison.seconds:.0f} s on {m['cores']} CPU cores (up to {m['torch_threads']} torch "
        f"threads, fewer while other processes took cores; OpenMP wait policy {m.get('omp_wait_policy', 'n/a')}); "
        f"load average before {_load(m['load_average_before'])}, after {_load(m['load_average_after'])} "
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
        "so uncharged its figures are optimistic; the `<unk>` rate is reported beside them"
        + (", and by default each `<unk>` is charged the cost of spelling the text it hides (see the notes above): "
           "the table and the ranking use the charged figures (`--no-unk-penalty` turns the charge off)."
           if s.unk_penalty else
           ". Here the charge was turned off (`--no-unk-penalty`), so rows with `<unk>` are ranked optimistically."),
        f"- Models are matched by {comparison.target_note}.",
        "- Train chars: characters of training text each model read (tokens x the training text's characters per "
        "token). The learning curves are drawn against seconds and against these characters.",
        "- Tokens/char is measured on the evaluation text; train tokens/s counts the validation pauses; wall s "
        "covers the training, evaluation and the sample of that row (every tokenizer is trained once, before "
        "the first run).",
        f"- Periodic validation reads the first {s.eval_chars:,} characters of the validation split for every "
        "tokenizer (the learning curves); the table uses the whole test split." if s.eval_chars else
        "- Periodic validation reads the whole validation split (the learning curves).",
        f"- Checkpoints: `{Path(s.out) / RUNS_DIR}/<name>" + ("/seed-<seed>" if s.seeds > 1 else "")
        + "`; `wordgen evaluate <checkpoint> --split test` "
        "reproduces the bits per character without the `<unk>` penalty (`raw_bits_per_char` in results.json).",
    ]


def _load(load) -> str:
    return "n/a" if not load else " / ".join(f"{x:.2f}" for x in load)


def results_csv(comparison: Comparison) -> str:
    """One line per run (tokenizer and seed) and evaluation text ('test', then 'eval_text')."""
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
    doc = {**comparison.to_dict(),
           "summary": {which: [group_to_dict(g) for g in group_rows(comparison, which)]
                       for which in ("test", "eval_text") if which == "test" or comparison.eval_text}}
    _io.atomic_write_text(files[JSON_FILE], json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    _io.atomic_write_text(files[CSV_FILE], results_csv(comparison))
    _io.atomic_write_text(files[REPORT_FILE], report_markdown(comparison))
    return {name: str(path) for name, path in files.items()}
