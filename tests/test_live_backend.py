"""The live (kind) backend, driven end to end through an in-memory fake of the API.

No cluster runs here: :mod:`fake_kube` stands in for the apiserver and for busybox wget.
Every object the backend sends is validated against the OpenAPI schema of the pinned
Kubernetes version (``fake_kube.KUBERNETES_VERSION``, the kindest/node tag in kind/).
Nothing here depends on machine speed: the backend runs on an injected clock, concurrency
is proven with barriers, and the only real sockets are local servers that never answer,
with small injected timeouts and assertions on behaviour (no timed assertions but one
generous upper bound).
"""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nphelpers import kubectl
from nphelpers.backends.base import Applied, Backend, Deleted, Kept, Labeled
from nphelpers.backends.live import (
    LAB_ID_ANNOTATION,
    LAB_NAMESPACE,
    MANAGED_BY_LABEL,
    KubeApi,
    LiveBackend,
    detect_kind_context,
)
from nphelpers.backends.live_manifests import Images, client_pod, deny_all_ingress, server_pod
from nphelpers.backends.live_probes import TIMEOUT_TEXT, parse_wget_output, wget_script
from nphelpers.errors import BackendError, NotFoundError, NphelpersError, UsageError

try:
    from fake_kube import KUBERNETES_VERSION, NGINX_PAGE, FakeKube, SchemaError, validate_object
except ImportError:  # tests/ imported as a package
    from tests.fake_kube import KUBERNETES_VERSION, NGINX_PAGE, FakeKube, SchemaError, validate_object

ROOT = Path(__file__).resolve().parents[1]
LAB = LAB_NAMESPACE
MANAGED = {MANAGED_BY_LABEL: "nphelpers"}


