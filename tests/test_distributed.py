"""Several training processes on a CPU (gloo): from notebook 03 and python -m utils.train, on one or two 'machines'; bad
process counts and cluster configs refused before training."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO_ROOT, SAMPLE_DIR
from test_resume import new_run, train

from utils.core.paths import VALID_PROBS
from utils.core.probs_files import read_probs
from utils.core.settings import ConfigError, TrainConfig
from utils.core.splits import label_matrix, read_split
from utils.training.checkpoint import load_models
from utils.training.cli import main
from utils.training.distributed import cluster_problems, free_port
from utils.training.folds import valid_folds
from utils.training.prediction import predict_probs
from utils.training.runtime import FOLD_WORKER_ROWS, resolve_fold_workers, resolve_processes

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="counts CPU processes")


def held_out_rows_come_from_their_fold_model(run_dir, tfidf_weight: float = 0.0) -> None:
    """Every valid row once, predicted by the fold model that did not train on it (not by another one), blended with the
    TF-IDF member's same fold when it has a weight."""
    from utils.members.tfidf import TfidfClassifier

    valid = read_split(SAMPLE_DIR / "valid.csv")
    probs, models = read_probs(run_dir / VALID_PROBS), load_models(run_dir / "model")
    tfidf = TfidfClassifier.load(run_dir / "members" / "tfidf") if tfidf_weight else None
    assert probs.shape == (len(valid), 7) and ((probs > 0) & (probs < 1)).all()
    for k, (_, held_out) in enumerate(valid_folds(label_matrix(valid), len(models), seed=42)):
        texts = valid.text.iloc[held_out].tolist()

        def blended(model, texts=texts, k=k):
            linear = tfidf.probs_of_features(tfidf.features(texts), [k]) if tfidf else 0.0
            return (1 - tfidf_weight) * predict_probs(model, texts) + tfidf_weight * linear

        assert np.allclose(probs[held_out], blended(models[k]), atol=1e-5)
        assert not np.allclose(probs[held_out], blended(models[1 - k]), atol=1e-3)


@pytest.mark.e2e
@NO_GPU
def test_two_processes_give_a_valid_run_within_noise_of_one_and_only_one_prints(tmp_path):
    runs = {n: new_run(tmp_path, f"p{n}", **{"model.navec.hidden_size": 128, "model.navec.ngram_buckets": 32768,
                                             "train.epochs": 5, "train.num_processes": n}) for n in (1, 2)}
    printed = {n: train(run_dir) for n, run_dir in runs.items()}
    assert all(done.returncode == 0 for done in printed.values()), printed[2].stderr
    assert "Starting 2 training processes: accelerate launch --multi_gpu --num_processes 2" in printed[2].stdout
    assert printed[2].stdout.count("epoch 5/5: train loss") == 2, "one line per fold: only the main process prints"
    assert printed[2].stdout.count("Trained already: loaded from") == 2  # notebook 03's process then loads the two folds
    held_out_rows_come_from_their_fold_model(runs[2])
    f1 = {n: json.loads((run_dir / "metrics.json").read_text())["weighted_f1"] for n, run_dir in runs.items()}
    # noise: with seeds 1-4 the 1-process weighted F1 spread over 0.048 (0.543-0.591); 2 processes take half the steps
    assert abs(f1[2] - f1[1]) < 0.06, f1
    assert sorted(p.name for p in runs[2].rglob("*")) == sorted(p.name for p in runs[1].rglob("*"))


@NO_GPU
def test_more_processes_than_the_machine_has_are_refused_before_training(tmp_path, capsys):
    assert resolve_processes(TrainConfig(num_processes="auto")) == 1
    too_many = (os.cpu_count() or 1) + 1
    with pytest.raises(ConfigError, match=rf"train\.num_processes = {too_many} but this machine has {too_many - 1} CPU cores and no GPU"):
        resolve_processes(TrainConfig(num_processes=too_many))
    run_dir = new_run(tmp_path, "many", **{"train.epochs": 1})
    assert main([str(run_dir), "-p", f"train.num_processes={too_many}"]) == 2
    assert f"Not trained: train.num_processes = {too_many} but" in capsys.readouterr().err
    assert not (run_dir / "model").exists()


@NO_GPU
def test_fold_workers_run_only_where_they_pay(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    big, small = FOLD_WORKER_ROWS, FOLD_WORKER_ROWS - 1
    assert resolve_fold_workers(TrainConfig(), big) == 4 and resolve_fold_workers(TrainConfig(), small) == 1
    assert resolve_fold_workers(TrainConfig(folds=3), big) == 3  # no more workers than folds
    assert resolve_fold_workers(TrainConfig(num_threads=2), big) == 2  # each fold keeps its threads' cores
    assert resolve_fold_workers(TrainConfig(fold_workers=2), small) == 2  # asked for: granted
    for one_at_a_time in (TrainConfig(folds=0), TrainConfig(num_processes=2), TrainConfig(num_processes="auto", fold_workers=3)):
        assert resolve_fold_workers(one_at_a_time, big) == 1


def cluster_file(tmp_path, name="cluster.yaml", **values):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"distributed_type": "MULTI_GPU", "num_machines": 2, "num_processes": 2, "machine_rank": 0,
                                    "main_process_ip": "127.0.0.1", "main_process_port": 29555, **values}))
    return path


