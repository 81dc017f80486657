"""Lesson 02's own checks and the one kubectl table it needs that :mod:`nphelpers.kubectl` lacks.

* :func:`acceptance_criteria` checks the recipe's seven acceptance criteria against the lab as
  it is now, each a named pass/fail with the reason; :func:`print_criteria` prints them as the
  lesson's checklist. :func:`check_frontend_only` checks the policy-editor exercise.
* :func:`get_endpoints` renders ``kubectl get endpoints -o custom-columns=...`` (pod names, not
  addresses, so that the text is the same on every cluster). It belongs in ``kubectl.py``; it
  lives here until that module takes it over.

Everything goes through :class:`nphelpers.Lab` (``state``, ``policy``, ``selected_by``, ``probe``),
so the checks hold on the simulator and on kind alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import kubectl
from .cluster import ClusterState
from .errors import NotFoundError
from .matrix import Reachability
from .model import Service

if TYPE_CHECKING:
    from .lab import Lab

NGINX_TITLE = "<title>Welcome to nginx!</title>"


# -- kubectl get endpoints --------------------------------------------------------------
ENDPOINTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NAME", ".metadata.name"),
    ("PODS", ".subsets[*].addresses[*].targetRef.name"),
    ("PORTS", ".subsets[*].ports[*].port"),
)


def _target_port(service_port: Any, pod: Any) -> int | None:
    """The pod port a Service port sends to: a number as is, a name looked up on the pod."""
    target = service_port.target_port
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for port in pod.ports:
        if port.name == target and port.protocol == service_port.protocol:
            return int(port.port)
    return None  # the endpoints controller leaves out a pod that does not define the named port


def endpoints_objects(state: ClusterState, services: Iterable[Service]) -> list[dict[str, Any]]:
    """The Endpoints objects the endpoints controller keeps for ``services`` (only the fields shown).

    One subset per distinct set of resolved ports; a Service without a selector has no
    controller-made Endpoints and is left out, as on a cluster.
    """
    objects = []
    for service in sorted(services, key=lambda s: s.key):
        if not service.selector:
            continue
        subsets: dict[tuple[int, ...], list[str]] = {}
        for pod in state.endpoints(service):
            ports = tuple(_target_port(p, pod) for p in service.ports)
            if any(p is None for p in ports):
                continue
            subsets.setdefault(ports, []).append(pod.name)  # type: ignore[arg-type]
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                               "metadata": {"name": service.name, "namespace": service.namespace}}
        if subsets:
            obj["subsets"] = [
                {"addresses": [{"targetRef": {"kind": "Pod", "name": n}} for n in names],
                 "ports": [{"port": p} for p in ports]}
                for ports, names in subsets.items()
            ]
        objects.append(obj)
    return objects


def get_endpoints(objects: Sequence[Mapping[str, Any]]) -> str:
    """What ``kubectl get endpoints -o custom-columns=NAME:...,PODS:...,PORTS:...`` prints."""
    return kubectl.custom_columns(objects, ENDPOINTS_COLUMNS)


def get_endpoints_command(name: str | None = None, namespace: str | None = None) -> str:
    parts = ["kubectl", "get", "endpoints"] + ([name] if name else [])
    if namespace and namespace != "default":
        parts += ["-n", namespace]
    parts += ["-o", f"custom-columns='{kubectl.custom_columns_spec(ENDPOINTS_COLUMNS)}'"]
    return " ".join(parts)


# -- checks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """One named check: passed or not, and in a few words why."""

    name: str
    passed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.passed

    def line(self) -> str:
        return f"[{'x' if self.passed else ' '}] {self.name}" + ("" if self.passed else f": {self.reason}")


def _check(name: str, passed: bool, ok: str, bad: str) -> Criterion:
    return Criterion(name, passed, ok if passed else bad)


def acceptance_criteria(lab: Lab, *, server: str = "apiserver", policy: str = "api-allow",
                        blocked: str = "test-blocked", allowed: str = "test-allowed") -> list[Criterion]:
    """The recipe's seven acceptance criteria, checked on the cluster now (with fresh probes)."""
    state = lab.state()
    ns = lab.namespace
    api = state.pods.get(f"{ns}/{server}")
    service = state.services.get(f"{ns}/{server}")
    try:
        netpol = lab.policy(policy)
    except NotFoundError:
        netpol = None
    labels = {k: v for k, v in api.labels.items() if k != "app.kubernetes.io/managed-by"} if api else {}
    wanted = {"app": "bookstore", "role": "api"}
    selector = dict(netpol.pod_selector.match_labels) if netpol else {}
    selected = lab.selected_by(policy) if netpol else []
    everywhere = [p.key for p in state.pods.values() if netpol and netpol.selects(p)]
    from_other = lab.probe(server, from_pod=blocked)
    from_bookstore = lab.probe(server, from_pod=allowed)
    peer = state.pods.get(f"{ns}/{allowed}")
    to_unselected = lab.probe(peer.ip, from_pod=blocked) if peer and peer.ip else None
    return [
        _check("API server pod deployed with labels app=bookstore and role=api",
               api is not None and all(labels.get(k) == v for k, v in wanted.items()),
               "it is", f"{server} has {kubectl.go_sprint(labels) if api else 'no pod'}"),
        _check("Service exposed on port 80",
               service is not None and [p.port for p in service.ports] == [80] and api is not None
               and service.selects(api),
               "it is", "no Service on port 80 whose selector picks the API server pod"),
        _check("NetworkPolicy api-allow created successfully", netpol is not None, "it is", f"no policy {policy}"),
        _check("Policy targets pods with correct labels",
               selector == wanted and selected == [server],
               "it selects the API server", f"podSelector {selector} selects {selected or 'no pod'}"),
        _check("Traffic from non-matching pods is blocked (timeout)",
               from_other.outcome == "blocked", "it times out", f"{blocked}: {from_other.output.strip()}"),
        _check("Traffic from matching pods is allowed (successful response)",
               from_bookstore.allowed and NGINX_TITLE in from_bookstore.output,
               "nginx answers", f"{allowed}: {from_bookstore.output.strip()[:80]}"),
        _check("Policy only affects specified pods, not cluster-wide",
               everywhere == [f"{ns}/{server}"] and to_unselected is not None and to_unselected.outcome != "blocked",
               "only the API server is isolated",
               f"the policy selects {everywhere}; {blocked} -> {allowed}: "
               f"{to_unselected.outcome if to_unselected else 'no such pod'}"),
    ]


