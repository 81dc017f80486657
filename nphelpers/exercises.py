"""Exercises that check themselves: a starting state, a goal, constraints and hints.

An :class:`Exercise` is data. Its goal is a few small typed pieces (:class:`Matrix`,
:class:`Probe`, :class:`FromOutside`, :class:`ToOutside`, :class:`NewPod`, and for a deployment step
:class:`HasLabels`, :class:`Serves`, :class:`Selects`; a goal's ``title`` is the lesson's
name for it, such as a recipe's acceptance criterion) and so are its constraints
(:class:`MaxPolicies`, :class:`NoAllowAll`, :class:`NoBareNamespaceSelector`,
:class:`NoLabelChanges`, :class:`SelectNamespacesBy`, and always :class:`PoliciesOnly` and
:class:`InLessonNamespace`); each piece returns a :class:`Finding` that says in one line what
it asked and how the answer fared, the way policy-assistant explains a verdict.

``lab.check(exercise, answer)`` does, in this order:

1. reads the answer (a file, a directory or a YAML string): a syntax or schema error is a
   one-line :class:`~nphelpers.errors.ManifestError` and changes nothing;
2. checks the constraints on the cluster *as it would be* (a copy of the lab's state with
   the previous attempt withdrawn and the answer applied): a broken rule changes nothing;
3. withdraws the previous attempt's policies that the answer does not name again (a starting
   policy that an attempt had replaced is put back as it was), then applies the answer, so
   the lab shows what the learner wrote and attempts never pile up;
4. judges the goal on the lab: the policies' verdicts, real probes, and the traffic the lab
   observes (every pair probed through the backend: exact on the simulator, real packets on
   a live cluster);
5. prints ✓, or the differing cells with the next hint (hints escalate from gentle to
   explicit with each failed attempt; a hint can be tied to a symptom), and returns a
   :class:`CheckResult`, truthy on success, so ``assert lab.check(...)`` grades a notebook.

Names: ``web`` is a pod (or Service) in the lab's namespace, ``prod/client`` one in another
namespace. In goals and hints they are shell-style patterns: ``*`` is every pod of the lab's
namespace, ``*/*`` every pod of the exercise, ``prod/*`` the exercise's pods in ``prod``. A pod
always reaches itself (the documentation: a pod cannot block access to itself), so the
diagonal is never part of a goal.

The catalogue of the course's exercises is :data:`EXERCISES` (:mod:`nphelpers.catalog`).
"""

from __future__ import annotations

import fnmatch
import os
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .cluster import ClusterState
from .errors import UsageError
from .manifests import copy_manifest
from .matrix import reachability
from .model import NAME_LABEL
from .policy import EGRESS, INGRESS, NetworkPolicy, ip_value

if TYPE_CHECKING:
    from .engine import Endpoint
    from .lab import Lab

__all__ = [
    "Exercise", "CheckResult", "Cell", "Finding", "Hint", "Differs", "Breaks",
    "Matrix", "Probe", "FromOutside", "ToOutside", "NewPod", "HasLabels", "Serves", "Selects",
    "PoliciesOnly", "InLessonNamespace", "MaxPolicies", "NoAllowAll", "NoBareNamespaceSelector",
    "NoLabelChanges", "SelectNamespacesBy", "check", "start", "get_exercise", "load_answer",
]

MANAGED_BY = "app.kubernetes.io/managed-by"  # the lab's bookkeeping label: never a learner's change
MAX_CELLS_SHOWN = 8  # a failed check lists at most this many cells, then "... and N more"
Say = Callable[..., None]


# -- names ---------------------------------------------------------------------------------
def resolve(name: str, namespace: str) -> str:
    """``web`` -> ``ns/web``; ``prod/web`` and addresses stay as they are."""
    return name if "/" in name or ip_value(name) is not None else f"{namespace}/{name}"


def matches(pattern: str, key: str, namespace: str) -> bool:
    """Whether ``key`` (``ns/name``) fits ``pattern`` (a name or glob, relative to ``namespace``)."""
    return fnmatch.fnmatchcase(key, resolve(pattern, namespace))


def show(key: str, namespace: str) -> str:
    """How a key is printed: bare in the lab's namespace, ``ns/name`` elsewhere."""
    prefix = f"{namespace}/"
    return key[len(prefix):] if key.startswith(prefix) else key


def _labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != MANAGED_BY}


def _label_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


