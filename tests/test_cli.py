"""The command line's contract: output formats, exit statuses, one-line errors, lean imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nphelpers.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "api-allow")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_matrix_json_is_exactly_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "matrix", "-f", EXAMPLE, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["port", "protocol", "pods", "allowed"]
    assert data["port"] == 80 and data["protocol"] == "TCP"
    assert data["pods"] == ["default/apiserver", "default/test-allowed", "default/test-blocked"]
    assert ["default/test-blocked", "default/apiserver"] not in data["allowed"]
    assert ["default/test-allowed", "default/apiserver"] in data["allowed"]
    assert data["allowed"] == sorted(data["allowed"])
    assert len(data["allowed"]) == 8  # 9 pairs, one blocked
    assert out.startswith('{"port": 80, "protocol": "TCP", "pods": ["default/apiserver", ')


def test_matrix_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "-f", EXAMPLE)
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["default/test-blocked"] == ["X", ".", "."]
    assert rows["default/test-allowed"] == [".", ".", "."]


def test_port_and_protocol_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "-f", EXAMPLE, "--port", "443", "--protocol", "udp", "-o", "json")
    data = json.loads(out)
    assert (code, data["port"], data["protocol"]) == (0, 443, "UDP")
    assert ["default/test-blocked", "default/apiserver"] not in data["allowed"]  # isolated for every port


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "-f", EXAMPLE, "--from", "default/test-allowed", "--to", "default/apiserver")
    assert code == 0
    assert out.splitlines()[0] == "default/test-allowed -> default/apiserver on 80/TCP: ALLOWED"
    assert "ingress rule 1 of default/api-allow admits pods with labels app=bookstore" in out
    code, out, _ = run(capsys, "explain", "-f", EXAMPLE, "--from", "test-blocked", "--to", "apiserver", "-o", "json")
    assert json.loads(out)["allowed"] is False


def test_invalid_manifest_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "api-allow.yaml"
    bad.write_text(
        "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: api-allow}\n"
        "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - podSelector:\n        matchExpressions:\n"
        "        - {key: app, operator: Equals, values: [bookstore]}\n"
    )
    code, out, err = run(capsys, "matrix", "-f", str(bad))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "api-allow.yaml: document 1: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator" in err
    assert 'unsupported value "Equals"' in err


@pytest.mark.parametrize("argv", [
    ["explain", "-f", EXAMPLE, "--from", "default/nope", "--to", "default/apiserver"],
    ["matrix", "-f", "does-not-exist.yaml"],
])
def test_missing_things_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["matrix", "-f", EXAMPLE, "--port", "0"],
                                  ["matrix", "-f", EXAMPLE, "--protocol", "ICMP"],
                                  ["matrix"]])
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_json_path_does_not_import_plotting_stack() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from nphelpers.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['matrix', '-f', {EXAMPLE!r}, '-o', 'json'])\n"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'ipywidgets', 'kubernetes', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "nphelpers", "matrix", "-f", EXAMPLE, "-o", "json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["pods"][0] == "default/apiserver"


def test_matrix_classes_is_the_same_answer_compactly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "-f", str(ROOT / "examples"), "-o", "json")
    assert code == 0
    pairs = json.loads(out)
    code, out, _ = run(capsys, "matrix", "-f", str(ROOT / "examples"), "-o", "classes")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["port", "protocol", "pods", "class_of", "classes", "allowed"]
    assert data["pods"] == pairs["pods"] and len(data["class_of"]) == len(data["pods"])
    assert data["classes"] == max(data["class_of"]) + 1 < len(data["pods"])  # some pods share a class
    allowed = {tuple(p) for p in data["allowed"]}
    expanded = sorted([src, dst] for i, src in enumerate(data["pods"]) for j, dst in enumerate(data["pods"])
                      if i == j or (data["class_of"][i], data["class_of"][j]) in allowed)
    assert expanded == pairs["allowed"]


def test_matrix_json_lists_every_pod_with_itself(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix", "-f", str(ROOT / "examples"), "-o", "json")
    data = json.loads(out)
    assert all([p, p] in data["allowed"] for p in data["pods"])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("output", ["json", "table"])
def test_a_full_disk_is_one_line_and_exit_1(output: str) -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "nphelpers", "matrix", "-f", EXAMPLE, "-o", output],
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write the output: No space left on device\n"
