"""The GPU path, checked and timed on a CUDA machine with no internet (the way a Kaggle kernel runs it).

    python benchmarks/gpu_check.py [--out FILE.json] [--device cuda] [--rows 4096]

(`--device cpu --rows 64` runs the same steps on a CPU, with 2 processes standing in for all GPUs, to check the script.)

1. Fine-tunes a tiny BERT (a WordPiece tokenizer trained on the sample, saved, loaded with `from_pretrained`) on data/sample
   with notebook 03's calls in fp32, bf16, fp16, and bf16 with 2 folds; each run must learn (weighted F1 above a shuffled
   baseline), its CUDA predictions must match its saved model's CPU predictions, and notebook 05's `predict_test` must run.
2. The same tiny BERT on 1 GPU and on all GPUs (`train.num_processes`): texts/s per GPU count, each run must learn, and
   how many valid rows get the same decisions at 0.5 from the two.
3. Kill and resume on the GPU: `python -m utils.train` SIGKILLed once its first checkpoint exists, run again; its products
   against an uninterrupted run's (byte-identical, or the largest probability difference).
4. Texts/s of randomly initialised BERTs the size of rubert-tiny2 and of a base model (bf16, 4,096 short sample rows).
5. Peak GPU memory of a ruRoberta-large-size encoder (random weights, 128 tokens a row, fp16, AdamW) per batch size, with
   and without gradient checkpointing: what the Kaggle kernel's batch 16 needs of a 16 GB T4.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
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
from utils.core.run_start import start_run  # noqa: E402
from utils.core.splits import label_matrix, load_competition  # noqa: E402
from utils.inference.notebook import predict_test  # noqa: E402
from utils.inference.predictor import Predictor  # noqa: E402
from utils.training.notebook import load_training_data, train_model, write_training_report  # noqa: E402
from utils.training.runtime import resolve_processes  # noqa: E402
from utils.training.scores import best_single_threshold  # noqa: E402

SIZES = {  # BertConfig fields of the sizes timed and measured
    "rubert-tiny2 size": {"hidden_size": 312, "num_hidden_layers": 3, "num_attention_heads": 12, "intermediate_size": 600,
                          "vocab_size": 83828},
    "base size": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 119547},
}
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096, "vocab_size": 50265}


def tiny_settings(backbone: Path, device: str, **overrides) -> dict:
    return {"model.backbone": str(backbone), "model.pooling": "cls", "train.lr": 2e-3, "train.epochs": 15, "train.early_stopping": 0,
            "train.device": device, "train.folds": 0, "tfidf.weight": 0.0, **overrides}


def run(folder: Path, name: str, backbone: Path, device: str, **overrides) -> dict:
    """Train with notebook 03's calls into folder/runs/name; the scores, texts/s and the CUDA-vs-CPU gap of its model."""
    config = start_run(overrides={**tiny_settings(backbone, device, **overrides), "runs_dir": str(folder / "runs")},
                       data_dir=SAMPLE_DATA_DIR, run_name=name)
    data = load_training_data(config)
    result = train_model(config, data)
    metrics = write_training_report(config, data, result)
    processes = resolve_processes(config.train)
    y = label_matrix(data.valid)
    shuffled = best_single_threshold(y, np.random.default_rng(0).permutation(result.valid_probs))[1]
    cpu = Predictor.from_run(config.run_dir, "cpu").probs(data.valid.text)
    gpu = Predictor.from_run(config.run_dir, device).probs(data.valid.text)
    rows = int(result.history["rows"].sum())
    return {"run": name, "precision": config.train.precision, "folds": config.train.folds, "processes": processes,
            "train_seconds": round(result.seconds, 1), "train_texts_per_s": round(rows / result.history["train_seconds"].sum()),
            "train_texts_per_s_per_process": round(rows / result.history["train_seconds"].sum() / processes),
            "valid_weighted_f1_best_single": round(metrics["weighted_f1_at_best_single_threshold"], 4),
            "shuffled_baseline": round(shuffled, 4), "max_abs_cuda_vs_cpu": float(np.abs(cpu - gpu).max()), "config": config,
            "decisions": result.valid_probs >= 0.5}


