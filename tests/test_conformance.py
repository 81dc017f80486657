"""Upstream e2e NetworkPolicy truth tables (shared/conformance) must hold exactly.

The diagonal (a pod to itself) is always allowed: a pod cannot block access to itself, and
upstream's e2e tests ignore loopback. The tables in ``tests/data/conformance`` say so; an
outside copy of the cases (``$NPHELPERS_CONFORMANCE``) may still hold upstream's raw
``X`` there, so the diagonal is checked against the rule, not the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nphelpers.engine import evaluate
from nphelpers.matrix import reachability

try:
    from nphelpers.validation import validate_object
except ImportError:  # pragma: no cover - while validation is being written
    def validate_object(obj: object) -> None:
        return None

from .conformance import cases_dir, default_model, load_case, parse_table

CASES = cases_dir()
CASE_FILES = sorted(CASES.glob("*.yaml")) if CASES else []


def run_case(path: Path) -> list[str]:
    case = load_case(path)
    state = default_model(case.get("pod_ips"))
    failures: list[str] = []
    for n, step in enumerate(case["steps"], 1):
        for action in step.get("actions") or []:
            (verb, arg), = action.items()
            if verb == "apply":
                validate_object(arg)
                state.apply(arg)
            elif verb == "delete_policy":
                state.delete("networkpolicy", arg["name"], arg["namespace"])
            elif verb == "set_pod_labels":
                ns, name = arg["pod"].split("/")
                state.set_labels("pod", name, arg["labels"], ns)
            elif verb == "set_namespace_labels":
                state.set_labels("namespace", arg["namespace"], arg["labels"])
            else:
                raise AssertionError(f"unknown action {verb}")
        probe = step["probe"]
        expect = parse_table(step["expect"])
        matrix = reachability(state, probe["port"], probe["protocol"])
        for (src, dst), want in expect.items():
            want = want or src == dst  # a pod can always reach itself
            got_matrix = matrix.is_allowed(src, dst)
            got_pair = evaluate(state, state.pod(src), state.pod(dst), probe["port"], probe["protocol"]).allowed
            if got_matrix != want or got_pair != want:
                failures.append(f"step {n}: {src}->{dst} expected {want}, matrix {got_matrix}, evaluate {got_pair}")
    return failures


@pytest.mark.skipif(not CASE_FILES, reason="conformance cases not found (set NPHELPERS_CONFORMANCE)")
@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_conformance_case(path: Path) -> None:
    assert run_case(path) == []


def test_repository_tables_allow_the_diagonal() -> None:
    """The project's own copies of the tables state the self rule on every step."""
    here = Path(__file__).resolve().parent / "data" / "conformance"
    for path in sorted(here.glob("*.yaml")):
        for step in load_case(path)["steps"]:
            table = parse_table(step["expect"])
            assert all(table[(p, p)] for p in {s for s, _ in table}), path.name


def test_conformance_cases_are_present() -> None:
    """The suite must not silently pass on zero cases."""
    assert len(CASE_FILES) >= 22
