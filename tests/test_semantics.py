"""Each NetworkPolicy v1 rule, one small cluster at a time, through the engine and the matrix."""

from __future__ import annotations

from typing import Any

import pytest

from nphelpers.cluster import ClusterState
from nphelpers.engine import evaluate
from nphelpers.matrix import reachability
from nphelpers.validation import validate_object


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(key: str, labels: dict[str, str] | None = None, ports: list[dict[str, Any]] | None = None,
        ip: str | None = None) -> dict[str, Any]:
    namespace, name = key.split("/")
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports or []}]},
    }
    if ip:
        obj["status"] = {"podIP": ip}
    return obj


def netpol(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    namespace, name = key.split("/")
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def cluster(*objects: dict[str, Any]) -> ClusterState:
    for obj in objects:
        validate_object(obj)
    return ClusterState.from_objects(objects)


def allowed(state: ClusterState, src: str, dst: str, port: int = 80, protocol: str = "TCP") -> bool:
    """Judged twice, pair by pair and through the matrix; both must agree."""
    s = state.pods.get(src, src)
    d = state.pods.get(dst, dst)
    verdict = evaluate(state, s, d, port, protocol).allowed
    if src in state.pods and dst in state.pods:
        assert reachability(state, port, protocol).is_allowed(src, dst) == verdict
    return verdict


BASE = (ns("a", team="red"), ns("b", team="blue"),
        pod("a/web", {"app": "web"}, [{"containerPort": 8080, "name": "http"}], "10.0.0.1"),
        pod("a/db", {"app": "db"}, [{"containerPort": 5432, "name": "pg"}], "10.0.0.2"),
        pod("b/client", {"app": "client"}, ip="10.0.1.1"),
        pod("b/web", {"app": "web"}, [{"containerPort": 80, "name": "http"}], "10.0.1.2"))


def test_no_policy_allows_everything() -> None:
    state = cluster(*BASE)
    assert all(reachability(state).allowed.flatten())


def test_policy_types_default_to_ingress_only_without_egress_rules() -> None:
    state = cluster(*BASE, netpol("a/p", {"podSelector": {}, "ingress": []}))
    assert not allowed(state, "b/client", "a/web")
    assert allowed(state, "a/web", "b/client")  # egress not isolated


def test_policy_types_default_adds_egress_when_egress_rules_exist() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "web"}},
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert state.policies["a/p"].policy_types == ("Ingress", "Egress")
    assert allowed(state, "a/web", "a/db")
    assert not allowed(state, "a/web", "b/client")
    assert not allowed(state, "b/client", "a/web")  # Ingress defaulted with no rules: deny all


def test_explicit_egress_only_leaves_ingress_open() -> None:
    state = cluster(*BASE, netpol("a/p", {"podSelector": {}, "policyTypes": ["Egress"]}))
    assert allowed(state, "b/client", "a/web")
    assert not allowed(state, "a/web", "b/client")
    assert allowed(state, "a/web", "a/web")  # a pod can always reach itself


def test_empty_rule_allows_all_and_empty_from_means_all_peers() -> None:
    state = cluster(*BASE, netpol("a/p", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}))
    assert allowed(state, "b/client", "a/web", 1234, "UDP")
    state = cluster(*BASE, netpol("a/p", {"podSelector": {}, "ingress": [{"from": [], "ports": [{"port": 8080}]}]}))
    assert allowed(state, "b/client", "a/web", 8080)
    assert not allowed(state, "b/client", "a/web", 80)


def test_pod_selector_alone_is_same_namespace_only() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "a/web", "a/db")
    assert not allowed(state, "b/web", "a/db")


def test_namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or() -> None:
    both = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "blue"}}, "podSelector": {"matchLabels": {"app": "web"}}}]}]}
    state = cluster(*BASE, netpol("a/p", both))
    assert allowed(state, "b/web", "a/db")
    assert not allowed(state, "b/client", "a/db")
    assert not allowed(state, "a/web", "a/db")
    either = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "blue"}}}, {"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    state = cluster(*BASE, netpol("a/p", either))
    assert allowed(state, "b/client", "a/db")
    assert allowed(state, "a/web", "a/db")


def test_empty_namespace_selector_means_all_namespaces() -> None:
    spec = {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "b/client", "a/db")


@pytest.mark.parametrize(("expr", "client_ok", "web_ok"), [
    ({"key": "app", "operator": "In", "values": ["client"]}, True, False),
    ({"key": "app", "operator": "NotIn", "values": ["client"]}, False, True),
    ({"key": "tier", "operator": "NotIn", "values": ["x"]}, True, True),  # missing key satisfies NotIn
    ({"key": "app", "operator": "Exists"}, True, True),
    ({"key": "app", "operator": "DoesNotExist"}, False, False),
])
def test_match_expressions(expr: dict[str, Any], client_ok: bool, web_ok: bool) -> None:
    spec = {"podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchExpressions": [expr]}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "b/client", "a/db") is client_ok
    assert allowed(state, "b/web", "a/db") is web_ok


