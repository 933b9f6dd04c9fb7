"""Notebook 03 as three calls: load the training data, train the run's members (the network: one or k fold models), write the products."""
from __future__ import annotations

import dataclasses
import io
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.ensemble import Ensemble
from ..core.figures import save_figure
from ..core.files import write_csv
from ..core.member_kinds import MemberKind, member_folder
from ..core.paths import EXPANDED_TRAIN, MEMBER_PROBS_DIR, METRICS, MODEL_DIR, NOISY, VALID_NOISY_PROBS, VALID_PROBS
from ..core.probs_files import write_probs
from ..core.progress import headline, no_progress_bars
from ..core.seed import seed_everything
from ..core.settings import RunConfig
from ..core.splits import LABELS, SOURCE, SPLIT_FILES, TEXT, label_matrix, read_split, warn_absent_labels
from ..core.text import asr_style, load_slips
from ..expansion.augment import asr_noise, generator_for, learn_slip_patterns
from .checkpoint import save_models
from .dataset import EmotionDataset
from .distributed import die_with_parent, is_main_process, launch_training, launched_processes
from .folds import train_fold, train_on_valid_folds, valid_folds
from .loop import fit_part
from .members_of_run import MemberRun, blend_of, run_ensemble, run_members, train_in_worker
from .model import Model, build_model
from .prediction import predict_probs
from .report import plot_history, write_metrics
from .resume import CHECKPOINTS_DIR, Checkpoints, training_fingerprint
from .runtime import MIXED_PRECISION, resolve_fold_workers, resolve_processes, resolve_runtime
from .scores import score_probs


@dataclass
class TrainingData:
    """Labelled train and valid frames, the test texts (for the vocabulary only) and where train came from."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test_texts: list[str]
    train_file: Path


def load_training_data(config: RunConfig) -> TrainingData:
    """runs/<name>/train_expanded.csv when notebook 02 wrote it, else the data folder's train.csv; valid and test too."""
    data_dir = Path(config.data_dir)
    expanded = config.run_dir / EXPANDED_TRAIN
    if expanded.is_file():
        train = read_split(expanded, extra_columns=(SOURCE,))
    else:
        print(f"No {expanded} (notebook 02 not run for this run): training on {data_dir / SPLIT_FILES['train']}")
        train = read_split(data_dir / SPLIT_FILES["train"])
    valid = read_split(data_dir / SPLIT_FILES["valid"])
    test = read_split(data_dir / SPLIT_FILES["test"], test=True)
    data = TrainingData(train, valid, test[TEXT].tolist(), expanded if expanded.is_file() else data_dir / SPLIT_FILES["train"])
    print(f"train: {len(train)} rows from {data.train_file.name}; valid: {len(valid)} rows; test: {len(test)} texts (vocabulary only)")
    warn_absent_labels(train, data.train_file.name, valid, config.train.folds)
    return data


@dataclass
class TrainingResult:
    """The trained members, their blend's valid probabilities (out-of-fold in k-fold mode), the network's models and log."""

    models: list[Model]  # the neural member's (none without one)
    valid_probs: np.ndarray
    history: pd.DataFrame
    mode: str  # "train" (one model trained on train) or "folds" (k models over valid, train always in)
    seconds: float
    member_probs: dict[str, np.ndarray]  # each ensemble member's valid probabilities, before blending
    members: dict[str, MemberKind]  # the trained members, by name
    ensemble: Ensemble


def valid_in_test_style(config: RunConfig, data: TrainingData) -> list[str] | None:
    """With train.score_as_test, the valid texts written as the test is (held-out rows are scored so); else None."""
    return [asr_style(text) for text in data.valid[TEXT]] if config.train.score_as_test else None


def valid_folds_of(config: RunConfig, data: TrainingData) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The run's folds over valid (rows to fit, rows held out), None when training on train only."""
    return valid_folds(label_matrix(data.valid), config.train.folds, config.seed) if config.train.folds else None


def train_neural(template: Model, train_data: EmotionDataset, valid_data: EmotionDataset, scored_data: EmotionDataset,
                 config: RunConfig, checkpoints: Checkpoints) -> tuple[list[Model], np.ndarray, pd.DataFrame, str]:
    """The neural model(s), their valid probabilities, log and mode: k folds over valid, or the template trained on train.
    Parts finished in `checkpoints` are loaded, the one in progress continues from its last state."""
    if config.train.folds:
        folds = train_on_valid_folds(template, train_data, valid_data, config.train, config.seed, scored_data, checkpoints)
        return folds.models, folds.oof_probs, folds.history, "folds"
    probs, history = fit_part(template, train_data, scored_data, config.train, config.seed, True, checkpoints.part(0))
    return [template.cpu()], probs, history, "train"


