"""What a word model learns about words: nearest neighbours and a 2-D map of its input embeddings.

    python -m wordgen.tasks.embeddings                                   # Shakespeare, 150 s of training
    python -m wordgen.tasks.embeddings --checkpoint runs/word_level_book/model --words king love night

After word-level training (or with a reused model), every word has a vector
in the embedding matrix. This task lists, for a few words, the words whose
vectors point the same way (cosine similarity, scikit-learn NearestNeighbors,
searched among the most frequent words), and draws the most frequent words in
two dimensions with PCA and t-SNE, labelled. Writes
runs/embeddings/{model/, embeddings.png, report.txt, results.json}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wordgen.analysis.embeddings import (
    embedding_matrix,
    frequent_tokens,
    map_figure,
    nearest_neighbours,
    project_2d,
    token_label,
)
from wordgen.errors import ConfigError
from wordgen.tasks import (
    WORD_TOKENIZER,
    Report,
    add_book_option,
    add_out_option,
    add_training_options,
    obtain_model,
    run_task,
)

PROG = "python -m wordgen.tasks.embeddings"
DEFAULT_WORDS = ("king", "queen", "love", "death", "night", "sword", "father", "eyes", "good", "three",
                 "thee", "said", "go")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a word-level model (or reuse one) and explore its learned input embeddings: "
                    "nearest neighbours by cosine similarity and a labelled 2-D map (PCA and t-SNE) of the "
                    "most frequent words.",
        epilog="Words not in the model's vocabulary are reported and skipped.",
    )
    add_book_option(p, default=None)
    p.add_argument("--words", nargs="+", default=list(DEFAULT_WORDS),
                   help=f"words to find neighbours for (default: {' '.join(DEFAULT_WORDS)})")
    p.add_argument("--neighbours", type=int, default=8, help="neighbours per word (default: 8)")
    p.add_argument("--among", type=int, default=3000,
                   help="search neighbours among this many most frequent words; rarer words have barely "
                        "trained vectors (default: 3000)")
    p.add_argument("--map-words", type=int, default=250, help="most frequent words on the map (default: 250)")
    p.add_argument("--tsne-max-words", type=int, default=1500,
                   help="draw the t-SNE map only up to this many words, since its time grows faster than "
                        "PCA's; 0 turns it off (default: 1500)")
    add_training_options(p, time_budget=150.0)
    add_out_option(p, "embeddings")
    return p


def body(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = Report(out)
    for name in ("neighbours", "among", "map_words"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.map_words < 3:
        raise ConfigError(f"--map-words must be at least 3 for a map, got {args.map_words}")

    model = obtain_model(args, tokenizer=WORD_TOKENIZER, out=out / "model", checkpoint=args.checkpoint)
    bundle = model.bundle
    tokenizer = bundle.tokenizer
    say(f"book: {model.book}")
    say(model.describe())
    vectors = embedding_matrix(bundle.model)  # (V, E)
    ranked = frequent_tokens(tokenizer, model.dataset["train"]["text"], n=max(args.among, args.map_words))
    say(f"embedding matrix: {vectors.shape[0]:,} tokens x {vectors.shape[1]} dimensions; "
        f"{len(ranked):,} words searched and mapped by frequency in the training text")

    known = [w for w in args.words if tokenizer.token_to_id(w) is not None]
    missing = [w for w in args.words if tokenizer.token_to_id(w) is None]
    if missing:
        say(f"not in the vocabulary, skipped: {', '.join(missing)}")
    if not known:
        raise ConfigError(f"none of the words ({', '.join(args.words)}) is in the model's vocabulary; "
                          "choose words from the book with --words")
    candidates = [i for i, _ in ranked[: args.among]]
    found = nearest_neighbours(vectors, [tokenizer.token_to_id(w) for w in known], candidates, k=args.neighbours)
    say(f"\nnearest neighbours (cosine similarity, among the {len(candidates):,} most frequent words):")
    neighbours = {}
    for word, row in zip(known, found):
        neighbours[word] = [(token_label(tokenizer, i), round(sim, 3)) for i, sim in row]
        say(f"  {word:>8}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours[word]))

    mapped = [i for i, _ in ranked[: args.map_words]]
    labels = [token_label(tokenizer, i) for i in mapped]
    points, timings = {}, {}
    methods = ["pca"] + (["tsne"] if len(mapped) <= args.tsne_max_words else [])
    for method in methods:
        t0 = time.perf_counter()
        points[method] = project_2d(vectors[mapped], method, seed=args.seed)  # (N, 2)
        timings[method] = time.perf_counter() - t0
    if "tsne" not in points:
        say(f"t-SNE skipped: {len(mapped)} words is more than --tsne-max-words {args.tsne_max_words}")
    titles = {"pca": "PCA: the two directions of largest spread",
              "tsne": "t-SNE: neighbours kept close, distances between groups not to scale"}
    fig = map_figure({titles[m]: p for m, p in points.items()}, labels,
                     title=f"Input embeddings of the {len(mapped)} most frequent words "
                           f"({bundle.config.tokenizer} model on {model.book})")
    fig.savefig(out / "embeddings.png", dpi=90)
    say(f"\nmap of the {len(mapped)} most frequent words: "
        + ", ".join(f"{m.upper()} {timings[m]:.1f} s" for m in methods) + f" -> {out / 'embeddings.png'}")
    say("What to look for: after minutes of training, words that play the same part in a sentence sit "
        "together -- pronouns (me, him, thee, you), possessives (my, thy, his, your), auxiliaries (shall, "
        "will); words that share a meaning (king and duke, night and day) need far longer training.")
    say(f"\noutputs: {out}/  (embeddings.png, report.txt, results.json); "
        f"finished in {time.perf_counter() - start:.0f} s")
    say.save({"book": model.book, "neighbours": neighbours, "missing": missing,
              "map_words": labels, "projection_seconds": timings})


def main(argv: list[str] | None = None) -> int:
    return run_task(PROG, build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
