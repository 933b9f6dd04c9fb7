"""The run's settings: pydantic models that refuse unknown keys, wrong types and values out of range, naming the key."""
from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from .errors import KitError
from .paths import repo_path

NAVEC = "navec"  # the offline backbone's name in model.backbone
POOLINGS = ("cls", "mean", "max", "max_mean")  # cls needs a Hugging Face encoder
EMPTY_RULES = ("none", "top", "neutral")  # a row where no label passes: leave empty, take its top label, or say neutral
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")  # a run's name: one folder name inside the runs folder, never a path
RUN_NAME_RULE = ("1 to 100 characters from the letters A-Z a-z, the digits 0-9 and . _ + -, starting with a letter or a digit "
                 "(one folder name inside the runs folder, never a path)")

Share = Annotated[float, Field(ge=0, le=1)]
Dropout = Annotated[float, Field(ge=0, lt=1)]
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
SevenWeights = Annotated[list[Positive], Field(min_length=7, max_length=7)]
TYPE_NAMES = {"int_type": "int", "int_parsing": "int", "float_type": "float", "float_parsing": "float", "bool_type": "true or false",
              "bool_parsing": "true or false", "string_type": "str", "list_type": "a list", "dict_type": "a mapping",
              "model_type": "a mapping"}


class ConfigError(KitError, ValueError):
    """A settings file or override that names an unknown key or holds a value of the wrong type or range."""


def check_run_name(name: object) -> str:
    """The name itself when it is a run name (RUN_NAME_RULE), else a ConfigError saying what a run name is."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise ConfigError(f"run name {name!r} is not accepted: a run name is {RUN_NAME_RULE}")
    return name


def _field_at(model: type[BaseModel], loc: tuple) -> tuple[str, FieldInfo | None, type[BaseModel], bool]:
    """An error location's dotted key, the field it names, the model holding that field's siblings, and whether the
    location ends on the field itself (not on an item or a branch of it)."""
    keys, info = [], None
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return ".".join(keys), info, model, False
        keys.append(part)
        info = model.model_fields[part]
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            model = info.annotation
    return ".".join(keys), info, model, True


def _accepted_range(info: FieldInfo, violated: dict) -> str:
    """The bounds of a numeric field in words: '0 to 8', '1 or more', '0 <= value < 1', 'more than 0'."""
    bounds = {name: getattr(m, name) for m in info.metadata for name in ("ge", "gt", "le", "lt") if getattr(m, name, None) is not None}
    bounds = bounds or violated  # a bound inside an optional field's type: only the violated one is known
    low = f"{bounds['ge']:g}" if "ge" in bounds else None
    if low is not None and "le" in bounds:
        return f"a number between {low} and {bounds['le']:g}" if info.annotation is float else f"{low} to {bounds['le']:g}"
    if low is not None and "lt" in bounds:
        return f"{low} <= value < {bounds['lt']:g}"
    return f"{low} or more" if low is not None else f"more than {bounds.get('gt', 0):g}"


def describe_error(error: dict, model: type[BaseModel], prefix: str = "") -> str:
    """One pydantic error (not an unknown key) as a sentence naming the setting and what it accepts."""
    inner, info, _, whole = _field_at(model, error["loc"])
    key, value, kind = prefix + inner, error.get("input"), error["type"]
    if kind == "value_error":  # the model's own checks write whole sentences
        return str(error["ctx"]["error"])
    if info is not None and info.description and not whole:  # an item or a branch of a field with several forms
        return f"{key} {value!r} is not accepted; accepted: {info.description}"
    if kind == "literal_error" and info is not None:
        return f"{key} {value!r} is unknown; accepted: {list(typing.get_args(info.annotation))}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal") and info is not None and whole:
        return f"{key} = {value!r} is out of range; accepted: {_accepted_range(info, error.get('ctx', {}))}"
    return f"setting '{key}': expected {TYPE_NAMES.get(kind, error['msg'].removeprefix('Input should be '))}, got {value!r}"


def describe_errors(error: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """All errors of one validation as sentences; unknown keys are listed together with the known ones of their section."""
    unknown: dict[str, tuple[list[str], list[str]]] = {}
    sentences = []
    for item in error.errors():
        if item["type"] == "extra_forbidden":
            inner, _, holder, _ = _field_at(model, item["loc"][:-1])
            section = ".".join(part for part in (prefix.rstrip("."), inner) if part)
            named = unknown.setdefault(section, ([], sorted(f"{section}.{name}".lstrip(".") for name in holder.model_fields)))[0]
            named.append(f"{section}.{item['loc'][-1]}".lstrip("."))
        elif (sentence := describe_error(item, model, prefix)) not in sentences:
            sentences.append(sentence)
    return "; ".join([f"unknown setting(s) {named}; known: {known}" for named, known in unknown.values()] + sentences)


class Settings(BaseModel):
    """A section of the settings: strict types, no unknown keys, checked again on assignment."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, validate_default=False)
    section: ClassVar[str] = ""  # its dotted place in RunConfig, so errors name the whole key

    def __init__(self, **values):
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError(describe_errors(error, type(self), f"{self.section}." if self.section else "")) from None

    def replace(self, **changes) -> Settings:
        """A checked copy with some fields changed."""
        return type(self)(**{**dict(self), **changes})


