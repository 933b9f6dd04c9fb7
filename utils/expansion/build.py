"""Notebook 02: build runs/<name>/train_expanded.csv from train, external corpora, synthetic rows and augmentation."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.files import write_csv, write_text
from ..core.paths import EXPANDED_TRAIN, repo_path
from ..core.progress import headline
from ..core.settings import ConfigError, CorpusLabels, RunConfig
from ..core.splits import (
    LABELS,
    SOURCE,
    TEXT,
    load_competition,
    onehot_to_lists,
    read_split,
)
from ..core.text import load_slips
from .augment import augment_train, generator_for
from .corpora import CORPORA, download_corpus
from .leakage import KEPT, ReferenceSet, find_leaks

REPORT_DIR = "expansion"  # runs/<name>/expansion/: the report tables
TRAIN_SOURCE = "train"


@dataclass
class Expansion:
    """The expanded train and the tables that say where every row came from and what was left out."""

    train: pd.DataFrame  # text, the 7 labels, source
    sources: pd.DataFrame  # per source: rows loaded, selected, dropped by the guard and the cap, added
    guard: pd.DataFrame  # rows dropped per guard rule (rows) and source (columns)
    dropped: pd.DataFrame  # every dropped row with its rule, similarity and the text it copies
    augmentation: pd.DataFrame  # per method: share, rows drawn, rows added, note
    seconds: dict[str, float]  # time per step


def find_external_dir(config: RunConfig) -> Path | None:
    """expansion.external_dir when set (it must exist), else <data_dir>/../external when that exists, else None."""
    setting = config.expansion.external_dir
    if setting:
        folder = repo_path(setting)
        if not folder.is_dir():
            raise FileNotFoundError(f"expansion.external_dir: {folder} is not a folder")
        return folder
    folder = Path(config.data_dir).parent / "external"
    return folder if folder.is_dir() else None


def no_rows() -> pd.DataFrame:
    """An empty frame of text and the 7 labels, with their types."""
    return pd.DataFrame({column: pd.Series(dtype=str if column == TEXT else "int64") for column in [TEXT, *LABELS]})


def check_labels(labels: list[str], setting: str) -> list[str]:
    """Refuse label names the kit does not know, naming the setting."""
    unknown = [label for label in labels if label not in LABELS]
    if unknown:
        raise ConfigError(f"setting '{setting}': unknown label(s) {unknown}; expected some of {LABELS}")
    return labels


def load_corpora(config: RunConfig) -> dict[str, pd.DataFrame]:
    """The selected external corpora, mapped to the 7 labels; a missing folder or file is said plainly, not fatal."""
    wanted = {name: check_labels(labels, f"expansion.corpora.{name}") for name, labels in config.expansion.corpora.model_dump().items()}
    wanted = {name: labels for name, labels in wanted.items() if labels}
    folder = find_external_dir(config)
    if folder is None and wanted:
        if not config.expansion.download:
            print(f"Notice: no external corpora folder (looked for {Path(config.data_dir).parent / 'external'}; set expansion."
                  "external_dir, or expansion.download=true with internet): continuing with synthetic rows and augmentation only.")
            return {name: no_rows() for name in wanted}
        folder = config.run_dir / "external"
    frames = {}
    for name in wanted:
        path = folder / CORPORA[name].file
        if not path.is_file() and config.expansion.download:
            download_corpus(name, folder)
        if not path.is_file():
            print(f"Notice: corpus {name}: {path} not found (expansion.download=true fetches it when online)")
        frames[name] = CORPORA[name].read(path) if path.is_file() else no_rows()
    return frames


def load_synthetic(config: RunConfig) -> dict[str, pd.DataFrame]:
    """Every CSV in expansion.synthetic_dir, in the competition's format, as a source named after its file."""
    if not config.expansion.synthetic_dir:
        return {}
    folder = repo_path(config.expansion.synthetic_dir)
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        print(f"Notice: no synthetic rows: no CSV files in {folder}")
    reserved = {TRAIN_SOURCE, *CORPORA, "asr_noise", "synonyms", "back_translation"}
    clashes = [path.name for path in files if path.stem in reserved]
    if clashes:
        raise ConfigError(f"{folder}: file name(s) {clashes} clash with the source names {sorted(reserved)}; rename them")
    return {path.stem: read_split(path) for path in files}