class Clock:
    """A clock that moves only when the backend sleeps (or a test ticks it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make(fake: FakeKube, **kwargs: Any) -> LiveBackend:
    kwargs.setdefault("ready_timeout", 5)
    clock = Clock()
    kwargs.setdefault("clock", clock)
    kwargs.setdefault("sleep", clock.sleep)
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


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}


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
WRITES = ("create", "replace", "patch", "delete")


def writes(fake: FakeKube) -> list[tuple[str, str, str | None, str | None]]:
    return [c for c in fake.calls if c[0] in WRITES]


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


def test_apply_returns_facts_and_marks_what_it_creates(fake: FakeKube) -> None:
    backend = make(fake)
    facts = backend.apply(lesson())
    assert facts == [
        Applied("Pod", "apiserver", "default", "created"),
        Applied("Pod", "frontend", "default", "created"),
        Applied("Pod", "other", "default", "created"),
        Applied("Service", "apiserver", "default", "created"),
    ]
    ns = fake.get("Namespace", None, LAB)
    assert ns is not None and ns["metadata"]["labels"][MANAGED_BY_LABEL] == "nphelpers"
    assert ns["metadata"]["annotations"][LAB_ID_ANNOTATION] == backend.lab_id
    assert fake.names("Pod", LAB) == ["apiserver", "frontend", "other"]
    for kind, name in [("Pod", "apiserver"), ("Service", "apiserver")]:
        obj = fake.get(kind, LAB, name)
        assert obj is not None
        assert obj["metadata"]["labels"][MANAGED_BY_LABEL] == "nphelpers"
        assert obj["metadata"]["annotations"][LAB_ID_ANNOTATION] == backend.lab_id
    assert fake.get("Pod", LAB, "apiserver")["metadata"]["labels"]["app"] == "api"  # type: ignore[index]
    assert backend.apply([API_ALLOW]) == [Applied("NetworkPolicy", "api-allow", "default", "created")]
    assert [kubectl.applied(f.kind, f.name, f.action) for f in facts[:1]] == ["pod/apiserver created"]
    assert len({make(fake).lab_id, make(fake).lab_id}) == 2  # a fresh random id per lab


def test_the_lesson_default_namespace_is_the_lab_namespace(fake: FakeKube) -> None:
    backend = make(fake)
    pod = client_pod("c", {"app": "c"}, namespace="default")
    facts = backend.apply([pod, namespace("default", team="a")])
    assert facts == [Applied("Pod", "c", "default", "created"), Applied("Namespace", "default", None, "created")]
    assert fake.get("Pod", LAB, "c") is not None
    assert fake.get("Pod", "default", "c") is None
    assert fake.get("Namespace", None, LAB)["metadata"]["labels"]["team"] == "a"  # type: ignore[index]
    assert fake.get("Namespace", None, "default")["metadata"]["labels"] == {  # type: ignore[index]
        "kubernetes.io/metadata.name": "default"
    }
    assert sorted(backend.state().pods) == ["default/c"]  # lesson names, as the simulator reports them


def test_a_lab_never_writes_into_the_real_default_namespace(fake: FakeKube) -> None:
    """Lab(backend="kind") passes namespace="default": that is the lesson's default, not the cluster's."""
    backend = make(fake, namespace="default")
    backend.apply([client_pod("c", {"app": "c"})])
    backend.label("namespace", "default", {"team": "x"})
    assert fake.names("Pod", "default") == [] and fake.names("Pod", LAB) == ["c"]
    assert "team" not in fake.get("Namespace", None, "default")["metadata"]["labels"]  # type: ignore[index]
    assert not [c for c in writes(fake) if c[2] == "default" or (c[1] == "Namespace" and c[3] == "default")]
    with pytest.raises(BackendError, match="refusing lab namespace 'default'"):
        make(fake, lab_namespace="default")
    with pytest.raises(UsageError, match="where this lab keeps the lesson's 'default'"):
        backend.apply([client_pod("d", {"app": "d"}, namespace=LAB)])
    with pytest.raises(BackendError, match='namespaces "default" is forbidden'):
        backend.delete("namespace", "default")


def test_other_lesson_namespaces_are_used_as_named(fake: FakeKube) -> None:
    backend = make(fake, namespace="lesson-02")
    assert backend.apply([client_pod("c", {"app": "c"}), client_pod("d", {"app": "d"}, namespace="prod")]) == [
        Applied("Pod", "c", "lesson-02", "created"),
        Applied("Pod", "d", "prod", "created"),
    ]
    assert fake.names("Pod", "lesson-02") == ["c"] and fake.names("Pod", "prod") == ["d"]
    assert sorted(backend.state().pods) == ["lesson-02/c", "prod/d"]


def test_reapply_is_unchanged_and_changes_are_configured(lab: LiveBackend, fake: FakeKube) -> None:
    assert [f.action for f in lab.apply(lesson())] == ["unchanged"] * 4
    lab.apply([API_ALLOW])
    changed = copy.deepcopy(API_ALLOW)
    changed["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app"] = "other"
    assert lab.apply([changed]) == [Applied("NetworkPolicy", "api-allow", "default", "configured")]
    assert ("replace", "NetworkPolicy", LAB, "api-allow") in fake.calls
    assert lab.apply([changed]) == [Applied("NetworkPolicy", "api-allow", "default", "unchanged")]


def test_pod_label_change_is_patched_and_spec_change_recreates(lab: LiveBackend, fake: FakeKube) -> None:
    uid = fake.get("Pod", LAB, "frontend")["metadata"]["uid"]  # type: ignore[index]
    relabelled = client_pod("frontend", {"app": "web", "tier": "gold"})
    assert lab.apply([relabelled]) == [Applied("Pod", "frontend", "default", "configured")]
    pod = fake.get("Pod", LAB, "frontend")
    assert pod is not None and pod["metadata"]["uid"] == uid  # same pod, patched
    assert pod["metadata"]["labels"]["tier"] == "gold"
    assert ("replace", "Pod", LAB, "frontend") not in fake.calls

    new_image = client_pod("frontend", {"app": "web", "tier": "gold"}, image="busybox:1.37")
    assert lab.apply([new_image]) == [Applied("Pod", "frontend", "default", "configured")]
    pod = fake.get("Pod", LAB, "frontend")
    assert pod is not None and pod["metadata"]["uid"] != uid  # a new pod
    assert pod["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert pod["metadata"]["annotations"][LAB_ID_ANNOTATION] == lab.lab_id


def test_reapply_restores_labels_changed_by_label(lab: LiveBackend, fake: FakeKube) -> None:
    lab.label("pod", "frontend", {"app": "hacked", "extra": "1"})
    assert lab.apply([client_pod("frontend", {"app": "web"})]) == [Applied("Pod", "frontend", "default", "configured")]
    labels = fake.get("Pod", LAB, "frontend")["metadata"]["labels"]  # type: ignore[index]
    assert labels == {"app": "web", **MANAGED}


def test_service_update_keeps_its_cluster_ip(lab: LiveBackend, fake: FakeKube) -> None:
    ip = fake.get("Service", LAB, "apiserver")["spec"]["clusterIP"]  # type: ignore[index]
    assert lab.apply([service("apiserver", {"app": "api"}, port=8080)])[0].action == "configured"
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


def test_pods_give_up_on_an_unanswered_dns_lookup_quickly_unless_they_say_otherwise(fake: FakeKube) -> None:
    backend = make(fake)
    own = client_pod("own", {"app": "c"})
    own["spec"]["dnsConfig"] = {"options": [{"name": "ndots", "value": "2"}]}
    backend.apply([client_pod("c", {"app": "c"}), own])
    assert fake.get("Pod", LAB, "c")["spec"]["dnsConfig"] == {  # type: ignore[index]
        "options": [{"name": "timeout", "value": "1"}, {"name": "attempts", "value": "1"}]}
    assert fake.get("Pod", LAB, "own")["spec"]["dnsConfig"] == own["spec"]["dnsConfig"]  # type: ignore[index]
    assert "dnsConfig" not in client_pod("c", {"app": "c"})["spec"]  # the caller's manifest is left as it was
    assert [r.action for r in backend.apply([client_pod("c", {"app": "c"})])] == ["unchanged"]


def test_apply_waits_for_ready(fake: FakeKube) -> None:
    fake.ready_after_reads = 3
    backend = make(fake)
    backend.apply([client_pod("c", {"app": "c"})])
    assert fake.get("Pod", LAB, "c")["status"]["phase"] == "Running"  # type: ignore[index]
    assert sum(1 for call in fake.calls if call[:2] == ("read", "Pod")) >= 3


def test_ready_timeout_names_the_pod_and_why_and_undoes_the_batch(fake: FakeKube) -> None:
    fake.image_problem = "ImagePullBackOff"
    backend = make(fake, ready_timeout=0.2)
    with pytest.raises(BackendError) as info:
        backend.apply([server_pod("apiserver", {"app": "api"})])
    msg = str(info.value)
    assert msg.startswith(
        f"pod {LAB}/apiserver is not Ready after 0.2s: phase Pending, container server "
        'ImagePullBackOff: Back-off pulling image "nginx:1.27-alpine"'
    )
    assert "kind load docker-image" in msg and "rolled back" in msg and "\n" not in msg
    assert fake.names("Pod", LAB) == [] and LAB not in fake.names("Namespace")
# -- a guest in someone's cluster: apply refuses what nphelpers did not create -----------------
def _theirs(kind: str, name: str, ns: str = LAB) -> dict[str, Any]:
    if kind == "Pod":
        return client_pod(name, {"app": "theirs"}, namespace=ns)
    if kind == "Service":
        obj = service(name, {"app": "theirs"})
        obj["metadata"]["namespace"] = ns
        return obj
    if kind == "NetworkPolicy":
        return deny_all_ingress(name, namespace=ns)
    return namespace(name, owner="them")


@pytest.mark.parametrize(
    ("kind", "name", "ours"),
    [
        ("Pod", "apiserver", server_pod("apiserver", {"app": "api"})),
        ("Service", "apiserver", service("apiserver", {"app": "api"})),
        ("NetworkPolicy", "api-allow", API_ALLOW),
        ("Namespace", "prod", namespace("prod")),
    ],
)
def test_apply_refuses_an_object_nphelpers_did_not_create(
    fake: FakeKube, kind: str, name: str, ours: dict[str, Any]
) -> None:
    backend = make(fake)
    backend.apply([client_pod("mine", {"app": "mine"})])  # the lab namespace exists and is ours
    theirs = fake.add(_theirs(kind, name))
    before = copy.deepcopy(fake.objects)
    fake.calls.clear()
    batch = [client_pod("first", {"app": "first"}), ours, client_pod("last", {"app": "last"})]
    with pytest.raises(BackendError) as info:
        backend.apply(batch)
    msg = str(info.value)
    word = kind.lower()
    assert f'refusing to apply: {word} "{name}"' in msg and "nphelpers did not create it" in msg
    assert "pick another name" in msg and f"kubectl delete {word} {name}" in msg and "\n" not in msg
    assert writes(fake) == []  # checked before anything of the batch was sent
    assert fake.objects == before
    stored = fake.get(kind, None if kind == "Namespace" else LAB, name)
    assert stored is not None and stored["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert MANAGED_BY_LABEL not in (stored["metadata"].get("labels") or {})


@pytest.mark.parametrize("labels", [{}, MANAGED], ids=["plain", "carrying-only-the-managed-by-label"])
def test_apply_puts_nothing_into_a_namespace_nphelpers_did_not_create(
    fake: FakeKube, labels: dict[str, str]
) -> None:
    fake.add(namespace("team-a", **labels))
    backend = make(fake)
    with pytest.raises(BackendError, match='refusing to apply: namespace "team-a" exists and nphelpers did not'):
        backend.apply([client_pod("a", {"app": "a"}, namespace="team-a")])
    with pytest.raises(BackendError, match='namespace "team-a"'):
        backend.apply([namespace("team-a", t="a")])
    assert writes(fake) == [] and fake.names("Pod", "team-a") == []
    assert fake.get("Namespace", None, "team-a")["metadata"]["labels"] == {  # type: ignore[index]
        **labels, "kubernetes.io/metadata.name": "team-a"
    }
    assert backend.cleanup() == [] and "team-a" in fake.names("Namespace")


def test_delete_and_label_touch_only_what_nphelpers_created(lab: LiveBackend, fake: FakeKube) -> None:
    fake.add(client_pod("theirs", {"app": "web"}, namespace=LAB))
    labelled_only = client_pod("copycat", {"app": "web", **MANAGED}, namespace=LAB)  # the label proves nothing
    fake.add(labelled_only)
    for name in ("theirs", "copycat"):
        with pytest.raises(BackendError, match=f'refusing to delete: pod "{name}" .*nphelpers did not create it'):
            lab.delete("pod", name)
        with pytest.raises(BackendError, match=f'refusing to label: pod "{name}"'):
            lab.label("pod", name, {"app": "bookstore"})
    assert fake.names("Pod", LAB) == ["apiserver", "copycat", "frontend", "other", "theirs"]
    assert fake.read("Pod", LAB, "theirs")["metadata"]["labels"] == {"app": "web"}
    assert lab.state().pods.keys() == {"default/apiserver", "default/frontend", "default/other"}


def test_a_restarted_lab_adopts_what_an_earlier_one_created(fake: FakeKube) -> None:
    old = make(fake)
    old.apply(lesson())
    new = make(fake)  # a new kernel: a new lab id
    assert [f.action for f in new.apply(lesson())] == ["unchanged"] * 4
    for name in ("apiserver", "frontend", "other"):
        assert fake.get("Pod", LAB, name)["metadata"]["annotations"][LAB_ID_ANNOTATION] == new.lab_id  # type: ignore[index]
    assert fake.get("Namespace", None, LAB)["metadata"]["annotations"][LAB_ID_ANNOTATION] == new.lab_id  # type: ignore[index]
    assert new.cleanup() == [
        Deleted("Service", "apiserver", "default"),
        Deleted("Pod", "apiserver", "default"),
        Deleted("Pod", "frontend", "default"),
        Deleted("Pod", "other", "default"),
    ]
    assert LAB not in fake.names("Namespace")


def test_cleanup_leaves_another_labs_objects_and_says_so(fake: FakeKube) -> None:
    old = make(fake)
    old.apply([client_pod("left-behind", {"app": "x"})])
    new = make(fake)
    new.apply([client_pod("mine", {"app": "y"})])
    facts = new.cleanup()
    assert facts[0] == Deleted("Pod", "mine", "default")
    assert isinstance(facts[1], Kept) and facts[1].kind == "Namespace" and facts[1].name == "default"
    assert "pod/left-behind" in facts[1].reason and "this lab did not create" in facts[1].reason
    assert fake.names("Pod", LAB) == ["left-behind"]


# -- all or nothing --------------------------------------------------------------------------
def test_a_refused_object_rolls_the_whole_batch_back(fake: FakeKube) -> None:
    backend = make(fake, namespace="quota")
    backend.apply([API_ALLOW, client_pod("keep", {"app": "keep"})])
    old_policy = fake.get("NetworkPolicy", "quota", "api-allow")
    fake.refuse("create", "Pod", "c3", 403, 'pods "c3" is forbidden: exceeded quota: pods, requested: pods=1')
    changed = copy.deepcopy(API_ALLOW)
    changed["spec"]["podSelector"] = {}
    batch = [changed, client_pod("keep", {"app": "keep", "x": "y"}), client_pod("c1", {"app": "1"}),
             client_pod("c2", {"app": "2"}), client_pod("c3", {"app": "3"})]
    with pytest.raises(BackendError) as info:
        backend.apply(batch)
    msg = str(info.value)
    assert msg.startswith("the API server refused creating pod/c3: pods \"c3\" is forbidden: exceeded quota")
    assert "the batch was rolled back" in msg and "\n" not in msg
    assert fake.names("Pod", "quota") == ["keep"]  # c1 and c2 were deleted again
    assert fake.get("Pod", "quota", "keep")["metadata"]["labels"] == {"app": "keep", **MANAGED}  # type: ignore[index]
    policy = fake.get("NetworkPolicy", "quota", "api-allow")
    assert policy is not None and policy["spec"] == old_policy["spec"]  # type: ignore[index]
    assert [f.action for f in backend.apply([API_ALLOW, client_pod("keep", {"app": "keep"})])] == ["unchanged"] * 2


def test_a_refused_first_object_in_a_new_namespace_leaves_nothing(fake: FakeKube) -> None:
    backend = make(fake, namespace="fresh")
    fake.refuse("create", "Pod", "a", 403, "forbidden by a policy engine")
    with pytest.raises(BackendError, match="refused creating pod/a: forbidden by a policy engine; the batch was"):
        backend.apply([client_pod("a", {"app": "a"})])
    assert "fresh" not in fake.names("Namespace")


def test_ctrl_c_during_apply_rolls_back_quickly(fake: FakeKube) -> None:
    backend = make(fake)
    backend.apply([client_pod("first", {"app": "x"})])
    fake.calls.clear()

    original = fake.create

    def create(kind: str, ns: str | None, body: Any) -> Any:
        if body["metadata"]["name"] == "third":
            raise KeyboardInterrupt
        return original(kind, ns, body)

    fake.create = create  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        backend.apply([client_pod(n, {"app": n}) for n in ("second", "third")])
    assert fake.names("Pod", LAB) == ["first"]
    assert ("delete", "Pod", LAB, "second") in fake.quick_calls  # the undo ran with short timeouts


# -- label / delete ---------------------------------------------------------------------------
def test_label_returns_the_labels_before_and_after(lab: LiveBackend, fake: FakeKube) -> None:
    base = {"app": "web", **MANAGED}
    fact = lab.label("pod", "frontend", {"tier": "gold"})
    assert fact == Labeled("Pod", "frontend", "default", base, {**base, "tier": "gold"}, {"tier": "gold"})
    fact = lab.label("po", "frontend", {"tier": None, "absent": None, "b": "2"})
    assert fact.old == {**base, "tier": "gold"} and fact.new == {**base, "b": "2"}
    assert fact.changes == {"tier": None, "absent": None, "b": "2"}
    assert kubectl.label_output("pod", "frontend", fact.old, fact.changes) == (
        'label "absent" not found.\npod/frontend labeled'
    )
    ns = lab.label("ns", "default", {"team": "a"})
    assert (ns.kind, ns.name, ns.namespace, ns.new["team"]) == ("Namespace", "default", None, "a")
    assert fake.get("Namespace", None, LAB)["metadata"]["labels"]["team"] == "a"  # type: ignore[index]


def test_label_refuses_bad_requests(lab: LiveBackend) -> None:
    with pytest.raises(NotFoundError, match='pods "ghost" not found in namespace "default"'):
        lab.label("pod", "ghost", {"a": "b"})
    with pytest.raises(UsageError, match="cannot be changed"):
        lab.label("pod", "frontend", {MANAGED_BY_LABEL: None})
    with pytest.raises(UsageError, match="pods and namespaces"):
        lab.label("svc", "apiserver", {"a": "b"})


def test_delete_returns_facts(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    assert lab.delete("pod", "other") == Deleted("Pod", "other", "default")
    assert lab.delete("netpol", "api-allow", "default") == Deleted("NetworkPolicy", "api-allow", "default")
    assert fake.get("Pod", LAB, "other") is None
    assert lab.delete("pod", "other") == Deleted("Pod", "other", "default", found=False)
    with pytest.raises(BackendError, match="may not be deleted"):
        lab.delete("namespace", "kube-system")


# -- state ------------------------------------------------------------------------------------
def test_state_reports_lesson_namespaces_ips_ports(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    fake.add(client_pod("intruder", {"app": "web"}, namespace=LAB))  # not ours: not reported
    state = lab.state()
    assert sorted(state.pods) == ["default/apiserver", "default/frontend", "default/other"]
    api = state.pods["default/apiserver"]
    assert api.ip == fake.get("Pod", LAB, "apiserver")["status"]["podIP"]  # type: ignore[index]
    assert api.ip is not None and api.ip.startswith("10.244.")
    assert [(p.port, p.name) for p in api.ports] == [(80, "http")]
    svc = state.services["default/apiserver"]
    assert svc.cluster_ip == fake.get("Service", LAB, "apiserver")["spec"]["clusterIP"]  # type: ignore[index]
    pol = state.policies["default/api-allow"]
    assert pol.policy_types == ("Ingress",)
    assert pol.manifest is not None and "managedFields" not in pol.manifest["metadata"]
    assert "annotations" not in pol.manifest["metadata"]  # kubectl's note and the lab id are not shown
    assert pol.manifest["metadata"]["namespace"] == "default"
    assert state.namespaces["default"].labels[MANAGED_BY_LABEL] == "nphelpers"
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
    assert result.source == "default/frontend" and result.allowed
    assert result.command == "kubectl exec frontend -- wget -qO- --timeout=2 http://apiserver"
    assert fake.exec_calls[-1][:2] == (LAB, "frontend")

    lab.apply([API_ALLOW])
    assert lab.wget("frontend", "http://apiserver").allowed
    blocked = lab.wget("other", "http://apiserver", timeout=1)
    assert (blocked.outcome, blocked.output) == ("blocked", "wget: download timed out")
    assert "--timeout=1" in blocked.command

    lab.apply([EGRESS_DENY_OTHER])
    dns = lab.wget("other", "http://apiserver")
    assert (dns.outcome, dns.output) == ("dns-failure", "wget: bad address 'apiserver'")

    ip = lab.state().pods["default/apiserver"].ip
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
    with pytest.raises(BackendError, match="pod default/frontend: unexpected wget output"):
        lab.wget("frontend", "http://apiserver")


def test_wget_from_a_missing_pod(lab: LiveBackend) -> None:
    with pytest.raises(NotFoundError, match='pods "ghost" not found in namespace "default"'):
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


def _flapping(fake: FakeKube) -> Iterator[str]:
    flips = iter(["allowed", "blocked"] * 50)
    fake.verdict = lambda src, url: next(flips)
    return flips


def test_probe_stable_gives_up_after_its_attempts_on_a_flapping_verdict(lab: LiveBackend, fake: FakeKube) -> None:
    """However fast the probes are (here the clock never moves), it stops after settle_attempts."""
    _flapping(fake)
    fake.exec_calls.clear()
    lab.settle_attempts = 5
    with pytest.raises(BackendError) as info:
        lab.probe_stable("frontend", "http://apiserver")
    assert len(fake.exec_calls) == 5
    msg = str(info.value)
    assert "did not settle in 5 probes (at most 5, within 2s): allowed, blocked, allowed, blocked, allowed" in msg


def test_probe_stable_gives_up_at_its_deadline_on_the_backends_clock(lab: LiveBackend, fake: FakeKube) -> None:
    clock: Clock = lab._clock  # type: ignore[assignment]
    flips = iter(["allowed", "blocked"] * 50)

    def verdict(src: Any, url: str) -> str:
        clock.now += 1.0  # every probe takes a second
        return next(flips)

    fake.verdict = verdict
    fake.exec_calls.clear()
    with pytest.raises(BackendError, match="did not settle in 3 probes"):
        lab.probe_stable("frontend", "http://apiserver", deadline=2.5)  # probes end at t=1, 2, 3
    assert len(fake.exec_calls) == 3


def _sweep_lab(fake: FakeKube, n: int) -> tuple[LiveBackend, list[tuple[str, str]]]:
    backend = make(fake)
    pods = [client_pod(f"c{i}", {"role": "client"}) for i in range(n)]
    pods += [server_pod(f"s{i}", {"role": "server", "idx": str(i)}) for i in range(n)]
    backend.apply(pods)
    return backend, [(f"c{i}", f"default/s{j}") for i in range(n) for j in range(n)]


@pytest.mark.parametrize("workers", [8, 2])
def test_sweep_runs_exactly_max_workers_probes_at_once(fake: FakeKube, workers: int) -> None:
    """Each exec waits at a barrier for ``workers`` others: the sweep finishes only if that many
    run at once (a broken barrier fails the test), and the fake counts that never more do."""
    backend, pairs = _sweep_lab(fake, 4)
    fake.exec_gate = threading.Barrier(workers, timeout=30)
    results = backend.sweep(pairs, 80, max_workers=workers, stable=False)
    assert list(results) == pairs and all(r.allowed for r in results.values())
    assert fake.max_in_flight == workers


def test_sweep_stable_and_policies(fake: FakeKube) -> None:
    backend, pairs = _sweep_lab(fake, 3)
    only_443 = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "s1-on-443"},
        "spec": {
            "podSelector": {"matchLabels": {"idx": "1"}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 443}]}],
        },
    }
    backend.apply([only_443])
    results = backend.sweep(pairs, 80)  # stable: two probes per pair
    assert len(fake.exec_calls) == 18
    verdicts = {pair: r.outcome for pair, r in results.items()}
    assert verdicts[("c0", "default/s1")] == "blocked"
    assert verdicts[("c2", "default/s0")] == "allowed"
    ip = backend.state().pods["default/s2"].ip
    assert results[("c1", "default/s2")].url == f"http://{ip}:80/"


def test_sweep_stops_queued_probes_on_ctrl_c(fake: FakeKube) -> None:
    backend, pairs = _sweep_lab(fake, 3)

    def interrupt(src: Any, url: str) -> str:
        raise KeyboardInterrupt

    fake.verdict = interrupt
    with pytest.raises(KeyboardInterrupt):
        backend.sweep(pairs, 80, max_workers=1, stable=False)
    assert len(fake.exec_calls) < len(pairs)  # the queued probes were cancelled, not run


# -- cleanup ------------------------------------------------------------------------------------
def test_cleanup_deletes_only_this_labs_objects(lab: LiveBackend, fake: FakeKube) -> None:
    lab.apply([API_ALLOW])
    fake.add(client_pod("intruder", {"app": "web"}, namespace=LAB))
    facts = lab.cleanup()
    assert facts[:5] == [
        Deleted("NetworkPolicy", "api-allow", "default"),
        Deleted("Service", "apiserver", "default"),
        Deleted("Pod", "apiserver", "default"),
        Deleted("Pod", "frontend", "default"),
        Deleted("Pod", "other", "default"),
    ]
    assert facts[5] == Kept(
        "Namespace", "default", None,
        f"{LAB} (the lesson's 'default') holds 1 object(s) this lab did not create (pod/intruder)",
    )
    assert fake.names("Pod", LAB) == ["intruder"]
    assert fake.names("Service", LAB) == [] and fake.names("NetworkPolicy", LAB) == []
    assert LAB in fake.names("Namespace")


def test_cleanup_deletes_the_namespaces_it_created(fake: FakeKube) -> None:
    backend = make(fake, namespace="lesson-02")
    backend.apply([client_pod("a", {"app": "a"}), client_pod("b", {"app": "b"}, namespace="default")])
    assert backend.cleanup() == [  # kind by kind, then by lesson namespace and name, as the simulator
        Deleted("Pod", "b", "default"),
        Deleted("Pod", "a", "lesson-02"),
        Deleted("Namespace", "lesson-02", None),  # the lab namespace behind "default" goes without a fact
    ]
    assert "lesson-02" not in fake.names("Namespace") and LAB not in fake.names("Namespace")
    assert backend.cleanup() == []  # idempotent


@pytest.mark.parametrize(
    ("api_version", "plural", "kind", "fields"),
    [
        ("v1", "configmaps", "ConfigMap", {}),
        ("v1", "secrets", "Secret", {"type": "Opaque"}),
        ("v1", "persistentvolumeclaims", "PersistentVolumeClaim", {}),
        ("v1", "serviceaccounts", "ServiceAccount", {}),
        ("apps/v1", "deployments", "Deployment", {}),
    ],
)
def test_cleanup_keeps_a_namespace_holding_a_students_other_objects(
    fake: FakeKube, api_version: str, plural: str, kind: str, fields: dict[str, Any]
) -> None:
    backend = make(fake, namespace="lesson-02")
    backend.apply([client_pod("a", {"app": "a"})])
    fake.add_other(api_version, plural, kind, "lesson-02", "students-work", **fields)
    facts = backend.cleanup()
    assert facts[0] == Deleted("Pod", "a", "lesson-02")
    assert facts[1] == Kept(
        "Namespace", "lesson-02", None, f"it holds 1 object(s) this lab did not create ({kind.lower()}/students-work)"
    )
    assert "lesson-02" in fake.names("Namespace") and ("configmaps", "lesson-02", "kube-root-ca.crt") in fake.others


def test_cleanup_keeps_a_namespace_it_cannot_check(fake: FakeKube) -> None:
    backend = make(fake, namespace="lesson-02")
    backend.apply([client_pod("a", {"app": "a"})])
    original = fake.list_any

    def list_any(api_version: str, plural: str, namespace: str, **kw: Any) -> Any:
        if plural == "secrets":
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=403, reason="Forbidden")
        return original(api_version, plural, namespace, **kw)

    fake.list_any = list_any  # type: ignore[method-assign]
    facts = backend.cleanup()
    assert isinstance(facts[-1], Kept) and "listing secrets was refused" in facts[-1].reason
    assert "lesson-02" in fake.names("Namespace")


def test_cleanup_never_deletes_a_namespace_of_another_lab(fake: FakeKube) -> None:
    first, second = make(fake, namespace="lesson-00"), make(fake, namespace="lesson-02")
    first.apply([client_pod("a", {"app": "a"})])
    second.apply([client_pod("b", {"app": "b"})])
    assert sorted(first.state().pods) == ["lesson-00/a"]
    assert first.cleanup() == [Deleted("Pod", "a", "lesson-00"), Deleted("Namespace", "lesson-00", None)]
    assert fake.names("Pod", "lesson-02") == ["b"] and "lesson-02" in fake.names("Namespace")
    first._touched_namespaces.add("lesson-02")  # even if it looked there
    assert first.cleanup() == [] and fake.names("Pod", "lesson-02") == ["b"]


def test_ctrl_c_inside_with_cleans_up_with_short_timeouts(fake: FakeKube) -> None:
    with pytest.raises(KeyboardInterrupt), make(fake) as backend:
        backend.apply(lesson())
        backend.apply([API_ALLOW])
        fake.calls.clear()
        raise KeyboardInterrupt
    assert fake.names("Pod", LAB) == [] and fake.names("NetworkPolicy", LAB) == []
    assert LAB not in fake.names("Namespace")
    assert fake.calls and fake.quick_calls == fake.calls  # every cleanup call was a quick one


def test_ctrl_c_cleanup_stops_at_its_budget(fake: FakeKube) -> None:
    backend = make(fake)
    backend.apply(lesson())
    clock: Clock = backend._clock  # type: ignore[assignment]
    original = fake.delete

    def slow_delete(*args: Any, **kwargs: Any) -> None:
        clock.now += 2.0  # each delete takes 2 s: the 5 s budget allows three
        original(*args, **kwargs)

    fake.delete = slow_delete  # type: ignore[method-assign]
    facts = backend.cleanup_quickly()
    assert [type(f).__name__ for f in facts] == ["Deleted", "Deleted", "Deleted", "Kept", "Kept"]
    late = "not deleted: cleanup was cut short (Ctrl-C); run cleanup() again"
    assert facts[3] == Kept("Pod", "other", "default", late)
    assert facts[4].kind == "Namespace"


def test_a_failing_cleanup_does_not_hide_the_original_error(fake: FakeKube) -> None:
    backend = make(fake)
    backend.apply(lesson())
    with pytest.raises(ValueError, match="lesson bug"), pytest.warns(RuntimeWarning, match="cleanup failed"), backend:
        fake.refuse("list", "Pod", MANAGED_BY_LABEL + "=nphelpers", 500, "etcd is down")
        raise ValueError("lesson bug")
# -- context guard ---------------------------------------------------------------------------------
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: kind-lab
  cluster: {{server: "{server}"}}
- name: gke_acme-prod_europe-west1_prod
  cluster: {{server: "https://35.195.0.1"}}
users:
- name: kind-lab
  user: {{token: not-a-secret}}
- name: kind-prod
  user: {{token: not-a-secret}}
contexts:
- name: prod
  context: {{cluster: gke_acme-prod_europe-west1_prod, user: kind-prod}}
- name: kind-lab
  context: {{cluster: kind-lab, user: kind-lab}}
- name: kind-prod
  context: {{cluster: gke_acme-prod_europe-west1_prod, user: kind-prod}}
- name: kind-
  context: {{cluster: kind-lab, user: kind-lab}}
- name: kind-other-user
  context: {{cluster: kind-lab, user: kind-prod}}
current-context: {current}
"""


