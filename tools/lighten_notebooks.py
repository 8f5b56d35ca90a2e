"""Keep the committed notebooks light: outputs only where nbval compares them.

Executed notebooks carry hundreds of kB of tables and figures; the rendered
reports hold those. A committed source notebook keeps the outputs of its
``# NBVAL_CHECK_OUTPUT`` cells (short text nbval compares on every run) and
nothing else. Run after executing a notebook:

    python tools/lighten_notebooks.py notebooks/0*.ipynb notebooks/report/kommunrapport.ipynb
"""
import sys

import nbformat

CHECK = "NBVAL_CHECK_OUTPUT"


def lighten(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if CHECK not in cell.source:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        lighten(p)
