"""Tiny helper to write notebooks from a list of cells (maintainers only).

Notebooks are committed as .ipynb; this keeps their metadata uniform
(kernelspec 'asi-kit', so papermill and nbval use the project's kernel).
"""
from __future__ import annotations

import sys

import nbformat as nbf


def build(path: str, cells: list[tuple[str, str, list[str]]]) -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "asi-kit", "display_name": "Python (asi-kit)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src, tags in cells:
        cell = nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbf.write(nb, path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("import build() from a notebook script")
