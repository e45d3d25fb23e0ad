"""Corpora through Hugging Face `datasets`: ``hf:NAME`` or ``hf:NAME:CONFIG``.

NAME is a Hub id, a local folder of parquet/json/csv files (both through
`datasets.load_dataset`), or a folder written by `save_to_disk` (through
`datasets.load_from_disk`). The publisher's splits are kept, renamed to
train / validation / test ("dev", "valid" and "val" count as validation); a
missing validation or test split is carved out of train with the seed. One text
column is kept, renamed to `text`.

With `streaming=True` the dataset comes through `datasets.load_dataset(...,
streaming=True)` as `IterableDataset`s: rows are read (downloaded) as they are
reached and no arrow copy is written, for corpora larger than the disk cache would
like to hold. A streamed split has no length, so a missing validation or test split
is carved by position instead of by a shuffle: one row in 20 (the
`DEFAULT_FRACTIONS[1]` share) goes to each, at an offset set by the seed. A
`save_to_disk` folder is already arrow on disk and is iterated from there.

Deliberately not here: downloading anything ourselves (Hub downloads and caching are
left to `datasets`), and dropping or rewriting rows.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from wordgen._io import expand, first_line
from wordgen.corpora.splits import DEFAULT_FRACTIONS, SPLITS
from wordgen.errors import CorpusError

# Other names publishers use for the validation split.
_SPLIT_ALIASES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test",),
}


def load_hub(rest: str, *, seed: int, text_column: str, streaming: bool = False):
    """`rest` is what follows "hf:" in a corpus spec: NAME or NAME:CONFIG."""
    name, _, config = rest.partition(":")
    name, config = name.strip(), config.strip() or None
    if not name:
        raise CorpusError("name a dataset after 'hf:', e.g. hf:wikitext:wikitext-2-raw-v1 or hf:path/to/folder")
    raw = _read(name, config, streaming)
    splits = _canonical_splits(raw, name)
    if streaming:
        splits = {split: _only_streamed_text_column(ds, text_column, name) for split, ds in splits.items()}
        return _carve_streamed_splits(splits, seed=seed)
    splits = {split: _only_text_column(ds, text_column, name) for split, ds in splits.items()}
    return _fill_missing_splits(splits, name, seed=seed)


def _read(name: str, config: str | None, streaming: bool):
    folder = expand(name)
    try:
        if _is_saved_to_disk(folder):
            loaded = datasets.load_from_disk(str(folder))
            if streaming:  # already arrow on disk: iterate it from there
                parts = loaded if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
                return datasets.IterableDatasetDict({k: v.to_iterable_dataset() for k, v in parts.items()})
        else:
            loaded = datasets.load_dataset(name, config, streaming=streaming)
    except Exception as err:  # any failure in datasets is a user-facing load failure
        raise CorpusError(_failure_message(name, err)) from None
    if isinstance(loaded, datasets.Dataset):  # a single saved Dataset: treat it as train
        return datasets.DatasetDict({"train": loaded})
    if isinstance(loaded, datasets.IterableDataset):
        return datasets.IterableDatasetDict({"train": loaded})
    if not isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise CorpusError(f"Hugging Face dataset '{name}' loaded as a {type(loaded).__name__}, not a DatasetDict")
    return loaded


def _is_saved_to_disk(folder: Path) -> bool:
    # save_to_disk leaves these files behind (a DatasetDict, or a single Dataset);
    # load_dataset cannot read such a folder, so it must be told apart up front.
    if not folder.is_dir():
        return False
    if (folder / "dataset_dict.json").is_file():
        return True
    return (folder / "dataset_info.json").is_file() and (folder / "state.json").is_file()


def _failure_message(name: str, err: Exception) -> str:
    # datasets' messages can run over several lines (file lists, hints); a CorpusError
    # is one line, and the first line is the one that says what went wrong.
    detail = first_line(err) if str(err).strip() else "no details"
    return (
        f"could not load Hugging Face dataset '{name}': {type(err).__name__}: {detail} "
        "(check the name and your network, or use a local copy: hf:path/to/folder, with HF_HUB_OFFLINE=1)"
    )


def _canonical_splits(raw: datasets.DatasetDict, name: str) -> dict[str, datasets.Dataset]:
    splits = {}
    for canonical, aliases in _SPLIT_ALIASES.items():
        found = [alias for alias in aliases if alias in raw]
        if found:
            splits[canonical] = raw[found[0]]
    if "train" not in splits:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has no 'train' split (it has: {', '.join(raw) or 'none'})"
        )
    return splits


def _only_text_column(ds: datasets.Dataset, column: str, name: str) -> datasets.Dataset:
    if column not in ds.column_names:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has no column '{column}' (columns: {', '.join(ds.column_names)}): "
            "pass text_column=<one of them>"
        )
    feature = ds.features[column]
    if not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise CorpusError(f"column '{column}' of Hugging Face dataset '{name}' holds {feature}, not text: pick a text column")
    ds = ds.select_columns([column])
    return ds if column == "text" else ds.rename_column(column, "text")


def _only_streamed_text_column(ds: datasets.IterableDataset, column: str, name: str) -> datasets.IterableDataset:
    """`_only_text_column` for a streamed split; its first row stands in for unknown features."""
    if ds.features is not None:
        features = ds.features
        columns = list(features)
        is_text = column in features and isinstance(features[column], datasets.Value) and \
            features[column].dtype in ("string", "large_string")
    else:  # json and text streams know their columns only once a row is read
        try:
            first = next(iter(ds.take(1)), None)
        except Exception as err:
            raise CorpusError(_failure_message(name, err)) from None
        if first is None:
            raise CorpusError(f"a split of Hugging Face dataset '{name}' is empty")
        columns, is_text = list(first), isinstance(first.get(column), str)
    if column not in columns:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has no column '{column}' (columns: {', '.join(columns)}): "
            "pass text_column=<one of them>"
        )
    if not is_text:
        raise CorpusError(f"column '{column}' of Hugging Face dataset '{name}' does not hold text: pick a text column")
    ds = ds.select_columns([column])
    return ds if column == "text" else ds.rename_column(column, "text")


def _carve_streamed_splits(splits: dict, *, seed: int) -> datasets.IterableDatasetDict:
    """Missing validation / test splits of a stream: every 20th row each, at offsets set by `seed`."""
    every = round(1 / DEFAULT_FRACTIONS[1])  # 20: the same share as a carved in-memory split
    missing = [split for split in ("validation", "test") if split not in splits]
    offsets = {split: (seed + k) % every for k, split in enumerate(missing)}
    train = splits["train"]
    for split, offset in offsets.items():
        splits[split] = train.filter(lambda _, i, offset=offset: i % every == offset, with_indices=True)
    if offsets:
        held = set(offsets.values())
        splits["train"] = train.filter(lambda _, i: i % every not in held, with_indices=True)
    return datasets.IterableDatasetDict({split: splits[split] for split in SPLITS})


def _fill_missing_splits(splits: dict[str, datasets.Dataset], name: str, *, seed: int) -> datasets.DatasetDict:
    """Carve missing validation/test splits out of train, a `DEFAULT_FRACTIONS[1]` share each, with `seed`."""
    train = splits["train"]
    missing = [split for split in ("validation", "test") if split not in splits]
    needed = len(missing) + 1
    if len(train) < needed:
        raise CorpusError(
            f"Hugging Face dataset '{name}' has only {len(train)} train row(s): too few to carve out "
            f"{' and '.join(missing)}; it needs at least {needed}"
        )
    # Counts, not fractions, so tiny datasets still get one row per carved split.
    n_held_out = max(1, round(len(train) * DEFAULT_FRACTIONS[1]))
    for split in missing:
        carved = splits["train"].train_test_split(test_size=n_held_out, seed=seed)
        splits["train"], splits[split] = carved["train"], carved["test"]
    for split in SPLITS:
        if len(splits[split]) == 0:
            raise CorpusError(f"the '{split}' split of Hugging Face dataset '{name}' is empty")
    return datasets.DatasetDict({split: splits[split] for split in SPLITS})