class TextConfig(Settings):
    """Text preprocessing applied to every split before modelling."""

    section: ClassVar[str] = "text"
    demojize: bool = True  # emoji -> Russian words
    asr_style: bool = True  # lower case, no punctuation: make clean text look like the speech-recognition test
    yo_to_e: bool = True  # fold ё into е (the test writes ё far more often than train)
    fix_slips: bool = True  # replace frequent transcription slips word by word
    slips_file: str | None = None  # an extra slip,fix CSV added to the built-in dictionary (relative: from the repository root)


class EdaConfig(Settings):
    """What the exploratory notebook lists and plots."""

    section: ClassVar[str] = "eda"
    top_words: PositiveInt = 12  # words listed per label
    skip_common_words: Count = 100  # the train's most frequent words (mostly function words) left out of the per-label lists
    oov_examples: Count = 15  # most frequent out-of-vocabulary words listed per split
    length_quantile: Annotated[float, Field(gt=0, le=1)] = 0.99  # the length plots' x-axis ends at this quantile


class ThresholdConfig(Settings):
    """The search for decision thresholds on held-out probabilities."""

    section: ClassVar[str] = "thresholds"
    grid_start: Share = 0.05
    grid_stop: Share = 0.95
    grid_step: Annotated[float, Field(gt=0, le=1)] = 0.01
    empty_rules: list[Literal["none", "top", "neutral"]] = Field(default_factory=lambda: list(EMPTY_RULES))  # tried for rows with no label
    rounds: PositiveInt = 2  # coordinate-search passes over the labels
    cv_folds: Annotated[int, Field(ge=2)] = 5  # tune on k-1 parts of valid, score the held-out part
    recalibrate: bool = True  # also try re-estimating each label from all 7 logits (a logistic regression per label) first
    recalibration_C: Positive = 1.0  # inverse L2 strength of those regressions
    min_gain_se: Annotated[float, Field(ge=0)] = 2.0  # a richer rule must gain this many bootstrap standard errors of CV F1
    bootstrap: PositiveInt = 300  # row resamples for that standard error


class HeadConfig(Settings):
    """The classification head on top of the pooled features."""

    section: ClassVar[str] = "model.head"
    layers: Annotated[int, Field(ge=0, le=8)] = 1  # hidden layers before the 7-logit output layer (0: one linear layer)
    hidden_size: Annotated[int, Field(ge=1, le=16384)] = 256  # width of each hidden layer
    activation: Literal["gelu", "leaky_relu", "relu", "silu", "tanh"] = "gelu"
    norm: Literal["none", "batch", "layer"] = "none"  # normalisation after each hidden layer
    dropout: Dropout = 0.2  # dropout before each layer of the head


