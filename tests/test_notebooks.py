"""The lab notebooks run top to bottom with WORDGEN_FAST=1, and are committed without outputs.

Each notebook runs in a fresh Jupyter kernel ("python3": with ipykernel
installed in this interpreter, jupyter_client starts it with this same
Python, so the venv's wordgen is the one imported) whose working folder is a
temporary directory, so the runs/ it writes never land in the repository. A
cell that raises fails the test with the cell and its traceback.
"""

import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["lab_word_generation.ipynb", "compare_tokenizers.ipynb"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("WORDGEN_FAST", "1")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")  # only if a kernel has no inline backend: never a window
    # One thread for the tiny FAST models: thread hand-offs cost more than they save, and on
    # a shared 2-core machine two threads made 30 tiny steps take 14 s instead of 0.5 s.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert (tmp_path / "runs").is_dir()  # trained under the temporary folder, not the repository
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs: python notebooks/build.py"


def test_notebooks_match_their_generator():
    # notebooks/build.py is the source; an .ipynb edited by hand, or a build.py edited
    # without rebuilding, would drift apart.
    spec = importlib.util.spec_from_file_location("wordgen_notebook_builder", NOTEBOOKS / "build.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    for name, cells in builder.NOTEBOOKS.items():
        written = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert nbformat.writes(builder.build(cells)).rstrip("\n") == written.rstrip("\n"), f"rebuild {name}"