SEED_STRIDE = 1000  # train.seeds: N -> seed, seed + 1000, ...: runs of neighbouring seeds (a benchmark's 42, 43) share no model


def seeded_configs(config: RunConfig) -> list[RunConfig]:
    """The run's settings once per seed the neural member trains with (train.seeds; the run's seed when it is [])."""
    seeds = config.train.seeds
    seeds = [config.seed + SEED_STRIDE * i for i in range(seeds)] if isinstance(seeds, int) else seeds
    return [config.model_copy(update={"seed": seed}) for seed in seeds] or [config]


def open_checkpoints(config: RunConfig, data: TrainingData, processes: int, check: bool = True) -> Checkpoints:
    """This training's checkpoints under model/ (a folder per seed with train.seeds); with `check` the main process refuses
    those of other settings and announces a resume, and the other processes of a launch wait for that."""
    folder = config.run_dir / MODEL_DIR / CHECKPOINTS_DIR
    checkpoints = Checkpoints(folder / f"seed-{config.seed}" if config.train.seeds else folder,
                              training_fingerprint(config, data.train, data.valid, data.test_texts, processes))
    if check and is_main_process():
        checkpoints.open()
    if check and launched_processes() > 1:
        from accelerate import PartialState

        PartialState(cpu=resolve_runtime(config.train).device == "cpu").wait_for_everyone()
    return checkpoints


def neural_inputs(config: RunConfig, data: TrainingData, styled: list[str] | None) -> tuple[Model, EmotionDataset, EmotionDataset,
                                                                                          EmotionDataset]:
    """The untrained model (vocabulary from every split's texts) and the train, valid and scored valid datasets; its initial
    weights come from the run's seed, so every process that builds it builds the same model."""
    seed_everything(config.seed)
    model = build_model(config.model, [*data.train[TEXT], *data.valid[TEXT], *data.test_texts], config.text)
    valid_data = model.dataset(data.valid[TEXT], label_matrix(data.valid))
    scored_data = valid_data if styled is None else model.dataset(styled, label_matrix(data.valid))
    return model, model.dataset(data.train[TEXT], label_matrix(data.train)), valid_data, scored_data


_worker_inputs: dict[int, list] = {}  # (a fold worker) per seed, `neural_inputs` and the folds, made by its first fold, kept


def train_fold_in_worker(config: RunConfig, data: TrainingData, styled: list[str] | None, k: int) -> str:
    """(A fold worker process.) Train fold k into model/checkpoints/ as its finished part; returns what it printed."""
    log = io.StringIO()
    with redirect_stdout(log), no_progress_bars():
        if config.seed not in _worker_inputs:
            inputs = neural_inputs(config, data, styled)
            _worker_inputs[config.seed] = [*inputs, valid_folds(inputs[2].labels.numpy(), config.train.folds, config.seed)]
        template, train_data, valid_data, scored_data, folds = _worker_inputs[config.seed]
        checkpoints = open_checkpoints(config, data, 1, check=False)
        train_fold(template, train_data, valid_data, config.train, k, folds[k], config.seed, scored_data, checkpoints)
    return log.getvalue()


def train_folds_in_workers(config: RunConfig, data: TrainingData, styled: list[str] | None, pool: ProcessPoolExecutor,
                           checkpoints: Checkpoints, workers: int) -> None:
    """Train the unfinished folds in the pool's worker processes, each fold's log printed when it finishes; the models are
    those of one process training the folds in turn (each fold is seeded on its own)."""
    pending = [k for k in range(config.train.folds) if not checkpoints.part(k).finished()]
    if not pending:
        return
    print(f"Training fold(s) {', '.join(str(k + 1) for k in pending)} of {config.train.folds} side by side in {workers} worker "
          f"processes (train.fold_workers); each fold's log is shown when it finishes.", flush=True)
    jobs = [pool.submit(train_fold_in_worker, config, data, styled, k) for k in pending]
    for job in as_completed(jobs):
        print(job.result(), end="", flush=True)


