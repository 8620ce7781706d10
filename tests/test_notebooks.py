"""examples/notebooks: each runs top to bottom on a fresh Jupyter kernel, and is committed with the
outputs of its current code.

The run here uses a small CIFAR-10 written by the test (cifar_fixture.make_cifar, random images in
the canonical layout) and VIT_NP_NOTEBOOK_QUICK=1, which makes the notebooks train and evaluate on
a few hundred images: it checks that every cell runs, not what the figures show. The committed
outputs come from `python examples/notebooks/execute.py` on the real data.
"""
import importlib.util
from pathlib import Path

import nbclient
import nbformat
import pytest

from cifar_fixture import make_cifar

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("execute", FOLDER / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)


def test_there_are_the_four_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_vit_tutorial_on_minigrad.ipynb", "02_backprop_by_hand.ipynb",
                                           "03_what_the_vit_sees.ipynb", "04_gradients_of_gradients.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_the_current_code(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert notebook.metadata.get("executed_code_sha256") == execute.code_sha256(notebook), (
        f"{path.name} changed since it was run: run python examples/notebooks/execute.py {path.name}")
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "not run top to bottom"
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{path.name} was committed with an error: {errors[0].get('ename')}"


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_cifar(root, per_batch=120, n_test=500)
    return root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_fresh_kernel(path, small_cifar, monkeypatch):
    monkeypatch.setenv("VIT_NP_DATA_DIR", str(small_cifar))
    monkeypatch.setenv("VIT_NP_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(FOLDER)}}).execute()  # raises on a failing cell
    images = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert images, f"{path.name} showed no figure"