def _kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, current: str,
                server: str = "https://127.0.0.1:6443") -> Path:
    cfg = tmp_path / "config"
    cfg.write_text(KUBECONFIG.format(current=current, server=server))
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    monkeypatch.delenv("NPHELPERS_ALLOW_CONTEXT", raising=False)
    return cfg


@pytest.mark.parametrize(
    ("context", "why"),
    [
        ("prod", "it is not named kind-<cluster>"),
        ("kind-", "it is not named kind-<cluster>"),
        ("kind-prod", "its cluster is 'gke_acme-prod_europe-west1_prod', not 'kind-prod' as kind writes it"),
        ("kind-other-user", "its cluster is 'kind-lab', not 'kind-other-user'"),
    ],
)
def test_contexts_that_only_look_like_kind_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, context: str, why: str
) -> None:
    _kubeconfig(tmp_path, monkeypatch, context)
    assert detect_kind_context() is None  # auto mode never picks it
    with pytest.raises(BackendError) as info:
        LiveBackend()
    msg = str(info.value)
    assert msg.startswith(f"refusing kube context {context!r}: {why}") and "\n" not in msg
    assert f"NPHELPERS_ALLOW_CONTEXT={context}" in msg
    with pytest.raises(BackendError, match="refusing kube context"):
        LiveBackend(context)


