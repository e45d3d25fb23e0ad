"""python -m benchmarks.copying: how fast "is it copying the book?" answers on a 1 MB book.

The index of wordgen/analysis/copying.py (`CopyIndex`, a suffix array over the
book's words) is built from the first --chars characters of the book (cut at a
line end): the built-in plays' train split by default, or --book FILE. Then
samples are looked up in it:

  build     seconds to build the index from the text (words, ids, suffix array),
            the median of --repeats builds
  held-out  milliseconds per sample of 60 and of 300 words cut from text the index
            does not hold (the plays' validation split; with --book, the rest of
            the file, or its last tenth when the file is shorter than --chars), and
            the longest stretch such text shares with the book by chance: the
            median and the largest over the samples. That is the baseline the lab's
            "3-6 words is chance" line rests on
  recited   milliseconds per sample of 300 words cut from the book itself, which
            the lookup finds whole at every position (its slowest case)

Each timing is the median over --repeats runs of the mean time per sample over
--samples samples. Results go to benchmarks/results/copying-<time>.json (a new file
every run).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time

from benchmarks.results_file import RESULTS, write_new
from wordgen.analysis.copying import CopyIndex

BOOK_CHARS = 1_000_000


def _cut(text: str, chars: int) -> str:
    """The first `chars` characters of `text`, ending at a line end where there is one."""
    if len(text) <= chars:
        return text
    end = text.rfind("\n", 0, chars)
    return text[: end + 1] if end > 0 else text[:chars]


def book_texts(book: str | None, chars: int) -> tuple[str, str, str]:
    """(the indexed text, held-out text, what they are) for --book or the built-in plays."""
    if book is None:
        from wordgen.corpora import load_corpus

        plays = load_corpus("shakespeare", seed=0)
        text = _cut("".join(plays["train"]["text"]), chars)
        return text, "".join(plays["validation"]["text"]), "the built-in plays (train split; validation held out)"
    from wordgen.corpora import read_text_file

    full = read_text_file(book)
    text = _cut(full, min(chars, int(0.9 * len(full))))
    return text, full[len(text):], f"{book} (the rest of the file held out)"


def pieces(text: str, words: int, count: int) -> list[str]:
    """Up to `count` consecutive, non-overlapping samples of `words` whitespace-separated words of `text`."""
    ws = text.split()
    return [" ".join(ws[i: i + words]) for i in range(0, len(ws) - words + 1, words)][:count]


def _median_per_sample(index: CopyIndex, samples: list[str], repeats: int) -> float:
    """Median over `repeats` runs of the mean seconds per `index.copies` call over `samples`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for sample in samples:
            index.copies(sample)
        times.append((time.perf_counter() - start) / len(samples))
    return statistics.median(times)


def measure(text: str, held_out: str, *, repeats: int, samples: int) -> list[tuple]:
    """The rows: (section, figure, value, unit)."""
    builds = []
    for _ in range(repeats):
        start = time.perf_counter()
        index = CopyIndex.from_texts([text])
        builds.append(time.perf_counter() - start)
    rows = [("build", f"index of {len(text):,} characters, {len(index):,} words", statistics.median(builds), "s")]
    for words in (60, 300):
        chunk = pieces(held_out, words, samples)
        if not chunk:
            continue
        rows.append(("held-out", f"lookup, {words}-word sample ({len(chunk)} samples)",
                     1e3 * _median_per_sample(index, chunk, repeats), "ms/sample"))
        longest = [index.copies(s).longest_words for s in chunk]
        rows.append(("held-out", f"longest stretch shared by chance, {words}-word samples: median",
                     statistics.median(longest), "words"))
        rows.append(("held-out", f"longest stretch shared by chance, {words}-word samples: largest",
                     max(longest), "words"))
    recited = pieces(text, 300, samples)
    if recited:
        rows.append(("recited", f"lookup, 300-word sample copied from the book ({len(recited)} samples)",
                     1e3 * _median_per_sample(index, recited, repeats), "ms/sample"))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.copying", description=__doc__.split("\n")[0])
    p.add_argument("--book", default=None, help="a text file (default: the built-in plays)")
    p.add_argument("--chars", type=int, default=BOOK_CHARS, help=f"characters indexed (default {BOOK_CHARS:,})")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median; default 5)")
    p.add_argument("--samples", type=int, default=50, help="samples looked up per run (default 50)")
    p.add_argument("--no-save", action="store_true", help="print only; write no results file")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.samples < 1 or args.chars < 1:
        p.error("--repeats, --samples and --chars must be at least 1")
    from wordgen.device import load_average, machine_info  # torch: for the machine's description only

    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores; load average {info['load_average']}", flush=True)
    text, held_out, what = book_texts(args.book, args.chars)
    print(f"book: {what}", flush=True)
    rows = measure(text, held_out, repeats=args.repeats, samples=args.samples)
    after = load_average()
    for section, figure, value, unit in rows:
        print(f"{section:9} {figure:66} {value:10,.3f} {unit}")
    print(f"load average after: {after}")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "machine": {**info, "load_average_after": after}, "book": what, "chars": len(text),
           "command": " ".join(["python -m benchmarks.copying", *(argv if argv is not None else sys.argv[1:])]),
           "repeats": args.repeats, "samples": args.samples,
           "rows": [dict(zip(("section", "figure", "value", "unit"), r)) for r in rows]}
    if not args.no_save:
        print(f"wrote {write_new(doc, 'copying', RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
