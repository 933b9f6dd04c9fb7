"""A self-contained Kaggle GPU kernel: one notebook that unpacks the kit, installs what is missing and runs 01 -> 06.

    python -m utils.kaggle_kernel [--out build/kaggle_kernel] [--username U] [--backbone NAME] [--accelerator t4x2|default]
                                  [-p key=value ...] [--push]

Its run's members are spelled as a run's (`-p members.NAME.KEY=VALUE`, `-p members.NAME=null`): by default a Hugging Face
encoder member (`members.encoder`, trained on the GPUs) beside the TF-IDF member (trained on the CPU meanwhile).

The kernel runs the same `utils.pipeline` as a terminal does (papermill, one kernel per notebook), so a notebook
behaves the same everywhere, each notebook's GPU memory is freed before the next, and the executed notebooks
land in /kaggle/working/runs/<run>/notebooks/.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from ..core.data_dir import COMPETITION_SLUG, KAGGLE_INPUT, find_data_dir
from ..core.errors import KitError
from ..core.files import read_json, write_text
from ..core.paths import REPO_ROOT, REPORT
from ..core.settings import NAVEC
from ..core.settings_io import load_config
from .pipeline import (
    NOTEBOOKS_DIR,
    PipelineError,
    list_notebooks,
    plan_run,
    run_pipeline,
)

METADATA_FILE = REPO_ROOT / "kernel-metadata.json"
PLACEHOLDER_USERNAME = "YOUR_KAGGLE_USERNAME"
ENCODER_MEMBER = "members.encoder"  # the kernel's network: a member of kind encoder, its backbone the Hugging Face model trained
DEFAULT_BACKBONE = "ai-forever/ruRoberta-large"
# a large encoder on 16 GB T4s, fine-tuned once on train (5 folds of it would take hours) in a process per GPU; fp16 (a T4 has no
# bf16); the run's other members (the TF-IDF one) train on the CPU meanwhile. docs/gpu-kaggle-colab.md "Kaggle T4 x2" has the
# memory estimate behind batch 16.
GPU_OVERRIDES = ("train.precision=fp16", "train.batch_size=16", "train.folds=0", "train.num_processes=auto")
# kernel-metadata.json's machine_shape (kaggle CLI: "'NvidiaTeslaT4' for GPU T4 x2") and the accumulation that keeps 32 rows per
# optimiser step: 2 GPUs x 16, or 16 x 2 steps on the one GPU Kaggle gives by default
ACCELERATORS = {"t4x2": ("NvidiaTeslaT4", "train.accumulation_steps=1"), "default": (None, "train.accumulation_steps=2")}
GPU_MACHINE_SHAPES = {"NvidiaTeslaT4": "GPU T4 x2", "NvidiaL4": "GPU L4"}  # CUDA machines; P100 is retired, TPUs have no CUDA
PACKED = ("utils/**/*.py", "utils/core/resources/*", "data/synthetic/*", "requirements.txt")  # the kit's files the kernel needs
WORKING_DIR = "/kaggle/working"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same files give the same kernel notebook


class KernelError(KitError, ValueError):
    """Kernel metadata or a build that Kaggle would refuse; the message lists every problem."""


def metadata_problems(metadata: dict, folder: str | Path | None = None) -> list[str]:
    """What Kaggle (or this kit) would refuse in kernel-metadata.json; with `folder`, the code file must be there."""
    from slugify import slugify

    problems = []
    kernel_id, title, code_file = metadata.get("id", ""), metadata.get("title", ""), metadata.get("code_file", "")
    match = re.fullmatch(r"([^/\s]+)/([a-z0-9]+(?:-[a-z0-9]+)*)", str(kernel_id))
    if not match:
        problems.append(f"id {kernel_id!r}: expected 'username/slug' with a slug of lower-case letters, digits and dashes")
    if not isinstance(title, str) or len(title) < 5:
        problems.append(f"title {title!r}: Kaggle needs at least 5 characters")
    elif match and slugify(title) != match.group(2):
        problems.append(f"title {title!r} becomes the slug {slugify(title)!r}, not the id's {match.group(2)!r}: make them agree")
    if not str(code_file).endswith(".ipynb"):
        problems.append(f"code_file {code_file!r}: expected the kernel notebook's file name (*.ipynb)")
    elif folder is not None and not (Path(folder) / code_file).is_file():
        problems.append(f"code_file {code_file!r} is not in {folder}")
    expected = {"language": "python", "kernel_type": "notebook", "enable_gpu": True, "enable_internet": True}
    problems += [f"{key} is {metadata.get(key)!r}; expected {value!r}" for key, value in expected.items() if metadata.get(key) != value]
    if not isinstance(metadata.get("is_private"), bool):
        problems.append(f"is_private is {metadata.get('is_private')!r}; expected true or false")
    if COMPETITION_SLUG not in metadata.get("competition_sources", []):
        problems.append(f"competition_sources lacks {COMPETITION_SLUG!r} (the kernel reads the competition's files)")
    shape = metadata.get("machine_shape")
    if shape and shape not in GPU_MACHINE_SHAPES:
        accepted = ", ".join(f"{name!r} ({machine})" for name, machine in GPU_MACHINE_SHAPES.items())
        problems.append(f"machine_shape {shape!r}: expected {accepted} or none (Kaggle's default GPU)")
    return problems


def read_metadata(path: str | Path = METADATA_FILE) -> dict:
    """kernel-metadata.json as a mapping (refused, naming it and the line, when it is not one)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: not found; the kit's kernel-metadata.json is in the repository root")
    return read_json(path, "correct it, or restore the kit's copy: git checkout kernel-metadata.json")