# -- verdicts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One connection whose outcome differs from the goal.

    ``via`` says who judged it: ``policies`` (the policies' verdict), ``probe`` (a real
    request through the Service and DNS) or ``observed`` (traffic the lab saw).
    """

    source: str  # ns/pod, or an address outside the cluster
    destination: str  # ns/pod, or ns/service for a probe
    port: int
    protocol: str
    expected: str
    got: str
    via: str = "policies"

    def describe(self, namespace: str) -> str:
        where = {"probe": " (wget)", "observed": " (observed traffic)"}.get(self.via, "")
        return (f"{show(self.source, namespace)} → {show(self.destination, namespace)} on {self.port}/"
                f"{self.protocol}{where}: expected {self.expected}, got {self.got}")


@dataclass(frozen=True)
class Finding:
    """What one goal or constraint found: ``ok``, one line of text, and the cells that differ."""

    piece: str  # the class name of the goal or constraint
    ok: bool
    text: str
    cells: tuple[Cell, ...] = ()


@dataclass(frozen=True)
class Context:
    """What goals and constraints are judged on."""

    namespace: str  # the lesson's namespace: the lab's
    state: ClusterState  # the cluster after the answer (for constraints: as it would be)
    pods: tuple[str, ...]  # the exercise's pods, ns/name
    pod_labels: Mapping[str, Mapping[str, str]]  # each exercise pod's labels at the start
    namespace_labels: Mapping[str, Mapping[str, str]]  # each exercise namespace's labels at the start
    answer: tuple[Mapping[str, Any], ...] = ()  # the answer's objects, as loaded
    lab: Lab | None = None  # for probes and observation (goals only)

    def policies(self) -> list[NetworkPolicy]:
        """The answer's NetworkPolicies, each in the namespace it lands in."""
        return [NetworkPolicy.from_manifest(o, self.namespace) for o in self.answer if o.get("kind") == "NetworkPolicy"]

    def pick(self, pattern: str) -> list[str]:
        return [p for p in self.pods if matches(pattern, p, self.namespace)]


def _finding(piece: object, ok_text: str, cells: Sequence[Cell], fail_text: str) -> Finding:
    name = type(piece).__name__
    return Finding(name, not cells, ok_text if not cells else fail_text, tuple(cells))


# -- goals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Matrix:
    """The target matrix on one port/protocol among the exercise's pods, given compactly.

    ``only``: ``(destination, sources)`` rules, "only these sources may reach that
    destination" (patterns); ``blocked``: further ``(source, destination)`` pairs that must be
    blocked. Every other connection must be ``others`` (allowed by default).
    """

    port: int = 80
    protocol: str = "TCP"
    only: tuple[tuple[str, tuple[str, ...]], ...] = ()
    blocked: tuple[tuple[str, str], ...] = ()
    others: Literal["allowed", "blocked"] = "allowed"
    title: str = ""  # what the lesson calls this goal (a recipe's acceptance criterion), shown instead

    def expected(self, source: str, destination: str, namespace: str) -> bool:
        """Whether the goal wants ``source`` to reach ``destination`` (both ``ns/name``)."""
        if any(matches(s, source, namespace) and matches(d, destination, namespace) for s, d in self.blocked):
            return False
        rules = [sources for dst, sources in self.only if matches(dst, destination, namespace)]
        if rules:
            return any(matches(s, source, namespace) for sources in rules for s in sources)
        return self.others == "allowed"

    def describe(self, namespace: str) -> str:
        return f"the matrix on {self.port}/{self.protocol}"

    def table(self, pods: Sequence[str], namespace: str) -> str:
        """The target as a truth table: ``.`` allowed, ``X`` blocked, ``-`` a pod to itself."""
        names = [show(p, namespace) for p in pods]
        width = max([len(n) for n in names] + [len("from\\to")])
        lines = ["from\\to".ljust(width) + " " + " ".join(names)]
        for src, shown in zip(pods, names, strict=True):
            cells = [("-" if src == dst else "." if self.expected(src, dst, namespace) else "X").ljust(len(n))
                     for dst, n in zip(pods, names, strict=True)]
            lines.append((shown.ljust(width) + " " + " ".join(cells)).rstrip())
        return "\n".join(lines)

    def evaluate(self, ctx: Context) -> Finding:
        got = reachability(ctx.state, self.port, self.protocol, pods=list(ctx.pods))
        cells = []
        for src in got.pods:
            for dst in got.pods:
                if src == dst:
                    continue
                want, have = self.expected(src, dst, ctx.namespace), got.is_allowed(src, dst)
                if want != have:
                    cells.append(Cell(src, dst, self.port, self.protocol, _word(want), _word(have)))
        n = len(got.pods) * (len(got.pods) - 1)
        return _finding(self, f"the matrix on {self.port}/{self.protocol}: all {n} connections as wanted", cells,
                        f"the matrix on {self.port}/{self.protocol}: {len(cells)} of {n} connections differ")


@dataclass(frozen=True)
class Probe:
    """A real request (``wget``) from a pod to a Service of the lab's namespace, with the outcome wanted.

    ``expect`` is a :class:`~nphelpers.backends.base.ProbeResult` outcome: ``allowed``,
    ``blocked``, ``dns-failure`` or ``refused``. From another namespace the Service is
    addressed as ``<service>.<lab namespace>``, as a person would type it.
    """

    source: str
    target: str
    expect: str = "allowed"
    port: int | None = None
    title: str = ""

    def describe(self, namespace: str) -> str:
        where = self.target if self.port is None else f"{self.target}:{self.port}"  # the Service's port, as typed
        return f"wget from {show(resolve(self.source, namespace), namespace)} to {where}: {self.expect}"

    def evaluate(self, ctx: Context) -> Finding:
        if ctx.lab is None:
            raise UsageError("a Probe goal needs a lab to probe in")
        source = resolve(self.source, ctx.namespace)
        host = self.target if source.startswith(f"{ctx.namespace}/") else f"{self.target}.{ctx.namespace}"
        result = ctx.lab.probe(host, from_pod=source, port=self.port)
        port = self.port or 80
        cells = [] if result.outcome == self.expect else [
            Cell(source, f"{ctx.namespace}/{self.target}", port, "TCP", self.expect, result.outcome, "probe")]
        text = self.describe(ctx.namespace)
        return _finding(self, text, cells, f"{text} wanted, got {result.outcome}")


