"""The GPU path, checked and timed on a CUDA machine with no internet (the way a Kaggle kernel runs it).

    python benchmarks/gpu_check.py [--out FILE.json] [--device cuda] [--rows 4096]

(`--device cpu --rows 64` runs the same steps on a CPU, to check the script itself.)

1. Fine-tunes a tiny BERT (a WordPiece tokenizer trained on the sample, saved, loaded with `from_pretrained`) on
   data/sample in fp32, bf16 and fp16 on CUDA, and with 2 folds in bf16; each run must learn (weighted F1 above a
   shuffled baseline), its CUDA predictions must match the saved model's CPU predictions, and notebook 05's
   `predict_test` must run on the GPU.
2. Times training and inference (texts/s, bf16) of randomly initialised BERTs the size of rubert-tiny2 and of a
   base model on sample texts repeated to 4,096 rows (short texts: real throughput on longer texts is lower).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tiny_models import build_tiny_bert  # noqa: E402

from utils.core.paths import SAMPLE_DATA_DIR  # noqa: E402
from utils.core.seed import seed_everything  # noqa: E402
from utils.core.settings_io import load_config  # noqa: E402
from utils.core.splits import label_matrix, load_competition  # noqa: E402
from utils.inference.notebook import predict_test  # noqa: E402
from utils.inference.predictor import Predictor  # noqa: E402
from utils.training.notebook import load_training_data, train_model  # noqa: E402
from utils.training.report import write_training_report  # noqa: E402
from utils.training.scores import best_single_threshold  # noqa: E402

SIZES = {  # BertConfig fields of the two sizes timed
    "rubert-tiny2 size": {"hidden_size": 312, "num_hidden_layers": 3, "num_attention_heads": 12, "intermediate_size": 600,
                          "vocab_size": 83828},
    "base size": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 119547},
}


def run(folder: Path, name: str, backbone: Path, device: str, **overrides) -> dict:
    """Train with the kit's own calls (notebook 03) into folder/runs/name; return the scores and times."""
    settings = {"model.backbone": str(backbone), "model.pooling": "cls", "train.lr": 2e-3, "train.epochs": 15, "train.early_stopping": 0,
                "train.device": device, "train.folds": 0, "tfidf.weight": 0.0, **overrides}
    config = dataclasses.replace(load_config(None, settings), name=name, runs_dir=str(folder / "runs"), data_dir=str(SAMPLE_DATA_DIR))
    seed_everything(config.seed)
    data = load_training_data(config)
    began = time.perf_counter()
    result = train_model(config, data)
    seconds = time.perf_counter() - began
    metrics = write_training_report(config, data, result)
    y = label_matrix(data.valid)
    shuffled = best_single_threshold(y, np.random.default_rng(0).permutation(result.valid_probs))[1]
    cpu = Predictor.from_run(config.run_dir, "cpu").probs(data.valid.text)
    gpu = Predictor.from_run(config.run_dir, device).probs(data.valid.text)
    return {"run": name, "precision": config.train.precision, "folds": config.train.folds, "train_seconds": round(seconds, 1),
            "valid_weighted_f1_best_single": round(metrics["weighted_f1_at_best_single_threshold"], 4),
            "shuffled_baseline": round(shuffled, 4), "max_abs_cuda_vs_cpu": float(np.abs(cpu - gpu).max()), "config": config}


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def throughput(folder: Path, size: str, fields: dict, texts: list[str], device: str, count: int) -> dict:
    """Training and inference texts/s of a random BERT of the given size (bf16, batch 32 / 256, max 128 tokens)."""
    from transformers import BertConfig, BertModel

    backbone = build_tiny_bert(folder / size.replace(" ", "_"), texts)
    BertModel(BertConfig(**fields, max_position_embeddings=512)).save_pretrained(backbone)
    rows = (texts * (count // len(texts) + 1))[:count]
    from utils.core.settings import ModelConfig, TrainConfig
    from utils.training.loop import fit
    from utils.training.model import build_model
    from utils.training.prediction import predict_probs

    model = build_model(ModelConfig(backbone=str(backbone), pooling="cls"), rows)
    labels = np.zeros((len(rows), 7), dtype=np.float32)
    labels[np.arange(len(rows)), np.arange(len(rows)) % 7] = 1
    train_data = model.dataset(rows, labels)
    config = TrainConfig(epochs=1, batch_size=32, precision="bf16", device=device, early_stopping=0)
    synchronize(device)
    began = time.perf_counter()
    fit(model, train_data, model.dataset(rows[:256], labels[:256]), config)
    synchronize(device)
    train_seconds = time.perf_counter() - began
    model.to(device)
    predict_probs(model, rows[:512], 256)
    began = time.perf_counter()
    predict_probs(model, rows, 256)
    synchronize(device)
    infer_seconds = time.perf_counter() - began
    return {"size": size, "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            "train_texts_per_s": round(len(rows) / train_seconds), "infer_texts_per_s (fp32 weights)": round(len(rows) / infer_seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run of the script)")
    parser.add_argument("--rows", type=int, default=4096, help="rows timed per size")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device: this check needs a GPU (or --device cpu for a dry run).")
        return 2
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "none (dry run on the CPU)"
    report = {"torch": torch.__version__, "gpu": gpu, "runs": [], "throughput": []}
    sample = load_competition(SAMPLE_DATA_DIR)
    texts = sample.train.text.tolist()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backbone = build_tiny_bert(folder / "tiny_bert", texts)
        for name, overrides in (("fp32", {}), ("bf16", {"train.precision": "bf16"}), ("fp16", {"train.precision": "fp16"}),
                                ("bf16-folds", {"train.precision": "bf16", "train.folds": 2})):
            result = run(folder, name, backbone, args.device, **overrides)
            config = result.pop("config")
            print(json.dumps(result), flush=True)
            assert result["valid_weighted_f1_best_single"] > result["shuffled_baseline"], f"{name}: did not learn"
            assert result["max_abs_cuda_vs_cpu"] < 0.05, f"{name}: CUDA and CPU predictions differ"
            report["runs"].append(result)
        submission = predict_test(config)  # notebook 05's call, on the GPU when the run trained there
        report["predict_test"] = str(submission.name)
        for size, fields in SIZES.items():
            report["throughput"].append(throughput(folder, size, fields, texts, args.device, args.rows))
            print(json.dumps(report["throughput"][-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("GPU check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
