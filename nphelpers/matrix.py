"""The reachability matrix: which pod can open a connection to which pod's port.

Built to scale. Pods that no policy can tell apart form one *class*: same namespace,
same values for every label key some selector looks at, same answers to every ipBlock,
same named ports for the probed port. Each selector is evaluated once per class (and
only on the namespaces it can reach), policies become bit sets over classes (Python
integers), and the class × class answer is expanded to pods only at the end. Cost grows
with policies × classes, plus the N² output itself; expanding classes to pods works per
distinct row of the class matrix, so it costs what the output costs. numpy is imported
only when a caller asks for the pod × pod array (plots, DataFrames), never on the CLI's
JSON path.

A pod can always reach itself (policies do not apply to a pod's traffic to itself; see
:mod:`nphelpers.engine`): the diagonal is allowed whatever the class matrix says, and
:meth:`Reachability.is_self` tells a figure which cells those are.

The result is the same as calling :func:`nphelpers.engine.evaluate` on every pair (the
test suite checks this on random clusters).
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .cluster import ClusterState
from .model import SYSTEM_NAMESPACE, Namespace, Pod
from .policy import EGRESS, INGRESS, IPBlock, NetworkPolicy, Peer, PortSpec, Rule, ip_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Reachability:
    """Allowed connections among ``pods`` (sorted ``ns/name``) on one port/protocol.

    ``allowed[i, j]`` (a numpy bool array) is true when ``pods[i]`` may connect to ``pods[j]``.
    Built either from that array or, by :func:`reachability`, from pod classes: each pod's
    class (``class_of``) and, per source class, the bit set of destination classes it reaches
    (``rows``). Built from classes, the diagonal is always allowed (a pod reaches itself).
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
        self._quoted_names: list[bytes] | None = None

    @property
    def from_classes(self) -> bool:
        """Whether it was built from pod classes (then :meth:`json_rows` can write it in parts)."""
        return self._rows is not None and self._class_of is not None

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
        if not len(index):
            return np.zeros((0, 0), dtype=bool)
        allowed = bits[np.ix_(index, index)]
        np.fill_diagonal(allowed, True)  # a pod can always reach itself
        return allowed

    def __repr__(self) -> str:
        return f"Reachability on {self.port}/{self.protocol} ('.' allowed, 'X' blocked):\n{self.to_table()}"

    def is_self(self, source: str, destination: str) -> bool:
        """Whether the cell is a pod's connection to itself (always allowed; a figure may mark it)."""
        return source == destination

    def is_allowed(self, source: str, destination: str) -> bool:
        i, j = self.pods.index(source), self.pods.index(destination)
        if self._rows is not None and self._class_of is not None:
            return i == j or bool(self._rows[self._class_of[i]] >> self._class_of[j] & 1)
        return bool(self.allowed[i, j])

    def diff(self, other: Reachability) -> list[tuple[str, str, bool, bool]]:
        """Cells whose verdict differs: ``(source, destination, allowed here, allowed in other)``, row-major.

        The one comparison of two matrices (before/after a change, predicted/observed); both must
        cover the same pods, their ports may differ.
        """
        if list(self.pods) != list(other.pods):
            only_a = sorted(set(self.pods) - set(other.pods))[:3]
            only_b = sorted(set(other.pods) - set(self.pods))[:3]
            raise ValueError(f"matrices cover different pods (only in first: {only_a}, only in second: {only_b})")
        mine, theirs = set(self.pairs()), set(other.pairs())
        pods = {name: i for i, name in enumerate(self.pods)}
        cells = sorted(mine ^ theirs, key=lambda cell: (pods[cell[0]], pods[cell[1]]))
        return [(src, dst, (src, dst) in mine, (src, dst) in theirs) for src, dst in cells]

    def pairs(self) -> list[tuple[str, str]]:
        """Every allowed (source, destination), sorted."""
        pods = self.pods
        return [(pods[i], pods[j]) for i, dsts in self._destination_indices() for j in dsts]

    def _destination_indices(self) -> Iterable[tuple[int, list[int]]]:
        """Each source pod's index with the sorted indices of the destinations it reaches.

        Computed once per distinct row of the class matrix, from the members of the classes
        the row holds; a source whose own class is not in its row gets itself added.
        """
        if self._rows is None or self._class_of is None:
            for i in range(len(self.pods)):
                yield i, self.allowed[i].nonzero()[0].tolist()
            return
        class_of, rows, members = self._class_of, self._rows, self._members()
        by_row: dict[int, list[int]] = {}
        for i, c in enumerate(class_of):
            row = rows[c]
            dsts = by_row.get(row)
            if dsts is None:
                dsts = by_row[row] = sorted(j for d in _bits(row) for j in members[d])
            if not row >> c & 1:  # the pod itself, always allowed
                dsts = dsts.copy()
                bisect.insort(dsts, i)
            yield i, dsts

    def to_json(self) -> str:
        """The CLI's JSON contract."""
        return "".join(self.iter_json())

    def iter_json(self) -> Iterable[str]:
        """The JSON contract in pieces, row by row, so millions of pairs stay cheap."""
        for chunk in self.iter_json_bytes():
            yield chunk.decode("ascii")

    def iter_json_bytes(self) -> Iterable[bytes]:
        """The JSON contract as ASCII bytes (pod names are DNS names), for writing straight to a file."""
        yield self.json_head()
        if self._rows is None or self._class_of is None:
            first = True
            quoted = self._quoted()
            for i, dsts in self._destination_indices():
                if dsts:
                    head = b"[" + quoted[i] + b", "
                    text = head + (b"], " + head).join([quoted[j] for j in dsts]) + b"]"
                    yield text if first else b", " + text
                    first = False
        else:
            for i, text in enumerate(self.json_rows(0, len(self.pods))):
                if i:
                    yield b", "
                yield text
        yield JSON_TAIL

    def json_head(self) -> bytes:
        """The contract's bytes before its first pair."""
        names = b", ".join(self._quoted())
        return f'{{"port": {self.port}, "protocol": {json.dumps(self.protocol)}, "pods": ['.encode() + names \
            + b'], "allowed": ['

    def _quoted(self) -> list[bytes]:
        if self._quoted_names is None:
            self._quoted_names = [json.dumps(p).encode("ascii") for p in self.pods]
        return self._quoted_names

    def json_rows(self, start: int, stop: int) -> Iterable[bytes]:
        """The pairs of each source pod ``start`` .. ``stop - 1`` (built from classes), one bytes each.

        In the contract they follow :meth:`json_head`, separated by ``b", "``, then
        :data:`JSON_TAIL`; :meth:`json_row_sizes` tells their lengths beforehand, so that
        parts of a large output can be written at their places at once.
        """
        assert self._rows is not None and self._class_of is not None
        # One template per distinct row: every pair with the source's name left as a NUL byte
        # (a JSON-quoted name never holds one), filled in by one bytes.replace per pod, in C.
        class_of, rows, quoted = self._class_of, self._rows, self._quoted()
        members = self._members()
        by_row: dict[int, tuple[list[int], list[bytes], bytes]] = {}
        hole = b"\x00"
        for i in range(start, stop):
            c = class_of[i]
            row = rows[c]
            known = by_row.get(row)
            if known is None:
                idx = sorted(j for d in _bits(row) for j in members[d])
                q = [quoted[j] for j in idx]
                known = by_row[row] = (idx, q, b"[\x00, " + b"], [\x00, ".join(q) + b"]")
            idx, q, template = known
            me = quoted[i]
            if row >> c & 1:
                yield template.replace(hole, me)
            else:  # the pod itself, always allowed, in its sorted place
                at = bisect.bisect_left(idx, i)
                head = b"[" + me + b", "
                yield head + (b"], " + head).join([*q[:at], me, *q[at:]]) + b"]"

    def json_row_sizes(self) -> list[int]:
        """The length of each pod's :meth:`json_rows` bytes, computed without building them."""
        assert self._rows is not None and self._class_of is not None
        quoted, members, rows = self._quoted(), self._members(), self._rows
        per_row: dict[int, tuple[int, int]] = {}  # row -> (pairs, bytes of their destinations)
        sizes = []
        for i, c in enumerate(self._class_of):
            row = rows[c]
            known = per_row.get(row)
            if known is None:
                idx = [j for d in _bits(row) for j in members[d]]
                known = per_row[row] = (len(idx), sum(len(quoted[j]) for j in idx))
            pairs, names = known
            me = len(quoted[i])
            if not row >> c & 1:  # the pod itself is added
                pairs, names = pairs + 1, names + me
            # each pair is [me, dst]: 4 bytes of brackets, comma and space, and ", " between pairs
            sizes.append(pairs * (me + 4) + names + 2 * (pairs - 1))
        return sizes

    def _members(self) -> list[list[int]]:
        assert self._rows is not None and self._class_of is not None
        members: list[list[int]] = [[] for _ in self._rows]
        for i, c in enumerate(self._class_of):
            members[c].append(i)
        return members

    def iter_classes_json(self) -> Iterable[str]:
        """The compact form (``-o classes``): pods, each pod's class, and the allowed class pairs.

        ``{"port": 80, "protocol": "TCP", "pods": [...], "class_of": [0, 0, 1, ...], "classes": K,
        "allowed": [[0, 1], ...]}``: pod ``i`` belongs to class ``class_of[i]``; a pair
        ``[a, b]`` means every pod of class ``a`` may connect to every pod of class ``b``;
        a pod can always reach itself, whether its class's ``[c, c]`` is listed or not.
        Classes are numbered in the order of their first pod.
        """
        quote = json.dumps
        if self._rows is None or self._class_of is None:  # built from an array: one class a pod
            import numpy as np

            n = len(self.pods)
            class_of = list(range(n))
            rows = [int.from_bytes(np.packbits(r, bitorder="little").tobytes(), "little") for r in self.allowed]
        else:
            class_of, rows = self._class_of, self._rows
        yield f'{{"port": {self.port}, "protocol": {quote(self.protocol)}, "pods": ['
        yield ", ".join(quote(p) for p in self.pods)
        yield '], "class_of": [' + ", ".join(map(str, class_of)) + f'], "classes": {len(rows)}, "allowed": ['
        first = True
        for c, row in enumerate(rows):
            dsts = _bits(row)
            if dsts:
                text = f"[{c}, " + f"], [{c}, ".join(map(str, dsts)) + "]"
                yield text if first else ", " + text
                first = False
        yield "]}"

    def to_table(self) -> str:
        """A truth table: row = source (from), column = destination (to); ``.`` allowed, ``X`` blocked."""
        width = max([len(p) for p in self.pods] + [len("from\\to")])
        lines = ["from\\to".ljust(width) + " " + " ".join(self.pods)]
        reached = dict(self._destination_indices())
        for i, src in enumerate(self.pods):
            ok = set(reached[i])
            cells = [("." if j in ok else "X").ljust(len(dst)) for j, dst in enumerate(self.pods)]
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


