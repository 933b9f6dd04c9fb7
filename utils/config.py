"""The run's settings (dataclasses loaded from YAML plus overrides) and the discovery of the data folder."""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .data import SPLIT_FILES
from .files import write_text

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA_DIR = REPO_ROOT / "data" / "sample"
DATA_DIR_ENV = "KIT_DATA_DIR"
KAGGLE_INPUT = Path("/kaggle/input")
COMPETITION_SLUG = "cryptonite-hack-sf"

# What the notebooks write into runs/<name>/, named once for the notebooks, the pipeline and inference
EXPANDED_TRAIN = "train_expanded.csv"  # 02: train + added rows, with a `source` column
MODEL_DIR, LINEAR_DIR = "model", "tfidf"  # 03: the neural model(s); the TF-IDF member(s) when tfidf.weight > 0
VALID_PROBS, METRICS = "valid_probs.csv", "metrics.json"  # 03: held-out probabilities and their scores
THRESHOLDS = "thresholds.json"  # 04: the decision rule
TEST_PROBS, INFERENCE_RECORD = "test_probs.csv", "inference.json"  # 05: test probabilities; where the submission went


class ConfigError(ValueError):
    """A settings file or override that names an unknown key or holds a value of the wrong type."""


@dataclass
class TextConfig:
    """Text preprocessing applied to every split before modelling."""

    demojize: bool = True  # emoji -> Russian words
    asr_style: bool = True  # lower case, no punctuation: make clean text look like the speech-recognition test
    yo_to_e: bool = True  # fold ё into е (the test writes ё far more often than train)
    fix_slips: bool = True  # replace frequent transcription slips word by word
    slips_file: str | None = None  # an extra slip,fix CSV added to the built-in dictionary


@dataclass
class EdaConfig:
    """What the exploratory notebook (01_eda) lists and plots."""

    top_words: int = 12  # words listed per label
    skip_common_words: int = 100  # the train's most frequent words (mostly function words) left out of the per-label lists
    oov_examples: int = 15  # most frequent out-of-vocabulary words listed per split
    length_quantile: float = 0.99  # the length plots' x-axis ends at this quantile (long tails hide the bulk)


@dataclass
class ThresholdConfig:
    """The search for decision thresholds on held-out probabilities."""

    grid_start: float = 0.05
    grid_stop: float = 0.95
    grid_step: float = 0.01
    empty_rules: list[str] = field(default_factory=lambda: ["none", "top", "neutral"])  # tried for rows with no label
    rounds: int = 2  # coordinate-search passes over the labels
    cv_folds: int = 5  # tune on k-1 parts of valid, score the held-out part
    recalibrate: bool = True  # also try re-estimating each label from all 7 logits (a logistic regression per label) first
    recalibration_C: float = 1.0  # inverse L2 strength of those regressions
    min_gain_se: float = 2.0  # a richer rule must gain this many bootstrap standard errors of cross-validated F1
    bootstrap: int = 300  # row resamples for that standard error


@dataclass
class HeadConfig:
    """The classification head on top of the pooled features."""

    layers: int = 1  # hidden layers before the 7-logit output layer (0: one linear layer)
    hidden_size: int = 256  # width of each hidden layer
    activation: str = "gelu"  # relu, gelu, silu, tanh or leaky_relu
    norm: str = "none"  # none, batch or layer normalisation after each hidden layer
    dropout: float = 0.2  # dropout before each layer of the head


@dataclass
class NavecConfig:
    """The offline backbone: navec word vectors + hashed character n-grams -> bidirectional GRU."""

    fine_tune: bool = False  # train the navec vectors too (False: frozen, not saved with the model)
    ngram_dim: int = 32  # size of the learned character n-gram embedding of each word (0: none)
    ngram_buckets: int = 32768  # hash buckets for the character n-grams
    ngram_min: int = 3  # shortest character n-gram (words are wrapped in < and >)
    ngram_max: int = 5  # longest character n-gram
    hidden_size: int = 128  # GRU units per direction
    layers: int = 1  # stacked GRU layers
    dropout: float = 0.25  # dropout on the word vectors (whole dimensions) and between GRU layers


