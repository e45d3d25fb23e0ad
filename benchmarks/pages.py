"""The results pages of the documentation site, written from benchmarks/results/ when the site is built.

`pages(results)` returns {"results/NAME.md": markdown} for every kind of results file the
benchmarks write (benchmarks.run and micro rows, busy tables, scale rows, the playground's load
test, the quality suite, the searches behind the defaults). Every page names the files and dates
its tables come from, and every figure is read from those files: nothing here is copied by hand.
A file no page knows is listed on the index page, so a new kind of results file is seen.

    python -m benchmarks.pages OUT      # write the pages into OUT, to read them without mkdocs

Not here: running any benchmark (run.py, quality.py, ...); the prose that explains the figures
(docs/development/log.md); the site's other generated pages (docs/hooks/generate.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


# ---------------------------------------------------------------- reading and formatting


def _load(path: Path) -> list[dict] | dict:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return json.loads(path.read_text(encoding="utf-8"))


def _num(value, digits: int = 3) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or (isinstance(value, int)):
        return f"{value:.1f}" if isinstance(value, float) else str(value)
    return f"{value:.{digits}f}"


def _cell(value) -> str:
    return _num(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list], align: str | None = None) -> str:
    align = align or "l" * len(header)
    rule = ["--:" if a == "r" else ":--" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _machine(machine: dict | str | None) -> str:
    if isinstance(machine, str):  # some logs describe the machine in words
        return machine
    if not machine:
        return "not recorded in the file"
    parts = [f"{machine.get('cores', '?')} cores of an {machine.get('cpu', 'unknown CPU')}",
             f"torch {machine.get('torch', '?')}", f"{machine.get('torch_threads', '?')} torch threads"]
    if machine.get("cuda"):
        parts.append(f"CUDA {machine['cuda']}")
    return ", ".join(parts)


def _load_average(data: dict) -> str:
    machine = data.get("machine") or {}
    before = machine.get("load_average") or machine.get("loadavg")
    after = machine.get("load_average_after") or machine.get("loadavg_after")
    if not before:
        return ""
    text = "load average before " + " / ".join(f"{x:.1f}" for x in before)
    if after:
        text += ", after " + " / ".join(f"{x:.1f}" for x in after)
    return text + " (above the torch threads' own count, other work shared the machine)"


def _header(title: str, what: str) -> str:
    return (f"# {title}\n\n{what}\n\nGenerated from `benchmarks/results/` by `benchmarks/pages.py` when the site "
            "is built; each section names its file. Edit the benchmark, not this page.\n")


def _file_date(path: Path, data: dict) -> str:
    """The file's own date, else the timestamp in its name (benchmarks/results_file.py names files so)."""
    if data.get("date"):
        return data["date"]
    stamp = re.search(r"(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)", path.name)
    return f"{stamp[1]}T{stamp[2]}:{stamp[3]}:{stamp[4]} (from the file's name)" if stamp else "not recorded in the file"


def _source(path: Path, data: dict) -> str:
    date = _file_date(path, data)
    lines = [f"## `{path.name}`", "", f"- date: {date}"]
    if data.get("command"):
        lines.append(f"- command: `{data['command']}`")
    lines.append(f"- machine: {_machine(data.get('machine'))}")
    if _load_average(data):
        lines.append(f"- {_load_average(data)}")
    return "\n".join(lines) + "\n"


def _row_date(rows: list[dict]) -> str:
    dates = sorted(r["date"] for r in rows if r.get("date"))
    if not dates:
        return "not recorded in the file"
    return dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"


# ---------------------------------------------------------------- one renderer per kind of file


def _rows_file(path: Path) -> str:
    """benchmarks.run and benchmarks.micro: rows of section, figure, value, unit, note."""
    data = _load(path)
    rows = [[r["section"], r["figure"], r["value"], r.get("unit", ""), r.get("note", "")] for r in data["rows"]]
    sizes = data.get("sizes")
    extra = f"- sizes: `{json.dumps(sizes)}`\n" if sizes else ""
    return _source(path, data) + extra + "\n" + _table(["section", "figure", "value", "unit", "note"], rows, "llrll")


def _busy_file(path: Path) -> str:
    data = _load(path)
    text = _source(path, data) + f"- {data['seconds']:g} s of each job per run, medians of {data['repeats']}\n"
    cores = data.get("outside_cores") or {}
    outside = ", ".join(f"{k} {min(v):.2f}-{max(v):.2f}" for k, v in cores.items() if v)
    if outside:
        text += f"- cores other processes kept busy, per scenario: {outside}\n"
    table = data["table"]
    if "job" not in table[0]:  # files before issue 22: training with the char tokenizer, two policies
        rows = [[r["policy"], r["idle"], r["busy"], r["busy_ratio"], r["pair"], r["pair_ratio"]] for r in table]
        return text + "\n" + _table(["policy", "idle tok/s", "busy tok/s", "busy / idle", "pair tok/s", "pair / idle"],
                                    rows, "lrrrrr")
    rows = [[r["job"], r["policy"], r["idle"], r["idle_vs_fastest"], r.get("busy", ""), r.get("busy_ratio", ""),
             r.get("pair", ""), r.get("pair_ratio", "")] for r in table]
    return text + "\n" + _table(["job", "policy", "idle tok/s", "idle / fastest", "busy tok/s", "busy / idle",
                                 "pair tok/s", "pair / idle"], rows, "llrrrrrr")


