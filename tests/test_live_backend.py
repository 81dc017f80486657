"""The live (kind) backend, driven end to end through an in-memory fake of the API.

No cluster runs here: :mod:`fake_kube` stands in for the apiserver and for busybox wget.
Every object the backend sends is validated against the OpenAPI schema of the pinned
Kubernetes version (``fake_kube.KUBERNETES_VERSION``, the kindest/node tag in kind/).
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from nphelpers.backends.base import Backend
from nphelpers.backends.live import (
    LAB_NAMESPACE,
    MANAGED_BY_LABEL,
    TIMEOUT_TEXT,
    Images,
    KubeApi,
    LiveBackend,
    client_pod,
    deny_all_ingress,
    detect_kind_context,
    parse_wget_output,
    server_pod,
    wget_script,
)
from nphelpers.errors import BackendError, NotFoundError

try:
    from fake_kube import KUBERNETES_VERSION, NGINX_PAGE, FakeKube, SchemaError, validate_object
except ImportError:  # tests/ imported as a package
    from tests.fake_kube import KUBERNETES_VERSION, NGINX_PAGE, FakeKube, SchemaError, validate_object

ROOT = Path(__file__).resolve().parents[1]
LAB = LAB_NAMESPACE


def make(fake: FakeKube, **kwargs: Any) -> LiveBackend:
    kwargs.setdefault("ready_timeout", 5)
    backend = LiveBackend("kind-test", api=fake, **kwargs)  # type: ignore[arg-type]
    backend._poll_interval = 0.01
    backend.settle = 2.0
    return backend


def service(name: str, selector: dict[str, str], port: int = 80, target: int | str = "http") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target}]},
    }


def lesson() -> list[dict[str, Any]]:
    return [
        server_pod("apiserver", {"app": "api"}),
        client_pod("frontend", {"app": "web"}),
        client_pod("other", {"app": "other"}),
        service("apiserver", {"app": "api"}),
    ]


API_ALLOW = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "api-allow"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "api"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
    },
}
EGRESS_DENY_OTHER = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "other-no-egress"},
    "spec": {"podSelector": {"matchLabels": {"app": "other"}}, "policyTypes": ["Egress"]},
}


@pytest.fixture
def fake() -> FakeKube:
    return FakeKube()


@pytest.fixture
def lab(fake: FakeKube) -> LiveBackend:
    backend = make(fake)
    backend.apply(lesson())
    return backend


# -- apply ----------------------------------------------------------------------------------
def test_implements_the_backend_protocol(fake: FakeKube) -> None:
    backend = make(fake)
    assert isinstance(backend, Backend)
    assert backend.name == "kind"


def test_apply_creates_in_the_lab_namespace_with_the_managed_label(fake: FakeKube) -> None:
    backend = make(fake)
    lines = backend.apply(lesson())
    assert lines == ["pod/apiserver created", "pod/frontend created", "pod/other created", "service/apiserver created"]
    ns = fake.get("Namespace", None, LAB)
    assert ns is not None and ns["metadata"]["labels"][MANAGED_BY_LABEL] == "nphelpers"
    assert fake.names("Pod", LAB) == ["apiserver", "frontend", "other"]
    for kind, name in [("Pod", "apiserver"), ("Service", "apiserver")]:
        obj = fake.get(kind, LAB, name)
        assert obj is not None
        assert obj["metadata"]["labels"][MANAGED_BY_LABEL] == "nphelpers"
    assert fake.get("Pod", LAB, "apiserver")["metadata"]["labels"]["app"] == "api"  # type: ignore[index]
    assert backend.apply([API_ALLOW]) == ["networkpolicy.networking.k8s.io/api-allow created"]


def test_default_namespace_maps_to_the_lab_namespace(fake: FakeKube) -> None:
    backend = make(fake)
    pod = client_pod("c", {"app": "c"}, namespace="default")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": {"team": "a"}}}
    assert backend.apply([pod, ns]) == ["pod/c created", f"namespace/{LAB} created"]
    assert fake.get("Pod", LAB, "c") is not None
    assert fake.get("Pod", "default", "c") is None
    assert fake.get("Namespace", None, LAB)["metadata"]["labels"]["team"] == "a"  # type: ignore[index]
    assert fake.get("Namespace", None, "default")["metadata"]["labels"] == {  # type: ignore[index]
        "kubernetes.io/metadata.name": "default"
    }


def test_reapply_is_unchanged_and_changes_are_configured(lab: LiveBackend, fake: FakeKube) -> None:
    assert lab.apply(lesson()) == [
        "pod/apiserver unchanged",
        "pod/frontend unchanged",
        "pod/other unchanged",
        "service/apiserver unchanged",
    ]
    lab.apply([API_ALLOW])
    changed = copy.deepcopy(API_ALLOW)
    changed["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app"] = "other"
    assert lab.apply([changed]) == ["networkpolicy.networking.k8s.io/api-allow configured"]
    assert ("replace", "NetworkPolicy", LAB, "api-allow") in fake.calls
    assert lab.apply([changed]) == ["networkpolicy.networking.k8s.io/api-allow unchanged"]


def test_pod_label_change_is_patched_and_spec_change_recreates(lab: LiveBackend, fake: FakeKube) -> None:
    uid = fake.get("Pod", LAB, "frontend")["metadata"]["uid"]  # type: ignore[index]
    relabelled = client_pod("frontend", {"app": "web", "tier": "gold"})
    assert lab.apply([relabelled]) == ["pod/frontend configured"]
    pod = fake.get("Pod", LAB, "frontend")
    assert pod is not None and pod["metadata"]["uid"] == uid  # same pod, patched
    assert pod["metadata"]["labels"]["tier"] == "gold"
    assert ("replace", "Pod", LAB, "frontend") not in fake.calls

    new_image = client_pod("frontend", {"app": "web", "tier": "gold"}, image="busybox:1.37")
    assert lab.apply([new_image]) == ["pod/frontend configured"]
    pod = fake.get("Pod", LAB, "frontend")
    assert pod is not None and pod["metadata"]["uid"] != uid  # a new pod
    assert pod["spec"]["containers"][0]["image"] == "busybox:1.37"


def test_reapply_restores_labels_changed_by_label(lab: LiveBackend, fake: FakeKube) -> None:
    lab.label("pod", "frontend", {"app": "hacked", "extra": "1"})
    assert lab.apply([client_pod("frontend", {"app": "web"})]) == ["pod/frontend configured"]
    labels = fake.get("Pod", LAB, "frontend")["metadata"]["labels"]  # type: ignore[index]
    assert labels == {"app": "web", MANAGED_BY_LABEL: "nphelpers"}


def test_service_update_keeps_its_cluster_ip(lab: LiveBackend, fake: FakeKube) -> None:
    ip = fake.get("Service", LAB, "apiserver")["spec"]["clusterIP"]  # type: ignore[index]
    assert lab.apply([service("apiserver", {"app": "api"}, port=8080)]) == ["service/apiserver configured"]
    svc = fake.get("Service", LAB, "apiserver")
    assert svc is not None and svc["spec"]["clusterIP"] == ip and svc["spec"]["ports"][0]["port"] == 8080


def test_simulator_addresses_are_dropped(fake: FakeKube) -> None:
    backend = make(fake)
    pod = server_pod("s", {"app": "s"})
    pod["status"] = {"podIP": "10.244.0.99"}
    svc = service("s", {"app": "s"})
    svc["spec"]["clusterIP"] = "10.96.0.99"
    backend.apply([pod, svc])
    assert fake.get("Service", LAB, "s")["spec"]["clusterIP"] != "10.96.0.99"  # type: ignore[index]
    assert fake.get("Pod", LAB, "s")["status"]["podIP"] != "10.244.0.99"  # type: ignore[index]


def test_images_are_configurable(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPHELPERS_SERVER_IMAGE", "registry.local/nginx:offline")
    monkeypatch.delenv("NPHELPERS_CLIENT_IMAGE", raising=False)
    assert Images.from_env() == Images(server="registry.local/nginx:offline", client="busybox:1.36")
    backend = make(fake)
    backend.apply([server_pod("s", {"app": "s"}), client_pod("c", {"app": "c"}, image="alpine:3.20")])
    assert fake.get("Pod", LAB, "s")["spec"]["containers"][0]["image"] == "registry.local/nginx:offline"  # type: ignore[index]
    assert fake.get("Pod", LAB, "c")["spec"]["containers"][0]["image"] == "alpine:3.20"  # type: ignore[index]
    backend = make(fake, images=Images(client="registry.local/busybox:1"))
    backend.apply([client_pod("c2", {"app": "c"})])
    assert fake.get("Pod", LAB, "c2")["spec"]["containers"][0]["image"] == "registry.local/busybox:1"  # type: ignore[index]


def test_apply_waits_for_ready(fake: FakeKube) -> None:
    fake.ready_after_reads = 3
    backend = make(fake)
    backend.apply([client_pod("c", {"app": "c"})])
    assert fake.get("Pod", LAB, "c")["status"]["phase"] == "Running"  # type: ignore[index]
    assert sum(1 for call in fake.calls if call[:2] == ("read", "Pod")) >= 3


def test_ready_timeout_names_the_pod_and_why(fake: FakeKube) -> None:
    fake.image_problem = "ImagePullBackOff"
    backend = make(fake, ready_timeout=0.2)
    with pytest.raises(BackendError) as info:
        backend.apply([server_pod("apiserver", {"app": "api"})])
    msg = str(info.value)
    assert msg.startswith(
        f"pod {LAB}/apiserver is not Ready after 0.2s: phase Pending, container server "
        'ImagePullBackOff: Back-off pulling image "nginx:1.27-alpine"'
    )
    assert "kind load docker-image" in msg and "\n" not in msg


# -- label / delete ---------------------------------------------------------------------------
def test_label_lines_follow_kubectl(lab: LiveBackend, fake: FakeKube) -> None:
    assert lab.label("pod", "frontend", {"tier": "gold"}) == "pod/frontend labeled"
    assert lab.label("pod", "frontend", {"tier": "gold"}) == "pod/frontend not labeled"
    assert lab.label("pod", "frontend", {"tier": None}) == "pod/frontend unlabeled"
    assert lab.label("pod", "frontend", {"tier": None}) == "pod/frontend not labeled"
    lab.label("po", "frontend", {"a": "1"})
    assert lab.label("pods", "frontend", {"a": None, "b": "2"}) == "pod/frontend label(s) changed"
    assert fake.get("Pod", LAB, "frontend")["metadata"]["labels"]["b"] == "2"  # type: ignore[index]
    assert lab.label("ns", "default", {"team": "a"}) == f"namespace/{LAB} labeled"
    assert fake.get("Namespace", None, LAB)["metadata"]["labels"]["team"] == "a"  # type: ignore[index]


def test_label_refuses_bad_requests(lab: LiveBackend) -> None:
    with pytest.raises(NotFoundError, match='pods "ghost" not found in namespace "nphelpers-lab"'):
        lab.label("pod", "ghost", {"a": "b"})
    with pytest.raises(BackendError, match="cannot be changed"):
        lab.label("pod", "frontend", {MANAGED_BY_LABEL: None})
    with pytest.raises(BackendError, match="pods and namespaces"):
        lab.label("svc", "apiserver", {"a": "b"})


def test_delete(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    assert lab.delete("pod", "other") == 'pod "other" deleted'
    assert lab.delete("netpol", "api-allow", "default") == 'networkpolicy.networking.k8s.io "api-allow" deleted'
    assert fake.get("Pod", LAB, "other") is None
    with pytest.raises(NotFoundError, match='pods "other" not found in namespace "nphelpers-lab"'):
        lab.delete("pod", "other")
    with pytest.raises(BackendError, match="belongs to the cluster"):
        lab.delete("namespace", "kube-system")


# -- state ------------------------------------------------------------------------------------
def test_state_reports_real_namespaces_ips_ports(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    fake.add(client_pod("intruder", {"app": "web"}, namespace=LAB))  # not ours: not reported
    state = lab.state()
    assert sorted(state.pods) == [f"{LAB}/apiserver", f"{LAB}/frontend", f"{LAB}/other"]
    api = state.pods[f"{LAB}/apiserver"]
    assert api.ip == fake.get("Pod", LAB, "apiserver")["status"]["podIP"]  # type: ignore[index]
    assert api.ip is not None and api.ip.startswith("10.244.")
    assert [(p.port, p.name) for p in api.ports] == [(80, "http")]
    svc = state.services[f"{LAB}/apiserver"]
    assert svc.cluster_ip == fake.get("Service", LAB, "apiserver")["spec"]["clusterIP"]  # type: ignore[index]
    pol = state.policies[f"{LAB}/api-allow"]
    assert pol.policy_types == ("Ingress",)
    assert pol.manifest is not None and "managedFields" not in pol.manifest["metadata"]
    assert "annotations" not in pol.manifest["metadata"]  # kubectl's note is not shown
    assert state.namespaces[LAB].labels[MANAGED_BY_LABEL] == "nphelpers"
    assert state.endpoints(svc) == [api]


# -- probe output -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "outcome", "text"),
    [
        (NGINX_PAGE + "\n__rc=0\n", "allowed", NGINX_PAGE),
        ("hello\n__rc=0\n", "allowed", "hello"),  # a body without a final newline
        ("wget: download timed out\n\n__rc=1\n", "blocked", "wget: download timed out"),
        ("wget: bad address 'apiserver'\n\n__rc=1\n", "dns-failure", "wget: bad address 'apiserver'"),
        (
            "wget: can't connect to remote host (10.96.12.34): Connection refused\n\n__rc=1\n",
            "refused",
            "wget: can't connect to remote host (10.96.12.34): Connection refused",
        ),
        (
            "wget: server returned error: HTTP/1.1 404 Not Found\n\n__rc=1\n",
            "allowed",
            "wget: server returned error: HTTP/1.1 404 Not Found",
        ),
        ("", "blocked", TIMEOUT_TEXT),  # the exec call ended before wget: nothing at all
        ("wget: download timed out\n", "blocked", "wget: download timed out"),  # no __rc= line
        ("wget: bad address 'x'", "dns-failure", "wget: bad address 'x'"),  # no __rc= line
    ],
)
def test_parse_wget_output(raw: str, outcome: str, text: str) -> None:
    assert parse_wget_output(raw) == (outcome, text)


@pytest.mark.parametrize("raw", ["sh: wget: not found\n\n__rc=127\n", "half a page", "\n__rc=2\n"])
def test_parse_wget_output_rejects_the_unexpected(raw: str) -> None:
    with pytest.raises(BackendError, match="unexpected wget output"):
        parse_wget_output(raw)


def test_wget_script_prints_its_own_status() -> None:
    script = wget_script("http://apiserver/?a=1&b=2", 3)
    assert script.startswith("wget -qO- --timeout=3 'http://apiserver/?a=1&b=2' 2>&1;")
    assert "__rc=" in script


# -- probing through the fake ---------------------------------------------------------------------
def test_wget_outcomes_end_to_end(lab: LiveBackend, fake: FakeKube) -> None:
    result = lab.wget("default/frontend", "http://apiserver")
    assert (result.outcome, result.output) == ("allowed", NGINX_PAGE)
    assert result.source == f"{LAB}/frontend" and result.allowed
    assert result.command == f"kubectl exec frontend -n {LAB} -- wget -qO- --timeout=2 http://apiserver"

    lab.apply([API_ALLOW])
    assert lab.wget("frontend", "http://apiserver").allowed
    blocked = lab.wget("other", "http://apiserver", timeout=1)
    assert (blocked.outcome, blocked.output) == ("blocked", "wget: download timed out")
    assert "--timeout=1" in blocked.command

    lab.apply([EGRESS_DENY_OTHER])
    dns = lab.wget("other", "http://apiserver")
    assert (dns.outcome, dns.output) == ("dns-failure", "wget: bad address 'apiserver'")

    ip = lab.state().pods[f"{LAB}/apiserver"].ip
    refused = lab.wget("frontend", f"http://{ip}:8080/")
    assert (refused.outcome, refused.output) == (
        "refused",
        f"wget: can't connect to remote host ({ip}): Connection refused",
    )
    lab.apply([service("nobody", {"app": "nobody"}, target=80)])
    assert lab.wget("frontend", "http://nobody").outcome == "refused"  # a service without endpoints


def test_wget_with_truncated_exec_output(lab: LiveBackend, fake: FakeKube) -> None:
    fake.exec_output = lambda ns, pod, cmd: ""  # the exec stream closed before wget finished
    result = lab.wget("frontend", "http://apiserver")
    assert (result.outcome, result.output) == ("blocked", TIMEOUT_TEXT)
    fake.exec_output = lambda ns, pod, cmd: "OCI runtime exec failed: something"
    with pytest.raises(BackendError, match=f"pod {LAB}/frontend: unexpected wget output"):
        lab.wget("frontend", "http://apiserver")


def test_wget_from_a_missing_pod(lab: LiveBackend) -> None:
    with pytest.raises(NotFoundError, match='pods "ghost" not found'):
        lab.wget("ghost", "http://apiserver")


def test_probe_stable_outlasts_a_new_pods_head_start(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    fake.leak_first_probes = 1
    lab.apply([client_pod("late", {"app": "late"})])  # created after the policy
    assert lab.wget("late", "http://apiserver").allowed  # the policy is not programmed yet...
    fake.exec_calls.clear()
    assert lab.probe_stable("late", "http://apiserver").outcome == "blocked"
    assert len(fake.exec_calls) == 2

    lab.apply([client_pod("later", {"app": "later"})])
    fake.exec_calls.clear()
    result = lab.probe_stable("later", "http://apiserver")  # allowed, blocked, blocked
    assert result.outcome == "blocked" and len(fake.exec_calls) == 3


def test_probe_stable_gives_up_on_a_flapping_verdict(lab: LiveBackend, fake: FakeKube) -> None:
    flip = iter(["allowed", "blocked"] * 1000)
    fake.verdict = lambda src, url: next(flip)
    lab.settle = 0.2
    with pytest.raises(BackendError, match="did not settle within 0.2s"):
        lab.probe_stable("frontend", "http://apiserver")


def _sweep_lab(fake: FakeKube, n: int) -> tuple[LiveBackend, list[tuple[str, str]]]:
    backend = make(fake)
    pods = [client_pod(f"c{i}", {"role": "client"}) for i in range(n)]
    pods += [server_pod(f"s{i}", {"role": "server", "idx": str(i)}) for i in range(n)]
    backend.apply(pods)
    return backend, [(f"c{i}", f"default/s{j}") for i in range(n) for j in range(n)]


def test_sweep_runs_in_parallel_with_bounded_concurrency(fake: FakeKube) -> None:
    backend, pairs = _sweep_lab(fake, 4)
    fake.exec_delay = 0.2  # every probe takes 0.2 s: 16 in a row would take 3.2 s
    started = time.monotonic()
    results = backend.sweep(pairs, 80, max_workers=8, stable=False)
    elapsed = time.monotonic() - started
    assert list(results) == pairs and all(r.allowed for r in results.values())
    assert elapsed < 1.4, elapsed  # ~0.4 s: two rounds of 8
    assert 2 <= fake.max_in_flight <= 8

    fake.max_in_flight = 0
    backend.sweep(pairs[:6], 80, max_workers=2, stable=False)
    assert fake.max_in_flight == 2


def test_sweep_stable_and_policies(fake: FakeKube) -> None:
    backend, pairs = _sweep_lab(fake, 3)
    only_c0 = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "s1-from-c0"},
        "spec": {
            "podSelector": {"matchLabels": {"idx": "1"}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 443}]}],
        },
    }
    backend.apply([only_c0])
    fake.exec_delay = 0.1
    started = time.monotonic()
    results = backend.sweep(pairs, 80)  # stable: two probes per pair, 9 pairs on 8 workers
    assert time.monotonic() - started < 1.5
    assert len(fake.exec_calls) == 18
    verdicts = {pair: r.outcome for pair, r in results.items()}
    assert verdicts[("c0", "default/s1")] == "blocked"
    assert verdicts[("c2", "default/s0")] == "allowed"
    ip = backend.state().pods[f"{LAB}/s2"].ip
    assert results[("c1", "default/s2")].url == f"http://{ip}:80/"


def test_delete_and_label_touch_only_what_nphelpers_created(lab: LiveBackend, fake: FakeKube) -> None:
    fake.add(client_pod("theirs", {"app": "web"}, namespace=LAB))
    with pytest.raises(BackendError, match="refusing to delete pod/theirs .*nphelpers did not create it"):
        lab.delete("pod", "theirs")
    with pytest.raises(BackendError, match="refusing to label pod/theirs"):
        lab.label("pod", "theirs", {"app": "bookstore"})
    assert "theirs" in fake.names("Pod", LAB)
    assert fake.read("Pod", LAB, "theirs")["metadata"]["labels"] == {"app": "web"}


# -- cleanup ------------------------------------------------------------------------------------
def test_cleanup_deletes_only_managed_objects(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    fake.add(client_pod("intruder", {"app": "web"}, namespace=LAB))
    lines = lab.cleanup()
    assert lines[:5] == [
        'networkpolicy.networking.k8s.io "api-allow" deleted',
        'service "apiserver" deleted',
        'pod "apiserver" deleted',
        'pod "frontend" deleted',
        'pod "other" deleted',
    ]
    assert lines[5] == f'namespace "{LAB}" kept: it holds 1 object(s) nphelpers did not create'
    assert fake.names("Pod", LAB) == ["intruder"]
    assert fake.names("Service", LAB) == [] and fake.names("NetworkPolicy", LAB) == []
    assert LAB in fake.names("Namespace")


def test_cleanup_deletes_the_namespace_it_created(lab: LiveBackend, fake: FakeKube) -> None:
    lines = lab.cleanup()
    assert lines[-1] == f'namespace "{LAB}" deleted'
    assert LAB not in fake.names("Namespace")
    assert lab.cleanup() == []  # idempotent


def test_cleanup_keeps_namespaces_it_did_not_create(fake: FakeKube) -> None:
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    backend = make(fake)
    team_b = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}
    team_a = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"t": "a"}}}
    lines = backend.apply([client_pod("a", {"app": "a"}, namespace="team-a"), team_b, team_a])
    assert lines == ["pod/a created", "namespace/team-b created", "namespace/team-a configured"]
    assert MANAGED_BY_LABEL not in fake.get("Namespace", None, "team-a")["metadata"]["labels"]  # type: ignore[index]
    assert fake.get("Namespace", None, "team-b")["metadata"]["labels"][MANAGED_BY_LABEL] == "nphelpers"  # type: ignore[index]
    lines = backend.cleanup()
    assert 'pod "a" deleted' in lines and 'namespace "team-b" deleted' in lines
    assert "team-a" in fake.names("Namespace") and "team-b" not in fake.names("Namespace")
    assert {"default", "kube-system"} <= set(fake.names("Namespace"))


def test_cleanup_finds_a_previous_sessions_objects(fake: FakeKube) -> None:
    make(fake).apply(lesson())  # a kernel that died without cleaning up
    lines = make(fake).cleanup()
    assert 'pod "frontend" deleted' in lines and lines[-1] == f'namespace "{LAB}" deleted'


def test_two_labs_do_not_see_or_delete_each_other(fake: FakeKube) -> None:
    first, second = make(fake, namespace="lesson-00"), make(fake, namespace="lesson-02")
    first.apply([client_pod("a", {"app": "a"})])
    second.apply([client_pod("b", {"app": "b"})])
    assert sorted(first.state().pods) == ["lesson-00/a"]
    assert 'pod "b" deleted' not in first.cleanup()
    assert fake.names("Pod", "lesson-02") == ["b"] and "lesson-02" in fake.names("Namespace")
    assert "lesson-00" not in fake.names("Namespace")


def test_ctrl_c_inside_with_cleans_up(fake: FakeKube) -> None:
    with pytest.raises(KeyboardInterrupt), make(fake) as backend:
        backend.apply(lesson())
        backend.apply([API_ALLOW])
        raise KeyboardInterrupt
    assert fake.names("Pod", LAB) == [] and fake.names("NetworkPolicy", LAB) == []
    assert LAB not in fake.names("Namespace")


def test_a_failing_cleanup_does_not_hide_the_original_error(fake: FakeKube) -> None:
    backend = make(fake)
    backend.apply(lesson())
    with pytest.raises(ValueError, match="lesson bug"), pytest.warns(RuntimeWarning, match="cleanup failed"), backend:
        backend.api = None  # type: ignore[assignment]  # cleanup will now fail
        raise ValueError("lesson bug")


# -- context guard ---------------------------------------------------------------------------------
def test_non_kind_context_is_refused(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPHELPERS_ALLOW_CONTEXT", raising=False)
    with pytest.raises(BackendError) as info:
        LiveBackend("prod-eu", api=fake)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "refusing kube context 'prod-eu'" in msg and "NPHELPERS_ALLOW_CONTEXT=prod-eu" in msg
    assert "\n" not in msg
    monkeypatch.setenv("NPHELPERS_ALLOW_CONTEXT", "some-other-context")
    with pytest.raises(BackendError):
        LiveBackend("prod-eu", api=fake)  # type: ignore[arg-type]


def test_opted_in_contexts_are_accepted(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPHELPERS_ALLOW_CONTEXT", raising=False)
    assert LiveBackend("prod-eu", api=fake, allow_any_context=True).context == "prod-eu"  # type: ignore[arg-type]
    assert LiveBackend("kind-nphelpers", api=fake).context == "kind-nphelpers"  # type: ignore[arg-type]
    monkeypatch.setenv("NPHELPERS_ALLOW_CONTEXT", "minikube")
    assert LiveBackend("minikube", api=fake).context == "minikube"  # type: ignore[arg-type]


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "http://127.0.0.1:1"}}
users:
- name: u
  user: {{token: not-a-secret}}
contexts:
- name: prod
  context: {{cluster: c, user: u}}
- name: kind-lab
  context: {{cluster: c, user: u}}
current-context: {current}
"""


