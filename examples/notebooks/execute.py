"""Run the notebooks top to bottom on a fresh kernel and save them with their outputs.

    python examples/notebooks/execute.py                   # every notebook here, in place
    python examples/notebooks/execute.py 02_backprop_by_hand.ipynb

Each notebook runs from its own folder, as Jupyter runs it, and finds CIFAR-10 as the scripts do
(data/, or the folder VIT_NP_DATA_DIR names). The saved notebook records a hash of its code cells
(metadata "executed_code_sha256"): tests/test_notebooks.py checks that the outputs committed with a
notebook come from its current code.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent


def code_sha256(notebook: nbformat.NotebookNode) -> str:
    """A hash of the notebook's code, cell by cell (outputs and markdown left out)."""
    code = "\n\x00\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    return hashlib.sha256(code.encode()).hexdigest()


def execute(path: Path, timeout: int = 3600) -> float:
    """Run one notebook in place; returns the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    notebook.metadata["executed_code_sha256"] = code_sha256(notebook)
    nbformat.write(notebook, path)
    return time.perf_counter() - started


def main(names: list[str]) -> int:
    paths = [HERE / name for name in names] if names else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