JSON_TAIL = b"]}"  # the contract's last bytes (the command line adds a newline)


def _bits(x: int) -> list[int]:
    """The positions of the set bits of ``x``, ascending (in C: its binary text as 0/1 bytes)."""
    flags = bin(x)[:1:-1].encode().translate(_ZERO_ONE)  # least significant bit first
    return list(itertools.compress(range(len(flags)), flags))


_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")


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
    classes = _classes(chosen, policies, port, protocol)
    rows = _class_matrix(state, classes, policies, port, protocol)
    return Reachability(port, protocol, [p.key for p in chosen], class_of=classes.class_of, rows=rows)


def _ip_blocks(policies: Sequence[NetworkPolicy]) -> list[IPBlock]:
    seen: dict[IPBlock, None] = {}
    for pol in policies:
        for rule in pol.ingress + pol.egress:
            for peer in rule.peers:
                if peer.ip_block is not None:
                    seen.setdefault(peer.ip_block)
    return list(seen)


class _Classes:
    """Pod classes: representatives, each pod's class, and the masks the signatures give for free."""

    def __init__(self, reps: list[Pod], class_of: list[int], block_masks: dict[IPBlock, int],
                 name_masks: dict[str, int]) -> None:
        self.reps = reps
        self.class_of = class_of
        self.block_masks = block_masks  # classes whose pods have an address in the ipBlock
        self.name_masks = name_masks  # classes whose pods name a container port so, on the probed port


