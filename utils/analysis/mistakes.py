"""The run's mistakes on valid: its decisions rebuilt from the held-out probabilities, and tables of what went wrong."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import emoji
import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, multilabel_confusion_matrix, precision_recall_fscore_support

from ..core.files import write_csv
from ..core.paths import THRESHOLDS, VALID_PROBS
from ..core.probs_files import INDEX, read_probs
from ..core.splits import LABELS, SPLIT_FILES, TEXT, label_matrix, onehot_to_lists, read_split
from ..core.text import asr_style, fold_yo
from ..thresholds.search import ThresholdChoice, load_thresholds

NAME_WORD = "имя"  # how the test writes a name, and what asr_style makes of valid's [ИМЯ] placeholder
NO_WRONG_LABEL = "(none)"  # the column of mistaken_for counting missed labels on rows with no wrong label predicted
DIRECTIONS = ("false_positive", "false_negative")  # predicted but not true; true but not predicted


@dataclass
class ValidDecisions:
    """The valid rows of a run: texts, true labels, the probabilities the thresholds apply to, the run's 0/1 decisions."""

    texts: list[str]
    y: np.ndarray  # (rows, 7) true labels
    probs: np.ndarray  # (rows, 7) recalibrated when the run's rule recalibrates, else as notebook 03 wrote them
    decisions: np.ndarray  # (rows, 7) the run's decisions: choice.apply(choice.recalibrated(raw probabilities))
    choice: ThresholdChoice

    @property
    def thresholds(self) -> np.ndarray:
        """The 7 thresholds in LABELS order."""
        return np.array([self.choice.thresholds[label] for label in LABELS])