@dataclass
class ModelConfig:
    """Which backbone, how its outputs are pooled, and the head."""

    backbone: str = "navec"  # "navec" (offline, CPU default) or a Hugging Face encoder name or local path
    pooling: str = "max_mean"  # cls (Hugging Face only), mean, max or max_mean
    max_len: int = 128  # tokens kept per text: words for navec, subword tokens for Hugging Face
    head: HeadConfig = field(default_factory=HeadConfig)
    navec: NavecConfig = field(default_factory=NavecConfig)


@dataclass
class TrainConfig:
    """The training loop: optimisation, loss, early stopping and the optional k-fold over valid."""

    epochs: int = 5  # passes over the training rows
    batch_size: int | None = None  # rows per optimisation step before accumulation (None: 128 for navec, 32 for Hugging Face)
    eval_batch_size: int = 256  # rows per batch when predicting
    lr: float | None = None  # peak learning rate (None: 3e-3 for navec, 3e-5 for a Hugging Face encoder)
    optimizer: str = "adamw"  # adamw, adam or sgd
    weight_decay: float = 0.01  # decoupled for adamw, L2 for adam and sgd
    scheduler: str = "linear"  # linear, cosine or constant learning rate after warm-up
    warmup_ratio: float = 0.06  # share of all steps spent warming up
    grad_clip: float = 1.0  # maximum gradient norm (0: no clipping)
    accumulation_steps: int = 1  # batches per optimisation step
    precision: str = "fp32"  # fp32, bf16 or fp16 (bf16 and fp16 need CUDA; fp32 is used on a CPU)
    device: str = "auto"  # auto (CUDA when present), cpu or cuda
    num_threads: int = 1  # CPU threads for torch (0: all cores); 1 is fastest for navec and robust on a shared CPU
    loss: str = "bce"  # bce or focal
    focal_gamma: float = 2.0  # focusing strength of the focal loss
    pos_weight: Any = "balanced"  # per-label positive weight: "balanced" (negatives/positives, 1 to 30), None or 7 numbers
    early_stopping: int = 2  # stop after this many epochs without a better valid weighted F1 (0: never)
    folds: int = 5  # k >= 2: k folds over valid, each model trained on train + the other k-1 folds; 0: train only
    valid_weight: int = 1  # k-fold mode: each valid row in a fold's training data is repeated this many times (valid's label mix is the test's)
    score_as_test: bool = False  # score the held-out valid rows written as the test is (lower case, no punctuation, no emoji)


@dataclass
class CorpusLabels:
    """Labels taken from each external corpus: a row carrying any of them is added with all its mapped labels."""

    ru_izard: list[str] = field(default_factory=lambda: ["fear", "disgust", "sadness"])  # as in the original solution
    cedr: list[str] = field(default_factory=list)  # e.g. ["fear"]; [] = corpus not used
    brighter: list[str] = field(default_factory=list)  # e.g. ["fear", "disgust"]; [] = corpus not used


@dataclass
class GuardConfig:
    """The leakage guard: drop added rows that are exact or near copies of valid/test texts or of train texts."""

    enabled: bool = True  # switch off only to measure what it protects against
    threshold: float = 0.3  # near copy of a valid/test text: character 3-gram Jaccard >= this (measured on ru-izard re-translations)
    train_threshold: float = 0.5  # near copy of a train text (a re-translation of a train row adds little, but does not leak)


@dataclass
class AugmentConfig:
    """Augmented copies of train rows; each method adds share x eligible rows (0 = off) and never changes labels."""

    asr_noise: float = 0.1  # ASR-style copies: lower case, no punctuation, slips and word merges from the slip dictionary
    asr_slip_rate: float = 0.15  # chance per word of a slip or merge in an ASR-style copy
    synonyms: float = 0.0  # copies with words replaced by their navec nearest neighbours
    synonym_rate: float = 0.3  # chance per replaceable word of being replaced (at least one per copy)
    synonym_pos: list[str] = field(default_factory=lambda: ["NOUN"])  # replaceable parts of speech (pymorphy3 tags)
    synonym_min_similarity: float = 0.5  # cosine similarity a neighbour needs
    back_translation: float = 0.0  # ru -> en -> ru copies through Marian opus-mt models (needs them: online or local paths)
    back_translation_models: list[str] = field(
        default_factory=lambda: ["Helsinki-NLP/opus-mt-ru-en", "Helsinki-NLP/opus-mt-en-ru"]
    )  # ru->en then en->ru: Hugging Face names or local folders
    labels: list[str] = field(default_factory=list)  # augment only train rows carrying one of these labels; [] = all rows