def train_neural_parts(config: RunConfig, data: TrainingData) -> None:
    """(One of the processes notebook 03 started.) Train the neural parts of every seed into model/checkpoints/; notebook 03
    finishes."""
    styled = valid_in_test_style(config, data)
    for seeded in seeded_configs(config):
        train_neural(*neural_inputs(seeded, data, styled), seeded, open_checkpoints(seeded, data, launched_processes(), check=False))


def train_neural_member(run: MemberRun) -> tuple[list[Model], np.ndarray, pd.DataFrame, str]:
    """The neural member in train.num_processes processes (or its folds in the pool's fold workers), once per seed with
    train.seeds (every model kept, probabilities averaged), saved under model/; a training stopped before continues from its
    checkpoints in model/checkpoints/. Its models, valid probabilities, log and mode."""
    config, data = run.config, run.data
    processes = launched_processes() if launched_processes() > 1 else resolve_processes(config.train)
    seeded = {seeded.seed: (seeded, open_checkpoints(seeded, data, processes)) for seeded in seeded_configs(config)}
    if launched_processes() == 1 < processes and not all(checkpoints.all_finished(config.train.folds or 1) for _, checkpoints in
                                                         seeded.values()):
        launch_training(config.run_dir, processes, MIXED_PRECISION[config.train.precision])  # they train; the parts are loaded below
    models, seed_probs, histories = [], [], []
    for seed, (seed_config, checkpoints) in seeded.items():
        if run.workers > 1:
            train_folds_in_workers(seed_config, data, run.styled, run.pool, checkpoints, run.workers)  # the parts are loaded below
        seed_models, seed_valid_probs, seed_history, mode = train_neural(*neural_inputs(seed_config, data, run.styled), seed_config,
                                                                        checkpoints)
        models += seed_models
        seed_probs.append(seed_valid_probs)
        histories.append(seed_history.assign(seed=seed) if config.train.seeds else seed_history)
    probs, history = np.mean(seed_probs, axis=0, dtype=seed_probs[0].dtype), pd.concat(histories, ignore_index=True)
    if is_main_process():
        save_models(models, run.folder, carry=(CHECKPOINTS_DIR,))
        if not config.train.keep_checkpoints:
            shutil.rmtree(run.folder / CHECKPOINTS_DIR, ignore_errors=True)
    how = f"{run.workers} fold workers" if run.workers > 1 else f"{processes} process(es)"
    print(f"Trained the network in {how}; saved {len(models)} model(s) to {run.folder}")
    return models, probs, history, mode


def neural_held_out_probs(config: RunConfig, data: TrainingData, models: list[Model], texts: list[str]) -> np.ndarray:
    """The valid rows' `texts` each predicted by the model that held the row out, per seed, averaged over the seeds."""
    configs = seeded_configs(config)
    probs = np.zeros((len(texts), len(LABELS)))
    for j, seeded in enumerate(configs):
        for k, (_, held_out) in enumerate(valid_folds_of(seeded, data) or [(np.arange(0), np.arange(len(texts)))]):
            model = models[j * len(models) // len(configs) + k]
            probs[held_out] += predict_probs(model, [texts[i] for i in held_out], config.train.eval_batch_size) / len(configs)
    return probs


def train_model(config: RunConfig, data: TrainingData) -> TrainingResult:
    """Train the run's members (the settings' `members`) and blend their valid probabilities: the neural one in this
    process (and the ones it starts), every other at the same time in a worker process, each saved in its folder."""
    started = time.perf_counter()
    styled = valid_in_test_style(config, data)
    workers = resolve_fold_workers(config.train, len(data.train)) if launched_processes() == 1 else 1
    members = run_members(config)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent) as pool:
        def run_of(name: str) -> MemberRun:
            folder = config.run_dir / member_folder(name, type(members[name]))
            return MemberRun(config, data, styled, valid_folds_of(config, data), folder, None, workers)

        jobs = {name: pool.submit(train_in_worker, member, run_of(name)) for name, member in members.items()
                if not member.neural and is_main_process()}  # they use the CPU core the network leaves idle
        probs = {name: member.train(dataclasses.replace(run_of(name), pool=pool)) for name, member in members.items() if member.neural}
        for name, job in jobs.items():
            print(f"Waiting for member {name} ...", flush=True)
            probs[name], printed = job.result()
            print(printed, end="", flush=True)
            members[name] = type(members[name]).load(name, run_of(name).folder)
    probs = {name: probs[name] for name in members if name in probs}  # in the settings' order
    neural = next((member for member in members.values() if member.neural), None)
    ensemble = blend_of(config, label_matrix(data.valid), probs) if is_main_process() else run_ensemble(config)
    blended = ensemble.combine(probs) if is_main_process() else probs[neural.name]
    history = neural.history if neural else pd.DataFrame()
    mode = neural.mode if neural else ("folds" if config.train.folds else "train")
    models = neural.models if neural else []
    result = TrainingResult(models, blended, history, mode, time.perf_counter() - started, probs, members, ensemble)
    print(f"Trained {len(members)} member(s) in {result.seconds:.0f} s: "
          + ", ".join(f"{name} ({type(member).kind}, weight {ensemble.weights[name]:.2f})" for name, member in members.items())
          + (" (weights learned on their held-out probabilities)" if config.train.member_weights == "learned" and len(members) > 1 else ""))
    return result