@dataclass(frozen=True)
class FromOutside:
    """A client outside the cluster (an address) connecting to a pod, judged by the policies.

    The policies see the client's own address here. (Through a NodePort or LoadBalancer with
    ``externalTrafficPolicy: Cluster`` most clusters SNAT it to a node address; a lab probe
    from outside the cluster is not there yet, so this goal asks the policies, not the wire.)
    """

    address: str
    to: str
    expect: Literal["allowed", "blocked"] = "blocked"
    port: int = 80
    protocol: str = "TCP"

    def describe(self, namespace: str) -> str:
        return f"{self.address} (outside the cluster) → {self.to} on {self.port}/{self.protocol}: {self.expect}"

    def evaluate(self, ctx: Context) -> Finding:
        from .engine import resolve_endpoint

        destination = resolve(self.to, ctx.namespace)
        return _by_policies(self, ctx, self.address, destination,
                            self.address, resolve_endpoint(ctx.state, destination, ctx.namespace))


@dataclass(frozen=True)
class ToOutside:
    """A pod connecting to an address outside the cluster, judged by the policies (egress ``ipBlock``).

    Never by the wire: on kind whether an outside address answers is the machine's internet's
    business, not the policy's, so this goal asks the policies, the same on every backend.
    """

    source: str
    address: str
    expect: Literal["allowed", "blocked"] = "blocked"
    port: int = 80
    protocol: str = "TCP"

    def describe(self, namespace: str) -> str:
        source = show(resolve(self.source, namespace), namespace)
        return f"{source} → {self.address} (outside the cluster) on {self.port}/{self.protocol}: {self.expect}"

    def evaluate(self, ctx: Context) -> Finding:
        from .engine import resolve_endpoint

        source = resolve(self.source, ctx.namespace)
        return _by_policies(self, ctx, source, self.address,
                            resolve_endpoint(ctx.state, source, ctx.namespace), self.address)


def _by_policies(goal: FromOutside | ToOutside, ctx: Context, source: str, destination: str,
                 source_end: Endpoint, destination_end: Endpoint) -> Finding:
    """A goal on an outside address judged by the policies' verdict, not by a probe (see the goals)."""
    from .engine import evaluate

    got = _word(evaluate(ctx.state, source_end, destination_end, goal.port, goal.protocol).allowed)
    cells = [] if got == goal.expect else [Cell(source, destination, goal.port, goal.protocol, goal.expect, got)]
    text = goal.describe(ctx.namespace)
    return _finding(goal, text, cells, f"{text} wanted, got {got}")


@dataclass(frozen=True)
class NewPod:
    """A pod started *after* the answer (labels ``labels``, in the lab's namespace) must be ``expect``.

    Checks that the answer protects pods that do not exist yet: judged on a copy of the
    cluster with the pod added, from every exercise pod.
    """

    labels: tuple[tuple[str, str], ...] = (("app", "newcomer"),)
    expect: Literal["allowed", "blocked"] = "blocked"
    port: int = 80
    protocol: str = "TCP"
    name: str = "newcomer"

    def describe(self, namespace: str) -> str:
        return (f"a new pod {self.name} ({_label_text(dict(self.labels))}) started later: "
                f"{self.expect} on {self.port}/{self.protocol}")

    def evaluate(self, ctx: Context) -> Finding:
        state = ctx.state.copy()
        key = f"{ctx.namespace}/{self.name}"
        state.apply({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": self.name, "namespace": ctx.namespace, "labels": dict(self.labels)},
                     "spec": {"containers": [{"name": "app", "image": "nginx"}]}}, ctx.namespace)
        got = reachability(state, self.port, self.protocol, pods=[*ctx.pods, key])
        want = self.expect == "allowed"
        cells = [Cell(src, key, self.port, self.protocol, self.expect, _word(got.is_allowed(src, key)))
                 for src in ctx.pods if got.is_allowed(src, key) != want]
        text = self.describe(ctx.namespace)
        return _finding(self, text, cells, f"{text} wanted; {len(cells)} pods get {_word(not want)}")


@dataclass(frozen=True)
class HasLabels:
    """An exercise pod carries these labels (what a deployment step must get right)."""

    pod: str
    labels: tuple[tuple[str, str], ...]
    title: str = ""

    def describe(self, namespace: str) -> str:
        return f"pod {self.pod} has the labels {_label_text(dict(self.labels))}"

    def evaluate(self, ctx: Context) -> Finding:
        pod = ctx.state.pods.get(resolve(self.pod, ctx.namespace))
        text = self.describe(ctx.namespace)
        if pod is None:
            return Finding("HasLabels", False, f"{text}: there is no pod {self.pod}")
        missing = {k: v for k, v in self.labels if pod.labels.get(k) != v}
        return Finding("HasLabels", not missing, text if not missing else
                       f"{text}: it has {_label_text(_labels(pod.labels))}")


