"""The simulated cluster: kubectl-like lines, Services, DNS and what busybox wget prints."""

from __future__ import annotations

from typing import Any

import pytest

from nphelpers import kubectl
from nphelpers.backends.base import Applied, Backend, Deleted, Labeled
from nphelpers.backends.simulated import SimulatedCluster
from nphelpers.errors import BackendError, NotFoundError, UsageError


def pod(name: str, labels: dict[str, str], image: str = "alpine", ports: list[dict[str, Any]] | None = None,
        namespace: str = "default") -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if ports is not None:
        container["ports"] = ports
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [container]}}


def service(name: str, selector: dict[str, str], port: int, target: int | str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target}]}}


API_ALLOW = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "api-allow", "namespace": "default"},
             "spec": {"podSelector": {"matchLabels": {"app": "bookstore", "role": "api"}},
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "bookstore"}}}]}]}}


@pytest.fixture
def sim() -> SimulatedCluster:
    cluster = SimulatedCluster()
    cluster.apply([
        service("apiserver", {"app": "bookstore", "role": "api"}, 80, 80),
        pod("apiserver", {"app": "bookstore", "role": "api"}, "nginx", [{"containerPort": 80, "name": "http"}]),
        pod("test-blocked", {"app": "other"}),
        pod("test-allowed", {"app": "bookstore", "role": "frontend"}),
    ])
    return cluster


def test_is_a_backend(sim: SimulatedCluster) -> None:
    assert isinstance(sim, Backend)
    assert sim.name == "simulated"


def test_lesson_probes(sim: SimulatedCluster) -> None:
    assert sim.wget("test-blocked", "http://apiserver").outcome == "allowed"  # no policy yet
    assert sim.apply([API_ALLOW]) == [Applied("NetworkPolicy", "api-allow", "default", "created")]
    blocked = sim.wget("test-blocked", "http://apiserver")
    assert (blocked.outcome, blocked.output) == ("blocked", "wget: download timed out")
    assert blocked.command == "kubectl exec test-blocked -- wget -qO- --timeout=2 http://apiserver"
    allowed = sim.wget("default/test-allowed", "http://apiserver")
    assert allowed.allowed and allowed.output == kubectl.nginx_index()
    assert allowed.output.startswith("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>")


def test_apply_reports_created_configured_unchanged(sim: SimulatedCluster) -> None:
    sim.apply([API_ALLOW])
    assert [f.action for f in sim.apply([API_ALLOW])] == ["unchanged"]
    changed = {**API_ALLOW, "spec": {**API_ALLOW["spec"], "ingress": []}}
    assert [f.action for f in sim.apply([changed])] == ["configured"]
    assert sim.wget("test-allowed", "apiserver").outcome == "blocked"  # replaced, not merged


def test_labels_change_the_verdict(sim: SimulatedCluster) -> None:
    sim.apply([API_ALLOW])
    fact = sim.label("pod", "test-blocked", {"app": "bookstore"})
    assert fact == Labeled("Pod", "test-blocked", "default", {"app": "other"}, {"app": "bookstore"},
                           {"app": "bookstore"})
    assert kubectl.render(fact) == "pod/test-blocked labeled"
    assert sim.wget("test-blocked", "http://apiserver").allowed
    assert kubectl.render(sim.label("pod", "apiserver", {"role": None})) == "pod/apiserver unlabeled"
    assert sim.state().pods["default/apiserver"].labels == {"app": "bookstore"}
    with pytest.raises(NotFoundError, match='pods "ghost" not found'):
        sim.label("pod", "ghost", {"a": "b"})


