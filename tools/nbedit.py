"""Small, exact edits of lesson cells from the command line (used while revising lessons).

    python tools/nbedit.py NOTEBOOK show 10 11            # print cells with their outputs
    python tools/nbedit.py NOTEBOOK replace 11 OLD NEW     # exact replacement inside cell 11 (must match once)
    python tools/nbedit.py NOTEBOOK insert 11 code|markdown SOURCE   # new cell before index 11
    python tools/nbedit.py NOTEBOOK delete 11
    python tools/nbedit.py NOTEBOOK grep TEXT              # cells containing TEXT

Outputs of edited code cells are cleared (re-execute the lesson with tools/lessons.py refresh).
"""

from __future__ import annotations

import sys

import nbformat


def main(argv: list[str]) -> int:
    path, command, *rest = argv
    nb = nbformat.read(path, as_version=4)
    if command == "show":
        for index in map(int, rest):
            cell = nb.cells[index]
            print(f"--- cell {index} ({cell.cell_type})\n{cell.source}")
            for out in cell.get("outputs", []):
                text = out.get("text") or out.get("data", {}).get("text/plain", "")
                print(">>", str(text)[:1500])
        return 0
    if command == "grep":
        for index, cell in enumerate(nb.cells):
            if rest[0] in cell.source:
                print(index, cell.cell_type, cell.source[:200].replace("\n", " "))
        return 0
    if command == "replace":
        index, old, new = int(rest[0]), rest[1], rest[2]
        cell = nb.cells[index]
        if cell.source.count(old) != 1:
            print(f"cell {index}: the text occurs {cell.source.count(old)} times, not once", file=sys.stderr)
            return 1
        cell.source = cell.source.replace(old, new)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    elif command == "insert":
        index, kind, source = int(rest[0]), rest[1], rest[2]
        new = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        nb.cells.insert(index, new)
    elif command == "delete":
        del nb.cells[int(rest[0])]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
