"""NetworkPolicy semantics for one connection, with the reasons.

A connection from a source to a destination on a port/protocol is allowed only if the
source's egress allows it *and* the destination's ingress allows it. In each direction a
pod is isolated as soon as one policy that selects it lists that direction in its
``policyTypes``; an isolated pod admits exactly the traffic some rule of some such policy
matches (a rule matches when one of its peers matches the other end, or it has no peers,
and one of its ports matches, or it has no ports). Ends outside the cluster are addresses:
they have no policies and only ``ipBlock`` peers can match them.

A pod can always reach itself: the Kubernetes docs say "a pod cannot block access to
itself", the upstream e2e tests ignore loopback, and on a real node a pod's traffic to its
own address never leaves its network namespace. So :func:`evaluate` calls a connection
from a pod to that same pod allowed whatever the policies say (``Verdict.self_traffic``),
and the matrix agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cluster import ClusterState
from .model import Pod
from .policy import EGRESS, INGRESS, NetworkPolicy, ip_value

Endpoint = Pod | str  # a pod, or an IP address outside the cluster
SELF_REASON = "a pod can always reach itself; policies do not apply to a pod's traffic to itself"


@dataclass(frozen=True)
class RuleMatch:
    """Which rule of which policy admitted the traffic, and through which peer and port."""

    policy: str
    rule: int
    peer: int | None
    peer_text: str
    port_text: str

    def describe(self, direction: str) -> str:
        rule = f"{direction.lower()} rule {self.rule + 1} of {self.policy}"
        return f"{rule} admits {self.peer_text} on {self.port_text}"


@dataclass(frozen=True)
class DirectionVerdict:
    """The outcome in one direction (egress of the source, or ingress of the destination)."""

    direction: str
    pod: str | None  # the pod whose policies count; None for an address outside the cluster
    policies: tuple[str, ...]  # policies that select the pod for this direction
    matches: tuple[RuleMatch, ...]  # rules that admit the traffic

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    @property
    def allowed(self) -> bool:
        return not self.policies or bool(self.matches)

    def describe(self) -> str:
        side = "egress from" if self.direction == EGRESS else "ingress to"
        if self.pod is None:
            return f"{side} an address outside the cluster: no NetworkPolicy applies there, allowed"
        if not self.policies:
            return (
                f"{side} {self.pod}: no policy selects {self.pod} for {self.direction}, "
                "so it is not isolated: allowed"
            )
        names = ", ".join(self.policies)
        if self.matches:
            return f"{side} {self.pod}: isolated by {names}; allowed because " + "; ".join(
                m.describe(self.direction) for m in self.matches
            )
        return f"{side} {self.pod}: isolated by {names}, and no rule admits this traffic: blocked"


@dataclass(frozen=True)
class Verdict:
    """The judgement on one connection, with both directions' reasons."""

    source: str
    destination: str
    port: int
    protocol: str
    egress: DirectionVerdict
    ingress: DirectionVerdict
    self_traffic: bool = False  # source and destination are the same pod: always allowed

    @property
    def allowed(self) -> bool:
        return self.self_traffic or (self.egress.allowed and self.ingress.allowed)

    def explain(self) -> str:
        """Plain words: the verdict first, then why (egress of the source, ingress of the destination)."""
        head = f"{self.source} -> {self.destination} on {self.port}/{self.protocol}: "
        head += "ALLOWED" if self.allowed else "BLOCKED"
        if self.self_traffic:
            return "\n".join([head, "  " + SELF_REASON])
        return "\n".join([head, "  " + self.egress.describe(), "  " + self.ingress.describe()])

    def __str__(self) -> str:
        return self.explain()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for notebooks and JSON."""

        def side(d: DirectionVerdict) -> dict[str, Any]:
            return {
                "pod": d.pod,
                "isolated": d.isolated,
                "allowed": d.allowed,
                "policies": list(d.policies),
                "admitted_by": [
                    {"policy": m.policy, "rule": m.rule, "peer": m.peer, "peer_text": m.peer_text,
                     "port_text": m.port_text}
                    for m in d.matches
                ],
                "reason": d.describe(),
            }

        out: dict[str, Any] = {
            "source": self.source,
            "destination": self.destination,
            "port": self.port,
            "protocol": self.protocol,
            "allowed": self.allowed,
            "egress": side(self.egress),
            "ingress": side(self.ingress),
        }
        if self.self_traffic:
            out["self"] = True
            out["reason"] = SELF_REASON
        return out


def _name(end: Endpoint) -> str:
    return end.key if isinstance(end, Pod) else end


def _peer_admits(
    state: ClusterState, policy: NetworkPolicy, rule_peers: tuple, other: Endpoint
) -> list[tuple[int | None, str]]:
    """Indices and words of the peers of a rule that match ``other`` (the far end)."""
    if not rule_peers:
        return [(None, "every source and destination")]
    found: list[tuple[int | None, str]] = []
    for i, peer in enumerate(rule_peers):
        if isinstance(other, Pod):
            ok = peer.matches_pod(other, state.namespace_of(other), policy.namespace)
        else:
            ok = peer.matches_ip(other)
        if ok:
            found.append((i, peer.describe(policy.namespace)))
    return found


def _judge(
    state: ClusterState, direction: str, pod: Pod, other: Endpoint, port: int, protocol: str,
    destination: Pod | None,
) -> DirectionVerdict:
    policies: list[str] = []
    matches: list[RuleMatch] = []
    for policy in sorted(state.policies.values(), key=lambda p: p.key):
        if not policy.affects(direction) or not policy.selects(pod):
            continue
        policies.append(policy.key)
        for r, rule in enumerate(policy.rules(direction)):
            spec = rule.port_matches(port, protocol, destination)
            if spec is None:
                continue
            port_text = "every port" if spec is True else f"port {spec}"
            for peer_index, peer_text in _peer_admits(state, policy, rule.peers, other):
                matches.append(RuleMatch(policy.key, r, peer_index, peer_text, port_text))
    return DirectionVerdict(direction, pod.key, tuple(policies), tuple(matches))


def evaluate(
    state: ClusterState, source: Endpoint, destination: Endpoint, port: int = 80, protocol: str = "TCP"
) -> Verdict:
    """Judge one connection from ``source`` to ``destination``'s ``port``/``protocol``."""
    dst_pod = destination if isinstance(destination, Pod) else None
    if isinstance(source, Pod):
        egress = _judge(state, EGRESS, source, destination, port, protocol, dst_pod)
    else:
        egress = DirectionVerdict(EGRESS, None, (), ())
    if dst_pod is not None:
        ingress = _judge(state, INGRESS, dst_pod, source, port, protocol, dst_pod)
    else:
        ingress = DirectionVerdict(INGRESS, None, (), ())
    same = isinstance(source, Pod) and dst_pod is not None and source.key == dst_pod.key
    return Verdict(_name(source), _name(destination), port, protocol, egress, ingress, self_traffic=same)


def resolve_endpoint(state: ClusterState, name: str, namespace: str = "default") -> Endpoint:
    """``ns/pod``, a pod name in ``namespace``, or an IP address (a pod's, or outside the cluster)."""
    if ip_value(name) is None:
        return state.pod(name if "/" in name else f"{namespace}/{name}")
    return state.pod_by_ip(name) or name
