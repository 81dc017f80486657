"""The reachability matrix: which pod can open a connection to which pod's port.

Built to scale. Pods that no policy can tell apart form one *class*: same namespace,
same values for every label key some selector looks at, same answers to every ipBlock,
same named ports for the probed port. Each selector is evaluated once per class (and
only on the namespaces it can reach), policies become bit sets over classes (Python
integers), and the class × class answer is expanded to pods only at the end. Cost grows
with policies × classes, plus the N² output itself. numpy is imported only when a
caller asks for the pod × pod array (plots, DataFrames), never on the CLI's JSON path.

The result is the same as calling :func:`nphelpers.engine.evaluate` on every pair (the
test suite checks this on random clusters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .cluster import ClusterState
from .model import SYSTEM_NAMESPACE, Namespace, Pod
from .policy import EGRESS, INGRESS, IPBlock, NetworkPolicy, Peer, Rule, ip_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Reachability:
    """Allowed connections among ``pods`` (sorted ``ns/name``) on one port/protocol.

    ``allowed[i, j]`` (a numpy bool array) is true when ``pods[i]`` may connect to ``pods[j]``.
    Built either from that array or, by :func:`reachability`, from pod classes: each pod's
    class (``class_of``) and, per source class, the bit set of destination classes it reaches.
    """

    def __init__(self, port: int, protocol: str, pods: list[str], allowed: np.ndarray | None = None, *,
                 class_of: list[int] | None = None, rows: list[int] | None = None) -> None:
        if allowed is None and (class_of is None or rows is None):
            raise ValueError("give the allowed array, or class_of and rows")
        self.port = port
        self.protocol = protocol
        self.pods = pods
        self._allowed = allowed
        self._class_of = class_of
        self._rows = rows

    @property
    def allowed(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = self._expand()
        return self._allowed

    def _expand(self) -> np.ndarray:
        import numpy as np

        assert self._class_of is not None and self._rows is not None
        n = len(self._rows)
        width = max(1, (n + 7) // 8)
        bits = np.unpackbits(
            np.frombuffer(b"".join(r.to_bytes(width, "little") for r in self._rows), dtype=np.uint8).reshape(n, width),
            axis=1, bitorder="little",
        )[:, :n].astype(bool) if n else np.zeros((0, 0), dtype=bool)
        index = np.asarray(self._class_of, dtype=np.intp)
        return bits[np.ix_(index, index)] if len(index) else np.zeros((0, 0), dtype=bool)

    def __repr__(self) -> str:
        return f"Reachability on {self.port}/{self.protocol} ('.' allowed, 'X' blocked):\n{self.to_table()}"

    def is_allowed(self, source: str, destination: str) -> bool:
        i, j = self.pods.index(source), self.pods.index(destination)
        if self._rows is not None and self._class_of is not None:
            return bool(self._rows[self._class_of[i]] >> self._class_of[j] & 1)
        return bool(self.allowed[i, j])

    def pairs(self) -> list[tuple[str, str]]:
        """Every allowed (source, destination), sorted."""
        return [(src, dst) for src, dsts in self._destinations() for dst in dsts]

    def _destinations(self) -> Iterable[tuple[str, list[str]]]:
        """Each source pod with the sorted list of destinations it reaches."""
        if self._rows is None or self._class_of is None:
            for i, src in enumerate(self.pods):
                yield src, [self.pods[j] for j in self.allowed[i].nonzero()[0].tolist()]
            return
        members: dict[int, list[int]] = {}
        for i, c in enumerate(self._class_of):
            members.setdefault(c, []).append(i)
        cache: dict[int, list[str]] = {}
        for i, src in enumerate(self.pods):
            c = self._class_of[i]
            dsts = cache.get(c)
            if dsts is None:
                row = self._rows[c]
                picked = sorted(j for d, idx in members.items() if row >> d & 1 for j in idx)
                dsts = cache[c] = [self.pods[j] for j in picked]
            yield src, dsts

    def to_json(self) -> str:
        """The CLI's JSON contract."""
        return "".join(self.iter_json())

    def iter_json(self) -> Iterable[str]:
        """The JSON contract in pieces, row by row, so millions of pairs stay cheap."""
        quote = json.dumps
        yield f'{{"port": {self.port}, "protocol": {quote(self.protocol)}, "pods": ['
        yield ", ".join(quote(p) for p in self.pods)
        yield '], "allowed": ['
        first = True
        quoted: dict[int, list[str]] = {}
        for src, dsts in self._destinations():
            if not dsts:
                continue
            q = quoted.get(id(dsts))
            if q is None:
                q = quoted[id(dsts)] = [quote(d) for d in dsts]
            head = "[" + quote(src) + ", "
            text = head + ("], " + head).join(q) + "]"
            yield text if first else ", " + text
            first = False
        yield "]}"

    def to_table(self) -> str:
        """A truth table: row = source (from), column = destination (to); ``.`` allowed, ``X`` blocked."""
        width = max([len(p) for p in self.pods] + [len("from\\to")])
        lines = ["from\\to".ljust(width) + " " + " ".join(self.pods)]
        reached = dict(self._destinations())
        for src in self.pods:
            ok = set(reached[src])
            cells = [("." if dst in ok else "X").ljust(len(dst)) for dst in self.pods]
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
    rows = _class_matrix(state, classes, policies, port, protocol)
    return Reachability(port, protocol, [p.key for p in chosen], class_of=class_of, rows=rows)


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
    """Bit sets over classes for selectors and peers, computed once each."""

    def __init__(self, state: ClusterState, reps: Sequence[Pod]) -> None:
        self.state = state
        self.reps = reps
        self.all = (1 << len(reps)) - 1
        self.by_ns: dict[str, list[int]] = {}
        for i, pod in enumerate(reps):
            self.by_ns.setdefault(pod.namespace, []).append(i)
        self._cache: dict[tuple, int] = {}

    def peer(self, peer: Peer, policy_ns: str) -> int:
        scope = policy_ns if peer.namespace_selector is None else None
        key = (peer, scope)
        mask = self._cache.get(key)
        if mask is not None:
            return mask
        mask = 0
        if peer.ip_block is not None:
            for i, pod in enumerate(self.reps):
                if any(peer.ip_block.matches_ip(ip) for ip in pod.ips):
                    mask |= 1 << i
        else:
            if scope is not None:
                namespaces = [scope]
            else:
                sel = peer.namespace_selector
                assert sel is not None
                labels = {ns: (self.state.namespaces.get(ns) or Namespace(ns)).labels for ns in self.by_ns}
                namespaces = [ns for ns in self.by_ns if sel.matches(labels[ns])]
            for ns in namespaces:
                for i in self.by_ns.get(ns, ()):
                    if peer.pod_selector is None or peer.pod_selector.matches(self.reps[i].labels):
                        mask |= 1 << i
        self._cache[key] = mask
        return mask

    def rule_peers(self, rule: Rule, policy_ns: str) -> int:
        if not rule.peers:
            return self.all
        mask = 0
        for peer in rule.peers:
            mask |= self.peer(peer, policy_ns)
        return mask

    def selected(self, policy: NetworkPolicy) -> list[int]:
        return [i for i in self.by_ns.get(policy.namespace, ()) if policy.pod_selector.matches(self.reps[i].labels)]