def print_criteria(criteria: Sequence[Criterion]) -> None:
    """The checklist, one line per criterion; a failed one says why."""
    for criterion in criteria:
        print(criterion.line())


FRONTEND_ONLY = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: api-allow
spec:
  podSelector:
    matchLabels:
      app: bookstore
      role: api
  ingress:
  - from:
      - podSelector:
          matchLabels:
            app: bookstore
            role: frontend
"""


def frontend_only_yaml() -> str:
    """The reference solution of the editor exercise (also ``notebooks/solutions/02-frontend-only.yaml``)."""
    return FRONTEND_ONLY


def check_frontend_only(lab: Lab, policy: str = "api-allow", server: str = "apiserver") -> list[Criterion]:
    """The policy-editor exercise: only pods with ``app=bookstore`` *and* ``role=frontend`` reach the server.

    Probes from throw-away clients (started quietly, deleted after) check the goal on traffic,
    not on the YAML: any policy that has this effect passes.
    """
    cases = [  # client labels, must get in, the hint when it does the opposite
        ("app=bookstore,role=frontend", True, "from's podSelector must match app=bookstore,role=frontend"),
        ("app=bookstore", False, "add role: frontend to from's matchLabels"),
        ("app=other,role=frontend", False, "keep app: bookstore in from's matchLabels"),
    ]
    results = []
    for labels, should, hint in cases:
        name = "check-" + labels.replace("=", "-").replace(",", "-")
        with lab.quiet():
            lab.run(name, image="alpine", labels=labels)
            try:
                outcome = lab.probe(server, from_pod=name).outcome
            finally:
                lab.delete("pod", name)
        got = outcome == "allowed"
        results.append(Criterion(f"{labels} is {'let in' if should else 'kept out'}", got == should,
                                 outcome if got == should else f"{outcome}; {hint}"))
    try:
        selected = lab.selected_by(policy)
    except NotFoundError:
        selected = []
    results.append(_check(f"{policy} still protects {server}", selected == [server], "it does",
                          f"{policy} selects {selected or 'no pod'}: keep its podSelector"))
    return results


# -- shorter views the lesson uses (kubectl text; candidates for kubectl.py and Lab) --------
def wget_head(lab: Lab, target: str = "apiserver", *, from_pod: str, lines: int = 4, timeout: int = 2) -> None:
    """``kubectl exec POD -- sh -c 'wget -qO- --timeout=2 http://T | head -n 4'``: the first lines only.

    What busybox prints: the page's first ``lines`` lines when the server answers, else wget's
    one error line (on stderr, which ``kubectl exec`` shows too). The pipeline's status is
    ``head``'s, 0, so kubectl reports no exit code, unlike a bare ``wget``.
    """
    result = lab.probe(target, from_pod=from_pod, timeout=timeout)
    url = target if "://" in target else f"http://{target}"
    ns, _, pod = from_pod.rpartition("/")
    ns = ns or lab.namespace
    shell = f"'wget -qO- --timeout={timeout} {url} | head -n {lines}'"
    parts = ["kubectl", "exec", pod] + (["-n", ns] if ns != "default" else []) + ["--", "sh", "-c", shell]
    print("$ " + " ".join(parts))
    body = result.output.rstrip("\n").split("\n")
    print("\n".join(body[:lines] if result.allowed else body[:1]))


def get_pods(lab: Lab, selector: str | None = None, label_columns: Sequence[str] = ()) -> None:
    """``kubectl get pods [-l SELECTOR] -o custom-columns=NAME,...``: the pods a selector picks, and chosen labels.

    ``selector`` is equality-based, ``key=value[,key=value...]``, as a policy's ``matchLabels`` reads.

    ``-l app=bookstore,role=api`` is the kubectl form of a policy's ``podSelector.matchLabels``
    (what ``lab.selected_by`` answers). With ``label_columns`` it prints a column per label key,
    what ``kubectl get pods -L app,role`` adds to kubectl's default table (whose AGE changes).
    """
    wanted = dict(item.split("=", 1) for item in selector.split(",")) if selector else {}
    pods = sorted((p for p in lab.state().pods.values() if p.namespace == lab.namespace
                   and all(p.labels.get(k) == v for k, v in wanted.items())), key=lambda p: p.name)
    columns: list[tuple[str, str]] = [("NAME", ".metadata.name")]
    columns += [(key.rsplit("/", 1)[-1].upper(), f".metadata.labels.{key}") for key in label_columns]
    if not label_columns:
        columns.append(("LABELS", ".metadata.labels"))
    parts = ["kubectl", "get", "pods"] + (["-l", selector] if selector else [])
    parts += (["-n", lab.namespace] if lab.namespace != "default" else [])
    parts += ["-o", f"custom-columns='{kubectl.custom_columns_spec(columns)}'"]
    print("$ " + " ".join(parts))
    if not pods:
        print(f"No resources found in {lab.namespace} namespace.")
        return
    print(kubectl.custom_columns([kubectl.pod_object(p) for p in pods], columns))


def jsonpath(lab: Lab, pod: str, path: str) -> None:
    """``kubectl get pod POD -o jsonpath='{PATH}'``: one field of a pod (``.metadata.labels.app``)."""
    found = kubectl.jsonpath_find(kubectl.pod_object(lab.state().pod(f"{lab.namespace}/{pod}")), path)
    ns = ["-n", lab.namespace] if lab.namespace != "default" else []
    print("$ " + " ".join(["kubectl", "get", "pod", pod, *ns, "-o", f"jsonpath='{{{path}}}'"]))
    print(" ".join(kubectl.go_sprint(v) for v in found))


class CompactMatrix:
    """A reachability matrix as a narrow text table: short names, numbered columns, self marked.

    Lab's own table spells every ``namespace/name`` in full, which passes 100 columns from about
    five pods; this one stays narrow. ``-`` marks a pod to itself: the docs say a pod cannot
    block access to itself.
    """

    def __init__(self, matrix: Reachability) -> None:
        self.matrix = matrix

    def __repr__(self) -> str:
        m = self.matrix
        namespaces = sorted({p.partition("/")[0] for p in m.pods})
        names = [p.partition("/")[2] if len(namespaces) == 1 else p for p in m.pods]
        width = max((len(n) for n in names), default=4) + 4
        where = f" in {namespaces[0]}" if len(namespaces) == 1 else ""
        lines = [f"Reachability on {m.port}/{m.protocol}{where} ('.' allowed, 'X' blocked, '-' self):",
                 "from \\ to".ljust(width) + " ".join(f"{j + 1:>2}" for j in range(len(names)))]
        for i, name in enumerate(names):
            cells = ["-" if i == j else ("." if m.allowed[i, j] else "X") for j in range(len(names))]
            lines.append(f"{i + 1:>2} {name}".ljust(width) + " ".join(f"{c:>2}" for c in cells))
        return "\n".join(lines)


def compact(matrix: Reachability) -> CompactMatrix:
    """``compact(lab.matrix(port=5432))``: the matrix as a table that fits ~100 columns."""
    return CompactMatrix(matrix)