@dataclass
class ExpansionConfig:
    """Data expansion (notebook 02): external corpora, synthetic rows, augmentation, all behind a leakage guard."""

    enabled: bool = False  # off: notebook 02 writes train unchanged (measured: the added rows lower the k-fold default's CV F1)
    external_dir: str | None = None  # the corpus CSVs; None: <data_dir>/../external when it exists
    corpora: CorpusLabels = field(default_factory=CorpusLabels)
    cap_per_label: int | None = None  # at most this many rows added per label and corpus (None: no cap)
    synthetic_dir: str | None = "data/synthetic"  # every CSV here is a source named after its file; None: no synthetic rows
    download: bool = False  # fetch missing corpora from the Hugging Face Hub (needs internet and the datasets package)
    guard: GuardConfig = field(default_factory=GuardConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class TfidfConfig:
    """The linear member: TF-IDF of words and characters -> logistic regression per label."""

    weight: float = 0.5  # its share in the averaged probabilities (0: not trained)
    C: float = 1.0  # inverse regularisation strength
    class_weight: str | None = None  # None or "balanced"
    valid_weight: float = 3.0  # k-fold mode: weight of the valid rows in the regressions (train rows: 1)
    nb_scaling: bool = False  # scale each label's features by naive Bayes log-count ratios first (NB-SVM style)
    solver: str = "saga"  # scikit-learn's LogisticRegression solver: saga or liblinear
    tol: float = 1e-3  # stopping tolerance of the solver
    max_iter: int = 200
    min_df: int = 2  # a term must occur in this many texts
    word_ngram_max: int = 2  # word n-grams 1..this
    lemma_ngram_max: int = 0  # n-grams 1..this of the words' dictionary forms (pymorphy3); 0: none
    char_ngram_min: int = 2  # character n-grams inside words
    char_ngram_max: int = 5
    max_word_features: int = 100_000
    max_char_features: int = 150_000


@dataclass
class RunConfig:
    """All settings of one run; written to runs/<name>/params.yaml."""

    name: str = "default"
    seed: int = 42
    data_dir: str | None = None  # None: discover (see find_data_dir)
    runs_dir: str = "runs"  # relative paths are taken from the repository root
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)  # the network (notebook 03)
    train: TrainConfig = field(default_factory=TrainConfig)  # how it is trained (notebook 03)
    eda: EdaConfig = field(default_factory=EdaConfig)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    tfidf: TfidfConfig = field(default_factory=TfidfConfig)  # the linear ensemble member (notebook 03)
    expansion: ExpansionConfig = field(default_factory=ExpansionConfig)  # extra training rows (notebook 02)

    @property
    def run_dir(self) -> Path:
        return REPO_ROOT / self.runs_dir / self.name


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Check (and gently convert) a value against a field's type annotation."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"setting '{key}': expected a mapping of {sorted(_field_types(kind))}, got {value!r}")
        return _build(kind, value, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"setting '{key}': expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return list(items) if origin is list else tuple(items)
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"setting '{key}': expected a mapping, got {value!r}")
        return dict(value)
    if kind is Any:
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"setting '{key}': expected true or false, got {value!r}")
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"setting '{key}': expected {getattr(kind, '__name__', kind)}, got {value!r}")


