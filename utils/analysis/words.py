"""The words that push each label up: the largest coefficients of the run's TF-IDF member."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.paths import LINEAR_DIR
from ..core.splits import LABELS
from ..training.tfidf import TfidfClassifier


def load_linear_member(run_dir: str | Path) -> TfidfClassifier | None:
    """The run's TF-IDF member (runs/<name>/tfidf/), or None with a notice when the run has none."""
    folder = Path(run_dir) / LINEAR_DIR
    if not folder.is_dir():
        print(f"No TF-IDF member in {folder} (the run trained with tfidf.weight = 0): no word weights to show.")
        return None
    return TfidfClassifier.load(folder)


def word_weights(member: TfidfClassifier, n: int = 12, kind: str = "words") -> pd.DataFrame:
    """Per label, the n terms of one vectorizer ('words', 'chars' or 'lemmas') with the largest coefficient, averaged over
    the member's regression sets (one per fold)."""
    if kind not in member.vectorizers:
        raise ValueError(f"no {kind!r} features in this TF-IDF member; it has {list(member.vectorizers)}")
    start = 0  # the features are the vectorizers' outputs side by side, in the dict's order (TfidfClassifier.features)
    for name, vectorizer in member.vectorizers.items():
        terms = vectorizer.get_feature_names_out()
        if name == kind:
            break
        start += len(terms)
    coef = member.coef.mean(axis=0)[:, start : start + len(terms)]
    records = []
    for label, weights in zip(LABELS, coef):
        for column in np.argsort(-weights, kind="stable")[:n]:
            records.append({"label": label, "term": terms[column], "weight": float(weights[column])})
    return pd.DataFrame(records)
