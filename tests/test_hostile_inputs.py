"""Crafted inputs, family by family: each ends in one short error line (exit 2) or a bounded result.

These check outcomes, never timings: the figures (time, peak memory) come from
``benchmarks/hostile_inputs.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from nphelpers import cli, manifests
from nphelpers.cluster import ClusterState
from nphelpers.errors import ManifestError
from nphelpers.manifests import load_paths, load_text

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: web}}\nspec:\n  containers:\n" \
      "  - name: main\n    image: nginx\n"
POLICY_PORT = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\nspec:\n" \
              "  podSelector: {{}}\n  ingress:\n  - ports:\n    - port: {port}\n"
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n" \
             "  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n" \
             "    spec: {{containers: [{{name: c, image: nginx}}]}}\n"


def laughs(levels: int, width: int, leaf: str) -> str:
    lines = [f"  l0: &l0 {leaf}"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "x:\n" + "\n".join(lines) + "\n"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["matrix", *args, "-o", "json"])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(capsys: pytest.CaptureFixture[str], path: str, *needles: str) -> str:
    code, out, err = run_cli(capsys, "-f", path)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, lines[:3]
    line = lines[0]
    assert line.startswith(f"error: {path}: ") and len(line) <= 300, line[:400]
    for needle in needles:
        assert needle in line, line
    return line


@pytest.mark.parametrize(("text", "needles"), [
    (POLICY_PORT.format(port="!!int 'eighty'"), ("document 1", "line 8", 'cannot read "eighty" as !!int')),
    (POLICY_PORT.format(port="!!float 'x'"), ("line 8", "as !!float")),
    (POLICY_PORT.format(port="!!timestamp '2024-13-45'"), ("line 8",)),
    (POLICY_PORT.format(port="2024-13-45"), ("line 8", "!!timestamp")),
    ("a: !!python/object/apply:os.system ['true']\n", ("could not determine a constructor",)),
    (POLICY_PORT.format(port="!Ref http"), ("could not determine a constructor",)),
    (POLICY_PORT.format(port="!!set {a, b}"), ("spec.ingress[0].ports[0].port", "invalid type")),
])
def test_explicit_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: tuple[str]) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(text)
    one_error(capsys, str(path), *needles)


@pytest.mark.parametrize(("port", "needles"), [
    ("9" * 5000, ("line 8", "a number of 5,000 characters is too long (at most 4300)")),
    ("!!int '" + "9" * 5000 + "'", ("line 8", "too long")),
    ("-" + "9" * 4400, ("line 8", "too long")),
    ("9" * 4300, ("spec.ingress[0].ports[0].port", "invalid value <a number of about 430")),
    ("99999999999999999999999999999", ("spec.ingress[0].ports[0].port", "invalid value 99999999999999999999999999999")),
    ("1.0e+30", ("spec.ingress[0].ports[0].port", "invalid type", "1e+30")),
    (".inf", ("spec.ingress[0].ports[0].port", "Infinity")),
])
def test_huge_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], port: str, needles: tuple[str]) -> None:
    path = tmp_path / "port.yaml"
    path.write_text(POLICY_PORT.format(port=port))
    one_error(capsys, str(path), *needles)


@pytest.mark.parametrize(("replicas", "needles"), [
    ("1.0e+30", ("spec.replicas: invalid type: expected an integer",)),
    (str(2**31), ("spec.replicas: invalid value 2147483648: must be no more than 2147483647",)),
    (str(2**31 - 1), ("spec.replicas: too many pods", "50,000")),
    ("100000", ("spec.replicas: too many pods",)),
    ("9" * 4301, ("too long",)),
])
def test_replicas(tmp_path: Path, capsys: pytest.CaptureFixture[str], replicas: str, needles: tuple[str]) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DEPLOYMENT.format(replicas=replicas))
    one_error(capsys, str(path), *needles)


def test_pods_beyond_the_limit_are_counted_across_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MAX_PODS", 5)
    text = DEPLOYMENT.format(replicas=3) + "---\n" + "---\n".join(POD.format(name=f"p{i}") for i in range(3))
    with pytest.raises(ManifestError, match=r"^x\.yaml: document 4: metadata\.name: too many pods"):
        load_text(text, "x.yaml")


@pytest.mark.parametrize("text", [
    "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "a: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "v: 1\n",
    "- " * 3000 + "x\n",
])
def test_deep_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    line = one_error(capsys, str(path), "document 1", "invalid YAML")
    assert "nested deeper than 100 levels" in line or "nesting depth" in line


def test_deep_nesting_through_the_pyyaml_fallback_is_bounded_too() -> None:
    # A tag the builder hands to PyYAML first, then 150 levels: refused before PyYAML recurses.
    text = "a: !!set {x}\nb: " + "[" * 150 + "]" * 150 + "\n"
    with pytest.raises(ManifestError, match="nested deeper than 100 levels"):
        load_text(text, "x.yaml")


def test_special_files_are_refused_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.path.exists("/dev/zero"):
        one_error(capsys, "/dev/zero", "not a regular file (a character device)")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(run_cli(capsys, "-f", str(fifo))), daemon=True)
    worker.start()
    worker.join(60)  # a generous guard: the old code blocked here forever
    if not outcome:  # unblock the reader so the test run can go on
        with open(fifo, "w"):
            pass
    assert outcome, "reading a FIFO blocked"
    code, out, err = outcome[0]
    assert code == 2 and err == f"error: {fifo}: not a regular file (a FIFO): give a YAML file or a directory\n"


def test_a_fifo_inside_a_directory_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    os.mkfifo(tmp_path / "b.yaml")
    with pytest.raises(ManifestError, match=r"b\.yaml: not a regular file \(a FIFO\)"):
        load_paths([tmp_path])


def test_alias_bomb_in_a_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(9, 9, '"lol"') + "apiVersion: *l8\nkind: Pod\nmetadata: {name: a}\n")
    assert path.stat().st_size < 700
    one_error(capsys, str(path), "aliases expand to more than 100,000 nodes")


def test_alias_bomb_of_configmaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("kind: List\n" + laughs(8, 7, "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")
                    + "items: *l7\n")
    one_error(capsys, str(path), "aliases expand to more than")


def test_a_few_aliases_still_work_and_count_what_they_stand_for() -> None:
    text = "x: &labels {app: web}\n---\n" + POD.replace("  labels: {{app: web}}\n", "  labels: *labels\n").format(
        name="a")
    with pytest.raises(ManifestError, match="undefined alias"):  # anchors do not cross documents
        load_text(text, "x.yaml")
    small = laughs(3, 3, '"x"') + "kind: List\nitems: []\n"
    assert load_text(small).objects == []


def test_alias_bomb_through_the_pyyaml_fallback(tmp_path: Path) -> None:
    text = "t: !!set {a}\n" + laughs(9, 9, '"lol"') + "apiVersion: *l8\nkind: Pod\n"
    with pytest.raises(ManifestError, match="aliases expand to more than 100,000 nodes"):
        load_text(text, "x.yaml")


def test_documents_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MAX_DOCUMENTS", 10)
    ok = "---\n" * 10
    assert load_text(ok).objects == []
    with pytest.raises(ManifestError, match=r"^x\.yaml: document 11: too many documents: at most 10 in one load"):
        load_text("---\na: 1\n" * 11, "x.yaml")
    items = "kind: List\nitems:\n" + "".join(f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}}}}}\n"
                                           for i in range(11))
    with pytest.raises(ManifestError, match="too many objects"):
        load_text(items, "x.yaml")


def test_nodes_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MAX_NODES", 1000)
    with pytest.raises(ManifestError, match="more than 1,000 YAML nodes"):
        load_text("a: [" + ", ".join(["{}"] * 2000) + "]\n", "x.yaml")


def test_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(manifests, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(manifests, "MAX_INPUT_BYTES", 1500)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 2000 + "\n")
    one_error(capsys, str(big), "too large (2,003 bytes)")
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / "dir").mkdir(exist_ok=True)
        (tmp_path / "dir" / name).write_text("# " + "x" * 900 + "\n")
    with pytest.raises(ManifestError, match=r"b\.yaml: too large"):
        load_paths([tmp_path / "dir"])
    with pytest.raises(ManifestError, match="too large"):
        load_text("x" * 2000)


def test_a_long_name_is_not_echoed_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(POD.format(name="a" * 1_000_000))
    line = one_error(capsys, str(path), "metadata.name: invalid value", "...(1000000 characters)")
    assert len(line) < 300


def test_a_long_unknown_key_and_kind_stay_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "key.yaml"
    path.write_text(POD.format(name="a") + "k" * 1000 + ": 1\n")
    one_error(capsys, str(path), "unknown field", "(1000 characters)")
    result = load_text("apiVersion: v1\nkind: " + "K" * 100_000 + "\n")
    assert len(result.notes) == 1 and len(result.notes[0]) < 300


def test_notes_are_capped() -> None:
    text = "---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(500))
    notes = load_text(text, "x.yaml").notes
    assert len(notes) == manifests.MAX_NOTES + 1
    assert notes[-1] == "... and 480 more notes like these"


@pytest.mark.parametrize("odd", ["\0", "\x01", "\x7f", "\x85", "\u2028", "\ufffe"])
def test_odd_characters_never_lose_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str], odd: str) -> None:
    # yaml_rs stopped at a NUL byte and returned the first pod only (exit 0).
    path = tmp_path / "odd.yaml"
    path.write_text(POD.format(name="a") + f"---\n# {odd}\n" + POD.format(name="b"))
    code, out, err = run_cli(capsys, "-f", str(path))
    if code == 0:  # PyYAML accepts it (in a comment): then both pods are there
        assert '"default/a"' in out and '"default/b"' in out
    else:
        assert code == 2 and len(err.splitlines()) == 1 and "invalid YAML" in err


def test_address_assignment_does_not_rescan_the_pods() -> None:
    class CountingDict(dict):  # type: ignore[type-arg]
        scans = 0

        def values(self):  # type: ignore[no-untyped-def]
            CountingDict.scans += 1
            return super().values()

    state = ClusterState(pods=CountingDict())
    objects = load_text(DEPLOYMENT.format(replicas=3000)).objects
    for obj in objects:
        state.apply(obj)
    assert CountingDict.scans <= 1
    ips = [p.ip for p in state.pods.values()]
    assert len(set(ips)) == 3000 and ips[0] == "10.244.0.10" and ips[-1] == "10.244.11.193"


def test_given_addresses_are_skipped_and_freed_ones_reused_after_delete() -> None:
    state = ClusterState()
    taken = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fixed"},
             "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": {"podIP": "10.244.0.11"}}
    state.apply(taken)
    pods = [{**taken, "metadata": {"name": f"p{i}"}, "status": {}} for i in range(3)]
    for pod in pods:
        state.apply(pod)
    assert [state.pods[f"default/p{i}"].ip for i in range(3)] == ["10.244.0.10", "10.244.0.12", "10.244.0.13"]
    state.delete("pod", "fixed")
    state.apply({**taken, "metadata": {"name": "again"}, "status": {}})
    assert state.pods["default/again"].ip == "10.244.0.14"  # addresses only move forward