def carries_any(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Rows carrying at least one of `labels`."""
    return frame[labels].to_numpy().any(axis=1) if labels else np.zeros(len(frame), bool)


def cap_rows(frame: pd.DataFrame, labels: list[str], cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows kept under a cap per label: rarest label first, at most `cap` rows taken for it in a seeded random
    order; a row taken for one label keeps its other labels and counts towards them."""
    if cap is None:
        return np.ones(len(frame), bool)
    matrix = frame[labels].to_numpy().astype(bool)
    order = rng.permutation(len(frame))
    taken = np.zeros(len(frame), bool)
    for j in np.argsort(matrix.sum(axis=0), kind="stable"):
        room = max(cap - int((matrix[:, j] & taken).sum()), 0)
        candidates = order[matrix[order, j] & ~taken[order]]
        taken[candidates[:room]] = True
    return taken


def guard_rows(rows: pd.DataFrame, competition, config: RunConfig) -> pd.DataFrame:
    """The leakage guard's verdict per candidate row: copies of valid/test, then of train, then repeats."""
    guard = config.expansion.guard
    if not guard.enabled:
        print("Warning: the leakage guard is off: added rows may copy valid/test texts, and valid scores may be inflated.")
        return pd.DataFrame({"rule": [KEPT] * len(rows), "score": 0.0, "match": ""})
    references = [
        ReferenceSet("valid/test", [*competition.valid[TEXT], *competition.test[TEXT]], guard.threshold),
        ReferenceSet("train", competition.train[TEXT].tolist(), guard.train_threshold),
    ]
    return find_leaks(rows[TEXT].tolist(), references)


def select_candidates(loaded: dict[str, pd.DataFrame], selections: dict[str, list[str]]) -> tuple[pd.DataFrame, list[dict]]:
    """Corpus rows carrying a selected label and every synthetic row, with a `source` column; one report entry per source."""
    sources, candidates = [], [no_rows().assign(**{SOURCE: ""})]
    for name, frame in loaded.items():
        chosen = carries_any(frame, selections[name]) if name in CORPORA else np.ones(len(frame), bool)
        candidates.append(frame[chosen].assign(**{SOURCE: name}))
        sources.append({SOURCE: name, "kind": "corpus" if name in CORPORA else "synthetic", "loaded": len(frame),
                        "selected": int(chosen.sum()), "labels": ", ".join(selections.get(name, [])) or "all"})
    return pd.concat(candidates, ignore_index=True), sources


def apply_caps(rows: pd.DataFrame, kept: np.ndarray, sources: list[dict], config: RunConfig) -> np.ndarray:
    """The rows finally added: kept by the guard and, for corpora, under the cap per label; fills in the report entries."""
    added = np.zeros(len(rows), bool)
    for entry in sources:
        name, corpus = entry[SOURCE], entry["kind"] == "corpus"
        mine = (rows[SOURCE] == name).to_numpy()
        labels = getattr(config.expansion.corpora, name) if corpus else LABELS
        capped = cap_rows(rows[mine & kept], labels, config.expansion.cap_per_label if corpus else None,
                          generator_for(config.seed, f"cap:{name}"))
        added[np.flatnonzero(mine & kept)[capped]] = True
        entry.update(guard_dropped=int((mine & ~kept).sum()), capped=int((~capped).sum()), added=int(capped.sum()))
    return added


def switched_off(config: RunConfig) -> RunConfig:
    """The settings with every source and augmentation off."""
    augment = config.expansion.augment.replace(asr_noise=0.0, synonyms=0.0, back_translation=0.0)
    expansion = config.expansion.replace(corpora=CorpusLabels(ru_izard=[]), synthetic_dir=None, augment=augment)
    return config.replace(expansion=expansion)


def build_expanded_train(config: RunConfig) -> Expansion:
    """Load, select, guard, cap and augment; return the expanded train with its report tables (nothing written)."""
    seconds, clock = {}, time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 2)
        print(f"  {name}: {seconds[name]:.1f} s", flush=True)
        clock = time.perf_counter()

    check_labels(config.expansion.augment.labels, "expansion.augment.labels")
    if not config.expansion.enabled:
        print("Expansion is off (expansion.enabled = false): train is kept as it is. Set it to true to add the sources below.")
        config = switched_off(config)
    competition = load_competition(config.data_dir)
    loaded = {**load_corpora(config), **load_synthetic(config)}
    step("load")
    rows, sources = select_candidates(loaded, config.expansion.corpora.model_dump())
    verdicts = guard_rows(rows, competition, config)
    step("guard")
    kept = (verdicts["rule"] == KEPT).to_numpy()
    added = apply_caps(rows, kept, sources, config)
    augmented, augmentation = augment_train(competition.train, config.expansion.augment, config.seed, load_slips(config.text.slips_file))
    step("augment")
    train = pd.concat([competition.train.assign(**{SOURCE: TRAIN_SOURCE}), rows[added], *augmented], ignore_index=True)
    dropped = pd.concat([rows[~kept][[SOURCE, TEXT]], verdicts[~kept]], axis=1).reset_index(drop=True)
    expansion = Expansion(train[[TEXT, *LABELS, SOURCE]], source_table(sources, augmentation, len(competition.train)),
                          guard_table(dropped, [entry[SOURCE] for entry in sources]), dropped, augmentation, seconds)
    for entry in expansion.sources.itertuples():
        if entry.kind != "train" and entry.added == 0 and entry.note != "off":
            print(f"Warning: source {entry.source} adds no rows ({entry.note})")
    return expansion


