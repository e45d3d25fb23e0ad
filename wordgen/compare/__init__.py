"""Compare tokenizations fairly: one model, one split, one budget per tokenizer.

`compare(settings)` trains the shared LSTM once per tokenizer spec -- same
corpus split, same seed, same stopping rule -- evaluates every model on the
corpus's `test` split (validation only picks the best checkpoint), draws one
sample from a common prompt, and writes

    OUT/runs/<name>/     one ordinary checkpoint folder per tokenizer
    OUT/results.json     everything, including the learning curves
    OUT/results.csv      one row per tokenizer (and per evaluation text)
    OUT/report.md        the table plus the rules it was measured by
    OUT/comparison.png   bits per character, and validation bits per character
                         against wall-clock seconds

The rules (also written into every report):

* One NLL total per model and text; per token, per character of the original
  text, and per whitespace-separated word of it are three divisions of it
  (`wordgen.evaluate`).
* `<unk>` makes a closed vocabulary look better than it is. With
  `unk_penalty=True` each `<unk>` token is also charged the cost of spelling
  the text it hides (`score`).
* Models are matched either by size (the same embedding/hidden sizes) or by
  parameter count (`match="params"`; `sizing`).

The package, in the order `compare` uses it: `sizing` (the list, the folders,
the model sizes), `run` (one training run per tokenizer), `score` (the
penalty), `report` and `plot` (the files); `records` holds the dataclasses
they pass along.

Deliberately not here: printing (the CLI prints the strings this package
returns), choosing hyper-parameters per tokenizer (every model gets the same
settings, which favours none), and repeated seeds or confidence intervals (one
seed per comparison; run it again with --seed).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wordgen.compare.records import (CSV_FILE, JSON_FILE, PLOT_FILE, REPORT_FILE, RUNS_DIR, CompareError,
                                     CompareSettings, Comparison, Row)
from wordgen.compare.report import markdown_table, report_markdown, results_csv, summary, table_rows, write_report
from wordgen.compare.run import run_all
from wordgen.compare.score import (Score, Speller, hidden_pieces, score_rows, score_split, score_text, spelling_costs,
                                   uniform_spelling_cost)
from wordgen.compare.sizing import match_hidden_size, match_sizes, parse_tokenizer_list, plan_runs, refuse_existing, run_name
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
    target, note = match_sizes(plans, settings)
    refuse_existing(plans, settings)
    # 2. Train each tokenizer's model; 3. charge <unk> once every model exists; 4. report.
    rows, bundles = run_all(plans, settings, dataset, progress=progress, log=log)
    penalty_note = score_rows(rows, bundles, dataset, eval_text, settings)
    comparison = Comparison(
        settings=settings, rows=rows, target_params=target, target_note=note, penalty_note=penalty_note,
        test_text=f"the test split of {base.corpus} ({len(test_text):,} characters)",
        eval_text=(f"{settings.eval_corpus} ({len(eval_text):,} characters)" if eval_text is not None else None),
        seconds=time.perf_counter() - started, machine=_machine(load_before),
    )
    comparison.files = write_report(comparison, settings.out)
    return comparison


def _machine(load_before) -> dict:
    info = machine_info()
    # machine_info's load average is the one now, at the end: name both ends of the run.
    after = info.pop("load_average")
    return {**info, "load_average_before": load_before, "load_average_after": after}


__all__ = [
    "CSV_FILE", "JSON_FILE", "PLOT_FILE", "REPORT_FILE", "RUNS_DIR", "CompareError", "CompareSettings",
    "Comparison", "Row", "Score", "Speller", "compare", "hidden_pieces", "markdown_table", "match_hidden_size",
    "parse_tokenizer_list", "report_markdown", "results_csv", "run_name", "score_split", "score_text",
    "spelling_costs", "summary", "table_rows", "uniform_spelling_cost", "write_report",
]