def test_kubeconfig_context_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPHELPERS_ALLOW_CONTEXT", raising=False)
    cfg = tmp_path / "config"
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    assert detect_kind_context() is None  # no file at all
    with pytest.raises(BackendError, match="no kubeconfig found"):
        LiveBackend()
    cfg.write_text("{not yaml: [")
    assert detect_kind_context() is None
    cfg.write_text(KUBECONFIG.format(current="prod"))
    assert detect_kind_context() is None
    with pytest.raises(BackendError, match="refusing kube context 'prod'"):
        LiveBackend()
    cfg.write_text(KUBECONFIG.format(current="kind-lab"))
    assert detect_kind_context() == "kind-lab"
    backend = LiveBackend()  # builds a real client; nothing is contacted yet
    assert backend.context == "kind-lab" and isinstance(backend.api, KubeApi)
    with pytest.raises(BackendError, match="cannot reach the Kubernetes API at http://127.0.0.1:1"):
        backend.api.request_timeout = 2
        backend.state()
    backend.close()


# -- the real API seam ----------------------------------------------------------------------------
def _real_api() -> KubeApi:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:1"
    return KubeApi(cfg)


def test_kube_api_maps_every_call_to_the_client() -> None:
    api = _real_api()
    for verb in ("create", "read", "replace", "patch", "delete", "list"):
        for kind in ("Namespace", "Pod", "Service", "NetworkPolicy"):
            assert callable(api._method(verb, kind)), (verb, kind)
    api.close()


