"""More upstream e2e NetworkPolicy truth tables (tests/data/upstream-more), diagonal included.

Every remaining ``It()`` of kubernetes/kubernetes ``test/e2e/network/netpol/network_policy.go``
(TCP, UDP and SCTP contexts) not already in the shared conformance sample, translated by
hand into the shared case format; see ``tests/data/upstream-more/README.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conformance import load_case, parse_table
from .test_conformance import run_case

CASES_DIR = Path(__file__).resolve().parent / "data" / "upstream-more"
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))

# 27 It() blocks of the reference revision not in the shared sample + 2 earlier-revision-only titles.
TRANSLATED = 29


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_upstream_more_case(path: Path) -> None:
    assert run_case(path) == []


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_upstream_more_case_is_well_formed(path: Path) -> None:
    """Name matches the file, every step has a full 9x9 table and a probe."""
    case = load_case(path)
    assert case["name"] == path.stem
    assert case["upstream"]
    assert case["steps"]
    for step in case["steps"]:
        assert step["probe"]["protocol"] in ("TCP", "UDP", "SCTP")
        assert len(parse_table(step["expect"])) == 81


def test_upstream_more_cases_are_present() -> None:
    """The suite must not silently pass on zero (or a shrunken set of) cases."""
    assert len(CASE_FILES) >= TRANSLATED