def _classes(pods: Sequence[Pod], policies: Sequence[NetworkPolicy], port: int, protocol: str) -> _Classes:
    """Representatives of the pod classes, each pod's class index, ipBlock and port-name masks."""
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
    block_masks = dict.fromkeys(blocks, 0)
    name_masks: dict[str, int] = {}
    for pod in pods:
        labels = pod.labels
        addresses = [v for v in map(ip_value, pod.ips) if v is not None] if blocks else []
        inside = tuple(any(b.contains(v) for v in addresses) for b in blocks)
        names = frozenset(p.name for p in pod.ports if p.name and p.port == port and p.protocol == protocol)
        signature = (pod.namespace, tuple(map(labels.get, label_keys)), inside, names)
        c = index.get(signature)
        if c is None:
            c = index[signature] = len(reps)
            reps.append(pod)
            bit = 1 << c
            for b, hit in zip(blocks, inside, strict=True):
                if hit:
                    block_masks[b] |= bit
            for name in names:
                name_masks[name] = name_masks.get(name, 0) | bit
        class_of.append(c)
    return _Classes(reps, class_of, block_masks, name_masks)


class _PeerSets:
    """Bit sets over classes for selectors and peers, computed once each."""

    def __init__(self, state: ClusterState, classes: _Classes) -> None:
        self.state = state
        self.reps = reps = classes.reps
        self.classes = classes
        self.all = (1 << len(reps)) - 1
        self.by_ns: dict[str, list[int]] = {}
        for i, pod in enumerate(reps):
            self.by_ns.setdefault(pod.namespace, []).append(i)
        self._cache: dict[tuple, int] = {}
        self._ports: dict[tuple[PortSpec, ...], int] = {}

    def peer(self, peer: Peer, policy_ns: str) -> int:
        if peer.ip_block is not None:
            return self.classes.block_masks[peer.ip_block]
        scope = policy_ns if peer.namespace_selector is None else None
        key = (peer, scope)
        mask = self._cache.get(key)
        if mask is not None:
            return mask
        mask = 0
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

    def rule_ports(self, rule: Rule, port: int, protocol: str) -> int:
        """The destination classes whose port/protocol one of the rule's port entries admits."""
        if not rule.ports:
            return self.all
        mask = self._ports.get(rule.ports)
        if mask is None:
            mask = 0
            for spec in rule.ports:
                if spec.protocol != protocol:
                    continue
                if isinstance(spec.port, str):  # a named port: where the destination names `port` so
                    mask |= self.classes.name_masks.get(spec.port, 0)
                elif spec.matches(port, protocol, None):
                    mask = self.all
                    break
            self._ports[rule.ports] = mask
        return mask

    def selected(self, policy: NetworkPolicy) -> int:
        mask = 0
        for i in self.by_ns.get(policy.namespace, ()):
            if policy.pod_selector.matches(self.reps[i].labels):
                mask |= 1 << i
        return mask