def test_kube_api_exec_uses_one_api_client_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import kubernetes.stream

    api = _real_api()
    seen: list[tuple[int, int]] = []

    def fake_stream(method: Any, name: str, namespace: str, **kwargs: Any) -> str:
        assert kwargs["command"][:2] == ["sh", "-c"] and kwargs["tty"] is False
        seen.append((threading.get_ident(), id(method.__self__.api_client)))
        return "ok\n__rc=0\n"

    monkeypatch.setattr(kubernetes.stream, "stream", fake_stream)

    together = threading.Barrier(3)  # keep all threads alive at once (idents get reused)

    def work() -> None:
        for _ in range(2):
            assert api.exec("ns", "pod", ["sh", "-c", "true"]) == "ok\n__rc=0\n"
        together.wait(timeout=5)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_thread: dict[int, set[int]] = {}
    for tid, cid in seen:
        by_thread.setdefault(tid, set()).add(cid)
    assert len(by_thread) == 3 and all(len(c) == 1 for c in by_thread.values())
    clients = {next(iter(c)) for c in by_thread.values()}
    assert len(clients) == 3 and id(api._client) not in clients
    api.close()


# -- doctor ---------------------------------------------------------------------------------------
def test_doctor_on_an_enforcing_cluster(fake: FakeKube) -> None:
    fake.leak_first_probes = 4  # 2 probes before the policy, then 2 that slip through it
    backend = make(fake)
    report = backend.doctor()
    assert "NetworkPolicy is enforced (context kind-test)" in report
    assert "blocked (wget: download timed out)" in report
    assert not [n for n in fake.names("Namespace") if n.startswith("nphelpers-doctor-")]
    assert LAB not in fake.names("Namespace")  # the doctor leaves the lab alone


