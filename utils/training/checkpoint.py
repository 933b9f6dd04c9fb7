"""Saving and loading a trained `Model`: safetensors weights, a JSON config and the tokenizer files; nothing pickled."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_model as load_weights
from safetensors.torch import save_model as save_weights

from ..core.files import OutputExistsError, read_json, write_text
from ..core.run_record import rebuild_hint
from ..core.settings import ModelConfig, TextConfig
from ..core.splits import LABELS
from .backbones import NAVEC, HuggingFaceBackbone, NavecBackbone
from .model import Model

CONFIG_FILE, WEIGHTS_FILE, ENCODER_DIR = "model_config.json", "model.safetensors", "encoder"
FOLD_PREFIX = "fold_"
FORMAT_VERSION = 1


@contextmanager
def staged_folder(folder: Path, overwrite: bool = True, carry: tuple[str, ...] = (), announce: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder`; swap it in whole when the block succeeds (replacing is announced).

    The entries named in `carry` move from the old folder into the new one (the training checkpoints under model/)."""
    if folder.exists() and not overwrite:
        raise OutputExistsError(f"{folder} already exists: refusing to overwrite it (choose another name or pass overwrite=True)")
    staging = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        if folder.exists():
            if announce and any(path.name not in carry for path in folder.iterdir()):
                print(f"Replacing the model(s) saved before in {folder}")
            for name in carry:
                if (folder / name).exists():
                    (folder / name).rename(staging / name)
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_model_files(model: Model, folder: Path) -> None:
    """model_config.json + model.safetensors + encoder/ (tokenizer or vocabulary, encoder config) into `folder`."""
    settings = {"format_version": FORMAT_VERSION, "labels": LABELS, "model": model.config.model_dump(),
                "text": model.text.model_dump() if model.text else None}
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / CONFIG_FILE, json.dumps(settings, indent=2, ensure_ascii=False))
    save_weights(model, str(folder / WEIGHTS_FILE))
    model.backbone.save_files(folder / ENCODER_DIR)


def save_model(model: Model, folder: str | Path, overwrite: bool = True, carry: tuple[str, ...] = ()) -> Path:
    """Save one model as `folder/` (model_config.json, model.safetensors, encoder/), swapped in whole (keeping `carry`)."""
    with staged_folder(Path(folder), overwrite, carry) as staging:
        write_model_files(model, staging)
    return Path(folder)


def save_models(models: list[Model], folder: str | Path, overwrite: bool = True, carry: tuple[str, ...] = ()) -> Path:
    """Save k fold models as `folder/fold_<k>/` (or one model as `folder/`), swapped in whole (keeping `carry`)."""
    if len(models) == 1:
        return save_model(models[0], folder, overwrite, carry)
    with staged_folder(Path(folder), overwrite, carry) as staging:
        for k, model in enumerate(models):
            write_model_files(model, staging / f"{FOLD_PREFIX}{k}")
    return Path(folder)


def load_model(folder: str | Path, device: str = "cpu") -> Model:
    """Rebuild a saved Model (architecture, tokenizer, weights, text preprocessing) in eval mode; no training state."""
    folder = Path(folder)
    expected = f"{CONFIG_FILE}, {WEIGHTS_FILE} and {ENCODER_DIR}/"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such model folder; a saved model is a folder holding {expected}")
    if not (folder / CONFIG_FILE).exists() and list(folder.glob(f"{FOLD_PREFIX}*")):
        raise FileNotFoundError(f"{folder} holds k-fold models ({FOLD_PREFIX}<k>/); load them with load_models({str(folder)!r})")
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, ENCODER_DIR) if not (folder / name).exists()]
    fix = rebuild_hint(folder)
    if missing:
        raise FileNotFoundError(f"{folder}: missing {missing}; a saved model holds {expected} (written by save_model): {fix}")
    settings = read_json(folder / CONFIG_FILE, fix)
    if settings.get("labels") != LABELS:
        raise ValueError(f"{folder / CONFIG_FILE}: labels {settings.get('labels')} differ from the kit's {LABELS}")
    config = ModelConfig(**settings["model"])
    encoder = folder / ENCODER_DIR
    if config.backbone == NAVEC:
        backbone = NavecBackbone.from_folder(encoder, config.navec, config.pooling, config.max_len)
    else:
        backbone = HuggingFaceBackbone.from_folder(encoder, config.backbone, config.pooling, config.max_len)
    model = Model(backbone, config.head, TextConfig(**settings["text"]) if settings["text"] else None)
    misfit = f"{folder / WEIGHTS_FILE} does not fit the architecture in {CONFIG_FILE}"
    try:
        missing_weights, unexpected = load_weights(model, str(folder / WEIGHTS_FILE), strict=False)
    except RuntimeError as error:  # a tensor of another shape
        raise ValueError(f"{misfit}: {str(error).strip().splitlines()[-1].strip()}") from None
    except SafetensorError as error:
        raise ValueError(f"{folder / WEIGHTS_FILE} is truncated or not a safetensors file ({error}): {fix}") from None
    if missing_weights or unexpected:
        raise ValueError(f"{misfit}: missing {sorted(missing_weights)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return model.to(device).eval()


def load_models(folder: str | Path, device: str = "cpu") -> list[Model]:
    """The fold models under `folder/fold_<k>/` (k-fold training), or the single model saved in `folder`."""
    folder = Path(folder)
    folds = sorted(folder.glob(f"{FOLD_PREFIX}*"), key=lambda path: int(path.name[len(FOLD_PREFIX):]))
    models = [load_model(path, device) for path in folds] or [load_model(folder, device)]
    first_of = {}  # the fold models usually share one vocabulary: one tokenizer object lets predict_probs tokenise once
    for path, model in zip(folds, models):
        first = first_of.setdefault(encoder_digest(path / ENCODER_DIR), model)
        model.backbone.tokenizer = first.backbone.tokenizer
    return models


def encoder_digest(folder: Path) -> str:
    """A hash of the files of a saved encoder folder (tokenizer or vocabulary and encoder settings)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