def _build(cls: type, values: dict, prefix: str = "") -> Any:
    """Make a dataclass from a (possibly partial) nested mapping, refusing unknown keys."""
    types = _field_types(cls)
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ConfigError(f"unknown setting(s) {[prefix + k for k in unknown]}; known: {[prefix + k for k in sorted(types)]}")
    defaults = cls()
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        if dataclasses.is_dataclass(types[f.name]) and isinstance(value, dict):
            value = {**dataclasses.asdict(getattr(defaults, f.name)), **value}
        kwargs[f.name] = _coerce(value, types[f.name], prefix + f.name)
    return dataclasses.replace(defaults, **kwargs)


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(overrides: dict | list[str] | None) -> dict:
    """Turn `{"text.demojize": False}` or `["text.demojize=false"]` into a nested mapping (values parsed as YAML)."""
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        pairs = list(overrides.items())
    else:
        pairs = []
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override {item!r}: expected key=value, e.g. text.demojize=false")
            key, raw = item.split("=", 1)
            pairs.append((key.strip(), yaml.safe_load(raw) if raw.strip() else ""))
    nested: dict = {}
    for key, value in pairs:
        node = nested
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def load_config(path: str | Path | None = None, overrides: dict | list[str] | None = None) -> RunConfig:
    """Defaults, then the YAML file at `path` (if any), then `overrides`; unknown keys are refused."""
    values: dict = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: settings file not found")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        values = loaded
    values = _merge(values, parse_overrides(overrides))
    try:
        return _build(RunConfig, values)
    except ConfigError as error:
        raise ConfigError(f"{path or 'settings'}: {error}") from None


def config_to_dict(config: RunConfig) -> dict:
    """The settings as a plain nested mapping."""
    return dataclasses.asdict(config)


def save_config(config: RunConfig, path: str | Path | None = None) -> Path:
    """Write the resolved settings as YAML (default: runs/<name>/params.yaml), atomically."""
    path = Path(path) if path else config.run_dir / "params.yaml"
    return write_text(path, yaml.safe_dump(config_to_dict(config), allow_unicode=True, sort_keys=False))


def holds_competition_files(folder: Path) -> bool:
    """True when a folder holds train.csv, valid.csv and test_without_answers.csv."""
    return all((folder / name).is_file() for name in SPLIT_FILES.values())


def _missing_files(folder: Path) -> list[str]:
    return [name for name in SPLIT_FILES.values() if not (folder / name).is_file()]


def _kaggle_candidates(kaggle_input: Path) -> list[Path]:
    preferred = [kaggle_input / COMPETITION_SLUG, kaggle_input / "competitions" / COMPETITION_SLUG]
    found = sorted(p.parent for p in kaggle_input.glob("**/test_without_answers.csv")) if kaggle_input.is_dir() else []
    return preferred + found


def find_data_dir(explicit: str | Path | None = None, kaggle_input: Path = KAGGLE_INPUT) -> Path:
    """Find the competition files: explicit path, $KIT_DATA_DIR, /kaggle/input/..., ./data, then data/sample (with a notice)."""
    for source, given in (("the given data_dir", explicit), (f"${DATA_DIR_ENV}", os.environ.get(DATA_DIR_ENV))):
        if given:
            folder = Path(given).expanduser()
            missing = _missing_files(folder)
            if missing:
                raise FileNotFoundError(f"{folder} ({source}) lacks the competition file(s) {missing}")
            return folder
    candidates = _kaggle_candidates(kaggle_input) + [Path.cwd() / "data", REPO_ROOT / "data"]
    for folder in candidates:
        if holds_competition_files(folder):
            return folder
    print(
        f"Notice: no competition data found (checked ${DATA_DIR_ENV}, {kaggle_input}, ./data); using the small "
        f"authored sample in {SAMPLE_DATA_DIR}. Scores on it say nothing about the competition."
    )
    return SAMPLE_DATA_DIR


def start_run(
    config_file: str | Path | None = None,
    overrides: dict | list[str] | None = None,
    data_dir: str | Path | None = None,
    run_name: str | None = None,
) -> RunConfig:
    """What every notebook does first: load the settings, find the data, seed everything, write params.yaml."""
    from .seed import seed_everything

    config = load_config(config_file, overrides)
    config = dataclasses.replace(
        config,
        name=run_name or config.name,
        data_dir=str(find_data_dir(data_dir or config.data_dir).resolve()),
    )
    seed_everything(config.seed)
    save_config(config)
    print(f"Run '{config.name}': data from {config.data_dir}, products in {config.run_dir}")
    return config