def _scale_file(path: Path) -> str:
    data = _load(path)
    memory = [r for r in data["rows"] if r["section"] == "memory"]
    ddp = [r for r in data["rows"] if r["section"] == "ddp"]
    text = _source(path, data)
    if memory:
        rows = [[r["repeats"], r["text_mb"], r["what"], r["maxrss_mb"], r.get("anon_mb"), r.get("file_mb"),
                 r.get("prepare_s") or "", r.get("store_mb", ""), r.get("arrow_mb", "")] for r in memory]
        text += "\n" + _table(["R", "text MB", "what", "peak RSS MB", "anonymous MB", "file-backed MB",
                               "data preparation s", "store MB", "arrow MB"], rows, "rrlrrrrrr") + "\n"
    if ddp:
        rows = []
        for r in ddp:
            if "runs" in r:
                runs = ", ".join(_num(run["tokens_per_s"]) for run in r["runs"])
                rows.append([r["what"], r["tokens_per_s"], r["tokens_per_cpu_s"], runs])
            else:
                rows.append([r["what"], f"x{r['ratio_tokens_per_s']:.2f}", f"x{r['ratio_tokens_per_cpu_s']:.2f}", ""])
        text += "\n" + _table(["setup", "tokens/s (median)", "tokens per CPU second", "tokens/s of each round"],
                              rows, "lrrl") + "\n"
    return text


def _serve_file(path: Path) -> str:
    data = _load(path)
    settings = data.get("settings", {})
    text = (f"## `{path.name}`\n\n- date: not recorded in the file\n- settings: "
            + ", ".join(f"{k} {v}" for k, v in settings.items() if k not in ("json", "checkpoint")) + "\n")
    rows = [[r["clients"], r["requests"], r["errors"], r["busy_503"], r["tokens_per_s"],
             f"{r['ttft_p50_ms']} / {r['ttft_p95_ms']}", f"{r['token_p50_ms']} / {r['token_p95_ms']}"]
            for r in data["rows"]]
    return text + "\n" + _table(["clients", "requests", "errors", "busy (503)", "tokens/s, all streams",
                                 "first token p50 / p95 ms", "per token p50 / p95 ms"], rows, "rrrrrrr")


def _gpu_file(path: Path) -> str:
    """benchmarks.gpu_bench: training and generation tokens/s on a GPU."""
    data = _load(path)
    rows = [[r["what"], r["batch"], r.get("precision", ""), r.get("steps", ""), r["tokens_per_s"]] for r in data["rows"]]
    return (_source(path, data) + f"- device: {data.get('device', '?')}\n\n"
            + _table(["what", "batch", "precision", "steps", "tokens/s"], rows, "lrlrr"))


def _book(path: str) -> str:
    return Path(path).name.removesuffix(".txt")


def _budget(row: dict) -> str:
    if row.get("seconds_budget"):
        return f"{row['seconds_budget']:g} s"
    return f"{row['tokens_budget']:,} tokens" if row.get("tokens_budget") else ""


def _ended(row: dict) -> str:
    stop = row.get("early_stop")
    return f"early stop at step {stop['step']}" if stop else "budget"


BASE_RUNS = ("zero-shot", "fine-tuned")  # the suite's --bases rows: not references, tabled apart