def pack_kit(notebooks_dir: str | Path = NOTEBOOKS_DIR) -> str:
    """The kit's files and the numbered notebooks (as notebooks/) in a zip, base64-encoded in lines of 76 characters."""
    files = {path.relative_to(REPO_ROOT).as_posix(): path for pattern in PACKED for path in REPO_ROOT.glob(pattern) if path.is_file()}
    files.update({f"notebooks/{path.name}": path for path in list_notebooks(notebooks_dir)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name].read_bytes(), zipfile.ZIP_DEFLATED)
    return base64.encodebytes(buffer.getvalue()).decode("ascii")


def kernel_notebook(packed: str, overrides: list[str], run_name: str = "kaggle") -> nbformat.NotebookNode:
    """The kernel notebook: settings, the packed kit, unpack + install, run 01 -> 06 and leave submission.csv and report.html."""
    header = f"""# Cryptonite emotion kit on a Kaggle GPU

Built by `python -m utils.kaggle_kernel` from the kit's repository; do not edit here, rebuild instead.
It writes the kit (`utils/`, the numbered notebooks, `data/synthetic/`, `requirements.txt`) into the working
folder, installs only the packages Kaggle lacks, then runs the numbered notebooks with papermill on the
competition's files from `{KAGGLE_INPUT}` (the kernel's `{COMPETITION_SLUG}` input). Notebook 03 trains the
run's members: the Hugging Face encoder in one process per visible GPU (`train.num_processes=auto`: both GPUs of
"GPU T4 x2"), the others (the TF-IDF member) on the CPU meanwhile.

Writes to `{WORKING_DIR}`: `runs/<run_name>/` (the run's products; the executed notebooks in its `notebooks/`
folder), `submission.csv` and `report.html` (the run's notebooks as one page).
Settings: the `overrides` below, `key=value` as in `python -m utils.pipeline -p` (members: `members.NAME.KEY=VALUE`,
`members.NAME=null` switches one off; `python -m utils.members` lists the kinds)."""
    parameters = nbformat.v4.new_code_cell(
        f"overrides = {overrides!r}  # settings, key=value (see utils/core/settings.py)\n"
        f"run_name = {run_name!r}\n"
        f"kaggle_input = {str(KAGGLE_INPUT)!r}  # where Kaggle mounts the inputs\n"
        f"working_dir = {WORKING_DIR!r}  # the kit, the run and submission.csv go here"
    )
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(header),
        parameters,
        nbformat.v4.new_code_cell(f'# the kit as a base64 zip, written by python -m utils.kaggle_kernel\nKIT = """\n{packed}"""'),
        nbformat.v4.new_code_cell(
            "import base64, io, sys, zipfile\n"
            "zipfile.ZipFile(io.BytesIO(base64.b64decode(KIT))).extractall(working_dir)\n"
            "sys.path.insert(0, working_dir)\n"
            "from utils import install_missing\n"
            "install_missing()"
        ),
        nbformat.v4.new_code_cell(
            "from utils.run.kaggle_kernel import run_kernel\n"
            "submission = run_kernel(overrides, run_name, kaggle_input, working_dir)"
        ),
    ]
    for number, cell in enumerate(notebook.cells):
        cell.id = f"kit-{number}"  # fixed ids: the same kit builds the same notebook
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def run_kernel(overrides: list[str], run_name: str = "kaggle", kaggle_input: str | Path = KAGGLE_INPUT,
               working_dir: str | Path = WORKING_DIR) -> Path:
    """Inside the kernel: find the competition files under kaggle_input, run the notebooks, copy the submission and the
    report to working_dir."""
    data_dir = find_data_dir(kaggle_input=Path(kaggle_input))
    if not data_dir.is_relative_to(kaggle_input):
        raise FileNotFoundError(f"no competition files under {kaggle_input}: add the competition '{COMPETITION_SLUG}' "
                                "as an input of this kernel")
    record = run_pipeline(plan_run(overrides=overrides, data_dir=data_dir, run_name=run_name))
    if record.get("report"):  # beside submission.csv, also after a failure: it shows the failing cell
        shutil.copyfile(record["report"], Path(working_dir) / REPORT)
        print(f"Report of the run: {Path(working_dir) / REPORT}")
    if record["status"] != "finished":
        raise RuntimeError(f"notebook {record['failure']['notebook']} failed: see the report above")
    if not record.get("submission"):
        raise RuntimeError("the run finished without a submission file")
    target = Path(working_dir) / "submission.csv"
    shutil.copyfile(record["submission"], target)
    print(f"Submission for Kaggle: {target}")
    return target