@dataclass(frozen=True)
class Serves:
    """A Service of the lab's namespace listens on ``port`` and sends to exactly ``pods`` (its endpoints)."""

    service: str
    port: int
    pods: tuple[str, ...]
    title: str = ""

    def describe(self, namespace: str) -> str:
        return f"Service {self.service} on port {self.port} sends to {', '.join(self.pods) or 'no pod'}"

    def evaluate(self, ctx: Context) -> Finding:
        text = self.describe(ctx.namespace)
        svc = ctx.state.services.get(resolve(self.service, ctx.namespace))
        if svc is None:
            return Finding("Serves", False, f"{text}: there is no Service {self.service}")
        ports = [p.port for p in svc.ports]
        if self.port not in ports:
            return Finding("Serves", False, f"{text}: it listens on {', '.join(map(str, ports)) or 'no port'}")
        got = sorted(show(p.key, ctx.namespace) for p in ctx.state.endpoints(svc, svc.port_for(self.port, "TCP")))
        want = sorted(show(resolve(p, ctx.namespace), ctx.namespace) for p in self.pods)
        return Finding("Serves", got == want, text if got == want else
                       f"{text}: its endpoints are {', '.join(got) or 'none'}")


@dataclass(frozen=True)
class Selects:
    """The policy exists (in the lab's namespace) and selects exactly ``pods`` of the exercise's pods.

    ``pods=None`` asks only that the policy exists.
    """

    policy: str
    pods: tuple[str, ...] | None = None
    title: str = ""

    def describe(self, namespace: str) -> str:
        if self.pods is None:
            return f"NetworkPolicy {self.policy} exists"
        return f"NetworkPolicy {self.policy} selects {', '.join(self.pods) or 'no pod'}"

    def evaluate(self, ctx: Context) -> Finding:
        text = self.describe(ctx.namespace)
        policy = ctx.state.policies.get(resolve(self.policy, ctx.namespace))
        if policy is None:
            return Finding("Selects", False, f"{text}: there is no policy {self.policy}")
        if self.pods is None:
            return Finding("Selects", True, text)
        got = [show(k, ctx.namespace) for k in ctx.pods if k in ctx.state.pods and policy.selects(ctx.state.pods[k])]
        want = [show(k, ctx.namespace) for k in ctx.pods if any(matches(p, k, ctx.namespace) for p in self.pods)]
        return Finding("Selects", got == want,
                       text if got == want else f"{text}: it selects {', '.join(got) or 'no pod'}")


Goal = Matrix | Probe | FromOutside | ToOutside | NewPod | HasLabels | Serves | Selects


def _titled(goal: Goal, finding: Finding) -> Finding:
    """A goal's finding in the lesson's words when the goal has a title (the detail kept when it fails)."""
    title = getattr(goal, "title", "")
    if not title:
        return finding
    text = title if finding.ok else f"{title}: {finding.text}"
    return Finding(finding.piece, finding.ok, text, finding.cells)


def _word(allowed: bool) -> str:
    return "allowed" if allowed else "blocked"


# -- constraints -----------------------------------------------------------------------------
def _where(policy: NetworkPolicy, direction: str, rule: int, namespace: str) -> str:
    return f"{show(policy.key, namespace)}: {direction.lower()} rule {rule + 1}"


@dataclass(frozen=True)
class PoliciesOnly:
    """The answer holds NetworkPolicies only (pods and Services belong to the starting state)."""

    def evaluate(self, ctx: Context) -> Finding:
        others = [f"{o['kind']} {o['metadata']['name']}" for o in ctx.answer if o.get("kind") != "NetworkPolicy"]
        return Finding("PoliciesOnly", not others, "the answer holds NetworkPolicies only" if not others else
                       f"the answer may hold NetworkPolicies only, not {', '.join(others)}")


@dataclass(frozen=True)
class InLessonNamespace:
    """Every policy of the answer lands in the lesson's namespace (a policy elsewhere protects nothing here)."""

    def evaluate(self, ctx: Context) -> Finding:
        wrong = [p for p in ctx.policies() if p.namespace != ctx.namespace]
        if not wrong:
            return Finding("InLessonNamespace", True, f"every policy goes to namespace {ctx.namespace}")
        names = ", ".join(f'{p.name} (namespace "{p.namespace}")' for p in wrong)
        return Finding("InLessonNamespace", False, f'policies belong in namespace "{ctx.namespace}": {names}; '
                       "leave metadata.namespace out")


@dataclass(frozen=True)
class MaxPolicies:
    """At most ``limit`` NetworkPolicies may select the exercise's pods once the answer is in.

    Policies add up, so a starting policy the answer does not replace (same name) still counts.
    """

    limit: int = 1

    def evaluate(self, ctx: Context) -> Finding:
        pods = [ctx.state.pods[k] for k in ctx.pods if k in ctx.state.pods]
        names = sorted(show(p.key, ctx.namespace) for p in ctx.state.policies.values()
                       if any(p.selects(pod) for pod in pods))
        word = "policy" if self.limit == 1 else "policies"
        text = f"at most {self.limit} {word} may select the exercise's pods: {len(names)} would"
        return Finding("MaxPolicies", len(names) <= self.limit, text + (f" ({', '.join(names)})" if names else ""))


