"""Lesson 02's short views (nphelpers.lesson02) and the Lab hooks its widgets use: endpoints, change listeners, capture.

The lesson's checks are exercises (02-api-allow, 02-frontend-only): tests/test_exercises.py.
"""

from __future__ import annotations

import io

import pytest

from nphelpers import lesson02
from nphelpers.errors import NotFoundError
from nphelpers.lab import Lab
from nphelpers.lessons import deploy_lesson_02

NS = "lesson-02"
ENDPOINTS = ("-o custom-columns='NAME:.metadata.name,PODS:.subsets[*].addresses[*].targetRef.name,"
             "PORTS:.subsets[*].ports[*].port'")


@pytest.fixture
def lab() -> Lab:
    lab = Lab(backend="simulated", namespace=NS, out=None)
    deploy_lesson_02(lab)
    lab._out = io.StringIO()
    return lab


def printed(lab: Lab) -> str:
    text = lab._out.getvalue()  # type: ignore[union-attr]
    lab._out = io.StringIO()
    return text


def test_get_endpoints_names_pods_and_ports(lab: Lab) -> None:
    lab.expose("apiserver", port=8080, target_port=80, name="apiserver-8080")
    printed(lab)
    lab.get_endpoints()
    assert printed(lab) == (
        f"$ kubectl get endpoints -n {NS} {ENDPOINTS}\n"
        "NAME             PODS        PORTS\n"
        "apiserver        apiserver   80\n"
        "apiserver-8080   apiserver   80\n"
    )


def test_a_service_that_selects_no_pod_has_no_endpoints(lab: Lab) -> None:
    lab.label("apiserver", "app=book-store")
    printed(lab)
    lab.get_endpoints("apiserver")
    assert printed(lab).splitlines()[1:] == ["NAME        PODS     PORTS", "apiserver   <none>   <none>"]
    with pytest.raises(NotFoundError, match='endpoints "nope" not found'):
        lab.get_endpoints("nope")


def test_named_target_port_resolves_on_the_pod(lab: Lab) -> None:
    lab.apply_objects([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-2", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": "http"}]}},
    ])
    printed(lab)
    lab.get_endpoints("web")
    # web-2 defines no port named http: the endpoints controller leaves it out.
    assert printed(lab).splitlines()[-1] == "web    web    80"


def test_listeners_hear_each_change_once(lab: Lab) -> None:
    heard: list[int] = []
    lab.on_change(lambda: heard.append(lab.changes))
    start = lab.changes
    lab.label("test-blocked", "app=bookstore")
    lab.wget("apiserver", labels="app=x")  # a throw-away pod: run, then delete
    lab.wget("apiserver", from_pod="test-blocked")  # changes nothing
    assert heard == [start + 1, start + 2, start + 3]
    lab.cleanup()
    assert heard[-1] == start + 4


def test_a_keyed_listener_replaces_the_last_and_a_broken_one_is_dropped(lab: Lab) -> None:
    heard: list[str] = []
    lab.on_change(lambda: heard.append("old"), key="w")
    lab.on_change(lambda: heard.append("new"), key="w")
    lab.on_change(lambda: 1 / 0)
    lab.label("test-blocked", "tier=web")
    lab.label("test-blocked", "tier-")
    assert heard == ["new", "new"]


def test_captured_collects_what_verbs_print(lab: Lab) -> None:
    with lab.captured() as lines:
        lab.label("test-blocked", "app=bookstore")
    assert lines == [f"$ kubectl label pod test-blocked app=bookstore --overwrite -n {NS}", "pod/test-blocked labeled"]
    assert printed(lab) == ""


def test_wget_head_prints_what_the_pipeline_prints(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lesson02.wget_head(lab, "apiserver", from_pod="test-allowed")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"$ kubectl exec test-allowed -n {NS} -- sh -c "
                      "'wget -qO- --timeout=2 http://apiserver | head -n 4'")
    assert out[1:] == ["<!DOCTYPE html>", "<html>", "<head>", "<title>Welcome to nginx!</title>"]
    lesson02.wget_head(lab, "apiserver", from_pod="test-blocked")
    # wget's error line, and no exit code: the pipeline's status is head's
    assert capsys.readouterr().out.splitlines()[1:] == ["wget: download timed out"]