class NavecConfig(Settings):
    """The offline backbone: navec word vectors + hashed character n-grams -> bidirectional GRU."""

    section: ClassVar[str] = "model.navec"
    fine_tune: bool = False  # train the navec vectors too (False: frozen, not saved with the model)
    ngram_dim: Annotated[int, Field(ge=0, le=1024)] = 32  # size of the learned character n-gram embedding of each word (0: none)
    ngram_buckets: Annotated[int, Field(ge=1, le=2**24)] = 32768  # hash buckets for the character n-grams
    ngram_min: Annotated[int, Field(ge=1, le=10)] = 3  # shortest character n-gram (words are wrapped in < and >)
    ngram_max: Annotated[int, Field(ge=1, le=10)] = 5  # longest character n-gram
    hidden_size: Annotated[int, Field(ge=1, le=4096)] = 128  # GRU units per direction
    layers: Annotated[int, Field(ge=1, le=8)] = 1  # stacked GRU layers
    dropout: Dropout = 0.25  # dropout on the word vectors (whole dimensions) and between GRU layers

    @model_validator(mode="after")
    def _ngram_range(self) -> NavecConfig:
        if self.ngram_max < self.ngram_min:
            raise ValueError(f"model.navec.ngram_max = {self.ngram_max} is out of range; accepted: {self.ngram_min} to 10")
        return self


def check_pooling(pooling: str, backbone: str) -> None:
    """Refuse a pooling name the backbone cannot do, naming the accepted ones."""
    accepted = POOLINGS if backbone != NAVEC else POOLINGS[1:]
    if pooling not in accepted:
        raise ConfigError(f"model.pooling {pooling!r} is not available for the {backbone!r} backbone; accepted: {list(accepted)}")


class ModelConfig(Settings):
    """Which backbone, how its outputs are pooled, and the head."""

    section: ClassVar[str] = "model"
    backbone: str = NAVEC  # "navec" (offline, CPU default) or a Hugging Face encoder name or local path
    pooling: str = "max_mean"  # cls (Hugging Face only), mean, max or max_mean
    max_len: PositiveInt = 128  # tokens kept per text: words for navec, subword tokens for Hugging Face
    head: HeadConfig = Field(default_factory=HeadConfig)
    navec: NavecConfig = Field(default_factory=NavecConfig)
    gradient_checkpointing: bool = False  # recompute encoder layers in the backward pass: far less GPU memory, slower (Hugging Face only)

    @model_validator(mode="after")
    def _pooling_fits_backbone(self) -> ModelConfig:
        check_pooling(self.pooling, self.backbone)
        if self.gradient_checkpointing and self.backbone == NAVEC:
            raise ValueError(f"model.gradient_checkpointing = true needs a Hugging Face encoder; the {NAVEC!r} backbone has none "
                             "(accepted: false)")
        return self