def source_table(sources: list[dict], augmentation: pd.DataFrame, train_rows: int) -> pd.DataFrame:
    """One row per source: what was loaded, selected, dropped by the guard and the cap, and added."""
    rows = [{SOURCE: TRAIN_SOURCE, "kind": "train", "loaded": train_rows, "selected": train_rows, "added": train_rows}]
    rows += sources
    rows += [{SOURCE: a.method, "kind": "augmentation", "selected": a.drawn, "added": a.added, "note": a.note}
             for a in augmentation.itertuples()]
    table = pd.DataFrame(rows, columns=[SOURCE, "kind", "labels", "loaded", "selected", "guard_dropped", "capped", "added", "note"])
    counts = ["loaded", "selected", "guard_dropped", "capped", "added"]
    table[counts] = table[counts].fillna(0).astype(int)
    table["note"] = table["note"].fillna("")
    empty = (table["kind"] != "augmentation") & (table["added"] == 0)
    table.loc[empty, "note"] = np.where(table.loc[empty, "loaded"] == 0, "nothing loaded", "no rows left after selection, guard and cap")
    return table.astype({"labels": object}).fillna("")


def guard_table(dropped: pd.DataFrame, sources: list[str]) -> pd.DataFrame:
    """Rows dropped per rule (rows, in the guard's order) and source (columns), with a total column."""
    rules = sorted(set(dropped["rule"]), key=lambda rule: ("train" in rule, rule.startswith("repeats"), rule.startswith("near")))
    table = pd.crosstab(dropped["rule"], dropped[SOURCE]).reindex(index=rules, columns=sources, fill_value=0)
    table["total"] = table.sum(axis=1)
    return table


def label_table(train: pd.DataFrame) -> pd.DataFrame:
    """Rows and rows per label of each source of the expanded train, and the total."""
    table = train.groupby(SOURCE, sort=False)[LABELS].sum()
    table.insert(0, "rows", train.groupby(SOURCE, sort=False).size())
    table.loc["total"] = table.sum()
    return table


def boundary_examples(dropped: pd.DataFrame, per_rule: int = 3) -> pd.DataFrame:
    """The near copies closest to their threshold, per rule: the cases the threshold decides."""
    near = dropped[dropped["rule"].str.startswith("near")]
    return near.sort_values("score").groupby("rule", sort=False).head(per_rule)[["rule", "score", SOURCE, TEXT, "match"]]


def source_examples(train: pd.DataFrame, per_source: int = 2) -> pd.DataFrame:
    """The first few rows of every source other than train, with their labels as names."""
    added = train[train[SOURCE] != TRAIN_SOURCE].groupby(SOURCE, sort=False).head(per_source)
    return added.assign(labels=[", ".join(names) for names in onehot_to_lists(added)])[[SOURCE, TEXT, "labels"]]


def write_expansion(expansion: Expansion, run_dir: Path) -> dict[str, Path]:
    """Write train_expanded.csv and the report tables (expansion/*.csv, report.json) into the run folder."""
    target = run_dir / EXPANDED_TRAIN
    if target.exists():
        print(f"Note: replacing {target} from an earlier execution of this run")
    report = run_dir / REPORT_DIR
    labels = label_table(expansion.train)
    paths = {
        "train_expanded": write_csv(expansion.train, target),
        "sources": write_csv(expansion.sources, report / "sources.csv"),
        "labels": write_csv(labels.reset_index(), report / "labels.csv"),
        "guard": write_csv(expansion.guard.reset_index(), report / "guard.csv"),
        "dropped": write_csv(expansion.dropped, report / "dropped.csv"),
        "augmentation": write_csv(expansion.augmentation, report / "augmentation.csv"),
    }
    summary = {
        "rows": len(expansion.train),
        "sources": expansion.sources.to_dict(orient="records"),
        "labels": labels.reset_index().to_dict(orient="records"),
        "guard": {rule: row.to_dict() for rule, row in expansion.guard.iterrows()},
        "augmentation": expansion.augmentation.to_dict(orient="records"),
        "seconds": expansion.seconds,
    }
    paths["report"] = write_text(report / "report.json", json.dumps(summary, ensure_ascii=False, indent=2, default=int))
    headline(f"Wrote {len(expansion.train)} rows to {target} and the report tables to {report}")
    return paths