def test_doctor_on_a_non_enforcing_cluster_says_what_to_do(fake: FakeKube) -> None:
    fake.enforcing = False
    backend = make(fake)
    backend.settle = 0.3
    with pytest.raises(BackendError) as info:
        backend.doctor()
    msg = str(info.value)
    assert msg.startswith("this cluster does not enforce NetworkPolicy: traffic still flows under a deny-all policy (")
    assert "kind >= 0.25" in msg and "Calico" in msg and "kind/README.md" in msg and "\n" not in msg
    assert not [n for n in fake.names("Namespace") if n.startswith("nphelpers-doctor-")]
    created = [c for c in fake.calls if c[0] == "create"]
    assert [c[1] for c in created] == ["Namespace", "Pod", "Pod", "NetworkPolicy"]


def test_doctor_cleans_up_after_ctrl_c(fake: FakeKube) -> None:
    def interrupt(src: Any, url: str) -> str:
        raise KeyboardInterrupt

    fake.verdict = interrupt
    with pytest.raises(KeyboardInterrupt):
        make(fake).check_enforcement()
    assert not [n for n in fake.names("Namespace") if n.startswith("nphelpers-doctor-")]
    assert fake.names("Pod") == []


def test_doctor_reports_a_broken_network(fake: FakeKube) -> None:
    fake.verdict = lambda src, url: "blocked"
    backend = make(fake)
    backend.settle = 0.2
    with pytest.raises(BackendError, match="the cluster network is broken"):
        backend.check_enforcement()


