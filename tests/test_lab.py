"""The notebook API: backend choice, kubectl lines, all-or-nothing apply, observe/verify, cleanup."""

from __future__ import annotations

import io

import pytest
import yaml

from nphelpers.errors import BackendError, ManifestError, UsageError
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


def test_a_lab_spans_namespaces() -> None:
    lab, out = lesson()
    lab.create_namespace("prod", labels="purpose=production")
    lab.run("web", "nginx", labels="app=web", port=80, expose=True, namespace="prod")
    lab.apply("kind: Pod\napiVersion: v1\nmetadata: {name: db, namespace: dev}\n"
              "spec: {containers: [{name: db, image: alpine}]}\n")
    assert lab.namespaces == ["dev", "lesson-02", "prod"]
    assert lab.state().namespaces["prod"].labels["purpose"] == "production"
    matrix = lab.matrix()
    assert matrix.pods == ["dev/db", "lesson-02/apiserver", "lesson-02/test-allowed", "lesson-02/test-blocked",
                           "prod/web"]
    # api-allow admits app=bookstore pods of its own namespace only
    assert not matrix.is_allowed("prod/web", "lesson-02/apiserver")
    assert not lab.verdict("prod/web", "apiserver").allowed
    assert lab.probe("prod/web", from_pod="test-allowed").allowed  # http://web.prod
    out.truncate(0), out.seek(0)
    lab.get_pods()
    text = out.getvalue()
    assert "$ kubectl get pods -n dev -o" in text and "$ kubectl get pods -n prod -o" in text
    assert text.index("-n dev") < text.index("-n lesson-02") < text.index("-n prod")
    out.truncate(0), out.seek(0)
    lab.label("prod/web", "tier=front")
    lab.label_namespace("prod", "team=a")
    lab.unlabel_namespace("prod", "purpose")
    assert out.getvalue().splitlines() == [
        "$ kubectl label pod web tier=front --overwrite -n prod", "pod/web labeled",
        "$ kubectl label namespace prod team=a --overwrite", "namespace/prod labeled",
        "$ kubectl label namespace prod purpose-", "namespace/prod unlabeled",
    ]
    out.truncate(0), out.seek(0)
    lab.cleanup()
    lines = out.getvalue().splitlines()
    selector = "kubectl delete networkpolicy,service,pod -l app.kubernetes.io/managed-by=nphelpers"
    assert [line for line in lines if line.startswith("$")] == [
        f"$ {selector} -n dev", f"$ {selector} -n lesson-02", f"$ {selector} -n prod",
        "$ kubectl delete namespace dev", "$ kubectl delete namespace lesson-02", "$ kubectl delete namespace prod",
    ]
    assert lines[lines.index(f"$ {selector} -n prod") + 1:][:2] == ['service "web" deleted', 'pod "web" deleted']
    assert not {"dev", "lesson-02", "prod"} & set(lab.state().namespaces)


def test_cleanup_never_deletes_a_namespace_the_lab_did_not_create() -> None:
    out = io.StringIO()
    lab = Lab(backend="simulated", out=out)  # home: default, which the cluster already has
    lab.run("client", "alpine")
    lab.delete("pod", "client")
    out.truncate(0), out.seek(0)
    lab.cleanup()
    assert out.getvalue().splitlines() == [
        "$ kubectl delete networkpolicy,service,pod -l app.kubernetes.io/managed-by=nphelpers",
        "No resources found",
    ]
    state = lab.state()
    assert "default" in state.namespaces and "default/kubernetes" in state.services


def test_one_default_namespace_rule_for_names_and_manifests() -> None:
    lab, out = lesson()
    lab.apply("kind: Pod\napiVersion: v1\nmetadata: {name: other, namespace: default}\n"
              "spec: {containers: [{name: c, image: alpine}]}\n")
    assert "default/other" in lab.state().pods  # `default` is a lesson name like any other
    assert "$ kubectl apply -f - <<EOF ... EOF" in out.getvalue()  # every object names its namespace
    assert lab.verdict("default/other", "apiserver").source == "default/other"
    mixed = API_ALLOW + "---\nkind: Pod\napiVersion: v1\nmetadata: {name: p, namespace: prod}\n" \
        "spec: {containers: [{name: c, image: alpine}]}\n"
    with pytest.raises(UsageError, match='the namespace from the provided object "prod" does not match'):
        lab.apply(mixed)
    assert "prod/p" not in lab.state().pods


def test_label_changes_print_what_kubectl_prints() -> None:
    lab, out = lesson()
    out.truncate(0), out.seek(0)
    lab.label("apiserver", "gone-")
    lab.label("apiserver", "role=db", "gone-")
    lab.delete("pod", "ghost")
    assert out.getvalue().splitlines() == [
        "$ kubectl label pod apiserver gone- -n lesson-02", 'label "gone" not found.', "pod/apiserver not labeled",
        "$ kubectl label pod apiserver role=db gone- --overwrite -n lesson-02", 'label "gone" not found.',
        "pod/apiserver labeled",
        "$ kubectl delete pod ghost -n lesson-02", 'Error from server (NotFound): pods "ghost" not found',
    ]


def test_nginx_listens_on_80_whatever_the_port_says() -> None:
    lab, out = lesson()
    lab.run("web", "nginx", labels="app=web", port=8080, expose=True)
    result = lab.probe("web:8080", from_pod="test-allowed")
    assert result.outcome == "refused" and "Connection refused" in result.output
    ip = lab.state().pods["lesson-02/web"].ip
    assert lab.probe(ip, from_pod="test-allowed").allowed