def _class_matrix(
    state: ClusterState, reps: Sequence[Pod], policies: Sequence[NetworkPolicy], port: int, protocol: str
) -> list[int]:
    """For each source class, the bit set of destination classes it may connect to."""
    n = len(reps)
    sets = _PeerSets(state, reps)
    ingress: list[int | None] = [None] * n  # sources each destination admits; None: not isolated
    egress: list[int | None] = [None] * n  # destinations each source may reach; None: not isolated
    for pol in policies:
        selected = sets.selected(pol)
        if not selected:
            continue
        if pol.affects(INGRESS):
            for d in selected:
                ingress[d] = ingress[d] or 0
            for rule in pol.ingress:
                cols = [d for d in selected if rule.port_matches(port, protocol, reps[d]) is not None]
                if cols:
                    peers = sets.rule_peers(rule, pol.namespace)
                    for d in cols:
                        ingress[d] |= peers  # type: ignore[operator]
        if pol.affects(EGRESS):
            for s in selected:
                egress[s] = egress[s] or 0
            for rule in pol.egress:
                targets = sets.rule_peers(rule, pol.namespace) & _port_mask(rule, port, protocol, reps)
                for s in selected:
                    egress[s] |= targets  # type: ignore[operator]
    # Transpose ingress: for each source, the destinations that admit it. Destinations with
    # the same admitted set are handled together, so this costs classes × distinct sets.
    by_admitted: dict[int, int] = {}
    for d, admitted in enumerate(ingress):
        key = sets.all if admitted is None else admitted
        by_admitted[key] = by_admitted.get(key, 0) | 1 << d
    groups = list(by_admitted.items())
    rows = []
    for s in range(n):
        admitting = 0
        for admitted, dsts in groups:
            if admitted >> s & 1:
                admitting |= dsts
        reach = egress[s]
        rows.append(admitting if reach is None else admitting & reach)
    return rows


def _port_mask(rule: Rule, port: int, protocol: str, reps: Sequence[Pod]) -> int:
    """For an egress rule: the destination classes its ports admit."""
    if not rule.ports or not any(isinstance(p.port, str) for p in rule.ports):
        return (1 << len(reps)) - 1 if rule.port_matches(port, protocol, None) is not None else 0
    mask = 0
    for i, dst in enumerate(reps):
        if rule.port_matches(port, protocol, dst) is not None:
            mask |= 1 << i
    return mask