class TrainConfig(Settings):
    """The training loop: optimisation, loss, early stopping and the optional k-fold over valid."""

    section: ClassVar[str] = "train"
    epochs: PositiveInt = 4  # passes over the training rows (navec: 4 scored as well as 5 on the honest estimate, in less time)
    batch_size: PositiveInt | None = None  # rows per step before accumulation (None: 128 for navec, 32 for Hugging Face)
    eval_batch_size: PositiveInt = 256  # rows per batch when predicting
    lr: Positive | None = None  # peak learning rate (None: 3e-3 for navec, 3e-5 for a Hugging Face encoder)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: Annotated[float, Field(ge=0)] = 0.01  # decoupled for adamw, L2 for adam and sgd
    scheduler: Literal["linear", "cosine", "constant"] = "linear"  # the learning rate after warm-up
    warmup_ratio: Dropout = 0.06  # share of all steps spent warming up
    grad_clip: Annotated[float, Field(ge=0)] = 1.0  # maximum gradient norm (0: no clipping)
    accumulation_steps: PositiveInt = 1  # batches per optimisation step
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # bf16 and fp16 need CUDA; fp32 is used on a CPU
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    num_threads: Count = 1  # CPU threads for torch (0: all cores); 1 is fastest for navec and robust on a shared CPU
    loss: Literal["bce", "focal"] = "bce"
    focal_gamma: Annotated[float, Field(ge=0)] = 2.0  # focusing strength of the focal loss
    pos_weight: Literal["balanced"] | SevenWeights | None = Field(
        "balanced", description="null, 'balanced' or 7 positive numbers (anger, disgust, fear, joy, sadness, surprise, neutral)"
    )  # per-label positive weight of the BCE: "balanced" = negatives/positives, 1 to 30
    early_stopping: Count = 2  # stop after this many epochs without a better valid weighted F1 (0: never)
    folds: Count = 5  # k >= 2: k folds over valid, each model trained on train + the other k-1 folds; 0: train only
    seeds: list[Annotated[int, Field(ge=0)]] | PositiveInt = Field(
        default_factory=list, description="[], different seeds (e.g. [42, 1042]) or how many (N: seed, seed + 1000, ...)"
    )  # the neural member trained once per seed (its folds and initial weights), probabilities averaged; []: the run's seed
    valid_weight: PositiveInt = 1  # k-fold mode: each valid row in a fold's training data is repeated this many times
    score_as_test: bool = False  # score the held-out valid rows written as the test is (lower case, no punctuation, no emoji)
    member_weights: Literal["learned", "settings"] = "learned"  # the members' blend: weights learned on their held-out probabilities
    # (the best weighted F1 at one threshold; notebook 04's estimate learns them again inside each outer fold), or members.<name>.weight
    num_processes: PositiveInt | Literal["auto"] = Field(
        1, description="1 or more, or 'auto' (every visible GPU; 1 without one)"
    )  # training processes, data parallel through Accelerate (a CPU runs several with gloo); at most the GPUs (or CPU cores) there are
    fold_workers: PositiveInt | Literal["auto"] = Field(
        "auto", description="1 or more, or 'auto' (the CPU cores for a large enough CPU k-fold training; 1 otherwise)"
    )  # k-fold mode on a CPU: folds trained side by side in this many worker processes (the same models as one at a time)
    checkpoint_steps: Count | None = None  # save the state every this many optimiser steps too (0: epoch ends; None: 0 navec, 500 HF)
    keep_checkpoints: bool = False  # keep runs/<name>/model/checkpoints/ once the model is saved (they are removed otherwise)

    @field_validator("seeds")
    @classmethod
    def _seeds_differ(cls, seeds: list[int] | int) -> list[int] | int:
        if isinstance(seeds, list) and len(set(seeds)) < len(seeds):
            raise ValueError(f"train.seeds {seeds} repeats a seed; a repeated seed trains the same models again")
        return seeds

    @field_validator("folds")
    @classmethod
    def _folds_are_a_k_fold(cls, folds: int) -> int:
        if folds == 1:
            raise ValueError("train.folds = 1 is not a k-fold; accepted: 0 (off) or 2 and more")
        return folds


class CorpusLabels(Settings):
    """Labels taken from each external corpus: a row carrying any of them is added with all its mapped labels."""

    section: ClassVar[str] = "expansion.corpora"
    ru_izard: list[str] = Field(default_factory=lambda: ["fear", "disgust", "sadness"])  # as in the original solution
    cedr: list[str] = Field(default_factory=list)  # e.g. ["fear"]; [] = corpus not used
    brighter: list[str] = Field(default_factory=list)  # e.g. ["fear", "disgust"]; [] = corpus not used


class GuardConfig(Settings):
    """The leakage guard: drop added rows that are exact or near copies of valid/test texts or of train texts."""

    section: ClassVar[str] = "expansion.guard"
    enabled: bool = True  # switch off only to measure what it protects against
    threshold: Share = 0.3  # near copy of a valid/test text: character 3-gram Jaccard >= this (measured on ru-izard)
    train_threshold: Share = 0.5  # near copy of a train text (a re-translation of a train row adds little, but does not leak)


class AugmentConfig(Settings):
    """Augmented copies of train rows; each method adds share x eligible rows (0 = off) and never changes labels."""

    section: ClassVar[str] = "expansion.augment"
    asr_noise: Share = 0.1  # ASR-style copies: lower case, no punctuation, slips and word merges from the slip dictionary
    asr_slip_rate: Share = 0.15  # chance per word of a slip or merge in an ASR-style copy
    synonyms: Share = 0.0  # copies with words replaced by their navec nearest neighbours
    synonym_rate: Share = 0.3  # chance per replaceable word of being replaced (at least one per copy)
    synonym_pos: list[str] = Field(default_factory=lambda: ["NOUN"])  # replaceable parts of speech (pymorphy3 tags)
    synonym_min_similarity: Share = 0.5  # cosine similarity a neighbour needs
    back_translation: Share = 0.0  # ru -> en -> ru copies through Marian opus-mt models (needs them: online or local paths)
    back_translation_models: list[str] = Field(
        default_factory=lambda: ["Helsinki-NLP/opus-mt-ru-en", "Helsinki-NLP/opus-mt-en-ru"]
    )  # ru->en then en->ru: Hugging Face names or local folders
    labels: list[str] = Field(default_factory=list)  # augment only train rows carrying one of these labels; [] = all rows