def test_egress_isolation_without_dns_rule_breaks_name_lookup(sim: SimulatedCluster) -> None:
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "egress-web-only", "namespace": "default"},
            "spec": {"podSelector": {"matchLabels": {"app": "other"}}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"podSelector": {"matchLabels": {"role": "api"}}}]}]}}
    sim.apply([deny])
    result = sim.wget("test-blocked", "http://apiserver")
    assert (result.outcome, result.output) == ("dns-failure", "wget: bad address 'apiserver'")
    ip = sim.state().pods["default/apiserver"].ip
    assert sim.wget("test-blocked", f"http://{ip}").allowed  # by address, no lookup needed
    dns = {**deny, "spec": {**deny["spec"], "egress": deny["spec"]["egress"] + [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}}
    sim.apply([dns])
    assert sim.wget("test-blocked", "http://apiserver").allowed


def test_service_port_goes_to_target_port_and_policy_sees_the_pod_port(sim: SimulatedCluster) -> None:
    sim.apply([service("apiserver-8080", {"app": "bookstore", "role": "api"}, 8080, "http")])
    port80 = {**API_ALLOW, "spec": {**API_ALLOW["spec"], "ingress": [{"ports": [{"port": 80}]}]}}
    port8080 = {**API_ALLOW, "metadata": {"name": "api-allow", "namespace": "default"},
                "spec": {**API_ALLOW["spec"], "ingress": [{"ports": [{"port": 8080}]}]}}
    sim.apply([port8080])
    assert sim.wget("test-allowed", "http://apiserver-8080:8080").outcome == "blocked"
    sim.apply([port80])
    assert sim.wget("test-allowed", "http://apiserver-8080:8080").allowed
    assert sim.wget("test-allowed", "http://apiserver:8080").outcome == "blocked"  # no such service port


def test_refused_when_nothing_listens_or_no_endpoints(sim: SimulatedCluster) -> None:
    sim.apply([service("empty", {"app": "nobody"}, 80, 80)])
    ip = sim.state().services["default/empty"].cluster_ip
    expected = f"wget: can't connect to remote host ({ip}): Connection refused"
    assert sim.wget("test-allowed", "http://empty").output == expected
    client_ip = sim.state().pods["default/test-blocked"].ip
    result = sim.wget("test-allowed", f"http://{client_ip}")
    assert result.outcome == "refused"


def test_other_namespaces_and_fqdn(sim: SimulatedCluster) -> None:
    sim.apply([pod("shop", {"app": "shop"}, "nginx", [{"containerPort": 80}], namespace="store"),
               {**service("shop", {"app": "shop"}, 80, 80), "metadata": {"name": "shop", "namespace": "store"}}])
    assert sim.wget("test-allowed", "http://shop").outcome == "dns-failure"  # search path is default's
    for host in ("shop.store", "shop.store.svc", "shop.store.svc.cluster.local"):
        assert sim.wget("test-allowed", f"http://{host}").allowed, host


def test_outside_addresses_follow_egress_ip_blocks(sim: SimulatedCluster) -> None:
    assert sim.wget("test-allowed", "http://example.com").allowed
    egress = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "no-internet", "namespace": "default"},
              "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
                  {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["93.184.0.0/16"]}}]}]}}
    sim.apply([egress])
    assert sim.wget("test-allowed", "http://example.com").outcome == "blocked"
    assert sim.wget("test-allowed", "http://198.51.100.7").allowed


def test_cleanup_removes_only_what_was_applied(sim: SimulatedCluster) -> None:
    sim.apply([API_ALLOW])
    facts = sim.cleanup()
    assert facts[0] == Deleted("NetworkPolicy", "api-allow", "default")
    assert Deleted("Pod", "apiserver", "default") in facts and Deleted("Service", "apiserver", "default") in facts
    assert not any(f.kind == "Namespace" for f in facts)  # default was not created here
    state = sim.state()
    assert not state.policies
    assert sorted(state.pods) == ["kube-system/coredns-0", "kube-system/coredns-1"]
    assert sorted(state.services) == ["default/kubernetes", "kube-system/kube-dns"]


def test_delete_of_a_missing_object_is_a_fact_not_an_error(sim: SimulatedCluster) -> None:
    fact = sim.delete("pod", "ghost")
    assert fact == Deleted("Pod", "ghost", "default", found=False)
    assert kubectl.render(fact) == 'Error from server (NotFound): pods "ghost" not found'
    assert kubectl.render(sim.delete("netpol", "nope")) == (
        'Error from server (NotFound): networkpolicies.networking.k8s.io "nope" not found')