def test_wget_head_from_another_namespace(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.apply_objects([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c", "namespace": "other", "labels": {"app": "x"}},
         "spec": {"containers": [{"name": "c", "image": "alpine", "command": ["sleep", "3600"]}]}},
    ])
    lesson02.wget_head(lab, f"apiserver.{NS}", from_pod="other/c")
    assert capsys.readouterr().out.startswith(f"$ kubectl exec c -n other -- sh -c 'wget -qO- --timeout=2 "
                                              f"http://apiserver.{NS} | head -n 4'\nwget: download timed out")


def test_get_pods_by_selector_and_label_columns(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lesson02.get_pods(lab, "app=bookstore", label_columns=["app", "role"])
    assert capsys.readouterr().out.splitlines() == [
        f"$ kubectl get pods -l app=bookstore -n {NS} -o custom-columns="
        "'NAME:.metadata.name,APP:.metadata.labels.app,ROLE:.metadata.labels.role'",
        "NAME           APP         ROLE",
        "apiserver      bookstore   api",
        "test-allowed   bookstore   frontend",
    ]
    lesson02.get_pods(lab, "app=nothing")
    assert capsys.readouterr().out.splitlines()[-1] == f"No resources found in {NS} namespace."


def test_jsonpath_and_compact_matrix(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lesson02.jsonpath(lab, "apiserver", ".metadata.labels.role")
    assert capsys.readouterr().out.splitlines()[1] == "api"
    table = repr(lesson02.compact(lab.matrix()))
    assert table.splitlines()[1:] == [
        "from \\ to        1  2  3",
        " 1 apiserver     -  .  .",
        " 2 test-allowed  .  -  .",
        " 3 test-blocked  X  .  -",
    ]
    assert max(len(line) for line in table.splitlines()) <= 100


def test_get_endpoints_of_every_lab_namespace_and_a_missing_one(lab: Lab) -> None:
    lab.create_namespace("lesson-02-frontend")
    printed(lab)
    lab.get_endpoints()
    assert printed(lab).splitlines()[-2:] == [
        f"$ kubectl get endpoints -n lesson-02-frontend {ENDPOINTS}",
        "No resources found in lesson-02-frontend namespace.",
    ]
    with pytest.raises(NotFoundError, match='endpoints "web" not found in namespace "lesson-02-frontend"'):
        lab.get_endpoints("web", namespace="lesson-02-frontend")


def test_every_verb_that_changes_the_cluster_notifies_without_wrappers(lab: Lab) -> None:
    """The Lab calls _changed() where it changes the cluster (apply, label, delete, cleanup), so
    every verb built on them notifies; nothing wraps the Lab's methods from outside."""
    import inspect

    from nphelpers import lab as lab_module

    assert "setattr(Lab" not in inspect.getsource(lab_module) and not hasattr(lab_module, "_notifies")
    heard: list[str] = []
    lab.on_change(lambda: heard.append("x"))
    lab.create_namespace("extra")                    # apply
    lab.run("w", image="nginx", namespace="extra")   # apply
    lab.label_namespace("extra", "team=a")           # label
    lab.expose("w", port=80, namespace="extra")      # apply
    lab.delete("service", "w", namespace="extra")    # delete
    assert len(heard) == 5


def test_policy_yaml_is_the_same_on_both_backends_and_reapplies_unchanged() -> None:
    """The editor's text and lab.check's "policy in force": no server fields (uid, resourceVersion,
    defaulted policyTypes) on the live backend, so both print the same and re-applying is a no-op."""
    from nphelpers.backends.live import LiveBackend
    from tests.fake_kube import FakeKube

    texts, lines = [], []
    live = LiveBackend("kind-test", api=FakeKube(), namespace="lab")  # type: ignore[arg-type]
    live.settle, live._poll_interval, live._sleep = 0.2, 0.0, lambda s: None
    for backend in (live, "simulated"):
        lab = Lab(backend=backend, namespace=NS, out=False)
        deploy_lesson_02(lab, policy=False)
        lab.apply("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n"
                  "  podSelector: {matchLabels: {role: api}}\n  ingress:\n  - ports: [{port: 80}]\n")
        texts.append(lab.policy_yaml("p"))
        with lab.captured() as out:
            lab.apply(texts[-1])
        lines.append(out[-1])
    assert texts[0] == texts[1] and "uid" not in texts[0] and "policyTypes" not in texts[0]
    assert lines == ["networkpolicy.networking.k8s.io/p unchanged"] * 2