def _class_matrix(
    state: ClusterState, classes: _Classes, policies: Sequence[NetworkPolicy], port: int, protocol: str
) -> list[int]:
    """For each source class, the bit set of destination classes it may connect to."""
    n = len(classes.reps)
    sets = _PeerSets(state, classes)
    ingress: list[int | None] = [None] * n  # sources each destination admits; None: not isolated
    egress: list[int | None] = [None] * n  # destinations each source may reach; None: not isolated
    for pol in policies:
        selected = sets.selected(pol)
        if not selected:
            continue
        chosen = _bits(selected)
        if pol.affects(INGRESS):
            for d in chosen:
                ingress[d] = ingress[d] or 0
            for rule in pol.ingress:
                cols = selected & sets.rule_ports(rule, port, protocol)
                if cols:
                    peers = sets.rule_peers(rule, pol.namespace)
                    for d in _bits(cols):
                        ingress[d] |= peers  # type: ignore[operator]
        if pol.affects(EGRESS):
            for s in chosen:
                egress[s] = egress[s] or 0
            for rule in pol.egress:
                targets = sets.rule_peers(rule, pol.namespace) & sets.rule_ports(rule, port, protocol)
                if targets:
                    for s in chosen:
                        egress[s] |= targets  # type: ignore[operator]
    # Transpose ingress: for each source, the destinations that admit it. Destinations with
    # the same admitted set are handled together; the not isolated ones admit every source.
    open_to_all = 0
    by_admitted: dict[int, int] = {}
    for d, admitted in enumerate(ingress):
        if admitted is None:
            open_to_all |= 1 << d
        elif admitted:
            by_admitted[admitted] = by_admitted.get(admitted, 0) | 1 << d
    admitting = [open_to_all] * n
    for admitted, dsts in by_admitted.items():
        for s in _bits(admitted):
            admitting[s] |= dsts
    rows = []
    for s in range(n):
        reach = egress[s]
        rows.append(admitting[s] if reach is None else admitting[s] & reach)
    return rows