def kernel_overrides(backbone: str = DEFAULT_BACKBONE, accelerator: str = "t4x2", overrides: list[str] = ()) -> list[str]:
    """The kernel run's settings: the encoder member with `backbone`, the GPU settings, the accelerator's, then `overrides`;
    a setting of the kernel's own that `overrides` give again (or a section of: `members.encoder=null`) is left out."""
    if accelerator not in ACCELERATORS:
        raise KernelError(f"accelerator {accelerator!r}: expected one of {list(ACCELERATORS)}")
    if backbone == NAVEC:
        raise KernelError(f"--backbone {NAVEC}: the kernel's {ENCODER_MEMBER} trains a Hugging Face encoder; for the BiGRU "
                          f"(kind bigru) switch it off instead: -p {ENCODER_MEMBER}=null")
    own = [f"{ENCODER_MEMBER}.kind=encoder", f"{ENCODER_MEMBER}.backbone={backbone}", *GPU_OVERRIDES, ACCELERATORS[accelerator][1]]
    given = [item.split("=", 1)[0].strip() + "." for item in overrides]
    return [item for item in own if not (item.split("=", 1)[0] + ".").startswith(tuple(given))] + list(overrides)


def build_kernel(out: str | Path, username: str | None = None, backbone: str = DEFAULT_BACKBONE,
                 overrides: list[str] = (), notebooks_dir: str | Path = NOTEBOOKS_DIR,
                 metadata_path: str | Path = METADATA_FILE, accelerator: str = "t4x2") -> Path:
    """Write the kernel notebook and its kernel-metadata.json into `out`; settings and metadata are checked first.

    `backbone`: the encoder member's; `overrides` as `python -m utils.pipeline -p` takes them, after the kernel's own.
    `accelerator`: "t4x2" asks Kaggle for GPU T4 x2 (both GPUs train), "default" leaves the choice to Kaggle."""
    overrides = kernel_overrides(backbone, accelerator, overrides)
    machine_shape = ACCELERATORS[accelerator][0]
    load_config(overrides=overrides)
    metadata = read_metadata(metadata_path)
    metadata.pop("machine_shape", None)
    if machine_shape:
        metadata["machine_shape"] = machine_shape
    if username:
        metadata["id"] = f"{username}/{str(metadata.get('id', '')).split('/')[-1]}"
    problems = metadata_problems(metadata)
    if problems:
        raise KernelError(f"{metadata_path}: " + "; ".join(problems))
    out = Path(out)
    notebook = kernel_notebook(pack_kit(notebooks_dir), overrides)
    write_text(out / metadata["code_file"], nbformat.writes(notebook))
    write_text(out / "kernel-metadata.json", json.dumps(metadata, indent=2) + "\n")
    print(f"Kernel {metadata['id']} written to {out} ({len(list_notebooks(notebooks_dir))} notebooks, settings {overrides})")
    if metadata["id"].startswith(f"{PLACEHOLDER_USERNAME}/"):
        print("Before pushing, give your Kaggle username: --username NAME (or set KAGGLE_USERNAME)")
    return out


