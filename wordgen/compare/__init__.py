"""Compare tokenizations fairly: one model, one split, one budget per tokenizer.

`compare(settings)` trains the shared LSTM once per tokenizer spec and seed
-- same corpus split, same seeds, same stopping rule -- evaluates every model
on the corpus's `test` split (validation only picks the best checkpoint), draws
one sample from a common prompt, and writes

    OUT/runs/<name>/     one ordinary checkpoint folder per tokenizer
                         (<name>/seed-<S>/ per seed with --seeds N > 1)
    OUT/results.json     everything: every run, its learning curve, and the
                         per-tokenizer summary over the seeds
    OUT/results.csv      one row per run (and per evaluation text)
    OUT/report.md        the table plus the rules it was measured by
    OUT/comparison.png   bits per character (with 95 % intervals over the
                         seeds), and validation bits per character against
                         wall-clock seconds and against characters read

The rules (also written into every report):

* One NLL total per model and text; per token, per character of the original
  text, and per whitespace-separated word of it are three divisions of it
  (`wordgen.evaluate`).
* Every tokenizer trains with the same recipe -- optimizer, learning rate and
  schedule, clip, batch and window, dropouts and weight decay, output layer --
  settled once (`recipe`); `recipe="per-tokenizer"` lets the size rule choose
  each tokenizer's own instead, and the report then lists them.
* `<unk>` makes a closed vocabulary look better than it is, so by default each
  `<unk>` token is also charged the cost of spelling the text it hides
  (`score`); the ranking uses the charged figures. `unk_penalty=False` leaves
  it uncharged, and the report marks those rows optimistic.
* Models are matched either by size (the same embedding/hidden sizes) or by
  parameter count (`match="params"`; `sizing`).
* The stop rule is the same for every model, and the report says what it
  favours (`report.budget_note`): equal seconds favour cheap tokenizers, equal
  steps long tokens, equal characters (`TrainConfig.max_chars`) or epochs
  neither in data.
* With `seeds > 1` every figure is a mean over seeds with a 95 % t-interval,
  and a row whose interval overlaps the best one's is marked as not told apart
  (`stats`, `seeds`).
* Each run records how busy the rest of the machine was (`wordgen.cpu`); the
  report warns beside a row that shared the CPU.

The package, in the order `compare` uses it: `sizing` (the list, the folders,
the model sizes), `recipe` (the shared recipe), `run` (one training run per
tokenizer and seed), `score`
(the penalty), `seeds` and `stats` (the summary over seeds), `report` and
`plot` (the files); `records` holds the dataclasses they pass along.

Deliberately not here: printing (the CLI prints the strings this package
returns), and tuning hyper-parameters per tokenizer (a shared recipe suits
some tokenizers better than others; the report says which one it was, and
`recipe="per-tokenizer"` shows the size rule's own choices side by side).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wordgen.compare.recipe import RECIPE_FIELDS, describe, differences, recipe_of, shared_recipe
from wordgen.compare.records import (
    CSV_FILE,
    JSON_FILE,
    PER_TOKENIZER,
    PLOT_FILE,
    REPORT_FILE,
    RUNS_DIR,
    SHARED,
    CompareError,
    CompareSettings,
    Comparison,
    Row,
)
from wordgen.compare.report import (
    budget_note,
    markdown_table,
    report_markdown,
    results_csv,
    seed_table_rows,
    summary,
    table_rows,
    write_report,
)
from wordgen.compare.run import run_all
from wordgen.compare.score import (
    Score,
    Speller,
    hidden_pieces,
    score_rows,
    score_split,
    score_text,
    spelling_costs,
    uniform_spelling_cost,
)
from wordgen.compare.seeds import group_rows
from wordgen.compare.sizing import (
    match_hidden_size,
    match_sizes,
    parse_tokenizer_list,
    plan_runs,
    refuse_existing,
    run_name,
)
from wordgen.compare.stats import Spread, not_distinguishable, spread, t_quantile
from wordgen.corpora import load_corpus, read_text_file
from wordgen.data import split_text
from wordgen.device import load_average, machine_info


def compare(settings: CompareSettings, *, progress: bool = False, log: Callable[[str], None] | None = None) -> Comparison:
    """Train and score one model per tokenizer, write the report files, return everything.

    Every check that can fail on bad input (list, specs and their options,
    corpus, evaluation text, stop rule, sizes, existing output) runs before the
    first model is trained. `log` receives one line per stage (the CLI prints
    them); `progress` shows each run's tqdm bar.
    """
    log = log or (lambda message: None)
    started, load_before = time.perf_counter(), load_average()
    settings.validate()
    base = settings.base

    # 1. Plan and size: everything that can go wrong, before any training.
    dataset = load_corpus(base.corpus, seed=base.seed, stage_directions=base.stage_directions)
    test_text = split_text(dataset["test"])
    if not test_text.strip():
        raise CompareError(f"the test split of {base.corpus!r} is empty: there is nothing to evaluate on")
    eval_text = read_text_file(settings.eval_corpus) if settings.eval_corpus else None  # CorpusError if empty
    plans = plan_runs(settings, dataset, eval_text, log)
    run_base, sources, recipe_note = shared_recipe(plans, settings, dataset)
    target, note = match_sizes(plans, settings, run_base, dataset)
    refuse_existing(plans, settings)
    # 2. Train each tokenizer's model; 3. charge <unk> once every model exists; 4. report.
    rows, bundles = run_all(plans, settings, run_base, sources, dataset, progress=progress, log=log)
    penalty_note = score_rows(rows, bundles, dataset, eval_text, settings)
    comparison = Comparison(
        settings=settings, rows=rows, target_params=target, target_note=note, penalty_note=penalty_note,
        recipe_note=recipe_note,
        test_text=f"the test split of {base.corpus} ({len(test_text):,} characters)",
        eval_text=(f"{settings.eval_corpus} ({len(eval_text):,} characters)" if eval_text is not None else None),
        seconds=time.perf_counter() - started, machine=_machine(load_before), budget=budget_note(run_base),
    )
    comparison.files = write_report(comparison, settings.out)
    return comparison


def _machine(load_before) -> dict:
    info = machine_info()
    # machine_info's load average is the one now, at the end: name both ends of the run.
    after = info.pop("load_average")
    return {**info, "load_average_before": load_before, "load_average_after": after}


__all__ = [
    "CSV_FILE", "JSON_FILE", "PER_TOKENIZER", "PLOT_FILE", "RECIPE_FIELDS", "REPORT_FILE", "RUNS_DIR", "SHARED",
    "CompareError", "CompareSettings", "describe", "differences", "recipe_of", "shared_recipe",
    "Comparison", "Row", "Score", "Speller", "Spread", "budget_note", "compare", "group_rows", "hidden_pieces",
    "markdown_table", "match_hidden_size", "not_distinguishable", "parse_tokenizer_list", "report_markdown",
    "results_csv", "run_name", "score_split", "score_text", "seed_table_rows", "spelling_costs", "spread",
    "summary", "t_quantile", "table_rows", "uniform_spelling_cost", "write_report",
]
