"""The notebook API: backend choice, kubectl lines, all-or-nothing apply, observe/verify, cleanup."""

from __future__ import annotations

import io

import pytest
import yaml

from nphelpers.errors import BackendError, ManifestError
from nphelpers.lab import Lab, choose_backend
from nphelpers.lessons import api_allow_yaml, deploy_lesson_02

API_ALLOW = api_allow_yaml()


def lesson() -> tuple[Lab, io.StringIO]:
    out = io.StringIO()
    lab = Lab(backend="simulated", namespace="lesson-02", out=out)
    deploy_lesson_02(lab)
    return lab, out


def test_auto_backend_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPHELPERS_BACKEND", "simulated")
    backend, line = choose_backend("auto")
    assert backend.name == "simulated" and "NPHELPERS_BACKEND=simulated" in line
    monkeypatch.setenv("NPHELPERS_BACKEND", "quantum")
    with pytest.raises(BackendError, match=r"unknown backend NPHELPERS_BACKEND=\"quantum\""):
        choose_backend("auto")


def test_auto_backend_without_kubeconfig_is_the_simulator(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("NPHELPERS_BACKEND", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    backend, line = choose_backend("auto")
    assert backend.name == "simulated" and "no kind cluster found" in line


def test_verbs_print_the_kubectl_command_then_its_output() -> None:
    lab, out = lesson()
    text = out.getvalue().splitlines()
    assert text[1] == (
        '$ kubectl run apiserver --image=nginx --labels="app=bookstore,role=api" --expose --port=80 -n lesson-02'
    )
    assert text[2:4] == ["service/apiserver created", "pod/apiserver created"]
    assert "networkpolicy.networking.k8s.io/api-allow created" in text
    out.truncate(0), out.seek(0)
    lab.wget("apiserver", from_pod="test-blocked")
    assert lab.probe("apiserver", from_pod="test-blocked").outcome == "blocked"
    assert out.getvalue().splitlines() == [
        "$ kubectl exec test-blocked -n lesson-02 -- wget -qO- --timeout=2 http://apiserver",
        "wget: download timed out",
        "command terminated with exit code 1",
    ]


def test_label_and_unlabel_change_the_matrix() -> None:
    lab, out = lesson()
    assert not lab.matrix().is_allowed("lesson-02/test-blocked", "lesson-02/apiserver")
    lab.label("test-blocked", "app=bookstore")
    assert lab.matrix().is_allowed("lesson-02/test-blocked", "lesson-02/apiserver")
    lab.unlabel("apiserver", "role")
    assert "$ kubectl label pod apiserver role- -n lesson-02" in out.getvalue()
    assert lab.state().pods["lesson-02/apiserver"].labels.get("role") is None


def test_bad_manifest_changes_nothing() -> None:
    lab, _ = lesson()
    before = lab.state()
    bad_pod = "---\nkind: Pod\napiVersion: v1\nmetadata: {name: X}\n"
    bad = API_ALLOW.replace("name: api-allow", "name: api-allow-2") + bad_pod
    with pytest.raises(ManifestError, match="document 2: metadata.name"):
        lab.apply(bad)
    assert lab.state().policies.keys() == before.policies.keys()


def test_verify_compares_probes_with_the_prediction() -> None:
    lab, out = lesson()
    lab.verify()
    assert (lab.observe().allowed == lab.matrix().allowed).all()
    assert "observed = predicted on all 9 pairs (80/TCP)" in out.getvalue()


def test_explain_and_cleanup() -> None:
    lab, out = lesson()
    lab.explain("test-blocked", "apiserver")
    assert not lab.verdict("test-blocked", "apiserver").allowed
    assert lab.selected_by("api-allow") == ["apiserver"]
    lab.cleanup()
    assert out.getvalue().rstrip().splitlines()[-1] == 'namespace "lesson-02" deleted'
    assert "$ kubectl delete namespace lesson-02" in out.getvalue()
    assert not [k for k in lab.state().pods if k.startswith("lesson-02/")]


def test_a_mistake_in_a_notebook_is_one_line_not_a_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from nphelpers import Lab\nlab = Lab(backend='simulated', namespace='t')")
        capfd.readouterr()
        shell.run_cell("lab.apply('kind: Pod\\napiVersion: v1\\nmetadata: {name: Bad_Name}\\n')")
        err = capfd.readouterr().err
    finally:
        InteractiveShell.clear_instance()
    assert err.strip().startswith("error: <yaml>: document 1: metadata.name")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_throw_away_client_by_labels() -> None:
    lab, out = lesson()
    out.truncate(0), out.seek(0)
    lab.wget("apiserver", labels="app=bookstore")
    lines = out.getvalue().splitlines()
    run = '$ kubectl run test-app-bookstore --image=alpine --labels="app=bookstore" -n lesson-02 -- sleep 3600'
    assert lines[0] == run
    assert "<title>Welcome to nginx!</title>" in out.getvalue()
    assert lines[-1] == 'pod "test-app-bookstore" deleted'
    assert "lesson-02/test-app-bookstore" not in lab.state().pods


def test_the_lesson_manifest_is_the_same_everywhere() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    assert (root / "notebooks" / "manifests" / "api-allow.yaml").read_text() == api_allow_yaml()
    example = (root / "examples" / "api-allow" / "api-allow.yaml").read_text()
    assert yaml.safe_load(example) == yaml.safe_load(api_allow_yaml())