@dataclass(frozen=True)
class NoAllowAll:
    """No rule without ``from``/``to`` (``ingress: [{}]``): it admits every source or destination,
    pods of every namespace and addresses outside the cluster alike."""

    def evaluate(self, ctx: Context) -> Finding:
        found = []
        for pol in ctx.policies():
            for direction, rules in ((INGRESS, pol.ingress), (EGRESS, pol.egress)):
                for i, rule in enumerate(rules):
                    if not rule.peers:
                        ports = " (on its ports)" if rule.ports else ""
                        field = "from" if direction == INGRESS else "to"
                        found.append(f"{_where(pol, direction, i, ctx.namespace)} has no `{field}`: it admits "
                                     f"everyone{ports}")
        return Finding("NoAllowAll", not found, "no rule admits everyone" if not found else
                       "shortcut not allowed here: " + "; ".join(found))


@dataclass(frozen=True)
class NoBareNamespaceSelector:
    """No peer ``namespaceSelector: {}`` without a podSelector: it admits every pod of every namespace."""

    def evaluate(self, ctx: Context) -> Finding:
        found = []
        for pol in ctx.policies():
            for direction, rules in ((INGRESS, pol.ingress), (EGRESS, pol.egress)):
                for i, rule in enumerate(rules):
                    for j, peer in enumerate(rule.peers):
                        ns, pods = peer.namespace_selector, peer.pod_selector
                        if ns is not None and ns.is_empty and (pods is None or pods.is_empty):
                            found.append(f"{_where(pol, direction, i, ctx.namespace)}, peer {j + 1} is a bare "
                                         "`namespaceSelector: {}`: every pod of every namespace")
        return Finding("NoBareNamespaceSelector", not found, "no peer admits every pod of every namespace"
                       if not found else "shortcut not allowed here: " + "; ".join(found))


@dataclass(frozen=True)
class NoLabelChanges:
    """The exercise's pods and namespaces keep the labels they started with: solve it with policies."""

    def evaluate(self, ctx: Context) -> Finding:
        changed = []
        for key, before in ctx.pod_labels.items():
            pod = ctx.state.pods.get(key)
            if pod is not None and _labels(pod.labels) != _labels(before):
                changed.append(f"pod {show(key, ctx.namespace)} ({_label_text(_labels(before))} → "
                               f"{_label_text(_labels(pod.labels))})")
        for name, before in ctx.namespace_labels.items():
            ns = ctx.state.namespaces.get(name)
            if ns is not None and _labels(ns.labels) != _labels(before):
                changed.append(f"namespace {name} ({_label_text(_labels(before))} → {_label_text(_labels(ns.labels))})")
        return Finding("NoLabelChanges", not changed, "pods and namespaces keep their labels" if not changed else
                       "labels were changed, solve it with a policy instead: " + "; ".join(changed))


@dataclass(frozen=True)
class SelectNamespacesBy:
    """Every ``namespaceSelector`` of the answer uses the label ``key`` (e.g. ``kubernetes.io/metadata.name``)."""

    key: str = NAME_LABEL

    def evaluate(self, ctx: Context) -> Finding:
        found = []
        for pol in ctx.policies():
            for direction, rules in ((INGRESS, pol.ingress), (EGRESS, pol.egress)):
                for i, rule in enumerate(rules):
                    for peer in rule.peers:
                        sel = peer.namespace_selector
                        if sel is not None and self.key not in sel.keys:
                            found.append(f"{_where(pol, direction, i, ctx.namespace)} selects namespaces by "
                                         f"{', '.join(sorted(sel.keys)) or 'nothing ({})'}")
        return Finding("SelectNamespacesBy", not found, f"namespaces are selected by {self.key}" if not found else
                       f"select namespaces by the label {self.key} here: " + "; ".join(found))


Constraint = (PoliciesOnly | InLessonNamespace | MaxPolicies | NoAllowAll | NoBareNamespaceSelector
              | NoLabelChanges | SelectNamespacesBy)
ALWAYS: tuple[Constraint, ...] = (PoliciesOnly(), InLessonNamespace())


# -- hints ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Differs:
    """Symptom: a connection differs from the goal (patterns; ``got`` and ``port`` narrow it)."""

    source: str = "*/*"
    destination: str = "*/*"
    got: str | None = None
    port: int | None = None

    def seen(self, result: CheckResult, namespace: str) -> bool:
        return any(
            matches(self.source, c.source, namespace) and matches(self.destination, c.destination, namespace)
            and (self.got is None or c.got == self.got) and (self.port is None or c.port == self.port)
            for c in (*result.cells, *result.observed)
        )


@dataclass(frozen=True)
class Breaks:
    """Symptom: the answer breaks a constraint (or misses a goal) of this kind (a class, e.g. ``MaxPolicies``)."""

    constraint: type

    def seen(self, result: CheckResult, namespace: str) -> bool:
        return any(not f.ok and f.piece == self.constraint.__name__ for f in (*result.violations, *result.findings))


@dataclass(frozen=True)
class Hint:
    """A hint; with ``when``, shown only when that symptom is seen. List them gentle first."""

    text: str
    when: Differs | Breaks | None = None


