"""Lesson 02's checks (nphelpers.lesson02) and the Lab hooks added for it: endpoints, change listeners, capture."""

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


def test_acceptance_criteria_pass_then_say_why_they_fail(lab: Lab) -> None:
    criteria = lesson02.acceptance_criteria(lab)
    assert len(criteria) == 7 and all(criteria)
    lab.unlabel("apiserver", "role")
    failed = {c.name: c.reason for c in lesson02.acceptance_criteria(lab) if not c}
    assert "NetworkPolicy api-allow created successfully" not in failed
    assert failed["Policy targets pods with correct labels"].endswith("selects no pod")
    assert "Connection refused" in failed["Traffic from non-matching pods is blocked (timeout)"]
    lab.label("apiserver", "role=api")
    lab.delete("networkpolicy", "api-allow")
    failed = {c.name: c.reason for c in lesson02.acceptance_criteria(lab) if not c}
    assert failed["NetworkPolicy api-allow created successfully"] == "no policy api-allow"


def test_print_criteria(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lesson02.print_criteria(lesson02.acceptance_criteria(lab))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[x] API server pod deployed with labels app=bookstore and role=api" and len(out) == 7


def test_frontend_only_exercise(lab: Lab) -> None:
    results = lesson02.check_frontend_only(lab)
    assert [bool(r) for r in results] == [True, False, True, True]
    assert "role: frontend" in results[1].reason and results[1].name == "app=bookstore is kept out"
    lab.apply(lesson02.frontend_only_yaml())
    assert all(lesson02.check_frontend_only(lab))
    assert [p.name for p in lab.state().pods.values() if p.name.startswith("check-")] == []  # clients deleted


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


@pytest.mark.parametrize("wrong, failed, hint", [
    # the frontend alone, without app=bookstore: a stranger with role=frontend gets in
    ("            role: frontend\n", "app=other,role=frontend is kept out", "keep app: bookstore"),
    # the two labels as two peers: that is OR, so both other clients get in
    ("            app: bookstore\n      - podSelector:\n          matchLabels:\n            role: frontend\n",
     "app=bookstore is kept out", "add role: frontend"),
])
def test_frontend_only_typical_wrong_answers_fail_with_the_right_hint(lab: Lab, wrong: str, failed: str,
                                                                      hint: str) -> None:
    text = lesson02.frontend_only_yaml().replace("            app: bookstore\n            role: frontend\n", wrong)
    assert text != lesson02.frontend_only_yaml()
    lab.apply(text)
    results = {r.name: r for r in lesson02.check_frontend_only(lab)}
    assert not results[failed] and hint in results[failed].reason
    assert results["app=bookstore,role=frontend is let in"]


def test_frontend_only_a_policy_that_protects_nothing_fails(lab: Lab) -> None:
    lab.apply(lesson02.frontend_only_yaml().replace("role: api", "role: apiserver"))
    results = lesson02.check_frontend_only(lab)
    assert not results[-1] and "keep its podSelector" in results[-1].reason
