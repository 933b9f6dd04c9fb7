"""The linear member: TF-IDF of words and characters -> one logistic regression per label, saved without pickle."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from .config import TextConfig, TfidfConfig
from .data import LABELS
from .files import atomic_path, write_text
from .text import make_preprocessor

SETTINGS_FILE, VOCABULARY_FILE, ARRAYS_FILE = "tfidf.json", "vocabulary.json", "tfidf.safetensors"


def _vectorizers(config: TfidfConfig, vocabularies: dict | None = None) -> dict[str, TfidfVectorizer]:
    """Word 1..word_ngram_max and character-in-word char_ngram_min..char_ngram_max TF-IDF vectorizers."""
    vocabularies = vocabularies or {}
    common = {"sublinear_tf": True, "dtype": np.float32}
    return {
        "words": TfidfVectorizer(ngram_range=(1, config.word_ngram_max), min_df=config.min_df, max_features=config.max_word_features,
                                 token_pattern=r"(?u)\b\w+\b", vocabulary=vocabularies.get("words"), **common),
        "chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max), min_df=config.min_df,
                                 max_features=config.max_char_features, vocabulary=vocabularies.get("chars"), **common),
    }


class TfidfClassifier:
    """TF-IDF features of the preprocessed text and 7 independent logistic regressions."""

    def __init__(self, config: TfidfConfig, text: TextConfig):
        self.config, self.text = config, text
        self.preprocess = make_preprocessor(text)
        self.vectorizers = _vectorizers(config)
        self.coef = np.zeros((len(LABELS), 0), dtype=np.float32)
        self.intercept = np.zeros(len(LABELS), dtype=np.float32)

    def features(self, texts: Sequence[str]):
        clean = [self.preprocess(text) for text in texts]
        return hstack([vectorizer.transform(clean) for vectorizer in self.vectorizers.values()]).tocsr()

    def fit(self, texts: Sequence[str], labels: np.ndarray, vocabulary_texts: Sequence[str] = ()) -> "TfidfClassifier":
        """Learn the vocabularies (from `texts` plus unlabelled `vocabulary_texts`), then one regression per label."""
        clean = [self.preprocess(text) for text in [*texts, *vocabulary_texts]]
        for vectorizer in self.vectorizers.values():
            vectorizer.fit(clean)
        features = self.features(texts)
        coef, intercept = [], []
        for label in range(len(LABELS)):
            regression = LogisticRegression(C=self.config.C, solver="saga", tol=self.config.tol, max_iter=self.config.max_iter,
                                            class_weight=self.config.class_weight, random_state=0)
            regression.fit(features, labels[:, label])
            coef.append(regression.coef_[0])
            intercept.append(regression.intercept_[0])
        self.coef, self.intercept = np.asarray(coef, dtype=np.float32), np.asarray(intercept, dtype=np.float32)
        return self

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 7) probabilities in the input order."""
        logits = self.features(list(texts)) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))

    def save(self, folder: str | Path) -> Path:
        """Settings and vocabularies as JSON, idf and weights as safetensors (nothing pickled)."""
        folder = Path(folder)
        settings = {"labels": LABELS, "tfidf": dataclasses.asdict(self.config), "text": dataclasses.asdict(self.text)}
        vocabularies = {name: {term: int(i) for term, i in v.vocabulary_.items()} for name, v in self.vectorizers.items()}
        arrays = {"coef": self.coef, "intercept": self.intercept,
                  **{f"idf_{name}": v.idf_.astype(np.float32) for name, v in self.vectorizers.items()}}
        write_text(folder / SETTINGS_FILE, json.dumps(settings, indent=2, ensure_ascii=False))
        write_text(folder / VOCABULARY_FILE, json.dumps(vocabularies, ensure_ascii=False))
        with atomic_path(folder / ARRAYS_FILE) as tmp:
            save_file(arrays, str(tmp))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "TfidfClassifier":
        """Rebuild a saved classifier; a clear error names a missing file."""
        folder = Path(folder)
        missing = [name for name in (SETTINGS_FILE, VOCABULARY_FILE, ARRAYS_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: missing {missing}; a saved TF-IDF member holds {SETTINGS_FILE}, {VOCABULARY_FILE}, {ARRAYS_FILE}")
        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        model = cls(TfidfConfig(**settings["tfidf"]), TextConfig(**settings["text"]))
        vocabularies = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
        arrays = load_file(str(folder / ARRAYS_FILE))
        model.vectorizers = _vectorizers(model.config, vocabularies)
        for name, vectorizer in model.vectorizers.items():
            vectorizer.idf_ = arrays[f"idf_{name}"]
        model.coef, model.intercept = arrays["coef"], arrays["intercept"]
        return model


def train_linear_members(config: TfidfConfig, text: TextConfig, train_texts: list[str], train_y: np.ndarray,
                         valid_texts: list[str], valid_y: np.ndarray, vocabulary_texts: Sequence[str],
                         folds: list[tuple[np.ndarray, np.ndarray]] | None) -> tuple[list[TfidfClassifier], np.ndarray]:
    """One member trained on train (scored on valid), or one per fold on train + the other folds of valid (out-of-fold)."""
    if not folds:
        member = TfidfClassifier(config, text).fit(train_texts, train_y, [*valid_texts, *vocabulary_texts])
        return [member], member.probs(valid_texts)
    members, oof = [], np.zeros(valid_y.shape, dtype=np.float64)
    for k, (fit_rows, held_out) in enumerate(folds):
        print(f"--- TF-IDF fold {k + 1}/{len(folds)}: {len(train_texts)} train + {len(fit_rows)} valid rows")
        texts = [*train_texts, *(valid_texts[i] for i in fit_rows)]
        member = TfidfClassifier(config, text).fit(texts, np.vstack([train_y, valid_y[fit_rows]]), [*valid_texts, *vocabulary_texts])
        oof[held_out] = member.probs([valid_texts[i] for i in held_out])
        members.append(member)
    return members, oof


def save_members(members: list[TfidfClassifier], folder: str | Path) -> Path:
    """One member in `folder`, or k members in `folder/fold_<k>/`."""
    folder = Path(folder)
    if len(members) == 1:
        return members[0].save(folder)
    for k, member in enumerate(members):
        member.save(folder / f"fold_{k}")
    return folder


def load_members(folder: str | Path) -> list[TfidfClassifier]:
    """The members saved by save_members."""
    folder = Path(folder)
    folds = sorted(folder.glob("fold_*"), key=lambda path: int(path.name.split("_")[1]))
    return [TfidfClassifier.load(path) for path in folds] or [TfidfClassifier.load(folder)]