def test_ip_block_with_except_matches_pod_ips_and_external_addresses() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/24"]}}]},
                       {"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": [{"port": 443}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "a/web", "b/client")  # 10.0.1.1
    assert not allowed(state, "a/web", "a/db")  # 10.0.0.2 is excepted
    assert allowed(state, "a/web", "10.0.200.9", 80)
    assert not allowed(state, "a/web", "192.0.2.1", 80)
    assert allowed(state, "a/web", "2001:db8::1", 443)
    assert not allowed(state, "a/web", "2001:db8::1", 80)


def test_cidr_with_host_bits_is_its_network() -> None:
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.0.1.1/24"}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "a/web", "b/web")  # 10.0.1.2 is in 10.0.1.0/24


def test_named_ports_resolve_on_the_destination_for_ingress_and_egress() -> None:
    ingress = {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}
    state = cluster(*BASE, netpol("a/p", ingress))
    assert allowed(state, "b/client", "a/web", 8080)
    assert not allowed(state, "b/client", "a/web", 80)
    assert not allowed(state, "b/client", "a/db", 8080)  # db has no port named http
    egress = {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
              "egress": [{"ports": [{"port": "http"}]}]}
    state = cluster(*BASE, netpol("b/p", egress))
    assert allowed(state, "b/client", "a/web", 8080)  # a/web's http = 8080
    assert allowed(state, "b/client", "b/web", 80)  # b/web's http = 80
    assert not allowed(state, "b/client", "a/web", 80)
    assert not allowed(state, "b/client", "203.0.113.9", 8080)  # a name never matches outside the cluster


def test_end_port_range_and_protocols() -> None:
    spec = {"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP"}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "b/client", "a/web", 8080)
    assert allowed(state, "b/client", "a/web", 8100)
    assert not allowed(state, "b/client", "a/web", 8101)
    assert allowed(state, "b/client", "a/web", 53, "UDP")
    assert not allowed(state, "b/client", "a/web", 8080, "SCTP")


def test_sctp_only_policy_still_isolates_tcp() -> None:
    spec = {"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    assert allowed(state, "b/client", "a/web", 80, "SCTP")
    assert not allowed(state, "b/client", "a/web", 80, "TCP")


def test_both_ends_must_allow() -> None:
    deny_egress = netpol("b/deny", {"podSelector": {}, "policyTypes": ["Egress"]})
    allow_in = netpol("a/allow", {"podSelector": {}, "ingress": [{}]})
    state = cluster(*BASE, deny_egress, allow_in)
    assert not allowed(state, "b/client", "a/web")
    assert allowed(state, "a/web", "b/client")


def test_policies_are_a_union() -> None:
    p1 = netpol("a/p1", {"podSelector": {"matchLabels": {"app": "db"}},
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    p2 = netpol("a/p2", {"podSelector": {"matchLabels": {"app": "db"}},
                         "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "blue"}}}]}]})
    state = cluster(*BASE, p1, p2)
    assert allowed(state, "a/web", "a/db")
    assert allowed(state, "b/client", "a/db")


def test_label_change_re_evaluates_selection_and_peers() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    state = cluster(*BASE, netpol("a/p", spec))
    state.set_labels("pod", "db", {"app": "db2"}, "a")
    assert allowed(state, "b/client", "a/db")  # no longer selected
    state.set_labels("pod", "db", {"app": "db"}, "a")
    state.set_labels("pod", "web", {"app": "webx"}, "a")
    assert not allowed(state, "a/web", "a/db")


def test_explain_names_policy_rule_peer_and_port() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432}]}]}
    state = cluster(*BASE, netpol("a/db-allow", spec))
    ok = evaluate(state, state.pods["a/web"], state.pods["a/db"], 5432)
    text = ok.explain()
    assert text.startswith("a/web -> a/db on 5432/TCP: ALLOWED")
    assert "ingress rule 1 of a/db-allow admits pods with labels app=web in namespace a on port 5432/TCP" in text
    assert ok.to_dict()["ingress"]["admitted_by"][0]["policy"] == "a/db-allow"
    bad = evaluate(state, state.pods["b/client"], state.pods["a/db"], 5432)
    assert not bad.allowed
    assert "isolated by a/db-allow, and no rule admits this traffic: blocked" in bad.explain()