# -- schema validation of everything sent ----------------------------------------------------------
def test_every_object_sent_is_schema_valid(fake: FakeKube) -> None:
    """The fake validates each create/replace body and patched object (strict) as it goes."""
    backend = make(fake)
    backend.apply(lesson())
    backend.apply([API_ALLOW, EGRESS_DENY_OTHER, deny_all_ingress()])
    backend.apply([client_pod("frontend", {"app": "web", "x": "y"}), service("apiserver", {"app": "api"}, 81)])
    backend.label("pod", "other", {"team": "b"})
    backend.label("namespace", "default", {"team": "b"})
    backend.doctor()
    backend.cleanup()
    kinds = {v.split("/")[0] for v in fake.validated}
    assert kinds == {"Namespace", "Pod", "Service", "NetworkPolicy"}
    assert len(fake.validated) >= 15


def test_schema_version_and_validator_catch_mistakes() -> None:
    assert validate_object(server_pod("s", {"a": "b"})) == ".".join(KUBERNETES_VERSION.split(".")[:2])
    bad = server_pod("s", {"a": "b"})
    bad["spec"]["containers"][0]["ports"][0]["containerport"] = 80
    with pytest.raises(SchemaError, match="containerport"):
        validate_object(bad)
    with pytest.raises(SchemaError):
        FakeKube().create("Pod", "default", bad)


