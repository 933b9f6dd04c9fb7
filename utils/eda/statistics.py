"""Exploratory statistics of the splits: alphabets, labels, lengths, frequent words, vocabulary cover, duplicates."""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import emoji
import numpy as np
import pandas as pd

from ..core.files import write_text
from ..core.navec import oov_rate
from ..core.paths import EXPANDED_TRAIN
from ..core.settings import RunConfig
from ..core.splits import (
    LABELS,
    SOURCE,
    TEXT,
    label_matrix,
    load_competition,
    read_split,
    warn_absent_labels,
)
from ..core.text import asr_style, fold_yo, make_preprocessor

NORMALISED = "normalised"  # the column holding the kit's normalised text
UNLABELLED = ("test",)  # splits whose label columns are placeholders
CARDINALITY = ["0", "1", "2", "3+"]
CHARACTER_INFO = ["class", "name", "missing_from"]  # the columns of compare_alphabets that are not split counts


def load_eda_splits(config: RunConfig) -> dict[str, pd.DataFrame]:
    """train, valid, test and (when notebook 02 wrote it) train_expanded, each with a `normalised` text column."""
    competition = load_competition(config.data_dir)
    splits = {"train": competition.train, "valid": competition.valid, "test": competition.test}
    expanded = config.run_dir / EXPANDED_TRAIN
    if expanded.is_file():
        splits["train_expanded"] = read_split(expanded, extra_columns=(SOURCE,))
    else:
        print(f"No expanded train at {expanded} yet (notebook 02 writes it); showing the competition splits only.")
    for name in ("train", "train_expanded"):
        if name in splits:
            warn_absent_labels(splits[name], name, splits["valid"], config.train.folds)
    preprocess = make_preprocessor(config.text)
    return {name: frame.assign(**{NORMALISED: [preprocess(text) for text in frame[TEXT]]}) for name, frame in splits.items()}


