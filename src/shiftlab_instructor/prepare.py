"""Turn a submitted notebook into the one that runs: student answers in, everything else from the release.

Rules (nbgrader's sanitising, made strict, plus what it missed):

- read-only cells (setup, tests) come from the gradebook, hidden tests included; a student's edit to
  one is compared with the *released* text (hidden tests cut out), so an honest submission, whose
  test cells equal the release, raises no warning (nbgrader compares with the text that includes the
  hidden tests, hence its false "checksum changed" warnings on every test cell that carries some);
- answer cells keep the student's text, with the release's grading metadata;
- every other cell keeps its text and loses all metadata (a ``skip-execution`` or ``raises-exception``
  tag on any cell means nothing here), outputs are cleared;
- cells with unknown or duplicated grading ids run as ordinary cells; instructor cells that are
  missing (deleted, or their metadata stripped) come back from the release at their place.

Every deviation is a ``metadata`` flag with its reason. A submission that is not a readable notebook
gives no notebook and a ``missing`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from .findings import Flag
from .reference import NotebookReference, ReferenceCell

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
CELL_MAKERS = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}


@dataclass
class Prepared:
    """The notebook to run (None when there is none) and what preparing it found."""

    notebook: nbformat.NotebookNode | None
    flags: list[Flag] = field(default_factory=list)


def read_submission(raw: bytes | None, name: str) -> tuple[nbformat.NotebookNode | None, Flag | None]:
    """Parse and validate submitted bytes as an nbformat 4 notebook: (notebook, None) or (None, why not)."""
    if raw is None:
        return None, Flag("missing", f"no notebook {name}.ipynb in the submission")
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return None, Flag("missing", f"{name}.ipynb is {len(raw) / 2**20:.0f} MB, more than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises many kinds (JSON, Unicode, schema, version) for one cause
        return None, Flag("missing", f"{name}.ipynb is not a valid notebook: {type(error).__name__}: {str(error)[:200]}")
    return notebook, None


def _grading_metadata(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _ordinary(cell) -> nbformat.NotebookNode:
    """A student's cell without any metadata; markdown keeps its attachments (images in answers)."""
    fresh = CELL_MAKERS.get(cell.cell_type, nbformat.v4.new_raw_cell)(cell.get("source", ""))
    if cell.cell_type == "markdown" and cell.get("attachments"):
        fresh["attachments"] = cell["attachments"]
    return fresh


def _instructor_cell(cell, reference: ReferenceCell, flags: list[Flag]) -> nbformat.NotebookNode:
    """The cell that runs in place of a submitted cell carrying ``reference``'s id."""
    meta = _grading_metadata(cell)
    if cell.cell_type != reference.cell_type:
        flags.append(Flag("metadata", f"cell {reference.grade_id} was changed from {reference.cell_type} to "
                                      f"{cell.cell_type}: restored"))
    expected = reference.metadata()
    for key in ("grade", "solution", "locked", "points"):
        if key in expected and meta.get(key) != expected[key]:
            flags.append(Flag("metadata", f"the grading metadata of cell {reference.grade_id} was edited "
                                          f"({key}: {expected[key]} -> {meta.get(key)}): restored"))
    if reference.solution:
        fresh = reference.new_cell(cell.get("source", ""))
        if reference.cell_type == "markdown" and cell.get("attachments"):
            fresh["attachments"] = cell["attachments"]
        return fresh
    if cell.get("source", "") != reference.released_source:
        flags.append(Flag("metadata", f"read-only cell {reference.grade_id} was edited: the released version ran instead"))
    return reference.new_cell()


def _restore_missing(cells: list, placed: dict[str, int], reference: NotebookReference, flags: list[Flag]) -> None:
    """Put back every reference cell the submission lacks, right after the nearest earlier one present."""
    for position, missing in enumerate(reference.cells):
        if missing.grade_id in placed:
            continue
        earlier = [placed[c.grade_id] for c in reference.cells[:position] if c.grade_id in placed]
        at = max(earlier) + 1 if earlier else 0
        for grade_id, index in placed.items():
            if index >= at:
                placed[grade_id] = index + 1
        placed[missing.grade_id] = at
        cells.insert(at, missing.new_cell())
        what = "answer cell" if missing.solution else "test cell" if missing.is_test else "read-only cell"
        answered = ", unanswered (an answer in another cell still ran)" if missing.solution else ""
        flags.append(Flag("metadata", f"{what} {missing.grade_id} was deleted or lost its metadata: "
                                      f"restored from the release{answered}"))


def prepare(raw: bytes | None, reference: NotebookReference) -> Prepared:
    """The notebook to execute for a submission's bytes (None: nothing was submitted), and its flags."""
    submitted, problem = read_submission(raw, reference.name)
    if submitted is None:
        return Prepared(None, [problem])
    flags: list[Flag] = []
    cells: list = []
    placed: dict[str, int] = {}
    for cell in submitted.cells:
        grade_id = _grading_metadata(cell).get("grade_id")
        known = reference.cell(grade_id) if isinstance(grade_id, str) else None
        if known is not None and grade_id not in placed:
            placed[grade_id] = len(cells)
            cells.append(_instructor_cell(cell, known, flags))
            continue
        if grade_id:
            why = "appears twice" if known is not None else "is not part of the assignment"
            flags.append(Flag("metadata", f"cell id {grade_id!r} {why}: it ran as an ordinary cell"))
        cells.append(_ordinary(cell))
    _restore_missing(cells, placed, reference, flags)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"}})
    return Prepared(notebook, flags)