# -- the pinned cluster ------------------------------------------------------------------------------
def test_kind_configs_and_workflow_pin_the_validated_version() -> None:
    image = f"kindest/node:v{KUBERNETES_VERSION}"
    for name in ("cluster.yaml", "calico-cluster.yaml"):
        cfg = yaml.safe_load((ROOT / "kind" / name).read_text())
        roles = [n["role"] for n in cfg["nodes"]]
        assert roles.count("control-plane") == 1 and "worker" in roles, name
        assert {n["image"] for n in cfg["nodes"]} == {image}, name
    calico = yaml.safe_load((ROOT / "kind" / "calico-cluster.yaml").read_text())
    assert calico["networking"]["disableDefaultCNI"] is True
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "kind.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    kind_step = next(s for s in steps if str(s.get("uses", "")).startswith("helm/kind-action@"))
    assert kind_step["with"]["node_image"] == image
    assert kind_step["with"]["config"] == "kind/cluster.yaml"
    major, minor, _ = kind_step["with"]["version"].lstrip("v").split(".")
    assert (int(major), int(minor)) >= (0, 25)
    script = (ROOT / "scripts" / "kind-cluster.sh").read_text()
    assert kind_step["with"]["version"] in script


def test_kube_api_speaks_http_the_apiserver_way() -> None:
    """The real seam against a tiny local HTTP stand-in: paths, verbs, content types, errors."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kubernetes import client

    seen: list[tuple[str, str, str | None, Any]] = []
    pod = server_pod("s", {"app": "s"}, namespace="lab")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            seen.append((self.command, self.path, self.headers.get("Content-Type"), body))
            if self.path.endswith("/ghost"):
                status, out = (
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": 'pods "ghost" not found',
                        "reason": "NotFound",
                        "code": 404,
                    },
                )
            elif self.command == "DELETE":
                status, out = 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
            elif self.command == "PATCH":
                status, out = 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}}
            elif self.command == "GET" and "labelSelector" in self.path:
                status, out = 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod]}
            else:
                status, out = 200, body or pod
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = client.Configuration()
        cfg.host = f"http://127.0.0.1:{server.server_port}"
        api = KubeApi(cfg)
        assert api.create("Pod", "lab", pod)["metadata"]["name"] == "s"
        assert api.read("Pod", "lab", "s")["spec"]["containers"][0]["name"] == "server"
        api.replace("NetworkPolicy", "lab", "np", deny_all_ingress("np", namespace="lab"))
        api.patch("Namespace", None, "lab", {"metadata": {"labels": {"a": None}}})
        api.delete("Pod", "lab", "s", grace_period_seconds=0)
        assert [o["metadata"]["name"] for o in api.list("Pod", "lab", label_selector="a=b")] == ["s"]
        with pytest.raises(client.ApiException) as info:
            api.read("Pod", "lab", "ghost")
        assert info.value.status == 404
        api.close()
    finally:
        server.shutdown()
        server.server_close()
    calls = [(verb, path.split("?")[0]) for verb, path, _, _ in seen]
    assert calls[:6] == [
        ("POST", "/api/v1/namespaces/lab/pods"),
        ("GET", "/api/v1/namespaces/lab/pods/s"),
        ("PUT", "/apis/networking.k8s.io/v1/namespaces/lab/networkpolicies/np"),
        ("PATCH", "/api/v1/namespaces/lab"),
        ("DELETE", "/api/v1/namespaces/lab/pods/s"),
        ("GET", "/api/v1/namespaces/lab/pods"),
    ]
    assert seen[3][2] == "application/merge-patch+json"  # not the client's json-patch default
    assert "gracePeriodSeconds=0" in seen[4][1] and "labelSelector=a%3Db" in seen[5][1]
    assert seen[3][3] == {"metadata": {"labels": {"a": None}}}  # None survives: it removes the label
