"""The reachability matrix: which pod can open a connection to which pod's port.

Built to scale. Pods that no policy can tell apart form one *class*: same namespace,
same values for every label key some selector looks at, same answers to every ipBlock,
same named ports for the probed port. Each selector is evaluated once per class (and
only on the namespaces it can reach), policies become boolean vectors over classes, and
the class × class answer is expanded to pods only at the end. Cost grows with
policies × classes, plus the N² output itself.

The result is the same as calling :func:`nphelpers.engine.evaluate` on every pair (the
test suite checks this on random clusters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .cluster import ClusterState
from .model import SYSTEM_NAMESPACE, Namespace, Pod
from .policy import EGRESS, INGRESS, IPBlock, NetworkPolicy, Peer, Rule, ip_value

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Reachability:
    """Allowed connections among ``pods`` (sorted ``ns/name``) on one port/protocol.

    ``allowed[i, j]`` is true when ``pods[i]`` may connect to ``pods[j]``.
    """

    port: int
    protocol: str
    pods: list[str]
    allowed: np.ndarray

    def __repr__(self) -> str:
        return f"Reachability on {self.port}/{self.protocol} ('.' allowed, 'X' blocked):\n{self.to_table()}"

    def is_allowed(self, source: str, destination: str) -> bool:
        return bool(self.allowed[self.pods.index(source), self.pods.index(destination)])

    def pairs(self) -> list[tuple[str, str]]:
        """Every allowed (source, destination), sorted."""
        src, dst = np.nonzero(self.allowed)
        return [(self.pods[i], self.pods[j]) for i, j in zip(src.tolist(), dst.tolist(), strict=True)]

    def to_json(self) -> str:
        """The CLI's JSON contract, streamed row by row so millions of pairs stay cheap."""
        return "".join(self.iter_json())

    def iter_json(self) -> Iterable[str]:
        quoted = np.array([json.dumps(p) for p in self.pods], dtype=object)
        yield f'{{"port": {self.port}, "protocol": {json.dumps(self.protocol)}, "pods": ['
        yield ", ".join(quoted.tolist())
        yield '], "allowed": ['
        first = True
        cache: dict[bytes, list[str]] = {}
        for i, row in enumerate(self.allowed):
            key = row.tobytes()
            dsts = cache.get(key)
            if dsts is None:
                dsts = cache[key] = quoted[np.flatnonzero(row)].tolist()
            if not dsts:
                continue
            src = quoted[i]
            text = "[" + src + ", " + ("], [" + src + ", ").join(dsts) + "]"
            yield text if first else ", " + text
            first = False
        yield "]}"

    def to_table(self) -> str:
        """A truth table: row = source (from), column = destination (to); ``.`` allowed, ``X`` blocked."""
        width = max([len(p) for p in self.pods] + [len("from\\to")])
        head = "from\\to".ljust(width) + " " + " ".join(self.pods)
        lines = [head]
        for i, src in enumerate(self.pods):
            cells = [
                ("." if self.allowed[i, j] else "X").ljust(len(dst)) for j, dst in enumerate(self.pods)
            ]
            lines.append((src.ljust(width) + " " + " ".join(cells)).rstrip())
        return "\n".join(lines)

    def to_dataframe(self) -> pd.DataFrame:
        """A pandas DataFrame of booleans, rows = sources, columns = destinations."""
        import pandas as pd

        frame = pd.DataFrame(self.allowed, index=list(self.pods), columns=list(self.pods))
        frame.index.name = "from"
        frame.columns.name = "to"
        return frame

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())


def reachability(
    state: ClusterState,
    port: int = 80,
    protocol: str = "TCP",
    pods: Sequence[str] | None = None,
) -> Reachability:
    """The reachability matrix over ``pods`` (default: every pod outside kube-system)."""
    if pods is None:
        chosen = [p for p in state.pods.values() if p.namespace != SYSTEM_NAMESPACE]
    else:
        chosen = [state.pod(k) for k in pods]
    chosen.sort(key=lambda p: p.key)
    policies = sorted(state.policies.values(), key=lambda p: p.key)
    classes, class_of = _classes(chosen, policies, port, protocol)
    allowed_cls = _class_matrix(state, classes, policies, port, protocol)
    index = np.asarray(class_of, dtype=np.intp)
    allowed = allowed_cls[np.ix_(index, index)] if len(chosen) else np.zeros((0, 0), dtype=bool)
    return Reachability(port, protocol, [p.key for p in chosen], allowed)


def _ip_blocks(policies: Sequence[NetworkPolicy]) -> list[IPBlock]:
    seen: dict[IPBlock, None] = {}
    for pol in policies:
        for rule in pol.ingress + pol.egress:
            for peer in rule.peers:
                if peer.ip_block is not None:
                    seen.setdefault(peer.ip_block)
    return list(seen)