def load_valid_decisions(run_dir: str | Path, data_dir: str | Path) -> ValidDecisions:
    """Valid texts and labels from data_dir; the run's held-out probabilities and decision rule from run_dir."""
    run_dir = Path(run_dir)
    missing = [name for name in (VALID_PROBS, THRESHOLDS) if not (run_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: missing {missing}; notebook 03 writes {VALID_PROBS} and notebook 04 {THRESHOLDS}: "
                                "run them first")
    valid = read_split(Path(data_dir) / SPLIT_FILES["valid"])
    choice = load_thresholds(run_dir / THRESHOLDS)
    probs = choice.recalibrated(read_probs(run_dir / VALID_PROBS, expected_rows=len(valid)))
    data = ValidDecisions(valid[TEXT].tolist(), label_matrix(valid), probs, choice.apply(probs), choice)
    f1 = f1_score(data.y, data.decisions, average="weighted", zero_division=0)
    print(f"{len(valid)} valid rows decided by the run's rule ({choice.mode}, no-label rule {choice.empty_rule}"
          f"{', recalibrated' if choice.recalibration else ''}):\nweighted F1 {f1:.4f} on the rows the thresholds were tuned on "
          f"(cross-validated: {choice.cv_f1:.4f})")
    return data


def per_label_errors(data: ValidDecisions) -> pd.DataFrame:
    """Per label: true rows, predicted rows, true/false positives, false negatives, precision, recall, F1; then a weighted row."""
    counts = multilabel_confusion_matrix(data.y, data.decisions)  # (7, 2, 2): [[tn, fp], [fn, tp]]
    precision, recall, f1, support = precision_recall_fscore_support(data.y, data.decisions, average=None, zero_division=0)
    table = pd.DataFrame({
        "label": LABELS, "rows": support, "predicted": data.decisions.sum(axis=0), "true_pos": counts[:, 1, 1],
        "false_pos": counts[:, 0, 1], "false_neg": counts[:, 1, 0], "precision": precision, "recall": recall, "f1": f1,
    })
    weighted = precision_recall_fscore_support(data.y, data.decisions, average="weighted", zero_division=0)[:3]
    total = table.drop(columns=["label", "precision", "recall", "f1"]).sum()
    return pd.concat([table, pd.DataFrame([{"label": "weighted", **total, **dict(zip(["precision", "recall", "f1"], weighted))}])],
                     ignore_index=True)


def mistaken_for(data: ValidDecisions) -> pd.DataFrame:
    """Rows: a true label the run missed; columns: the labels it predicted there instead, and rows where it predicted none."""
    missed = (data.y == 1) & (data.decisions == 0)
    wrong = (data.decisions == 1) & (data.y == 0)
    table = pd.DataFrame(missed.T.astype(int) @ wrong.astype(int), columns=LABELS)
    table[NO_WRONG_LABEL] = (missed & ~wrong.any(axis=1, keepdims=True)).sum(axis=0)
    table.insert(0, "missed", LABELS)
    return table


def confident_mistakes(data: ValidDecisions, direction: str, n: int = 10) -> pd.DataFrame:
    """The n mistakes of one direction ('false_positive' or 'false_negative') farthest from their label's threshold."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: expected one of {list(DIRECTIONS)}")
    positive = direction == "false_positive"
    mistaken = (data.decisions == 1) & (data.y == 0) if positive else (data.decisions == 0) & (data.y == 1)
    rows, labels = np.nonzero(mistaken)
    margin = data.probs[rows, labels] - data.thresholds[labels]
    order = np.argsort(-margin if positive else margin, kind="stable")[:n]
    rows, labels = rows[order], labels[order]
    true, predicted = onehot_to_lists(data.y[rows]), onehot_to_lists(data.decisions[rows])
    return pd.DataFrame({
        INDEX: rows, "label": [LABELS[k] for k in labels], "probability": data.probs[rows, labels],
        "threshold": data.thresholds[labels], "true labels": [", ".join(names) for names in true],
        "predicted": [", ".join(names) for names in predicted], TEXT: [data.texts[row] for row in rows],
    })


def _length_bins(words: pd.Series, bins: int) -> pd.Series:
    """Words per text in (at most) `bins` quantile groups, named like '4-7 words'."""
    codes, edges = pd.qcut(words, bins, labels=False, retbins=True, duplicates="drop")
    # qcut's bins are (low, high], the first one [low, high]; word counts are whole numbers
    bounds = [(int(low) + (k > 0), int(high)) for k, (low, high) in enumerate(pairwise(edges))]
    names = [f"{low} words" if low == high else f"{low}-{high} words" for low, high in bounds]
    return pd.Series(pd.Categorical.from_codes(codes, names, ordered=True), index=words.index)


def _with_or_without(flags: list[bool], what: str) -> pd.Series:
    return pd.Series(np.where(flags, f"with {what}", f"without {what}"))


def text_groups(texts: list[str], slips: dict[str, str], length_bins: int = 4) -> pd.DataFrame:
    """Per text: its length group (words after ASR-style normalisation), and whether it has emoji, the name word, a slip word."""
    styled = pd.Series([fold_yo(asr_style(text)) for text in texts])
    words = styled.str.split()
    return pd.DataFrame({
        "length": _length_bins(words.str.len(), length_bins),
        "emoji": _with_or_without([emoji.emoji_count(text) > 0 for text in texts], "emoji"),
        "name": _with_or_without([NAME_WORD in tokens for tokens in words], f"'{NAME_WORD}'"),
        "slip word": _with_or_without([any(token in slips for token in tokens) for tokens in words], "a slip word"),
    })


def f1_by_group(data: ValidDecisions, groups: pd.DataFrame) -> pd.DataFrame:
    """Rows, share and weighted F1 of the run's decisions in each group of each grouping (a column of text_groups), after
    one row for all rows (grouping 'all')."""
    everything = pd.Series("all rows", index=groups.index)
    records = []
    for grouping, values in [("all", everything), *groups.items()]:
        order = values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype) else sorted(values.unique())
        for value in order:
            rows = (values == value).to_numpy()
            if rows.any():
                records.append({"grouping": grouping, "group": value, "rows": int(rows.sum()), "share": rows.mean(),
                                "weighted_f1": f1_score(data.y[rows], data.decisions[rows], average="weighted", zero_division=0)})
    return pd.DataFrame(records)


def save_table(frame: pd.DataFrame, path: str | Path):
    """Write the table as CSV (atomically) and return it styled for a notebook: no index, 3 decimals, texts in full."""
    write_csv(frame, path)
    return frame.style.hide(axis="index").format(precision=3)