def noisy_valid_texts(config: RunConfig, data: TrainingData) -> list[str]:
    """The valid texts written with the kit's speech-recognition noise (slips and merged words from the slip dictionary,
    expansion.augment.asr_slip_rate per word): how the test is written, for scoring held-out rows the way it is scored."""
    patterns = learn_slip_patterns(load_slips(config.text.slips_file))
    rng = generator_for(config.seed, "held-out rows with ASR noise")
    return [asr_noise(text, patterns, rng, config.expansion.augment.asr_slip_rate) for text in data.valid[TEXT]]


def score_noisy_held_out(config: RunConfig, data: TrainingData, result: TrainingResult) -> dict[str, np.ndarray]:
    """Each member's held-out valid probabilities of the same rows written with ASR noise, each row scored by the member's
    part(s) that did not train on it."""
    texts = noisy_valid_texts(config, data)
    run = MemberRun(config, data, None, valid_folds_of(config, data), config.run_dir)
    return {name: member.predict_held_out(run, texts) for name, member in result.members.items()}


def write_member_probs(member_probs: dict[str, np.ndarray], noisy: dict[str, np.ndarray], folder: Path) -> None:
    """member_probs/<member>.csv and <member>.asr_noise.csv (the folder rewritten): what notebook 04 learns the weights on."""
    shutil.rmtree(folder, ignore_errors=True)
    for name, probs in member_probs.items():
        write_probs(probs, folder / f"{name}.csv")
        write_probs(noisy[name], folder / f"{name}.{NOISY}.csv")


def write_training_report(config: RunConfig, data: TrainingData, result: TrainingResult) -> dict:
    """valid_probs_raw.csv (and the same held-out rows written with ASR noise), metrics.json, training_log.csv and
    training_curves.png in runs/<name>/; returns the metrics."""
    metrics = score_probs(label_matrix(data.valid), result.valid_probs)
    metrics.update(mode=result.mode, models=len(result.models), train_rows=len(data.train), train_file=str(data.train_file),
                   train_seconds=round(result.seconds, 1), backbone=config.model.backbone, member_weights=result.ensemble.weights)
    if len(result.member_probs) > 1:
        metrics["members"] = {name: score_probs(label_matrix(data.valid), probs) for name, probs in result.member_probs.items()}
    run_dir = config.run_dir
    noisy = score_noisy_held_out(config, data, result)
    write_probs(result.valid_probs, run_dir / VALID_PROBS)
    write_probs(result.ensemble.combine(noisy), run_dir / VALID_NOISY_PROBS)
    write_member_probs(result.member_probs, noisy, run_dir / MEMBER_PROBS_DIR)
    write_metrics(metrics, run_dir / METRICS)
    if result.models:
        write_csv(result.history, run_dir / "training_log.csv")
        title = f"{len(result.models)} folds over valid (mean)" if result.mode == "folds" else "Training on train"
        save_figure(plot_history(result.history, title), run_dir / "training_curves.png")
    scored = "out-of-fold " if result.mode == "folds" else ""
    headline(f"valid ({scored}{metrics['rows']} rows): weighted F1 {metrics['weighted_f1']:.4f} at 0.5, "
          f"{metrics['weighted_f1_at_best_single_threshold']:.4f} at the best single threshold "
          f"{metrics['best_single_threshold']:.2f}; macro F1 {metrics['macro_f1']:.4f}")
    return metrics