def quality_pairs(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(wordgen run, reference run) in file order: each reference pairs with the wordgen run of its
    book, tokenizer and budget that ran last before it (the suite runs them back to back)."""
    last, pairs = {}, []
    for row in rows:
        key = (row["book"], row["tokenizer"], row.get("seconds_budget"), row.get("tokens_budget"))
        if row["who"] == "wordgen":
            last[key] = row
        elif key in last and row["who"] not in BASE_RUNS:
            pairs.append((last[key], row))
    return pairs


def base_cells(rows: list[dict]) -> list[dict]:
    """One dict per book, tokenizer and budget that has a fine-tuned run: the newest run of each kind
    (wordgen, fine-tuned, zero-shot, classic) by name, in file order."""
    cells: dict[tuple, dict] = {}
    for row in rows:
        key = (_book(row["book"]), row["tokenizer"], _budget(row))
        cells.setdefault(key, {})[row["who"]] = row
    return [dict(runs, key=key) for key, runs in cells.items() if "fine-tuned" in runs]


def _bases_table(rows: list[dict]) -> str:
    header = ["book", "tokenizer", "budget", "classic", "wordgen from scratch", "base alone (zero-shot)",
              "fine-tuned", "fine-tuned / classic", "zero-shot / classic", "fine-tuned / classic, `<unk>` free",
              "`<unk>` book's / grown", "date"]
    table = []
    for cell in base_cells(rows):
        classic, tuned, zero = cell.get("classic"), cell["fine-tuned"], cell.get("zero-shot")
        scratch = cell.get("wordgen")
        unk = (f"{tuned['unk_book']:.2%} / {tuned['unk_merged']:.2%}" if tuned.get("unk_book") is not None
               else "")
        table.append([*cell["key"], classic and classic["val_bpc"], scratch and scratch["val_bpc"],
                      zero and zero["val_bpc"], tuned["val_bpc"],
                      classic and tuned["val_bpc"] / classic["val_bpc"],
                      classic and zero and zero["val_bpc"] / classic["val_bpc"],
                      classic and _free(tuned) / _free(classic), unk, tuned["date"]])
    charged = any(r.get("unk_penalty_bpc") for r in rows)
    return ("### From the shipped bases (`--bases`)\n\nValidation bits per character of the book's split; the "
            "base's own pretraining is not counted in the budget (its model card gives it). "
            + ("Every `<unk>` is charged its spelling (`--unk-penalty`), each run for its own vocabulary's. "
               if charged else "`<unk>` not charged. ")
            + "The newest run of each kind per cell; the last ratio leaves `<unk>` free on both sides.\n\n"
            + _table(header, table, "lllrrrrrrrrl") + "\n\n")


def _free(row: dict) -> float:
    """A run's bits per character with its <unk> charge taken off again."""
    return row["val_bpc"] - (row.get("unk_penalty_bpc") or 0.0)


def _quality_file(path: Path) -> str:
    rows = _load(path)
    pairs = quality_pairs(rows)
    cached = any("val_bpc_cache" in w for w, _ in pairs)
    header = ["date", "book", "tokenizer", "budget", "seed", "wordgen network", "reference", "reference bpc",
              "wordgen bpc", "wordgen / reference", "wordgen passes", "how it ended", "load average"]
    table = []
    for w, ref in pairs:
        model = (w.get("config") or {}).get("model", {})
        network = f"{model.get('num_layers')} x {model.get('hidden_size')}, {model.get('softmax')} softmax"
        load = max(w.get("load_before", 0), ref.get("load_before", 0))
        row = [w["date"], _book(w["book"]), w["tokenizer"], _budget(w), (w.get("config") or {}).get("seed"),
               network, ref["who"], ref["val_bpc"], w["val_bpc"], w["val_bpc"] / ref["val_bpc"],
               w.get("passes"), _ended(w), load]
        if cached:
            row += [ref.get("val_bpc_cache"), w.get("val_bpc_cache")]
        table.append(row)
    if cached:
        header += ["reference bpc with --cache", "wordgen bpc with --cache"]
    latest = {}
    for w, ref in pairs:  # the newest seed-0 pair of each cell
        if (w.get("config") or {}).get("seed", 0) == 0:
            latest[(_book(w["book"]), w["tokenizer"], _budget(w), ref["who"])] = (w, ref)
    summary = [[*key[:3], key[3], ref["val_bpc"], w["val_bpc"], w["val_bpc"] / ref["val_bpc"], w["date"]]
               for key, (w, ref) in sorted(latest.items())]
    bases = _bases_table(rows) if base_cells(rows) else ""
    return (f"## `{path.name}`\n\n- dates: {_row_date(rows)}\n- machine: {_machine(rows[0].get('machine'))}\n"
            f"- {len(rows)} runs, {len(pairs)} pairs of wordgen and a reference\n\n" + bases +
            "### The newest pair of each cell, seed 0\n\n"
            + _table(["book", "tokenizer", "budget", "reference", "reference bpc", "wordgen bpc",
                      "wordgen / reference", "date"], summary, "llllrrrl")
            + "\n\n### Every pair, in the order they ran\n\nEarlier pairs of a cell ran with the code of their "
              "time (the network column shows what the size rule chose then); the load average is the higher "
              "of the two runs' at their start (about 2 is the suite's own two threads).\n\n"
            + _table(header, table, "lllllllrrrrlr" + "rr" * cached) + "\n")


def _search_file(path: Path) -> str:
    rows = _load(path)
    header = ["date", "name", "book", "tokenizer", "budget", "settings", "val bits/char", "steps", "tokens/s", "note"]
    table = []
    for r in rows:
        settings = {**r.get("train", {}), **r.get("model", {}), **r.get("overrides", {})}
        budget = _budget(r) or (f"{r['seconds']:g} s" if r.get("seconds") and "tokens_budget" not in r else "")
        table.append([r.get("date", ""), r["name"], _book(r.get("book", "shakespeare")), r.get("tokenizer", ""),
                      budget, ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults of the time",
                      r["val_bpc"], r.get("steps", ""), r.get("tokens_per_s"), r.get("note", "")])
    return (f"## `{path.name}`\n\n- dates: {_row_date(rows)}\n- machine: {_machine(rows[0].get('machine'))}\n\n"
            + _table(header, table, "llllllrrrl") + "\n")


# ---------------------------------------------------------------- the pages


PAGES: dict[str, tuple[str, str, list[tuple[str, Callable[[Path], str]]]]] = {
    "results/quality.md": ("The quality suite",
                           "`python -m benchmarks.quality`: wordgen's defaults against plain recipes on the same "
                           "split, tokenizer and wall-clock budget; validation bits per character of the best "
                           "weights (`<unk>` not charged; both sides share the tokenizer).",
                           [(r"quality-.*\.jsonl", _quality_file)]),
    "results/speed.md": ("Speed", "`python -m benchmarks.run` (every figure a ratio measured in the same run, "
                         "against the machine's roofs or a plain-PyTorch reference) and `python -m "
                         "benchmarks.micro`; `python -m benchmarks.copying` (the copied-stretch lookup).",
                         [(r"(run-.*|\d{4}-\d\d-\d\d(-quick)?)\.json", _rows_file), (r"micro-.*\.json", _rows_file),
                          (r"copying-.*\.json", _rows_file)]),
    "results/busy.md": ("A busy machine", "`python -m benchmarks.busy`: training and generation alone (idle), "
                        "beside a busy loop (busy) and two at once (pair), under each thread policy.",
                        [(r"busy-.*\.json", _busy_file)]),
    "results/scale.md": ("Memory and processes", "`python -m benchmarks.scale`: memory against corpus size "
                         "(fresh processes) and two processes against two threads.",
                         [(r"scale-.*\.json", _scale_file)]),
    "results/serve.md": ("The playground under load", "`python -m benchmarks.serve_load`: clients streaming "
                         "`/api/generate` against one `wordgen serve`.", [(r"serve-load.*\.json", _serve_file)]),
    "results/gpu.md": ("The GPU path", "`python -m benchmarks.gpu_bench` (run by `benchmarks/gpu_check.sh` on a "
                       "GPU machine): training tokens/s in float32 and bf16, generation tokens/s of the fast "
                       "path against nn.LSTM per token.", [(r"gpu-.*\.json", _gpu_file)]),
    "results/searches.md": ("The searches behind the defaults",
                            "`python -m benchmarks.tune_char` (the character recipe), `python -m "
                            "benchmarks.tune_book` (the size rule on books) and single trials logged beside them.",
                            [(r"tune-.*\.jsonl", _search_file), (r"trials-.*\.jsonl", _search_file)]),
}


def _matches(name: str) -> str | None:
    for page, (_, _, kinds) in PAGES.items():
        if any(re.fullmatch(pattern, name) for pattern, _ in kinds):
            return page
    return None


def _index(files: list[Path]) -> str:
    rows = []
    for path in files:
        page = _matches(path.name)
        data = _load(path)
        date = _file_date(path, data) if isinstance(data, dict) else _row_date(data)
        command = data.get("command", "") if isinstance(data, dict) else ""
        link = f"[{PAGES[page][0]}]({Path(page).name})" if page else "not rendered: no page knows this file"
        rows.append([f"`{path.name}`", date, f"`{command}`" if command else "", link])
    return (_header("Results", "Every measurement the benchmarks have written, one file per run (a run never "
                    "writes over an earlier one). What each figure means and how to run each benchmark: "
                    "`benchmarks/README.md`, shown under [Development](../development/benchmarks.md); what was "
                    "concluded from them: the [development log](../development/log.md).")
            + "\n" + _table(["file", "date", "command", "page"], rows) + "\n")


def pages(results: Path = RESULTS) -> dict[str, str]:
    files = sorted(p for p in Path(results).iterdir() if p.suffix in (".json", ".jsonl"))
    out = {"results/index.md": _index(files)}
    for page, (title, what, kinds) in PAGES.items():
        sections = [render(path) for path in files for pattern, render in kinds if re.fullmatch(pattern, path.name)]
        out[page] = _header(title, what) + "\n" + ("\n\n".join(sections) if sections else "No results file yet: "
                                                      "nothing of this kind has been measured.\n")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, metavar="OUT", help="folder to write the pages into")
    out = p.parse_args(argv).out
    for name, text in pages().items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(target)
    return 0

if __name__ == "__main__":
    sys.exit(main())
