"""Small stand-ins for notebooks 01-05 (same conventions, same products, seconds to run) for the pipeline's tests."""
from __future__ import annotations

from pathlib import Path

import nbformat
from conftest import REPO_ROOT

PARAMETERS = 'config_file = None\noverrides = {}\ndata_dir = None\nrun_name = "default"'
BOOTSTRAP = """import sys
from pathlib import Path
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "__init__.py").is_file())
sys.path.insert(0, str(ROOT))"""
START = 'from utils import finish_step, start_run\ncfg = start_run(config_file, overrides, data_dir, run_name, notebook="{name}")'

STEPS = {
    "01_eda": """import json
from utils.core.files import write_text
write_text(cfg.run_dir / "eda" / "summary.json", json.dumps({"seed": cfg.seed, "data_dir": cfg.data_dir}))""",
    "02_data_expansion": """from utils import load_competition
from utils.core.files import write_csv
train = load_competition(cfg.data_dir).train.assign(source="train")
write_csv(train, cfg.run_dir / "train_expanded.csv")""",
    "03_training": """import json
import time
import numpy as np
import pandas as pd
from utils import LABELS, load_competition
from utils.core.files import write_csv, write_text
(cfg.run_dir / "model").mkdir(exist_ok=True)
while (cfg.run_dir.parent / f"{cfg.name}.hold").exists():  # a test holds the notebook here to interrupt it
    time.sleep(0.1)
if cfg.train.epochs > 50:  # the settings allow it; this stand-in fails on purpose
    raise ValueError(f"the stand-in trains at most 50 epochs, got {cfg.train.epochs}")
valid = load_competition(cfg.data_dir).valid
probs = np.random.default_rng(cfg.seed).uniform(size=(len(valid), len(LABELS)))
write_csv(pd.DataFrame(probs, columns=LABELS), cfg.run_dir / "valid_probs_raw.csv")
write_text(cfg.run_dir / "model" / "config.json", json.dumps({"backbone": cfg.model.backbone}))
write_text(cfg.run_dir / "metrics.json", json.dumps({"weighted_f1": round(float(probs.mean()), 4), "epochs": cfg.train.epochs}))""",
    "04_threshold_search": ("""import json
from utils import LABELS
from utils.core.files import write_text
thresholds = {label: 0.3 + 0.05 * i for i, label in enumerate(LABELS)}
write_text(cfg.run_dir / "thresholds.json", json.dumps({"mode": "per_label", "empty_rule": "top", """
                            '"thresholds": thresholds, "seed": cfg.seed}))'),
    "05_inference": """import json
import numpy as np
import pandas as pd
from utils import LABELS, load_competition
from utils.core.files import write_csv, write_text
from utils.inference.submission import make_submission, write_submission
test = load_competition(cfg.data_dir).test
probs = np.random.default_rng(cfg.seed).uniform(size=(len(test), len(LABELS)))
write_csv(pd.DataFrame(probs, columns=LABELS), cfg.run_dir / "test_probs_raw.csv")
target = cfg.run_dir.parent.parent / "submissions" / f"{cfg.name}.csv"
path = write_submission(make_submission(test, probs >= 0.5), target, cfg.data_dir + "/test_without_answers.csv", overwrite=True)
write_text(cfg.run_dir / "inference.json", json.dumps({"submission": str(path)}))
print("submission written to", path)""",
}

REAL_NOTEBOOKS = [REPO_ROOT / "notebooks" / f"{name}.ipynb" for name in (*STEPS, "06_error_analysis")]  # the kit's own 01-06


def standin_notebook(name: str) -> nbformat.NotebookNode:
    """A notebook in the kit's conventions whose last cell writes the products of notebook `name`."""
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# Stand-in for {name}\nWrites the products of {name} under runs/<name>/."),
        parameters,
        nbformat.v4.new_code_cell(BOOTSTRAP),
        nbformat.v4.new_code_cell(START.format(name=name)),
        nbformat.v4.new_code_cell(STEPS[name]),
        nbformat.v4.new_code_cell(f'finish_step(cfg, "{name}")'),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def write_standins(folder: Path) -> Path:
    """Write the five stand-in notebooks into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in STEPS:
        nbformat.write(standin_notebook(name), folder / f"{name}.ipynb")
    return folder