def test_a_good_cluster_config_passes(tmp_path):
    assert cluster_problems(cluster_file(tmp_path)) == []
    with socket.socket() as closed:  # nothing listens there: the main machine answers, its launch has not started yet
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert cluster_problems(cluster_file(tmp_path, machine_rank=1, main_process_port=port)) == []
    assert cluster_problems(cluster_file(tmp_path, num_machines=1, num_processes=1, main_process_ip=None)) == []


@pytest.mark.parametrize("values, problem", [
    ({"machine_rank": 2}, "machine_rank 2 with num_machines 2: expected 0 to 1"),
    ({"num_processes": 3}, "num_processes 3 is the total over all 2 machine(s): expected a multiple of 2"),
    ({"num_processes": 2 * ((os.cpu_count() or 1) + 1), "use_cpu": True}, "process(es) per machine but this machine has"),
    ({"main_process_ip": None}, "main_process_ip is missing"),
    ({"main_process_ip": "192.0.2.1"}, "main_process_ip 192.0.2.1 is not an address of this machine, but machine_rank 0 must run on it"),
    ({"machine_rank": 1, "main_process_ip": "no-such-machine.invalid"}, "the main machine no-such-machine.invalid:29555 cannot be "
                                                                          "reached from here: the name does not resolve"),
    ({"num_machines": "two"}, "num_machines is 'two'; expected a whole number"),
])
def test_cluster_config_problems_are_named(tmp_path, values, problem):
    path = cluster_file(tmp_path, **values)
    problems = cluster_problems(path, timeout=0.5)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: ") and problem in problems[0], problems


def test_a_main_machine_that_does_not_answer_is_named(tmp_path, monkeypatch):
    def silent(address, timeout):
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", silent)  # this sandbox's network answers for any address
    problems = cluster_problems(cluster_file(tmp_path, machine_rank=1, main_process_ip="10.1.2.3"), timeout=0.5)
    assert problems == [f"{tmp_path / 'cluster.yaml'}: the main machine 10.1.2.3:29555 cannot be reached from here: no answer within 0.5 s"]


def test_an_unreachable_cluster_is_refused_before_anything_starts(tmp_path, capsys):
    run_dir = new_run(tmp_path, "cluster", **{"train.epochs": 1})
    config = cluster_file(tmp_path, machine_rank=1, main_process_ip="no-such-machine.invalid")
    assert main([str(run_dir), "--accelerate-config", str(config)]) == 2
    assert "Not started: " in capsys.readouterr().err and not (run_dir / "model").exists()
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert cluster_problems(tmp_path / "list.yaml") == [f"{tmp_path / 'list.yaml'}: expected a mapping of accelerate settings "
                                                        "(made by `accelerate config`)"]


@pytest.mark.e2e
@NO_GPU
def test_two_machines_train_one_run_through_the_entry_point(tmp_path):
    """The multi-node recipe on one host: two 'machines' of one process each, rendezvous at 127.0.0.1, one run folder."""
    run_dir = new_run(tmp_path, "cluster", **{"train.epochs": 2})
    port = free_port()
    commands = [[sys.executable, "-m", "utils.train", str(run_dir), "--accelerate-config",
                 str(cluster_file(tmp_path, f"machine{rank}.yaml", machine_rank=rank, main_process_port=port))] for rank in (0, 1)]
    machines = [subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for command in commands]
    outputs = [machine.communicate(timeout=600) for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], outputs[0][1][-3000:] + outputs[1][1][-3000:]
    assert "2 process(es) of 1 thread(s)" in outputs[0][0] and "epoch 2/2: train loss" in outputs[0][0]
    assert "epoch 2/2" not in outputs[1][0], "the second machine's process (rank 1) stays quiet"
    held_out_rows_come_from_their_fold_model(run_dir)
    assert (run_dir / "metrics.json").is_file() and not (run_dir / "model" / "checkpoints").exists()


@pytest.mark.e2e
@NO_GPU
def test_notebook_03_under_papermill_trains_in_two_processes(tmp_path):
    import nbformat
    import papermill

    overrides = {"runs_dir": str(tmp_path), "train.epochs": 2, "train.folds": 2, "train.num_processes": 2,
                 "model.navec.hidden_size": 16, "tfidf.min_df": 1, "train.member_weights": "settings"}
    output = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / "03_training.ipynb"), str(output), cwd=str(REPO_ROOT / "notebooks"),
                               parameters={"data_dir": str(SAMPLE_DIR), "run_name": "nb", "overrides": overrides},
                               kernel_name="python3", progress_bar=False)
    printed = "".join(o.get("text", "") for cell in nbformat.read(output, as_version=4).cells for o in cell.get("outputs", []))
    assert "Starting 2 training processes" in printed and printed.count("epoch 2/2: train loss") == 2
    assert "Trained the network in 2 process(es)" in printed and "tfidf (tfidf, weight 0.50)" in printed
    held_out_rows_come_from_their_fold_model(tmp_path / "nb", tfidf_weight=0.5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_that_called_die_with_parent_ends_when_its_parent_is_killed(tmp_path):
    import psutil

    parent_code = ("import subprocess, sys, time\n"
                   "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
                   " preexec_fn=__import__('utils.training.distributed', fromlist=['x']).die_with_parent)\n"
                   "plain = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
                   "print(child.pid, plain.pid, flush=True); time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    child, plain = (psutil.Process(int(pid)) for pid in parent.stdout.readline().split())
    parent.kill()
    parent.wait()
    gone, alive = psutil.wait_procs([child, plain], timeout=3)
    assert gone == [child] and alive == [plain], "only the child that asked for it ends with its parent"
    plain.kill()
