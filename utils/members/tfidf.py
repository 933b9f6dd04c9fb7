"""Member kind `tfidf`: TF-IDF of words and characters -> logistic regressions per label, saved without pickle."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy.sparse import hstack, vstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ..core.files import atomic_path, read_json, write_text
from ..core.member_kinds import MemberKind, register_kind
from ..core.run_record import rebuild_hint
from ..core.settings import Count, MemberSettings, Positive, PositiveInt, TextConfig
from ..core.splits import LABELS, TEXT, label_matrix
from ..core.text import lemmatize, make_preprocessor

SETTINGS_FILE, VOCABULARY_FILE, ARRAYS_FILE = "tfidf.json", "vocabulary.json", "tfidf.safetensors"


class TfidfConfig(MemberSettings):
    """The linear member: TF-IDF of words and characters -> logistic regression per label."""

    kind: str = "tfidf"
    C: Positive = 1.0  # inverse regularisation strength
    class_weight: Literal["balanced"] | None = None
    valid_weight: Positive = 3.0  # k-fold mode: weight of the valid rows in the regressions (train rows: 1)
    nb_scaling: bool = False  # scale each label's features by naive Bayes log-count ratios first (NB-SVM style)
    solver: Literal["saga", "liblinear"] = "saga"  # scikit-learn's LogisticRegression solver
    tol: Positive = 1e-3  # stopping tolerance of the solver
    max_iter: PositiveInt = 200
    min_df: PositiveInt = 2  # a term must occur in this many texts
    word_ngram_max: PositiveInt = 2  # word n-grams 1..this
    lemma_ngram_max: Count = 0  # n-grams 1..this of the words' dictionary forms (pymorphy3); 0: none
    char_ngram_min: PositiveInt = 2  # character n-grams inside words
    char_ngram_max: PositiveInt = 5
    max_word_features: PositiveInt = 100_000
    max_char_features: PositiveInt = 150_000


def _vectorizers(config: TfidfConfig, vocabularies: dict | None = None) -> dict[str, TfidfVectorizer]:
    """Word 1..word_ngram_max, character-in-word char_ngram_min..char_ngram_max and (optionally) lemma TF-IDF vectorizers."""
    vocabularies = vocabularies or {}
    common = {"sublinear_tf": True, "dtype": np.float32, "min_df": config.min_df}
    words = {"token_pattern": r"(?u)\b\w+\b", "max_features": config.max_word_features}
    vectorizers = {
        "words": TfidfVectorizer(ngram_range=(1, config.word_ngram_max), vocabulary=vocabularies.get("words"), **words, **common),
        "chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(config.char_ngram_min, config.char_ngram_max),
                                 max_features=config.max_char_features, vocabulary=vocabularies.get("chars"), **common),
    }
    if config.lemma_ngram_max:
        vectorizers["lemmas"] = TfidfVectorizer(ngram_range=(1, config.lemma_ngram_max), vocabulary=vocabularies.get("lemmas"),
                                                **words, **common)
    return vectorizers


def _sigmoid(logits) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def nb_ratios(features, labels: np.ndarray, sample_weight: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """Naive Bayes log-count ratios per feature (NB-SVM, Wang & Manning 2012): log of the feature's share in positive
    rows over its share in negative rows, add-alpha smoothed."""
    weight = np.ones(features.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    positive = alpha + features.T @ (weight * (labels == 1))
    negative = alpha + features.T @ (weight * (labels == 0))
    return np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)


class TfidfClassifier:
    """TF-IDF features of the preprocessed text and one or more sets of 7 logistic regressions (k sets: their mean)."""

    def __init__(self, config: TfidfConfig, text: TextConfig):
        self.config, self.text = config, text
        self.preprocess = make_preprocessor(text)
        self.vectorizers = _vectorizers(config)
        self.coef = np.zeros((0, len(LABELS), 0), dtype=np.float32)  # (sets, 7, features)
        self.intercept = np.zeros((0, len(LABELS)), dtype=np.float32)  # (sets, 7)

    def _inputs(self, texts: Sequence[str]) -> dict[str, list[str]]:
        """What each vectorizer reads: the preprocessed texts, or their lemmas."""
        clean = [self.preprocess(text) for text in texts]
        lemmas = [lemmatize(text) for text in clean] if "lemmas" in self.vectorizers else []
        return {name: lemmas if name == "lemmas" else clean for name in self.vectorizers}

    def fit_vocabulary(self, texts: Sequence[str]) -> TfidfClassifier:
        """Learn the vocabularies and idf from texts (labels are not used: valid and test texts may join)."""
        for name, inputs in self._inputs(texts).items():
            self.vectorizers[name].fit(inputs)
        return self

    def features(self, texts: Sequence[str]):
        return hstack([self.vectorizers[name].transform(inputs) for name, inputs in self._inputs(texts).items()]).tocsr()

    def regressions(self, features, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One logistic regression per label on the given features: (7, features) weights and 7 intercepts."""
        coef, intercept = [], []
        for label in range(len(LABELS)):
            regression = LogisticRegression(C=self.config.C, solver=self.config.solver, tol=self.config.tol, max_iter=self.config.max_iter,
                                            class_weight=self.config.class_weight, random_state=0)
            scale = nb_ratios(features, labels[:, label], sample_weight) if self.config.nb_scaling else None
            regression.fit(features.multiply(scale).tocsr() if scale is not None else features, labels[:, label],
                           sample_weight=sample_weight)
            coef.append(regression.coef_[0] * scale if scale is not None else regression.coef_[0])  # x.(r*w) = (x*r).w
            intercept.append(regression.intercept_[0])
        return np.asarray(coef, dtype=np.float32), np.asarray(intercept, dtype=np.float32)

    def fit(self, texts: Sequence[str], labels: np.ndarray, vocabulary_texts: Sequence[str] = ()) -> TfidfClassifier:
        """Learn the vocabularies (from `texts` plus unlabelled `vocabulary_texts`), then one set of regressions."""
        self.fit_vocabulary([*texts, *vocabulary_texts])
        coef, intercept = self.regressions(self.features(texts), labels)
        self.coef, self.intercept = coef[None], intercept[None]
        return self

    def probs_of_features(self, features, sets: Sequence[int] | None = None) -> np.ndarray:
        """(n, 7) probabilities: the mean over the chosen regression sets (default all)."""
        sets = range(len(self.coef)) if sets is None else sets
        return np.mean([_sigmoid(features @ self.coef[k].T + self.intercept[k]) for k in sets], axis=0)

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 7) probabilities in the input order."""
        return self.probs_of_features(self.features(list(texts)))

    def save(self, folder: str | Path) -> Path:
        """Settings and vocabularies as JSON, idf and weights as safetensors (nothing pickled)."""
        folder = Path(folder)
        settings = {"labels": LABELS, "tfidf": self.config.model_dump(exclude={"weight"}),  # its share is the ensemble's, not its own
                    "text": self.text.model_dump()}
        vocabularies = {name: {term: int(i) for term, i in v.vocabulary_.items()} for name, v in self.vectorizers.items()}
        arrays = {"coef": self.coef, "intercept": self.intercept,
                  **{f"idf_{name}": v.idf_.astype(np.float32) for name, v in self.vectorizers.items()}}
        write_text(folder / SETTINGS_FILE, json.dumps(settings, indent=2, ensure_ascii=False))
        write_text(folder / VOCABULARY_FILE, json.dumps(vocabularies, ensure_ascii=False))
        with atomic_path(folder / ARRAYS_FILE) as tmp:
            save_file(arrays, str(tmp))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TfidfClassifier:
        """Rebuild a saved classifier; a clear error names a missing file."""
        folder = Path(folder)
        missing = [name for name in (SETTINGS_FILE, VOCABULARY_FILE, ARRAYS_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: missing {missing}; a saved TF-IDF member holds {SETTINGS_FILE}, {VOCABULARY_FILE}, "
                                    f"{ARRAYS_FILE}")
        settings = read_json(folder / SETTINGS_FILE, rebuild_hint(folder))
        model = cls(TfidfConfig(**{"kind": "tfidf", **settings["tfidf"]}), TextConfig(**settings["text"]))
        vocabularies = read_json(folder / VOCABULARY_FILE, rebuild_hint(folder))
        arrays = load_file(str(folder / ARRAYS_FILE))
        model.vectorizers = _vectorizers(model.config, vocabularies)
        for name, vectorizer in model.vectorizers.items():
            vectorizer.idf_ = arrays[f"idf_{name}"]
        model.coef, model.intercept = arrays["coef"], arrays["intercept"]
        return model


def train_linear_member(config: TfidfConfig, text: TextConfig, train_texts: list[str], train_y: np.ndarray,
                        valid_texts: list[str], valid_y: np.ndarray, vocabulary_texts: Sequence[str],
                        folds: list[tuple[np.ndarray, np.ndarray]] | None, valid_weight: float = 1.0,
                        scored_texts: Sequence[str] | None = None) -> tuple[TfidfClassifier, np.ndarray]:
    """One vocabulary over all texts; one set of regressions on train (scored on valid), or one per fold on train + the
    other folds of valid, their valid rows weighted `valid_weight` (out-of-fold probabilities; of `scored_texts`, the
    same valid rows written otherwise, when given)."""
    model = TfidfClassifier(config, text).fit_vocabulary([*train_texts, *valid_texts, *vocabulary_texts])
    train_x, valid_x = model.features(train_texts), model.features(valid_texts)
    scored_x = valid_x if scored_texts is None else model.features(scored_texts)
    splits = folds or [(np.arange(0), np.arange(len(valid_texts)))]
    coef, intercept, oof = [], [], np.zeros(valid_y.shape, dtype=np.float64)
    for k, (fit_rows, held_out) in enumerate(splits):
        print(f"--- TF-IDF set {k + 1}/{len(splits)}: {len(train_texts)} train + {len(fit_rows)} valid rows", flush=True)
        weights = np.concatenate([np.ones(len(train_texts)), np.full(len(fit_rows), float(valid_weight))])
        set_coef, set_intercept = model.regressions(vstack([train_x, valid_x[fit_rows]]).tocsr(),
                                                    np.vstack([train_y, valid_y[fit_rows]]), weights)
        oof[held_out] = _sigmoid(scored_x[held_out] @ set_coef.T + set_intercept)
        coef.append(set_coef)
        intercept.append(set_intercept)
    model.coef, model.intercept = np.stack(coef), np.stack(intercept)
    return model, oof


@register_kind
class TfidfMember(MemberKind):
    """The kind: a TfidfClassifier with one set of regressions per fold."""

    kind = "tfidf"
    description = "TF-IDF of words and characters -> a logistic regression per label (one set per fold)"
    settings = TfidfConfig
    legacy_section = "tfidf"  # older runs: tfidf.weight (its share; 0: off) and tfidf.KEY
    export_runtime = "utils.members.tfidf_arrays:TfidfArrays"  # plain arrays and a numpy transform equal to scikit-learn's

    def train(self, run) -> np.ndarray:
        data = run.data
        self.model, probs = train_linear_member(self.settings, run.config.text, data.train[TEXT].tolist(), label_matrix(data.train),
                                                data.valid[TEXT].tolist(), label_matrix(data.valid), data.test_texts, run.folds,
                                                self.settings.valid_weight, run.styled)
        self.model.save(run.folder)
        return probs

    @classmethod
    def load(cls, name: str, folder: Path, device: str = "cpu") -> TfidfMember:
        model = TfidfClassifier.load(folder)
        member = cls(name, model.config)
        member.model = model
        return member

    def export_problem(self) -> str | None:
        from .tfidf_arrays import why_not_exportable

        return why_not_exportable(self.model)

    def export(self, folder: Path, float16: bool = False) -> None:
        from .tfidf_arrays import export_tfidf

        export_tfidf(self.model, folder, float16)

    def predict(self, texts: Sequence[str], part: int | None = None, batch_size: int = 256) -> np.ndarray:
        return self.model.probs_of_features(self.model.features(list(texts)), None if part is None else [part])