# -- a pod can always reach itself ---------------------------------------------------------------
def test_a_pod_always_reaches_itself_whatever_the_policies() -> None:
    deny_all = netpol("a/deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    state = cluster(*BASE, deny_all)
    assert not allowed(state, "a/web", "a/db")
    for key in ("a/web", "a/db"):
        for port, protocol in ((80, "TCP"), (5432, "TCP"), (53, "UDP"), (9, "SCTP")):
            assert allowed(state, key, key, port, protocol)
    verdict = evaluate(state, state.pod("a/web"), state.pod("a/web"))
    assert verdict.self_traffic
    assert "a pod can always reach itself; policies do not apply to a pod's traffic to itself" in verdict.explain()
    assert verdict.to_dict()["self"] is True and verdict.to_dict()["allowed"] is True


def test_matrix_marks_and_allows_the_diagonal_only() -> None:
    state = cluster(*BASE, netpol("a/deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    matrix = reachability(state)
    assert matrix.is_self("a/web", "a/web") and not matrix.is_self("a/web", "a/db")
    assert ("a/web", "a/web") in matrix.pairs() and ("a/db", "a/db") in matrix.pairs()
    assert ("a/web", "a/db") not in matrix.pairs()
    assert all(matrix.allowed[i, i] for i in range(len(matrix.pods)))
    # Two pods of one class (same labels, same namespace) still do not reach each other.
    twins = cluster(ns("a"), pod("a/one", {"app": "x"}), pod("a/two", {"app": "x"}),
                    netpol("a/deny", {"podSelector": {}, "policyTypes": ["Ingress"]}))
    m = reachability(twins)
    assert m.pairs() == [("a/one", "a/one"), ("a/two", "a/two")]
    assert m.to_table().splitlines()[1:] == ["a/one   .     X", "a/two   X     ."]


# -- null means absent, as the apiserver decodes it ------------------------------------------------
def _with_null(rule_or_peer: str) -> ClusterState:
    """BASE plus one policy on a/web whose only ingress peer or rule has a field set to null."""
    peers = {
        "namespaceSelector": [{"namespaceSelector": None, "podSelector": {"matchLabels": {"app": "web"}}}],
        "podSelector": [{"podSelector": None, "namespaceSelector": {"matchLabels": {"team": "blue"}}}],
    }
    if rule_or_peer in peers:
        rule: dict[str, Any] = {"from": peers[rule_or_peer]}
    else:
        rule = {rule_or_peer: None}
    return cluster(*BASE, netpol("a/p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [rule]}))


def test_null_namespace_selector_in_a_peer_means_the_policy_namespace() -> None:
    # `namespaceSelector:` with nothing under it is absent: only pods of the policy's namespace.
    state = _with_null("namespaceSelector")
    assert not allowed(state, "b/web", "a/web")  # app=web, but in namespace b
    absent = cluster(*BASE, netpol("a/p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}))
    assert not allowed(absent, "b/web", "a/web")
    assert not allowed(state, "a/db", "a/web") and not allowed(absent, "a/db", "a/web")


def test_null_pod_selector_in_a_peer_means_every_pod_of_the_selected_namespaces() -> None:
    state = _with_null("podSelector")
    assert allowed(state, "b/client", "a/web") and allowed(state, "b/web", "a/web")
    assert not allowed(state, "a/db", "a/web")  # namespace a is not team=blue


def test_null_from_and_null_ports_mean_absent() -> None:
    for field in ("from", "ports"):
        state = _with_null(field)
        assert allowed(state, "b/client", "a/web") and allowed(state, "a/db", "a/web", 9999)


def test_null_spec_pod_selector_and_null_rules() -> None:
    # spec.podSelector: null is the empty selector (every pod of the namespace), like {}.
    state = cluster(*BASE, netpol("a/p", {"podSelector": None, "ingress": None, "egress": None}))
    assert not allowed(state, "b/client", "a/web") and not allowed(state, "b/client", "a/db")
    assert allowed(state, "a/web", "b/client")  # egress: null adds no Egress type


def test_null_selector_through_the_yaml_loader() -> None:
    from nphelpers.manifests import load_text

    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector:
      podSelector: {matchLabels: {app: web}}
"""
    objs = list(BASE) + load_text(text).objects
    state = ClusterState.from_objects(objs)
    assert not allowed(state, "b/web", "a/web")