def labelled(splits: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The splits that carry real labels (all but the test)."""
    return {name: frame for name, frame in splits.items() if name not in UNLABELLED}


def get_alphabet(texts: Iterable[str]) -> Counter:
    """Every character of `texts` with its number of occurrences."""
    return Counter("".join(texts))


def character_class(char: str) -> str:
    """A coarse class of one character: Cyrillic capital/small, Latin, digit, space, punctuation, emoji, ..."""
    if char.isspace():
        return "space"
    if char.isdigit():
        return "digit"
    if char.isalpha():
        name = unicodedata.name(char, "")
        if name.startswith("CYRILLIC"):
            return "Cyrillic capital" if char.isupper() else "Cyrillic small"
        return "Latin" if name.startswith("LATIN") else "other letter"
    if emoji.is_emoji(char):
        return "emoji"
    kind = unicodedata.category(char)
    return {"P": "punctuation", "S": "symbol"}.get(kind[0], "other")


def compare_alphabets(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per character: its class, Unicode name, count in each split and the splits it is missing from."""
    names = list(splits)
    counts = pd.DataFrame({name: get_alphabet(frame[TEXT]) for name, frame in splits.items()}, columns=names)
    counts = counts.fillna(0).astype("int64")
    table = pd.DataFrame(
        {
            "class": [character_class(char) for char in counts.index],
            "name": [unicodedata.name(char, f"U+{ord(char):04X}") for char in counts.index],
        },
        index=counts.index,
    ).join(counts)
    table["missing_from"] = [", ".join(n for n, seen in zip(names, row) if not seen) for row in (counts > 0).to_numpy()]
    table.index.name = "char"
    return table.assign(total=counts.sum(axis=1)).sort_values(["class", "total"], ascending=[True, False]).drop(columns="total")


def alphabet_differences(table: pd.DataFrame, per_class: int | None = None) -> pd.DataFrame:
    """The characters that occur in some splits but not in others (from compare_alphabets); optionally only the
    `per_class` most frequent of each character class."""
    differences = table[table["missing_from"] != ""]
    return differences if per_class is None else differences.groupby("class", sort=False).head(per_class)


def alphabet_by_class(table: pd.DataFrame) -> pd.DataFrame:
    """Per character class and split: distinct characters and their share of all characters of the split."""
    splits = [col for col in table.columns if col not in CHARACTER_INFO]
    occurrences = table.groupby("class")[splits].sum()
    distinct = (table[splits] > 0).groupby(table["class"]).sum()
    share = occurrences / occurrences.sum().replace(0, 1)
    return pd.concat({"distinct": distinct, "share": share}, axis=1)


def label_counts(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows carrying each label in each labelled split: split, label, count, share of the split's rows."""
    rows = []
    for name, frame in labelled(splits).items():
        counts = frame[LABELS].sum()
        rows += [{"split": name, "label": label, "count": int(counts[label]), "share": counts[label] / max(len(frame), 1)}
                 for label in LABELS]
    return pd.DataFrame(rows, columns=["split", "label", "count", "share"])


def cooccurrence(frame: pd.DataFrame) -> pd.DataFrame:
    """7x7 counts of rows that carry both labels; the diagonal holds each label's row count."""
    matrix = label_matrix(frame)
    return pd.DataFrame(matrix.T @ matrix, index=LABELS, columns=LABELS)


def conditional_cooccurrence(counts: pd.DataFrame) -> pd.DataFrame:
    """Share of the rows with the row's label that also carry the column's label (diagonal left empty)."""
    diagonal = np.diag(counts.to_numpy()).astype(float)
    shares = counts.div(np.where(diagonal == 0, 1, diagonal), axis=0)
    return shares.mask(np.eye(len(counts), dtype=bool))


def label_cardinality(frame: pd.DataFrame) -> pd.Series:
    """Rows with 0, 1, 2 and 3 or more labels."""
    per_row = np.minimum(label_matrix(frame).sum(axis=1), 3)
    return pd.Series(np.bincount(per_row, minlength=4), index=CARDINALITY, name="rows")


def text_lengths(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per text: split, characters of the raw text, words after normalisation, and the labels."""
    parts = [
        frame[LABELS].assign(split=name, chars=frame[TEXT].str.len(), words=frame[NORMALISED].str.split().str.len())
        for name, frame in splits.items()
    ]
    return pd.concat(parts, ignore_index=True)[["split", "chars", "words", *LABELS]]


def length_summary(lengths: pd.DataFrame) -> pd.DataFrame:
    """Mean, median, 95th percentile and maximum of characters and words per split."""
    stats = lengths.groupby("split", sort=False)[["chars", "words"]].describe(percentiles=[0.5, 0.95])
    return stats.drop(columns=["count", "std", "min"], level=1).round(1)


def lengths_by_label(lengths: pd.DataFrame) -> pd.DataFrame:
    """Lengths of the labelled rows, once for each label a row carries: split, label, chars, words."""
    rows = lengths[~lengths["split"].isin(UNLABELLED)]
    long = rows.melt(id_vars=["split", "chars", "words"], value_vars=LABELS, var_name="label", value_name="carries")
    return long[long["carries"] == 1].drop(columns="carries").reset_index(drop=True)


def word_counts(texts: Iterable[str]) -> Counter:
    """Occurrences of each whitespace-separated word."""
    return Counter(word for text in texts for word in text.split())


def top_words(frame: pd.DataFrame, n: int, skip_common: int) -> pd.DataFrame:
    """The n most frequent normalised words of each label, leaving out the frame's `skip_common` most frequent words."""
    common = {word for word, _ in word_counts(frame[NORMALISED]).most_common(skip_common)}
    rows = []
    for label in LABELS:
        counts = word_counts(frame.loc[frame[label] == 1, NORMALISED])
        ranked = [(word, count) for word, count in counts.most_common() if word not in common][:n]
        rows += [{"label": label, "rank": rank, "word": word, "count": count} for rank, (word, count) in enumerate(ranked, 1)]
    return pd.DataFrame(rows, columns=["label", "rank", "word", "count"])


def oov_table(splits: dict[str, pd.DataFrame], vocabulary, examples: int) -> pd.DataFrame:
    """Per split: normalised tokens, the share not in `vocabulary` (tokens and distinct words), the most frequent ones."""
    rows = []
    for name, frame in splits.items():
        counts = word_counts(frame[NORMALISED])
        missing = Counter({word: count for word, count in counts.items() if word not in vocabulary})
        rows.append(
            {
                "split": name,
                "tokens": sum(counts.values()),
                "oov_rate": oov_rate(frame[NORMALISED], vocabulary),
                "distinct_words": len(counts),
                "distinct_oov_rate": len(missing) / max(len(counts), 1),
                "frequent_oov": ", ".join(f"{word} ({count})" for word, count in missing.most_common(examples)),
            }
        )
    return pd.DataFrame(rows)


def asr_key(text: str) -> str:
    """The form two texts share when they differ only in case, punctuation, spacing or ё."""
    return fold_yo(asr_style(text))


def duplicates_between(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """For each pair of splits: rows of the second whose text occurs in the first, exactly and after ASR normalisation."""
    keys = {name: (frame[TEXT], frame[TEXT].map(asr_key)) for name, frame in splits.items()}
    rows = []
    for first, second in combinations(splits, 2):
        (first_exact, first_asr), (second_exact, second_asr) = keys[first], keys[second]
        rows.append(
            {
                "first": first,
                "second": second,
                "exact": int(second_exact.isin(set(first_exact)).sum()),
                "asr_normalised": int(second_asr.isin(set(first_asr)).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["first", "second", "exact", "asr_normalised"])


def split_facts(frame: pd.DataFrame, has_labels: bool) -> dict:
    """Rows, empty texts (raw and after normalisation), repeated texts; for labelled splits also label facts."""
    facts = {
        "rows": len(frame),
        "empty_texts": int((frame[TEXT].str.strip() == "").sum()),
        "empty_after_normalisation": int((frame[NORMALISED] == "").sum()),
        "repeated_texts": int(frame[TEXT].duplicated().sum()),
    }
    if has_labels:
        matrix, rows = label_matrix(frame), max(len(frame), 1)
        per_row = matrix.sum(axis=1)
        conflicting = frame.groupby(TEXT)[LABELS].nunique().gt(1).any(axis=1)
        facts.update(
            conflicting_labels=int(conflicting.sum()),
            multi_label_share=round(float((per_row >= 2).sum() / rows), 4),
            no_label_share=round(float((per_row == 0).sum() / rows), 4),
            label_share={label: round(float(count / rows), 4) for label, count in zip(LABELS, matrix.sum(axis=0))},
        )
    return facts


def summarize(splits: dict[str, pd.DataFrame], oov: pd.DataFrame | None = None) -> dict:
    """The facts worth knowing before modelling, as a JSON-ready mapping (see describe_summary)."""
    summary = {
        "splits": {name: split_facts(frame, name not in UNLABELLED) for name, frame in splits.items()},
        "duplicates_between_splits": duplicates_between(splits).to_dict(orient="records"),
    }
    if oov is not None:
        summary["navec_oov_rate"] = {name: round(float(rate), 4) for name, rate in zip(oov["split"], oov["oov_rate"])}
    return summary


def describe_summary(summary: dict) -> str:
    """The summary as a few readable lines."""
    lines = []
    for name, facts in summary["splits"].items():
        line = (f"{name}: {facts['rows']:,} rows, {facts['empty_texts']} empty "
                f"({facts['empty_after_normalisation']} after normalisation), {facts['repeated_texts']} repeated texts")
        if "label_share" in facts:
            line += (f" ({facts['conflicting_labels']} with conflicting labels); multi-label {facts['multi_label_share']:.1%}, "
                     f"no label {facts['no_label_share']:.1%}")
            line += "\n    " + ", ".join(f"{label} {share:.1%}" for label, share in facts["label_share"].items())
        lines.append(line)
    lines.append("Rows of the second split whose text is in the first (exact / after ASR normalisation):")
    lines += [f"    {pair['first']} -> {pair['second']}: {pair['exact']} / {pair['asr_normalised']}"
              for pair in summary["duplicates_between_splits"]]
    if "navec_oov_rate" in summary:
        lines.append("navec out-of-vocabulary tokens: "
                     + ", ".join(f"{name} {rate:.1%}" for name, rate in summary["navec_oov_rate"].items()))
    return "\n".join(lines)


def write_summary(summary: dict, path: str | Path) -> None:
    """Write the summary as indented UTF-8 JSON, atomically."""
    write_text(path, json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
