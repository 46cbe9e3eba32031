"""Fixtures of the instructor tests: a listener on 127.0.0.1 that records whatever reaches it, and
``notebook_of`` to build notebooks from cell sources."""

from __future__ import annotations

import socket
import threading

import nbformat
import pytest

TEST_CELL = {"grade": True, "locked": True, "points": 1, "solution": False, "schema_version": 3}


class Listener:
    """A TCP server on 127.0.0.1 in a thread; ``received`` lists every connection's bytes."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                self.received.append(connection.recv(65536))

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


def notebook_of(*cells: str | tuple[str, str]) -> nbformat.NotebookNode:
    """A notebook of code cells; a (grade_id, source) pair is a read-only test cell worth 1 point."""
    made = []
    for cell in cells:
        if isinstance(cell, tuple):
            grade_id, source = cell
            made.append(nbformat.v4.new_code_cell(source, metadata={"nbgrader": {**TEST_CELL, "grade_id": grade_id}}))
        else:
            made.append(nbformat.v4.new_code_cell(cell))
    return nbformat.v4.new_notebook(cells=made)


@pytest.fixture(scope="session")
def make_notebook():
    """``notebook_of``: a notebook from cell sources, (grade_id, source) pairs being test cells."""
    return notebook_of