def test_a_guest_changes_only_what_it_created(sim: SimulatedCluster) -> None:
    with pytest.raises(BackendError, match="nphelpers did not create it"):
        sim.delete("service", "kube-dns", "kube-system")
    with pytest.raises(BackendError, match="nphelpers did not create it"):
        sim.label("pod", "coredns-0", {"x": "y"}, "kube-system")
    with pytest.raises(BackendError, match="nphelpers did not create it"):
        sim.delete("namespace", "default")
    assert "kube-system/kube-dns" in sim.state().services


def test_apply_is_all_or_nothing(sim: SimulatedCluster) -> None:
    good = pod("new", {"app": "x"}, namespace="fresh")
    bad = {**API_ALLOW, "kind": "ConfigMap"}
    before = sim.state()
    with pytest.raises(UsageError):
        sim.apply([good, bad])
    after = sim.state()
    assert after.pods.keys() == before.pods.keys() and "fresh" not in after.namespaces


def test_namespaces_created_on_the_way_are_labelled_and_cleaned_up(sim: SimulatedCluster) -> None:
    sim.apply([pod("a", {"app": "a"}, namespace="prod")])
    assert sim.state().namespaces["prod"].labels == {
        "app.kubernetes.io/managed-by": "nphelpers", "kubernetes.io/metadata.name": "prod"}
    facts = sim.cleanup()
    assert facts[-1] == Deleted("Namespace", "prod", None)
    assert "prod" not in sim.state().namespaces


def test_stock_nginx_listens_on_80_whatever_containerport_says(sim: SimulatedCluster) -> None:
    sim.apply([pod("web", {"app": "web"}, "nginx:1.27-alpine", [{"containerPort": 8080}]),
               service("web", {"app": "web"}, 8080, 8080)])
    ip = sim.state().pods["default/web"].ip
    assert sim.wget("test-allowed", f"http://{ip}").allowed  # 80: nginx's default.conf
    assert sim.wget("test-allowed", f"http://{ip}:8080").outcome == "refused"
    svc = sim.wget("test-allowed", "http://web:8080")
    assert svc.outcome == "refused" and svc.output.startswith("wget: can't connect to remote host (10.96.")


def test_a_pod_without_the_named_target_port_is_not_an_endpoint(sim: SimulatedCluster) -> None:
    # "apiserver" defines port "http"; "plain" has the service's labels but no such port.
    sim.apply([pod("aaa-plain", {"app": "bookstore", "role": "api"}, "nginx"),
               service("named", {"app": "bookstore", "role": "api"}, 80, "http"),
               service("nameless", {"app": "bookstore", "role": "api"}, 80, "metrics")])
    state = sim.state()
    svc = state.services["default/named"]
    assert [p.name for p in state.endpoints(svc, svc.ports[0])] == ["apiserver"]
    assert sim.wget("test-allowed", "http://named").allowed  # to apiserver, not to the first pod by name
    nameless = sim.wget("test-allowed", "http://nameless")
    ip = state.services["default/nameless"].cluster_ip
    assert nameless.output == f"wget: can't connect to remote host ({ip}): Connection refused"


def test_a_port_name_repeated_across_containers_resolves_to_the_first(sim: SimulatedCluster) -> None:
    two = pod("two", {"app": "two"}, "nginx")
    two["spec"]["containers"] = [
        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "name": "web"}]},
        {"name": "b", "image": "other", "ports": [{"containerPort": 8080, "name": "web"}]},
    ]
    from nphelpers.validation import validate_object

    validate_object(two)  # the apiserver only warns
    sim.apply([two, service("two", {"app": "two"}, 80, "web")])
    assert sim.state().pods["default/two"].resolve_port("web", "TCP") == 80
    assert sim.wget("test-allowed", "http://two").allowed
