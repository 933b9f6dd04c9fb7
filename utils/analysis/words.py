"""The words that push each label up: the largest coefficients of the run's TF-IDF member (a member of kind tfidf)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.run_record import read_record
from ..core.splits import LABELS
from ..members.tfidf import TfidfClassifier, TfidfMember
from ..training.contract import TRAINING


def load_linear_member(run_dir: str | Path) -> TfidfClassifier | None:
    """The run's first member of kind tfidf (as notebook 03 recorded it), or None with a notice when the run has none."""
    members = read_record(run_dir).get("steps", {}).get(TRAINING, {}).get("members", {})
    path = next((member["path"] for name, member in members.items() if member.get("kind", name) == TfidfMember.kind), None)
    if path is None or not (Path(run_dir) / path).is_dir():
        print(f"No TF-IDF member in run {Path(run_dir).name} (its members: {sorted(members)}): no word weights to show.")
        return None
    return TfidfClassifier.load(Path(run_dir) / path)


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
