"""The class-based matrix must equal the pair-by-pair engine on any cluster (property-based)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nphelpers.cluster import ClusterState
from nphelpers.engine import evaluate
from nphelpers.matrix import reachability

NS = ["x", "y", "z"]
KEYS = ["app", "role", "tier"]
VALUES = ["a", "b", "c"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
expression = st.one_of(
    st.builds(lambda k, op, vs: {"key": k, "operator": op, "values": vs},
              st.sampled_from(KEYS), st.sampled_from(["In", "NotIn"]),
              st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True)),
    st.builds(lambda k, op: {"key": k, "operator": op}, st.sampled_from(KEYS),
              st.sampled_from(["Exists", "DoesNotExist"])),
)
selector = st.builds(
    lambda ml, me: {**({"matchLabels": ml} if ml else {}), **({"matchExpressions": me} if me else {})},
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2),
    st.lists(expression, max_size=2),
)
ns_selector = st.one_of(
    selector,
    st.builds(lambda names: {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                    "values": names}]},
              st.lists(st.sampled_from(NS), min_size=1, max_size=2, unique=True)),
)
cidr = st.sampled_from(["10.1.0.0/16", "10.1.1.0/24", "10.1.2.3/32", "0.0.0.0/0", "10.1.1.7/8"])
ip_block = st.builds(
    lambda c, ex: {"cidr": c, **({"except": ex} if ex else {})},
    cidr, st.sampled_from([[], ["10.1.1.0/28"], ["10.1.2.0/24"]]),
)
peer = st.one_of(
    st.builds(lambda s: {"podSelector": s}, selector),
    st.builds(lambda s: {"namespaceSelector": s}, ns_selector),
    st.builds(lambda s, n: {"podSelector": s, "namespaceSelector": n}, selector, ns_selector),
    st.builds(lambda b: {"ipBlock": b}, ip_block),
)
port_entry = st.one_of(
    st.builds(lambda p, pr: {"port": p, "protocol": pr}, st.sampled_from([80, 81, 8080]), st.sampled_from(PROTOCOLS)),
    st.builds(lambda p: {"port": p}, st.sampled_from(["http", "metrics", "serve-80-tcp"])),
    st.builds(lambda p, e: {"port": p, "endPort": e}, st.sampled_from([79, 80]), st.sampled_from([80, 90])),
    st.builds(lambda pr: {"protocol": pr}, st.sampled_from(PROTOCOLS)),
)
rule = st.builds(
    lambda peers, ports: {**({"peers": peers} if peers is not None else {}), **({"ports": ports} if ports else {})},
    st.one_of(st.none(), st.lists(peer, max_size=3)),
    st.lists(port_entry, max_size=2),
)


def _policy(i: int, ns: str, sel: dict[str, Any], types: list[str] | None,
            ingress: list[dict[str, Any]], egress: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": sel}
    if types is not None:
        spec["policyTypes"] = types
    spec["ingress"] = [{**({"from": r["peers"]} if "peers" in r else {}), **({"ports": r["ports"]}
                                                                            if "ports" in r else {})} for r in ingress]
    spec["egress"] = [{**({"to": r["peers"]} if "peers" in r else {}), **({"ports": r["ports"]}
                                                                         if "ports" in r else {})} for r in egress]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"p{i}", "namespace": ns}, "spec": spec}


policy = st.tuples(
    st.sampled_from(NS), selector,
    st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]),
    st.lists(rule, max_size=2), st.lists(rule, max_size=2),
)
pod = st.tuples(st.sampled_from(NS), labels, st.sampled_from(["plain", "http80", "http8080", "metrics80"]))
PORTS = {
    "plain": [],
    "http80": [{"containerPort": 80, "name": "http"}],
    "http8080": [{"containerPort": 8080, "name": "http"}, {"containerPort": 80, "name": "metrics"}],
    "metrics80": [{"containerPort": 80, "name": "metrics", "protocol": "UDP"}],
}


def build(pods: list[tuple], policies: list[tuple], ns_labels: list[dict[str, str]]) -> ClusterState:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": lab}}
        for n, lab in zip(NS, ns_labels, strict=True)
    ]
    for i, (ns, lab, ports) in enumerate(pods):
        objects.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"pod{i}", "namespace": ns, "labels": lab},
                        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": PORTS[ports]}]},
                        "status": {"podIP": f"10.1.{i % 3}.{i + 1}"}})
    for i, p in enumerate(policies):
        objects.append(_policy(i, *p))
    return ClusterState.from_objects(objects)


@settings(max_examples=150, deadline=None)
@given(
    pods=st.lists(pod, min_size=1, max_size=8),
    policies=st.lists(policy, max_size=4),
    ns_labels=st.lists(labels, min_size=3, max_size=3),
    port=st.sampled_from([80, 81, 8080]),
    protocol=st.sampled_from(PROTOCOLS),
)
def test_matrix_equals_pairwise_engine(pods, policies, ns_labels, port, protocol) -> None:
    state = build(pods, policies, ns_labels)
    matrix = reachability(state, port, protocol)
    for i, src in enumerate(matrix.pods):
        for j, dst in enumerate(matrix.pods):
            want = evaluate(state, state.pod(src), state.pod(dst), port, protocol).allowed
            assert bool(matrix.allowed[i, j]) == want, (src, dst, evaluate(state, state.pod(src),
                                                                            state.pod(dst), port, protocol).explain())


@settings(max_examples=60, deadline=None)
@given(pods=st.lists(pod, min_size=1, max_size=6), policies=st.lists(policy, max_size=3),
       ns_labels=st.lists(labels, min_size=3, max_size=3))
def test_json_lists_exactly_the_allowed_pairs_sorted(pods, policies, ns_labels) -> None:
    import json

    state = build(pods, policies, ns_labels)
    matrix = reachability(state)
    data = json.loads(matrix.to_json())
    assert data["pods"] == sorted(data["pods"])
    assert data["allowed"] == sorted(data["allowed"])
    assert [tuple(p) for p in data["allowed"]] == matrix.pairs()