def test_a_kind_context_must_point_at_a_loopback_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _kubeconfig(tmp_path, monkeypatch, "kind-lab", server="https://10.1.2.3:6443")
    assert detect_kind_context() is None
    with pytest.raises(BackendError, match="its server 'https://10.1.2.3:6443' is not on a loopback address"):
        LiveBackend()
    for server in ("https://127.0.0.1:39017", "https://[::1]:6443", "https://localhost:6443"):
        _kubeconfig(tmp_path, monkeypatch, "kind-lab", server=server)
        assert detect_kind_context() == "kind-lab", server


def test_opting_in_accepts_any_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _kubeconfig(tmp_path, monkeypatch, "kind-prod")
    monkeypatch.setenv("NPHELPERS_ALLOW_CONTEXT", "some-other-context")
    with pytest.raises(BackendError, match="refusing kube context 'kind-prod'"):
        LiveBackend()
    monkeypatch.setenv("NPHELPERS_ALLOW_CONTEXT", "kind-prod")
    assert detect_kind_context() == "kind-prod"  # opted in: auto mode may use it


def test_injected_api_checks_the_context_name(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPHELPERS_ALLOW_CONTEXT", raising=False)
    with pytest.raises(BackendError, match="refusing kube context 'prod-eu'"):
        LiveBackend("prod-eu", api=fake)  # type: ignore[arg-type]
    assert LiveBackend("prod-eu", api=fake, allow_any_context=True).context == "prod-eu"  # type: ignore[arg-type]
    monkeypatch.setenv("NPHELPERS_ALLOW_CONTEXT", "minikube")
    assert LiveBackend("minikube", api=fake).context == "minikube"  # type: ignore[arg-type]


def test_kubeconfig_problems_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config"
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    assert detect_kind_context() is None  # no file at all
    with pytest.raises(BackendError, match="no kubeconfig found"):
        LiveBackend()
    cfg.write_text("{not yaml: [")
    assert detect_kind_context() is None
    with pytest.raises(BackendError, match=f"cannot read kubeconfig {cfg}"):
        LiveBackend()
    cfg.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(BackendError, match="no current context"):
        LiveBackend()


# -- every call is bounded ----------------------------------------------------------------------
class _Silent:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    yield server
    server.close()


def test_every_api_call_carries_connect_and_read_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:9"
    api = KubeApi(cfg, timeouts=(1.5, 4.0))
    assert cfg.retries is False  # the client would otherwise retry reads on its own
    seen: list[tuple[str, Any]] = []

    def recorder(verb: str, kind: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            seen.append((f"{verb} {kind}", kwargs.get("_request_timeout")))
            return {"items": []} if verb == "list" else {}

        return method

    monkeypatch.setattr(api, "_method", recorder)
    body = {"metadata": {"name": "x"}}
    for kind in ("Namespace", "Pod", "Service", "NetworkPolicy"):
        ns = None if kind == "Namespace" else "lab"
        api.create(kind, ns, body)
        api.read(kind, ns, "x")
        api.replace(kind, ns, "x", body)
        api.patch(kind, ns, "x", body)
        api.list(kind, ns)
        with api.quick((0.5, 0.25)):
            api.read(kind, ns, "x")
    assert len(seen) == 24
    assert all(t == (1.5, 4.0) for i in range(5) for _, t in seen[i::6])
    assert [t for _, t in seen[5::6]] == [(0.5, 0.25)] * 4  # quick() shortens, inside its block only
    api.close()


def test_a_server_that_never_answers_costs_one_read_timeout(silent: _Silent) -> None:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{silent.port}"
    api = KubeApi(cfg, timeouts=(0.5, 0.3))
    with pytest.raises(BackendError) as info:
        api.read("Pod", "lab", "x")
    msg = str(info.value)
    assert msg.startswith(f"the Kubernetes API at http://127.0.0.1:{silent.port} did not answer within 0.3s")
    assert "\n" not in msg
    assert len(silent.accepted) == 1  # no retries
    with pytest.raises(BackendError, match="did not answer within 0.3s"):
        api.list_any("v1", "configmaps", "lab")
    api.close()


def _kind_kubeconfig_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    _kubeconfig(tmp_path, monkeypatch, "kind-lab", server=f"http://127.0.0.1:{port}")


def test_lab_and_doctor_fail_in_one_line_against_a_silent_server(
    silent: _Silent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nphelpers.backends import kubeapi
    from nphelpers.cli import main

    _kind_kubeconfig_for(tmp_path, monkeypatch, silent.port)
    with pytest.raises(BackendError, match="did not answer within 0.2s"):
        LiveBackend(timeouts=(0.2, 0.2))  # the first request is made at once, not at the first verb
    monkeypatch.setattr(kubeapi, "DEFAULT_TIMEOUTS", (0.2, 0.2))
    monkeypatch.setattr("nphelpers.backends.live.DEFAULT_TIMEOUTS", (0.2, 0.2))
    assert main(["doctor"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"error: the Kubernetes API at http://127.0.0.1:{silent.port} did not answer within 0.2s")
    assert len(silent.accepted) == 2  # one request each, no retries


def test_ctrl_c_during_a_hanging_call_returns_and_still_tries_to_clean_up(
    silent: _Silent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT to the main thread while it waits on a server that never answers (read
    timeout 60 s): KeyboardInterrupt comes back at once, and cleanup tries with short timeouts."""
    import signal
    import time

    fake = FakeKube()
    backend = make(fake, timeouts=(60.0, 60.0))
    backend.apply([client_pod("c", {"app": "c"})])
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{silent.port}"
    backend.api = KubeApi(cfg, timeouts=(60.0, 60.0))
    main = threading.get_ident()

    def interrupt() -> None:
        while not silent.accepted:  # wait until the call is really hanging on the server
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), pytest.warns(RuntimeWarning, match="did not answer within 2s"), backend:
        backend.state()
    assert time.monotonic() - started < 30  # generous: a 60 s read timeout was not waited out
    assert len(silent.accepted) == 2  # the hanging call, then one quick cleanup request that gave up
    backend.api.close()
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

    together = threading.Barrier(3, timeout=60)  # keep all threads alive at once (idents get reused)

    def work() -> None:
        for _ in range(2):
            assert api.exec("ns", "pod", ["sh", "-c", "true"]) == "ok\n__rc=0\n"
        together.wait()

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


def test_doctor_cleans_up_after_ctrl_c_with_short_timeouts(fake: FakeKube) -> None:
    def interrupt(src: Any, url: str) -> str:
        raise KeyboardInterrupt

    fake.verdict = interrupt
    with pytest.raises(KeyboardInterrupt):
        make(fake).check_enforcement()
    assert not [n for n in fake.names("Namespace") if n.startswith("nphelpers-doctor-")]
    assert fake.names("Pod") == []
    assert [c[:2] for c in fake.quick_calls] == [("delete", "Namespace")]


def test_doctor_reports_a_broken_network(fake: FakeKube) -> None:
    fake.verdict = lambda src, url: "blocked"
    backend = make(fake)
    backend.settle = 0.2
    with pytest.raises(BackendError, match="the cluster network is broken"):
        backend.check_enforcement()


def test_errors_are_nphelpers_errors() -> None:
    assert issubclass(BackendError, NphelpersError) and issubclass(UsageError, NphelpersError)


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
            elif self.path.startswith("/version"):
                status, out = 200, {
                    "major": "1", "minor": "31", "gitVersion": "v1.31.2", "gitCommit": "abc", "gitTreeState": "clean",
                    "buildDate": "2024-10-22T20:28:14Z", "goVersion": "go1.22.8", "compiler": "gc",
                    "platform": "linux/amd64",
                }
            elif self.command == "GET" and "limit=" in self.path:
                status, out = 200, {"kind": "List", "apiVersion": "v1", "items": [{"metadata": {"name": "cm"}}]}
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
        assert api.version()["gitVersion"] == "v1.31.2"
        assert [o["metadata"]["name"] for o in api.list_any("v1", "configmaps", "lab")] == ["cm"]
        api.list_any("apps/v1", "deployments", "lab")
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
    assert calls[7:] == [
        ("GET", "/version/"),
        ("GET", "/api/v1/namespaces/lab/configmaps"),
        ("GET", "/apis/apps/v1/namespaces/lab/deployments"),
    ]
    assert seen[8][1].endswith("?limit=50")
    assert seen[3][3] == {"metadata": {"labels": {"a": None}}}  # None survives: it removes the label