class ExpansionConfig(Settings):
    """Data expansion: external corpora, synthetic rows, augmentation, all behind a leakage guard."""

    section: ClassVar[str] = "expansion"
    enabled: bool = False  # off: the expansion writes train unchanged (measured: the added rows lower the default's CV F1)
    external_dir: str | None = None  # the corpus CSVs; None: <data_dir>/../external when it exists
    corpora: CorpusLabels = Field(default_factory=CorpusLabels)
    cap_per_label: PositiveInt | None = None  # at most this many rows added per label and corpus (None: no cap)
    synthetic_dir: str | None = "data/synthetic"  # every CSV here is a source named after its file; None: no synthetic rows
    download: bool = False  # fetch missing corpora from the Hugging Face Hub (needs internet and the datasets package)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


class MemberSettings(Settings):
    """One member of the run's ensemble: its kind and weight; each kind adds its own settings (utils.core.member_kinds)."""

    section: ClassVar[str] = "members.<name>"  # errors name the member: members.<its name>.KEY
    kind: str  # a kind `python -m utils.members` lists, or "module:Class" of your own
    weight: Annotated[float, Field(ge=0)] = 1.0  # 0: off, settings kept; above 0: on, and with train.member_weights: settings its
    # share is its weight over the members' sum (the default, learned, learns the shares)


class RunConfig(Settings):
    """All settings of one run; written to runs/<name>/params.yaml.

    `members` names the ensemble's members, laid over the default ones: `-p members.NAME.kind=KIND` adds one (its own settings
    as members.NAME.KEY), `-p members.NAME=null` switches one off (nothing of it is left in the run). A run has one network:
    a neural member named replaces the default's, its `backbone` key being model.backbone. Older spellings map onto the
    members: a kind's old section (`KIND.KEY=VALUE`; `KIND.weight=0` switches its member off, another weight is its share),
    and `model.backbone` picks the default network's kind (a navec network or a Hugging Face encoder).
    """

    name: str = "default"  # the run's folder inside runs_dir: see RUN_NAME_RULE
    seed: Count = 42
    data_dir: str | None = None  # None: discover (see utils.core.data_dir.find_data_dir)
    runs_dir: str = "runs"  # the folder of the runs, any folder you name; relative paths are taken from the repository root
    text: TextConfig = Field(default_factory=TextConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)  # the network of the neural member
    train: TrainConfig = Field(default_factory=TrainConfig)  # how the neural member is trained
    eda: EdaConfig = Field(default_factory=EdaConfig)
    thresholds: ThresholdConfig = Field(default_factory=ThresholdConfig)
    members: dict[str, SerializeAsAny[MemberSettings] | None] = Field(default_factory=dict)  # name -> member (null: off)
    expansion: ExpansionConfig = Field(default_factory=ExpansionConfig)  # extra training rows

    @model_validator(mode="before")
    @classmethod
    def _resolve_members(cls, values: object) -> object:
        from .members_settings import resolve_members

        return resolve_members(values) if isinstance(values, dict) else values

    @field_validator("name")
    @classmethod
    def _name_is_a_run_name(cls, name: str) -> str:
        try:
            return check_run_name(name)
        except ConfigError as error:
            raise ValueError(str(error)) from None

    @property
    def run_dir(self) -> Path:
        return repo_path(self.runs_dir) / self.name

    @classmethod
    def from_mapping(cls, values: dict) -> RunConfig:
        """Settings from a nested mapping (a YAML file's content); errors name every bad key."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigError(describe_errors(error, cls)) from None