# -- the exercise ------------------------------------------------------------------------------
Setup = tuple[Mapping[str, Any], ...] | Callable[["Lab"], None]


@dataclass(frozen=True, eq=False, repr=False)
class Exercise:
    """A task with a starting state, a goal, constraints and hints.

    ``setup`` is manifest dicts (objects without ``metadata.namespace`` go to the lab's
    namespace, others to the namespace they name; workloads become their pods) or a function
    that sets the lab up (then name the exercise's ``pods``). ``solution`` is the reference
    answer's file name in ``notebooks/solutions/``.
    """

    id: str
    lesson: str
    title: str
    task: str
    setup: Setup
    goals: tuple[Goal, ...]
    constraints: tuple[Constraint, ...] = ()
    hints: tuple[Hint, ...] = ()
    solution: str | None = None
    pods: tuple[str, ...] = ()

    def __repr__(self) -> str:  # short and the same on every run (a setup function has an address)
        return f"<Exercise {self.id}: {self.title}>"

    def start(self, lab: Lab) -> None:
        """Set the exercise up in ``lab`` (printing kubectl's lines) and show its goal; resets its hints.

        The same as ``lab.start_exercise(exercise)``.
        """
        lab.start_exercise(self)

    def goal_text(self, namespace: str, pods: Sequence[str]) -> str:
        """The goal and the rules in words, target matrices as tables."""
        lines = []
        for goal in self.goals:
            if isinstance(goal, Matrix):
                lines += [f"Goal: {goal.describe(namespace)} ('.' allowed, 'X' blocked, '-' a pod to itself):",
                          goal.table(pods, namespace)]
            else:
                lines.append(f"Goal: {goal.describe(namespace)}")
        rules = [_RULES[type(c).__name__](c) for c in self.constraints]
        if rules:
            lines.append("Rules: " + "; ".join(rules) + ".")
        return "\n".join(lines)


_RULES: dict[str, Callable[[Any], str]] = {
    "MaxPolicies": lambda c: f"at most {c.limit} {'policy' if c.limit == 1 else 'policies'} on these pods",
    "NoAllowAll": lambda c: "no rule without from/to (`- {}`)",
    "NoBareNamespaceSelector": lambda c: "no bare `namespaceSelector: {}`",
    "NoLabelChanges": lambda c: "do not change labels",
    "SelectNamespacesBy": lambda c: f"select namespaces by {c.key}",
    "PoliciesOnly": lambda c: "NetworkPolicies only",
    "InLessonNamespace": lambda c: "policies in the lesson's namespace",
}


def __getattr__(name: str) -> Any:
    if name == "EXERCISES":  # the catalogue imports this module, so it is loaded on first use
        from .catalog import EXERCISES

        return EXERCISES
    raise AttributeError(f"module 'nphelpers.exercises' has no attribute {name!r}")


def get_exercise(exercise: Exercise | str) -> Exercise:
    """An exercise, or the catalogue's exercise of that id."""
    if isinstance(exercise, Exercise):
        return exercise
    from .catalog import EXERCISES

    if exercise not in EXERCISES:
        raise UsageError(f'no exercise "{exercise}": the exercises are {", ".join(EXERCISES)}')
    return EXERCISES[exercise]


# -- the result ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """The verdict on one attempt: truthy when solved, with the details as data."""

    exercise: str
    namespace: str
    attempt: int
    applied: bool  # False: a constraint was broken and nothing changed
    findings: tuple[Finding, ...]  # every goal and constraint, in order
    cells: tuple[Cell, ...]  # connections (policies, probes) that differ from the goal
    observed: tuple[Cell, ...]  # observed traffic that differs from the goal
    violations: tuple[Finding, ...]
    hint: str | None = None

    @property
    def passed(self) -> bool:
        return (self.applied and not self.cells and not self.observed and not self.violations
                and all(f.ok for f in self.findings))

    def __bool__(self) -> bool:
        return self.passed

    def explain(self) -> str:
        """Every goal and constraint with its verdict, one line each."""
        return "\n".join(("✓ " if f.ok else "✗ ") + f.text for f in self.findings)

    def __str__(self) -> str:
        if self.passed:
            return f"✓ {self.exercise} solved: every connection is as the goal wants and the rules hold."
        lines: list[str] = []
        if self.violations:
            lines.append("✗ the answer breaks a rule of the exercise, so nothing was applied:")
            lines += [f"  {v.text}" for v in self.violations]
        else:
            missed = [f for f in self.findings if not f.ok and not f.cells]  # goals that are not connections
            if missed:
                lines.append(f"✗ {len(missed)} goal{'s' if len(missed) != 1 else ''} not met:")
                lines += [f"  {f.text}" for f in missed]
            cells = (*self.cells, *self.observed)
            if cells or not missed:
                lines.append(f"✗ {len(cells)} connection{'s differ' if len(cells) != 1 else ' differs'} from the goal:")
            lines += [f"  {c.describe(self.namespace)}" for c in cells[:MAX_CELLS_SHOWN]]
            if len(cells) > MAX_CELLS_SHOWN:
                lines.append(f"  ... and {len(cells) - MAX_CELLS_SHOWN} more")
            if self.observed:
                lines.append("  (observed traffic differs from what the policies say: does this cluster enforce "
                             "NetworkPolicy? `nphelpers doctor` tells)")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


