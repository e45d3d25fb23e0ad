"""The install a student meets: what `make lab` and `make test` install, which torch, the licence, --version.

The Makefile's torch step is run for real with a stand-in for the venv's python (it logs the pip
command instead of downloading gigabytes) and, where a scenario needs one, a stand-in nvidia-smi:
each case checks the index chosen and the one line that says so.
"""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Stands in for .venv/bin/python: appends each command line to $LOG. Scenario knobs: CPU_INDEX_RC
# (0: PyTorch's CPU index answers), TORCH_BUILD ("cpu" or "cuda": what the installed torch is).
PYTHON_STUB = """#!/bin/sh
echo "$*" >> "$LOG"
case "$*" in
  "-c import torch") exit 1 ;;
  *urlopen*) exit "$CPU_INDEX_RC" ;;
  *"torch.version.cuda is None"*) [ "$TORCH_BUILD" = cuda ]; exit $? ;;
  *"torch: installed"*) echo "torch: installed 2.13.0 ($TORCH_BUILD stand-in)" ;;
esac
exit 0
"""


def _make(tmp_path, target: str, *assignments: str, gpu: bool = False, cpu_index: bool = True,
          build: str = "cpu") -> tuple[str, list[str]]:
    """`make TARGET` with the stand-ins: (stdout, the command lines the venv's python was given)."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    venv, tools = tmp_path / "venv", tmp_path / "tools"
    (venv / "bin").mkdir(parents=True)
    tools.mkdir()
    stubs = {venv / "bin" / "python": PYTHON_STUB, tools / "nvidia-smi": f"#!/bin/sh\nexit {0 if gpu else 9}\n"}
    for path, text in stubs.items():
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "log"
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "LOG": str(log),
           "CPU_INDEX_RC": "0" if cpu_index else "1", "TORCH_BUILD": build}
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}", *assignments],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, log.read_text().splitlines()


def _torch_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("torch: ")]


def test_without_a_gpu_torch_comes_from_the_cpu_index_and_the_lab_gets_no_extras(tmp_path):
    stdout, calls = _make(tmp_path, "setup")
    assert _torch_lines(stdout)[0] == (f"torch: no NVIDIA GPU (nvidia-smi missing or failing): torch==2.13.0, "
                                       f"CPU build, from {CPU_INDEX}")
    assert f"-m pip install --quiet --index-url {CPU_INDEX} torch==2.13.0" in calls
    assert calls[-1] == "-m pip install --quiet -e ."  # the project alone: no dev, serve or notebooks extra
    assert not [line for line in stdout.splitlines() if "warning" in line]


def test_an_unreachable_cpu_index_falls_back_to_the_default_index_and_says_so(tmp_path):
    stdout, calls = _make(tmp_path, "setup", "TORCH=torch==2.13.0", cpu_index=False)
    line = _torch_lines(stdout)[0]
    assert line.startswith(f"torch: no NVIDIA GPU, and {CPU_INDEX} did not answer: torch==2.13.0 from pip's default")
    assert "-m pip install --quiet torch==2.13.0" in calls and not [c for c in calls if "--index-url" in c]


def test_a_cuda_build_on_a_machine_without_a_gpu_is_pointed_out(tmp_path):
    stdout, _ = _make(tmp_path, "setup", cpu_index=False, build="cuda")
    assert any(line.startswith("torch: warning: a CUDA build on a machine without an NVIDIA GPU")
               for line in _torch_lines(stdout)), stdout


def test_with_a_gpu_torch_comes_from_the_default_index(tmp_path):
    stdout, calls = _make(tmp_path, "setup", "TORCH=torch", gpu=True, build="cuda")
    assert _torch_lines(stdout)[0] == "torch: an NVIDIA GPU answers nvidia-smi: torch from pip's default index " \
                                      "(a CUDA build)"
    assert "-m pip install --quiet torch" in calls
    assert not [line for line in stdout.splitlines() if "warning" in line]


def test_an_index_can_be_given(tmp_path):
    index = "https://download.pytorch.org/whl/cu126"
    stdout, calls = _make(tmp_path, "setup", f"TORCH_INDEX={index}", gpu=True, build="cuda")
    assert _torch_lines(stdout)[0] == f"torch: torch==2.13.0 from {index} (TORCH_INDEX)"
    assert f"-m pip install --quiet --index-url {index} torch==2.13.0" in calls


def test_make_test_adds_the_dev_and_serve_extras(tmp_path):
    _, calls = _make(tmp_path, "setup")
    (tmp_path / "venv" / ".wordgen-installed").touch()  # as make lab leaves it
    dry = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), "test", f"VENV={tmp_path / 'venv'}"],
                         capture_output=True, text=True, timeout=60).stdout
    assert '-m pip install --quiet -e ".[dev,serve]"' in dry and "pytest" in dry
    assert "torch" not in dry  # torch was installed by the lab's step already


# ---------------------------------------------------------------- the package's face


def test_version_prints_the_package_version_without_torch():
    import wordgen

    code = "import sys, wordgen.cli\ntry:\n    wordgen.cli.main(['--version'])\nexcept SystemExit:\n    pass\n" \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300).stdout
    assert out == f"wordgen {wordgen.__version__}\nFalse\n" and wordgen.__version__ == "0.1.0"


def test_the_licence_is_mit_and_the_build_metadata_says_so_without_warnings():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 the wordgen authors" in text
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here; the build requires >= 77 (pyproject.toml)")
    code = ("from setuptools.config.pyprojecttoml import apply_configuration\nfrom setuptools.dist import Distribution\n"
            "d = apply_configuration(Distribution(), 'pyproject.toml')\n"
            "print(d.metadata.license_expression, d.metadata.license_files)")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr  # -W error: a deprecated field fails here
    assert done.stdout == "MIT ['LICENSE']\n"


def test_the_tasks_are_part_of_the_package_and_run_from_any_folder(tmp_path):
    find_packages = pytest.importorskip("setuptools").find_packages
    assert "wordgen.tasks" in find_packages(str(ROOT), include=["wordgen*"])
    done = subprocess.run([sys.executable, "-m", "wordgen.tasks.word_level_book", "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "python -m wordgen.tasks.word_level_book" in done.stdout, done.stderr
