import os
import random

import numpy as np
import pandas as pd
import pytest
import torch

from utils import seed_everything
from utils.core.files import OutputExistsError, atomic_path, write_csv, write_text


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seed_everything_repeats_every_generator():
    seed_everything(5)
    first = draws()
    seed_everything(5)
    assert draws() == first
    assert os.environ["PYTHONHASHSEED"] == "5"
    seed_everything(6)
    assert draws() != first


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = write_text(tmp_path / "out.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_refuses_to_overwrite_when_asked(tmp_path):
    target = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "sub.csv")
    with pytest.raises(OutputExistsError, match=r"sub\.csv already exists: refusing to overwrite"):
        write_csv(pd.DataFrame({"a": [2]}), target, overwrite=False)
    assert target.read_text(encoding="utf-8") == "a\n1\n"


def test_written_files_get_the_usual_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        path = write_text(tmp_path / "x.txt", "x")
    finally:
        os.umask(mask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