def push_kernel(folder: str | Path) -> int:
    """`kaggle kernels push -p folder` after checking the metadata and the credentials; returns the exit status."""
    from ..inference.submission import CREDENTIALS_HELP, kaggle_credentials

    folder = Path(folder)
    metadata = read_metadata(folder / "kernel-metadata.json")
    problems = metadata_problems(metadata, folder)
    if str(metadata.get("id", "")).startswith(f"{PLACEHOLDER_USERNAME}/"):
        problems.append(f"id {metadata['id']!r} still holds the placeholder: rebuild with --username NAME")
    if problems:
        print(f"Not pushed: {folder / 'kernel-metadata.json'}: " + "; ".join(problems))
        return 2
    source = kaggle_credentials()
    if source is None:
        print(CREDENTIALS_HELP)
        return 2
    print(f"Pushing {metadata['id']} (credentials from {source})")
    result = subprocess.run([sys.executable, "-m", "kaggle", "kernels", "push", "-p", str(folder)])
    if result.returncode == 0:
        print(f"Follow it at https://www.kaggle.com/code/{metadata['id']}; when it is done: "
              f"kaggle kernels output {metadata['id']} -p {folder / 'output'}")
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    """Build the kernel (and push it with --push); exit status 0 on success, 2 on a refused build or push."""
    parser = argparse.ArgumentParser(prog="python -m utils.kaggle_kernel", description="Build (and push) the kit's Kaggle GPU kernel.")
    parser.add_argument("--out", default=str(REPO_ROOT / "build" / "kaggle_kernel"),
                        help="the folder to write (default: build/kaggle_kernel)")
    parser.add_argument("--username", default=os.environ.get("KAGGLE_USERNAME"), help="your Kaggle username (default: $KAGGLE_USERNAME)")
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE, help=f"the Hugging Face encoder the GPUs train: short for -p "
                        f"{ENCODER_MEMBER}.backbone=NAME (default: {DEFAULT_BACKBONE})")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the kernel's run, as utils.pipeline takes it (repeatable); members: members.NAME.KEY=VALUE, "
                             f"members.NAME=null switches one off (e.g. {ENCODER_MEMBER}=null: the CPU default's BiGRU instead)")
    parser.add_argument("--accelerator", choices=list(ACCELERATORS), default="t4x2",
                        help="t4x2: ask for GPU T4 x2 and train on both GPUs (default); default: Kaggle's choice of GPU")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS_DIR), help="the folder of the numbered notebooks")
    parser.add_argument("--push", action="store_true", help="then run `kaggle kernels push` (needs Kaggle credentials)")
    args = parser.parse_args(argv)
    try:
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise PipelineError(f"--out {args.out} is a file; expected a folder for the kernel's notebook and metadata")
        out = build_kernel(args.out, args.username, args.backbone, args.overrides, args.notebooks, accelerator=args.accelerator)
    except (ValueError, OSError, PipelineError) as error:  # bad settings, metadata or notebooks folder
        print(f"Not built: {error}", file=sys.stderr)
        return 2
    return push_kernel(out) if args.push else 0


if __name__ == "__main__":
    sys.exit(main())
