"""The lab notebooks: in step with their .py sources, committed without outputs, and they run.

notebooks/NAME.py (jupytext "percent" format) is the source of each notebook;
notebooks/NAME.ipynb is generated from it for Jupyter (notebooks/README.md).

Each notebook runs in a fresh Jupyter kernel ("python3": with ipykernel
installed in this interpreter, jupyter_client starts it with this same
Python, so the venv's wordgen is the one imported) whose working folder is a
temporary directory, so the runs/ it writes never land in the repository. A
cell that raises fails the test with the cell and its traceback.
"""

import difflib
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["lab_word_generation", "compare_tokenizers"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("WORDGEN_FAST", "1")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")  # only if a kernel has no inline backend: never a window
    # One thread for the tiny FAST models: thread hand-offs cost more than they save, and on
    # a shared 2-core machine two threads made 30 tiny steps take 14 s instead of 0.5 s.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert (tmp_path / "runs").is_dir()  # trained under the temporary folder, not the repository
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"notebooks/{name}.ipynb has outputs: clear them (Jupyter: Edit > Clear Outputs of All "
                f"Cells, then save), or rebuild it from its source: jupytext --to ipynb notebooks/{name}.py")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_in_step_with_its_py_source(name):
    # The .py is the source; the .ipynb is what Jupyter opens. Either one edited on its
    # own (a notebook changed by hand, or a .py changed without regenerating) fails here.
    source = jupytext.read(NOTEBOOKS / f"{name}.py")
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    fix = (f"notebooks/{name}.py is the source of notebooks/{name}.ipynb. If you changed the .py, run "
           f"`jupytext --to ipynb --update notebooks/{name}.py`; if you changed the .ipynb, carry the change into the .py "
           f"(`jupytext --to py:percent notebooks/{name}.ipynb` writes it), then run that command.")

    for fmt in (source.metadata, committed.metadata):  # paired, so `jupytext --sync` updates both
        assert fmt.get("jupytext", {}).get("formats") == "ipynb,py:percent", f"not paired with ipynb,py:percent. {fix}"
    want = [(cell.cell_type, cell.source) for cell in source.cells]
    have = [(cell.cell_type, cell.source) for cell in committed.cells]
    if want == have:
        return
    if len(want) != len(have):
        pytest.fail(f"the .py has {len(want)} cells, the .ipynb {len(have)}. {fix}")
    i = next(i for i, (w, h) in enumerate(zip(want, have)) if w != h)
    diff = difflib.unified_diff(have[i][1].splitlines(), want[i][1].splitlines(), f"{name}.ipynb", f"{name}.py",
                                lineterm="", n=1)
    shown = "\n".join(list(diff)[:20])
    pytest.fail(f"cell {i + 1} differs ({have[i][0]} in the .ipynb, {want[i][0]} in the .py):\n{shown}\n{fix}")