def kill_and_resume(folder: Path, backbone: Path, device: str) -> dict:
    """`python -m utils.train` killed after its first checkpoint and run again, against an uninterrupted run."""
    settings = tiny_settings(backbone, device, **{"train.epochs": 6, "train.checkpoint_steps": 5, "train.precision": "bf16"})
    runs = {name: start_run(overrides={**settings, "runs_dir": str(folder / "resume")}, data_dir=SAMPLE_DATA_DIR, run_name=name).run_dir
            for name in ("whole", "killed")}
    command = [sys.executable, "-m", "utils.train"]
    subprocess.run([*command, str(runs["whole"])], cwd=ROOT, check=True, capture_output=True)
    process = subprocess.Popen([*command, str(runs["killed"])], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = runs["killed"] / "model" / "checkpoints"
    while process.poll() is None and not list(checkpoints.glob("state_*")):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    held = sorted(path.name for path in checkpoints.iterdir()) if checkpoints.is_dir() else []
    resumed = subprocess.run([*command, str(runs["killed"])], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = ("valid_probs.csv", "model/model.safetensors")
    probs = [np.loadtxt(run / "valid_probs.csv", delimiter=",", skiprows=1) for run in runs.values()]
    return {"killed_holding": held, "resumed": "Resuming the training saved in" in resumed,
            "identical_files": {name: (runs["whole"] / name).read_bytes() == (runs["killed"] / name).read_bytes() for name in files},
            "max_abs_probability_difference": float(np.abs(probs[0] - probs[1]).max())}


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def random_bert(folder: Path, fields: dict, texts: list[str], max_len: int = 128):
    """A Model around a randomly initialised BERT of the given size (the sample's WordPiece tokenizer)."""
    from transformers import BertConfig, BertModel

    from utils.core.settings import ModelConfig
    from utils.training.model import build_model

    backbone = build_tiny_bert(folder, texts)
    BertModel(BertConfig(**fields, max_position_embeddings=512)).save_pretrained(backbone)
    return lambda **changes: build_model(ModelConfig(backbone=str(backbone), pooling="cls", max_len=max_len, **changes), texts)


def labels_for(count: int) -> np.ndarray:
    labels = np.zeros((count, 7), dtype=np.float32)
    labels[np.arange(count), np.arange(count) % 7] = 1
    return labels


def throughput(folder: Path, size: str, fields: dict, texts: list[str], device: str, count: int) -> dict:
    """Training and inference texts/s of a random BERT of the given size (bf16, batch 32 / 256, max 128 tokens)."""
    from utils.core.settings import TrainConfig
    from utils.training.loop import fit
    from utils.training.prediction import predict_probs

    rows = (texts * (count // len(texts) + 1))[:count]
    model = random_bert(folder / size.replace(" ", "_"), fields, texts)()
    train_data = model.dataset(rows, labels_for(len(rows)))
    synchronize(device)
    began = time.perf_counter()
    scored = min(256, len(rows))
    fit(model, train_data, model.dataset(rows[:scored], labels_for(scored)),
        TrainConfig(epochs=1, batch_size=32, precision="bf16", device=device, early_stopping=0))
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


def large_memory(folder: Path, texts: list[str], device: str, fields: dict, batch_sizes: tuple[int, ...]) -> list[dict]:
    """Peak allocated GPU memory of 4 fp16 AdamW steps of an encoder of the given size on 128-token rows, per batch size."""
    from utils.core.settings import TrainConfig
    from utils.training.loop import fit

    long_text = " ".join(texts)  # every row is cut at 128 tokens
    build = random_bert(folder / "large", fields, texts)
    measured = []
    for checkpointing in (False, True):
        for batch in batch_sizes:
            model = build(gradient_checkpointing=checkpointing)
            rows = [long_text] * (4 * batch)
            data = model.dataset(rows, labels_for(len(rows)))
            if device == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            fit(model, data, model.dataset(rows[:batch], labels_for(batch)),
                TrainConfig(epochs=1, batch_size=batch, precision="fp16", device=device, early_stopping=0, eval_batch_size=batch))
            peak = round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None
            measured.append({"batch_size": batch, "gradient_checkpointing": checkpointing, "peak_allocated_gb": peak,
                             "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)})
            print(json.dumps(measured[-1]), flush=True)
            del model, data
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run of the script)")
    parser.add_argument("--rows", type=int, default=4096, help="rows timed per size")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device: this check needs a GPU (or --device cpu for a dry run).")
        return 2
    gpus = torch.cuda.device_count() if args.device == "cuda" else 2
    gpu = f"{gpus} x {torch.cuda.get_device_name(0)}" if args.device == "cuda" else "none (dry run on the CPU, 2 processes)"
    report = {"torch": torch.__version__, "gpu": gpu, "runs": [], "processes": [], "throughput": []}
    texts = load_competition(SAMPLE_DATA_DIR).train.text.tolist()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backbone = build_tiny_bert(folder / "tiny_bert", texts)
        for name, overrides in (("fp32", {}), ("bf16", {"train.precision": "bf16"}), ("fp16", {"train.precision": "fp16"}),
                                ("bf16-folds", {"train.precision": "bf16", "train.folds": 2})):
            result = run(folder, name, backbone, args.device, **overrides)
            config, _ = result.pop("config"), result.pop("decisions")
            print(json.dumps(result), flush=True)
            assert result["valid_weighted_f1_best_single"] > result["shuffled_baseline"], f"{name}: did not learn"
            assert result["max_abs_cuda_vs_cpu"] < 0.05, f"{name}: CUDA and CPU predictions differ"
            report["runs"].append(result)
        report["predict_test"] = str(predict_test(config).name)  # notebook 05's call, on the GPU when the run trained there
        decisions = {}
        for count in sorted({1, gpus}):
            result = run(folder, f"processes-{count}", backbone, args.device, **{"train.precision": "bf16", "train.num_processes": count})
            result.pop("config"), decisions.update({count: result.pop("decisions")})
            assert result["valid_weighted_f1_best_single"] > result["shuffled_baseline"], f"{count} process(es): did not learn"
            report["processes"].append(result)
            print(json.dumps(result), flush=True)
        report["same_decisions_1_vs_all"] = float((decisions[1] == decisions[gpus]).all(axis=1).mean())
        report["kill_and_resume"] = kill_and_resume(folder, backbone, args.device)
        print(json.dumps(report["kill_and_resume"]), flush=True)
        for size, fields in SIZES.items():
            report["throughput"].append(throughput(folder, size, fields, texts, args.device, args.rows))
            print(json.dumps(report["throughput"][-1]), flush=True)
        report["large_memory"] = (large_memory(folder, texts, args.device, LARGE, (8, 16, 32)) if args.device == "cuda"
                                  else large_memory(folder, texts, args.device, SIZES["rubert-tiny2 size"], (2,)))  # a dry run
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("GPU check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
