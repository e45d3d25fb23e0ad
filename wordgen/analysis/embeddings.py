"""What the model learned about words: its input embeddings, explored with scikit-learn.

Every token id has a row in the model's embedding matrix (V, E). Training
pushes tokens that are used alike towards similar rows, so after a few minutes
on a book "king" sits near "duke" and "thee" near "him". This module reads
those rows and

* `nearest_neighbours` -- finds, for some tokens, the tokens whose rows point
  the same way (cosine similarity, scikit-learn `NearestNeighbors`);
* `frequent_tokens` -- ranks tokens by how often the training text uses them,
  so maps and neighbour searches can stay among tokens the model saw often
  (a row seen twice in training is still mostly its random initialisation);
* `project_2d` -- squeezes rows into two dimensions with PCA (linear, fast,
  keeps the broad directions) or t-SNE (non-linear, slower, keeps local
  neighbourhoods);
* `map_figure` -- draws the projections with a label on every point.

With tied weights (the default with a full softmax, `ModelConfig.tie_weights`)
the embedding is also the output matrix, so the rows are shaped by what the
model predicts as well as by what it reads.

What it deliberately does not do: train anything, evaluate analogies
("king - man + woman"), save files or show windows -- `map_figure` returns a
matplotlib `Figure` that the caller saves or displays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from wordgen.errors import ConfigError
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import Tokenizer


def embedding_matrix(model: LSTMLanguageModel) -> np.ndarray:
    """The input embedding as a float32 NumPy array (V, E), copied off the model's device."""
    return model.embedding.weight.detach().float().cpu().numpy().copy()


def token_label(tokenizer: Tokenizer, token_id: int) -> str:
    """How a token reads in text: decoded (a BPE "Ġking" reads "king"), a newline shown as "⏎"."""
    text = tokenizer.decode([token_id])
    return "⏎" if text == "\n" else text.strip() or repr(text)


def frequent_tokens(tokenizer: Tokenizer, texts: Iterable[str], n: int | None = None, words_only: bool = True) -> list[tuple[int, int]]:
    """(token id, count) of the `n` most frequent tokens of `texts`, most frequent first.

    words_only keeps tokens that read as a word (a letter or digit in their
    label), dropping punctuation, line breaks and special tokens such as
    `<unk>`. Ties are broken by id so the order is repeatable.
    """
    counts: Counter[int] = Counter()
    for ids in tokenizer.encode_batch(list(texts)):
        counts.update(ids)
    special = {tokenizer.token_to_id(t) for t in tokenizer.special_tokens}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    out = []
    for token_id, count in ranked:
        if token_id in special:
            continue
        if words_only and not any(ch.isalnum() for ch in token_label(tokenizer, token_id)):
            continue
        out.append((token_id, count))
        if n is not None and len(out) == n:
            break
    return out


def nearest_neighbours(
    vectors: np.ndarray, query_ids: Sequence[int], candidate_ids: Sequence[int], k: int = 8
) -> list[list[tuple[int, float]]]:
    """For each query row, the `k` candidate rows most similar by cosine: [(id, similarity), ...].

    vectors (V, E) is the embedding matrix; ids index its rows. A query never
    counts as its own neighbour. Candidates are usually the frequent tokens
    (`frequent_tokens`): rare tokens have barely trained rows that land near
    anything.
    """
    from sklearn.neighbors import NearestNeighbors  # imported here: sklearn is slow to import

    if k < 1:
        raise ConfigError(f"the number of neighbours must be at least 1, got {k}")
    candidates = np.asarray(list(candidate_ids), dtype=np.int64)  # (C,)
    if candidates.size == 0:
        raise ConfigError("no candidate tokens to search among")
    queries = np.asarray(list(query_ids), dtype=np.int64)  # (Q,)
    # One extra neighbour, because a query that is itself a candidate finds itself first.
    wanted = min(k + 1, candidates.size)
    # Brute force: exact cosine distances for a few thousand rows take milliseconds.
    index = NearestNeighbors(n_neighbors=wanted, metric="cosine", algorithm="brute").fit(vectors[candidates])
    distances, positions = index.kneighbors(vectors[queries])  # (Q, wanted) each
    result = []
    for query, dist_row, pos_row in zip(queries.tolist(), distances, positions):
        found = [(int(candidates[p]), float(1.0 - d)) for d, p in zip(dist_row, pos_row) if candidates[p] != query]
        result.append(found[:k])
    return result


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Rows (N, E) -> points (N, 2) by "pca" or "tsne", after scaling every row to length 1.

    Unit rows make both maps agree with cosine similarity, the measure the
    neighbour search uses: a frequent word's row is often longer, and without
    the scaling length alone would spread the map. t-SNE's perplexity (the
    effective number of neighbours each point keeps close) is 30, lowered for
    small sets because it must stay below the number of points.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n = vectors.shape[0]
    if n < 3:
        raise ConfigError(f"a 2-D map needs at least 3 tokens, got {n}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # (N, 1)
    unit = vectors / np.maximum(norms, 1e-12)  # (N, E)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(unit)  # (N, 2)
    if method == "tsne":
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        perplexity = float(min(30.0, (n - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
        # One OpenMP thread: for a few hundred points the threads save little, and on
        # a busy machine their busy-waiting made even a tiny t-SNE many times slower.
        with threadpool_limits(limits=1, user_api="openmp"):
            return tsne.fit_transform(unit)  # (N, 2)
    raise ConfigError(f"unknown projection {method!r}: use 'pca' or 'tsne'")


def map_figure(panels: dict[str, np.ndarray], labels: Sequence[str], title: str = "", panel_size: float = 8.0):
    """One labelled scatter plot per projection, side by side; returns a matplotlib Figure.

    panels maps a panel title to points (N, 2), in the order of `labels`. The
    figure is built without pyplot, so nothing opens a window and no global
    state changes: call `fig.savefig(path)`, or display it in a notebook.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel_size * len(panels), panel_size), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, points) in zip(axes, panels.items()):
        if len(points) != len(labels):
            raise ValueError(f"panel {name!r} has {len(points)} points for {len(labels)} labels")
        ax.scatter(points[:, 0], points[:, 1], s=4, color="tab:blue", alpha=0.5)
        for (x, y), label in zip(points, labels):
            ax.annotate(label, (x, y), fontsize=6.5, alpha=0.85, xytext=(2, 2), textcoords="offset points")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig
