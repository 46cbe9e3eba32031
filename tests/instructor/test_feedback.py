"""Feedback without hidden test code (``shiftlab_instructor.feedback.HideHiddenTests``)."""

from __future__ import annotations

import nbformat

from shiftlab_instructor.feedback import HIDDEN_NOTE, HideHiddenTests

SOURCE = 'assert f(1) == 2, "f(1) should be 2"\n### BEGIN HIDDEN TESTS\nassert f(-1) == -2, "negative input"\n### END HIDDEN TESTS'


def test_hidden_tests_and_their_tracebacks_leave_the_feedback_but_the_message_stays():
    def error():
        return nbformat.v4.new_output("error", ename="AssertionError", evalue="negative input",
                                      traceback=["----> 4 assert f(-1) == -2, 'negative input'", "AssertionError: negative input"])

    visible_only = nbformat.v4.new_code_cell("assert f(0) == 0", outputs=[error()])
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOURCE, outputs=[error()]), visible_only])
    notebook, _ = HideHiddenTests().preprocess(notebook, {})
    hidden, visible = notebook.cells
    assert hidden.source == 'assert f(1) == 2, "f(1) should be 2"'
    assert hidden.outputs[0].traceback == ["AssertionError: negative input", HIDDEN_NOTE]
    assert visible.outputs[0].traceback[0].startswith("----> 4"), "cells without hidden tests keep their traceback"
