"""What grading found about a submission beyond its scores: flags for review, each with a reason.

Kinds, in the order a report lists them:

- ``missing``: nothing gradable (no notebook, not a notebook); every grade of the notebook is 0;
- ``crash``: the kernel died; cells that did not run score 0;
- ``limit``: a limit was reached (time, memory, output); cells that did not run score 0;
- ``tamper``: code that hides errors or patches what tests rely on; the tests it touched score 0;
- ``metadata``: edited read-only cells or grading metadata, deleted or duplicated cells; restored
  from the release before running, so they gain nothing;
- ``sandbox``: tried to leave the sandbox (network, processes, files outside its folder, signals,
  databases); the sandbox stopped it, the scores stand;
- ``suspicious``: reflective or dynamic code (``exec``, frames, ``sys.modules``, ...) that could hide
  the above from the checks; the scores stand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

KINDS = ("missing", "crash", "limit", "tamper", "metadata", "sandbox", "suspicious")


@dataclass(frozen=True)
class Flag:
    """One finding: its kind (one of ``KINDS``), a reason a grader can read, and the notebook cell it
    concerns (index in the prepared notebook, None for the whole notebook)."""

    kind: str
    reason: str
    cell: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown flag kind {self.kind!r}; kinds: {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def summary(flags: list[Flag]) -> tuple[str, str]:
    """(kinds, reasons) for a report line: distinct kinds in ``KINDS`` order, distinct reasons in order.

    >>> summary([Flag("sandbox", "uses the network (socket)"), Flag("tamper", "torch.allclose replaced")])
    ('tamper, sandbox', 'uses the network (socket); torch.allclose replaced')
    """
    kinds = [kind for kind in KINDS if any(flag.kind == kind for flag in flags)]
    return ", ".join(kinds), "; ".join(dict.fromkeys(flag.reason for flag in flags))