def _classes(
    pods: Sequence[Pod], policies: Sequence[NetworkPolicy], port: int, protocol: str
) -> tuple[list[Pod], list[int]]:
    """Representatives of the pod classes, and each pod's class index."""
    keys: set[str] = set()
    for pol in policies:
        keys |= pol.pod_selector.keys
        for rule in pol.ingress + pol.egress:
            for peer in rule.peers:
                if peer.pod_selector is not None:
                    keys |= peer.pod_selector.keys
    label_keys = sorted(keys)
    blocks = _ip_blocks(policies)
    reps: list[Pod] = []
    index: dict[tuple, int] = {}
    class_of: list[int] = []
    for pod in pods:
        labels = pod.labels
        addresses = [v for v in map(ip_value, pod.ips) if v is not None] if blocks else []
        signature = (
            pod.namespace,
            tuple(labels.get(k) for k in label_keys),
            tuple(any(b.contains(v) for v in addresses) for b in blocks),
            frozenset(p.name for p in pod.ports if p.name and p.port == port and p.protocol == protocol),
        )
        c = index.get(signature)
        if c is None:
            c = index[signature] = len(reps)
            reps.append(pod)
        class_of.append(c)
    return reps, class_of


class _PeerSets:
    """Boolean vectors over classes for selectors and peers, computed once each."""

    def __init__(self, state: ClusterState, reps: Sequence[Pod]) -> None:
        self.state = state
        self.reps = reps
        self.n = len(reps)
        self.by_ns: dict[str, list[int]] = {}
        for i, pod in enumerate(reps):
            self.by_ns.setdefault(pod.namespace, []).append(i)
        self._cache: dict[tuple, np.ndarray] = {}

    def peer(self, peer: Peer, policy_ns: str) -> np.ndarray:
        scope = policy_ns if peer.namespace_selector is None else None
        key = (peer, scope)
        vec = self._cache.get(key)
        if vec is not None:
            return vec
        vec = np.zeros(self.n, dtype=bool)
        if peer.ip_block is not None:
            for i, pod in enumerate(self.reps):
                vec[i] = any(peer.ip_block.matches_ip(ip) for ip in pod.ips)
        else:
            if scope is not None:
                namespaces = [scope]
            else:
                sel = peer.namespace_selector
                assert sel is not None
                namespaces = [
                    ns for ns in self.by_ns if sel.matches((self.state.namespaces.get(ns) or Namespace(ns)).labels)
                ]
            for ns in namespaces:
                for i in self.by_ns.get(ns, ()):
                    if peer.pod_selector is None or peer.pod_selector.matches(self.reps[i].labels):
                        vec[i] = True
        self._cache[key] = vec
        return vec

    def rule_peers(self, rule: Rule, policy_ns: str) -> np.ndarray:
        if not rule.peers:
            return np.ones(self.n, dtype=bool)
        out = np.zeros(self.n, dtype=bool)
        for peer in rule.peers:
            out |= self.peer(peer, policy_ns)
        return out

    def selected(self, policy: NetworkPolicy) -> list[int]:
        return [i for i in self.by_ns.get(policy.namespace, ()) if policy.pod_selector.matches(self.reps[i].labels)]


def _class_matrix(
    state: ClusterState, reps: Sequence[Pod], policies: Sequence[NetworkPolicy], port: int, protocol: str
) -> np.ndarray:
    n = len(reps)
    sets = _PeerSets(state, reps)
    # ingress[s, d]: d's ingress admits s; egress[s, d]: s's egress admits d.
    ingress_isolated = np.zeros(n, dtype=bool)
    egress_isolated = np.zeros(n, dtype=bool)
    ingress = np.zeros((n, n), dtype=bool)
    egress = np.zeros((n, n), dtype=bool)
    for pol in policies:
        selected = sets.selected(pol)
        if not selected:
            continue
        if pol.affects(INGRESS):
            ingress_isolated[selected] = True
            for rule in pol.ingress:
                cols = [d for d in selected if rule.port_matches(port, protocol, reps[d]) is not None]
                if cols:
                    ingress[:, cols] |= sets.rule_peers(rule, pol.namespace)[:, None]
        if pol.affects(EGRESS):
            egress_isolated[selected] = True
            for rule in pol.egress:
                targets = sets.rule_peers(rule, pol.namespace) & _port_vector(rule, port, protocol, reps)
                egress[selected, :] |= targets
    ingress[:, ~ingress_isolated] = True
    egress[~egress_isolated, :] = True
    return ingress & egress


def _port_vector(rule: Rule, port: int, protocol: str, reps: Sequence[Pod]) -> np.ndarray:
    """For an egress rule: which destination classes its ports admit."""
    if not rule.ports or not any(isinstance(p.port, str) for p in rule.ports):
        ok = rule.port_matches(port, protocol, None) is not None
        return np.full(len(reps), ok, dtype=bool)
    return np.array([rule.port_matches(port, protocol, d) is not None for d in reps], dtype=bool)