# -- sessions: attempts per lab and exercise --------------------------------------------------
@dataclass
class _Session:
    """One exercise in one lab: the starting snapshot and the attempts so far (mutable)."""

    pods: tuple[str, ...]
    pod_labels: dict[str, dict[str, str]]
    namespace_labels: dict[str, dict[str, str]]
    starting_policies: dict[str, dict[str, Any]]  # ns/name -> manifest, as the exercise set them up
    applied: tuple[str, ...] = ()  # policies the last applied attempt holds (ns/name)
    replaced: dict[str, dict[str, Any]] = field(default_factory=dict)  # what an attempt overwrote, to put back
    attempts: int = 0
    shown: list[int] = field(default_factory=list)


_SESSIONS: weakref.WeakKeyDictionary[Any, dict[str, _Session]] = weakref.WeakKeyDictionary()


def _expanded(exercise: Exercise, namespace: str) -> list[dict[str, Any]]:
    """The setup's objects, validated, workloads expanded into pods (copies: the exercise stays as it is)."""
    from .manifests import load_objects

    assert not callable(exercise.setup)
    return load_objects([copy_manifest(o) for o in exercise.setup], f"<exercise {exercise.id}>", namespace).objects


def _clean(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A policy as a learner would write it again: no server-set metadata, no lab bookkeeping."""
    meta = manifest.get("metadata") or {}
    clean: dict[str, Any] = {"name": meta["name"]}
    if meta.get("namespace"):
        clean["namespace"] = meta["namespace"]
    labels = _labels(meta.get("labels") or {})
    if labels:
        clean["labels"] = labels
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": clean,
            "spec": copy_manifest(manifest.get("spec") or {})}


def _ordered(keys: Iterable[str], namespace: str) -> tuple[str, ...]:
    """The lab's namespace first, then the others, each sorted by name."""
    return tuple(sorted(keys, key=lambda k: (not k.startswith(f"{namespace}/"), k)))


def _snapshot_from_manifests(exercise: Exercise, namespace: str) -> _Session:
    objects = _expanded(exercise, namespace)
    state = ClusterState.from_objects(objects, namespace)
    pods = _ordered(state.pods, namespace)
    used = {k.split("/", 1)[0] for k in pods}
    return _Session(
        pods=pods,
        pod_labels={k: _labels(state.pods[k].labels) for k in pods},
        namespace_labels={n: _labels(ns.labels) for n, ns in state.namespaces.items() if n in used},
        starting_policies={
            f"{o['metadata'].get('namespace') or namespace}/{o['metadata']['name']}": o
            for o in objects if o["kind"] == "NetworkPolicy"
        },
    )


def _snapshot_from_lab(exercise: Exercise, lab: Lab) -> _Session:
    state = lab.state()
    pods = _ordered([resolve(p, lab.namespace) for p in exercise.pods], lab.namespace)
    for key in pods:
        state.pod(key)  # one-line NotFoundError when the setup did not make it
    used = {k.split("/", 1)[0] for k in pods}
    return _Session(
        pods=pods,
        pod_labels={k: _labels(state.pods[k].labels) for k in pods},
        namespace_labels={n: _labels(state.namespaces[n].labels) for n in used if n in state.namespaces},
        starting_policies={k: _clean(p.manifest) for k, p in state.policies.items()
                           if k.split("/", 1)[0] in used and p.manifest},
    )


def start(lab: Lab, exercise: Exercise | str, *, say: Say = print) -> Exercise:
    """Set ``exercise`` up in ``lab`` and show its goal (``lab.start_exercise`` prints through the lab)."""
    exercise = get_exercise(exercise)
    say(f"Exercise {exercise.id}: {exercise.title}")
    if callable(exercise.setup):
        if not exercise.pods:
            raise UsageError(f"exercise {exercise.id}: a setup function needs the exercise's pods= named")
        exercise.setup(lab)
        session = _snapshot_from_lab(exercise, lab)
    else:
        lab.apply_objects(_expanded(exercise, lab.namespace))
        session = _snapshot_from_manifests(exercise, lab.namespace)
        # Labels as the cluster has them: an apiserver or admission plugin may add its own.
        state = lab.state()
        session.pod_labels = {k: _labels(state.pods[k].labels) for k in session.pods if k in state.pods}
        session.namespace_labels = {n: _labels(state.namespaces[n].labels)
                                    for n in session.namespace_labels if n in state.namespaces}
    _SESSIONS.setdefault(lab, {})[exercise.id] = session
    say(exercise.goal_text(lab.namespace, session.pods))
    return exercise


def _session(lab: Lab, exercise: Exercise) -> _Session:
    session = _SESSIONS.get(lab, {}).get(exercise.id)
    if session is None:
        if callable(exercise.setup):
            raise UsageError(f'exercise {exercise.id} is not started in this lab: run lab.start_exercise(...) first')
        session = _SESSIONS.setdefault(lab, {})[exercise.id] = _snapshot_from_manifests(exercise, lab.namespace)
    state = lab.state()
    missing = [k for k in session.pods if k not in state.pods]
    if missing:
        raise UsageError(f'the exercise\'s pod "{show(missing[0], lab.namespace)}" is not in the lab: '
                         f'run lab.start_exercise("{exercise.id}") first')
    return session


# -- checking -----------------------------------------------------------------------------------
def load_answer(answer: str | os.PathLike[str], namespace: str) -> list[dict[str, Any]]:
    """The answer's objects: a file or directory, or YAML text (the rule :meth:`Lab.apply` uses)."""
    from .manifests import load_paths, load_text

    text = os.fspath(answer)
    if "\n" in text or (not Path(text).exists() and ":" in text):
        objects = load_text(text, "<answer>", namespace=namespace).objects
    else:
        objects = load_paths([text], namespace=namespace).objects
    if not objects:
        raise UsageError("the answer holds no objects: write the NetworkPolicy (or policies) the exercise asks for")
    return objects


def _keys(objects: Iterable[Mapping[str, Any]], namespace: str) -> tuple[str, ...]:
    return tuple(f"{o['metadata'].get('namespace') or namespace}/{o['metadata']['name']}"
                 for o in objects if o.get("kind") == "NetworkPolicy")


def check(lab: Lab, exercise: Exercise | str, answer: str | os.PathLike[str], *, observe: bool = True,
          say: Say = print) -> CheckResult:
    """Check ``answer`` against ``exercise`` in ``lab`` (see the module docstring for the steps).

    ``lab.check`` calls this with the lab's own printer, so ``lab.quiet()`` holds.
    """
    ex = get_exercise(exercise)
    ns = lab.namespace
    objects = load_answer(answer, ns)  # a broken answer stops here: nothing has changed
    session = _session(lab, ex)
    new_keys = _keys(objects, ns)
    stale = [k for k in session.applied if k not in new_keys]

    # The cluster as it would be: previous attempt withdrawn (what it overwrote put back), the answer in.
    now = lab.state()
    would_be = now.copy()
    for key in stale:
        would_be.policies.pop(key, None)
        if key in session.replaced:
            would_be.apply(session.replaced[key], ns)
    for obj in objects:
        would_be.apply(obj, ns)
    base = dict(namespace=ns, pods=session.pods, pod_labels=session.pod_labels,
                namespace_labels=session.namespace_labels, answer=tuple(objects))
    rules = [c.evaluate(Context(state=would_be, **base)) for c in (*ALWAYS, *ex.constraints)]
    violations = tuple(f for f in rules if not f.ok)
    session.attempts += 1

    if violations:
        result = CheckResult(ex.id, ns, session.attempts, False, tuple(rules), (), (), violations)
    else:
        for key in stale:
            if key in session.replaced:
                lab.apply_objects([copy_manifest(session.replaced.pop(key))])
            else:
                lab.delete("networkpolicy", key.split("/", 1)[1])
        for key in new_keys:  # remember what this attempt overwrites (a starting policy, a lesson's own)
            old = now.policies[key].manifest if key in now.policies else None
            if key not in session.applied and key not in session.replaced and old is not None:
                session.replaced[key] = copy_manifest(session.starting_policies.get(key) or _clean(old))
        lab.apply(answer)
        session.applied = new_keys
        after = Context(state=lab.state(), lab=lab, **base)
        goals = [_titled(g, g.evaluate(after)) for g in ex.goals]
        cells = tuple(c for f in goals for c in f.cells)
        seen = _observed(lab, ex, after, cells) if observe else ()
        result = CheckResult(ex.id, ns, session.attempts, True, (*goals, *rules), cells, seen, ())

    if not result.passed:
        hint = _next_hint(ex, session, result)
        result = CheckResult(result.exercise, ns, result.attempt, result.applied, result.findings, result.cells,
                             result.observed, result.violations, hint)
    say(str(result))
    return result


def _observed(lab: Lab, exercise: Exercise, ctx: Context, known: Sequence[Cell]) -> tuple[Cell, ...]:
    """Cells where the traffic the lab observes differs from the goal though the policies' verdict
    does not (TCP matrix goals): the cluster does something else than its policies say."""
    listed = {(c.source, c.destination, c.port) for c in known if c.via == "policies"}
    cells: list[Cell] = []
    for goal in exercise.goals:
        if not isinstance(goal, Matrix) or goal.protocol != "TCP":
            continue
        seen = lab.observe(goal.port)
        covered = [p for p in ctx.pods if p in seen.pods]
        for src in covered:
            for dst in covered:
                if src != dst:
                    want, have = goal.expected(src, dst, ctx.namespace), seen.is_allowed(src, dst)
                    if want != have and (src, dst, goal.port) not in listed:
                        cells.append(Cell(src, dst, goal.port, "TCP", _word(want), _word(have), "observed"))
    return tuple(cells)


def _next_hint(exercise: Exercise, session: _Session, result: CheckResult) -> str | None:
    """The first hint that fits this failure and was not shown yet; else the last one that fits."""
    fits = [i for i, h in enumerate(exercise.hints) if h.when is None or h.when.seen(result, result.namespace)]
    if not fits:
        return None
    fresh = [i for i in fits if i not in session.shown]
    pick = fresh[0] if fresh else fits[-1]
    if pick not in session.shown:
        session.shown.append(pick)
    return exercise.hints[pick].text
