"""Text exactly as kubectl 1.31 and busybox ``wget`` print it, rendered from the model.

The notebooks store the outputs of the commands they show, and the same stored outputs
must hold for the simulator and for a real kind cluster. So every function here renders
what a real command prints byte for byte (less the final newline, which no function here
returns except :func:`nginx_index`), and every ``*_command`` function gives the command
that really prints that text. Nothing here depends on time or on the order of a dict.

Choices made for determinism
----------------------------
``kubectl get`` tables end in an AGE column whose values change, and kubectl has no flag
to hide one column. So the ``get_*`` functions render ``kubectl get -o custom-columns=...``
output instead, with columns whose values are the same on every run (names, labels,
selectors, types, ports). ``custom-columns`` prints a map value the way Go's ``fmt``
prints it (``map[app:bookstore role:api]``) and a missing field as ``<none>``; that is
what these functions render too. Pod IPs and (unpinned) service cluster IPs are random on
a real cluster, so no default column shows them (:func:`get_services` can, for services
whose manifest pins ``spec.clusterIP``).

``kubectl describe networkpolicy`` prints a ``Created on:`` line with the creation time.
:func:`describe_networkpolicy` prints :data:`CREATED_ON_PLACEHOLDER` there instead;
:data:`VOLATILE_PREFIXES` names the lines that differ between runs and
:func:`normalize_volatile` rewrites real output so that it compares equal.

Where the formats come from (kubernetes/kubernetes, kubectl 1.31 era)
--------------------------------------------------------------------
* layout of tables: ``cli-runtime/pkg/printers`` ``GetNewTabWriter`` (minwidth 6,
  padding 3, pad char ' ') and Go's ``text/tabwriter`` algorithm, ported in
  :func:`tabwrite`; checked against ``kubectl/pkg/cmd/get/customcolumn_test.go``.
* custom columns: ``kubectl/pkg/cmd/get/customcolumn.go`` (``<none>`` for no result,
  several results joined with ``,``, each value printed with ``fmt.Sprint``).
* describe: ``kubectl/pkg/describe/describe.go`` ``describeNetworkPolicy``,
  ``describeNetworkPolicySpec``, ``printNetworkPolicySpecIngressFrom`` /
  ``...EgressTo``, ``printLabelsMultiline``, ``printAnnotationsMultiline``,
  ``tabbedString`` (tabwriter minwidth 0, padding 2), ``PrefixWriter`` (2 spaces a level).
* selectors: apimachinery ``metav1.FormatLabelSelector`` / ``labels.Requirement.String``.
* ``created``/``configured``/``unchanged``/``labeled``: ``cli-runtime/pkg/printers/name.go``;
  ``deleted``: ``kubectl/pkg/cmd/delete/delete.go`` ``PrintObj``; label messages:
  ``kubectl/pkg/cmd/label/label.go`` ``updateDataChangeMsg``; ``kubectl run --expose``
  output order: ``kubectl/pkg/cmd/run/run.go``; exec exit status:
  ``client-go/tools/remotecommand/v4.go`` and ``kubectl/pkg/cmd/util/helpers.go``.
* the probes' own texts (busybox wget and nc, agnhost connect) are in :mod:`nphelpers.busybox`;
  the wget names here (``WGET_TIMEOUT``, ``wget_bad_address``, ``wget_refused``, ``nginx_index``)
  are that module's.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .backends.base import Applied, Deleted, Fact, Kept, Labeled
from .busybox import WGET_TIMEOUT, nginx_index, wget_bad_address, wget_refused  # noqa: F401 (kept here too)
from .kinds import KINDS, kind_info
from .model import Namespace, Pod, Service
from .policy import EGRESS, INGRESS, NetworkPolicy, Peer, Rule
from .selectors import LabelSelector

if TYPE_CHECKING:
    from .cluster import ClusterState

KUBECTL_VERSION = "1.31"
"""The kubectl minor version whose output formats this module reproduces."""

CREATED_ON_PLACEHOLDER = "1970-01-01 00:00:00 +0000 UTC"
"""What :func:`describe_networkpolicy` prints after ``Created on:``.

Real kubectl prints the creation time with Go's ``time.Time.String()`` in the local
zone (``2024-05-01 09:30:12 +0000 UTC`` under ``TZ=UTC``); this is the same shape at the
Unix epoch, so that it is obviously not a real time.
"""

VOLATILE_PREFIXES: tuple[str, ...] = ("Created on:",)
"""Line prefixes of ``kubectl describe networkpolicy`` output that change between runs."""

# Tab writers (cli-runtime printers.GetNewTabWriter; describe.tabbedString).
GET_MINWIDTH, GET_PADDING = 6, 3
DESCRIBE_MINWIDTH, DESCRIBE_PADDING = 0, 2


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------
def tabwrite(text: str, minwidth: int = GET_MINWIDTH, padding: int = GET_PADDING) -> str:
    """Align ``text`` (cells ending in ``\\t``, lines in ``\\n``) as Go's ``text/tabwriter``.

    A port of the writer's ``format`` with pad char ``' '`` and no flags: a column block
    is a run of consecutive lines that have a cell in that column, and its width is the
    widest cell plus ``padding``, at least ``minwidth``. The last cell of a line is not
    in any column and is never padded. Returns text ending in a newline iff ``text`` does.
    """
    ends_with_newline = text.endswith("\n")
    raw = text[:-1] if ends_with_newline else text
    lines = [line.split("\t") for line in raw.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for line in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(line):
                parts.append(cell)
                if j < len(widths):
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out) + ("\n" if ends_with_newline else "")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A ``kubectl get`` table: columns left-aligned, at least 3 spaces apart, min width 6.

    Headers and rows are joined with tabs and aligned by :func:`tabwrite` with kubectl's
    ``GetNewTabWriter`` settings. No trailing newline.
    """
    lines = ["\t".join(headers)] + ["\t".join(row) for row in rows]
    return tabwrite("\n".join(lines) + "\n", GET_MINWIDTH, GET_PADDING)[:-1]


# --------------------------------------------------------------------------------------
# custom-columns
# --------------------------------------------------------------------------------------
def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value, as kubectl's custom-columns prints it.

    Maps print as ``map[k1:v1 k2:v2]`` with keys sorted, lists as ``[a b]``, null as
    ``<nil>``, booleans as ``true``/``false``.
    """
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


_STEP = re.compile(r"\.([^.\[\]]+)|\[(\*|-?\d+)\]")


def jsonpath_find(obj: Any, path: str) -> list[Any]:
    """The results of a simple kubectl JSONPath (``.a.b``, ``.a[*].b``, ``.a[0]``) on ``obj``.

    Missing keys give no result (kubectl's custom-columns sets ``AllowMissingKeys``).
    """
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if not path.startswith(".") and not path.startswith("["):
        path = "." + path
    pos, current = 0, [obj]
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[pos:]!r}")
        pos = m.end()
        nxt: list[Any] = []
        for value in current:
            if m.group(1) is not None:
                if isinstance(value, Mapping) and m.group(1) in value:
                    nxt.append(value[m.group(1)])
            elif isinstance(value, list):
                if m.group(2) == "*":
                    nxt.extend(value)
                else:
                    i = int(m.group(2))
                    if -len(value) <= i < len(value):
                        nxt.append(value[i])
        current = nxt
    return current


def custom_columns(objects: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """What ``kubectl get -o custom-columns=<spec>`` prints for API objects (as JSON dicts).

    Each cell is every JSONPath result printed with :func:`go_sprint`, joined with ``,``;
    ``<none>`` when there is no result. Objects are printed in the order given.
    """
    rows = []
    for obj in objects:
        cells = []
        for _, path in columns:
            found = jsonpath_find(obj, path)
            cells.append(",".join(go_sprint(v) for v in found) if found else "<none>")
        rows.append(cells)
    return table([h for h, _ in columns], rows)


def custom_columns_spec(columns: Sequence[tuple[str, str]]) -> str:
    """``HEADER:path,HEADER:path`` for ``-o custom-columns=``."""
    return ",".join(f"{h}:{p}" for h, p in columns)


def _get_command(
    resource: str,
    objects: Sequence[Any],
    columns: Sequence[tuple[str, str]],
    namespace: str | None,
    names: bool,
    namespaced: bool = True,
) -> str:
    parts = ["kubectl", "get", resource]
    if names:
        parts += [o.name for o in objects]
    if namespaced:
        namespaces = {o.namespace for o in objects}
        if len(namespaces) > 1:
            raise ValueError(
                f"{resource} in several namespaces ({', '.join(sorted(namespaces))}): one get per namespace"
            )
        ns = namespace or (namespaces.pop() if namespaces else "default")
        if ns != "default":
            parts += ["-n", ns]
    parts += ["-o", "custom-columns=" + shlex.quote(custom_columns_spec(columns))]
    return " ".join(parts)


def _sorted(objects: Iterable[Any], namespaced: bool = True) -> list[Any]:
    # The apiserver lists objects in the order of their storage keys, ".../<namespace>/<name>".
    return sorted(objects, key=lambda o: f"{o.namespace}/{o.name}" if namespaced else o.name)


# --------------------------------------------------------------------------------------
# Objects as the apiserver returns them (only the fields the columns read)
# --------------------------------------------------------------------------------------
def _meta(name: str, namespace: str | None, labels: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def pod_object(pod: Pod) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running"}
    if pod.ip:
        status["podIP"] = pod.ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(pod.name, pod.namespace, pod.labels), "status": status}


def service_object(service: Service) -> dict[str, Any]:
    ports = []
    for p in service.ports:
        entry: dict[str, Any] = {"port": p.port, "protocol": p.protocol, "targetPort": p.target_port}
        if p.name:
            entry["name"] = p.name
        ports.append(entry)
    spec: dict[str, Any] = {"type": "ClusterIP", "clusterIP": service.cluster_ip or "None"}
    if ports:
        spec["ports"] = ports
    if service.selector:
        spec["selector"] = dict(service.selector)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(service.name, service.namespace, {}), "spec": spec}


def networkpolicy_object(policy: NetworkPolicy) -> dict[str, Any]:
    meta = (policy.manifest or {}).get("metadata") or {}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(policy.name, policy.namespace, meta.get("labels") or {}),
        "spec": {"podSelector": policy.pod_selector.to_dict(), "policyTypes": list(policy.policy_types)},
    }


def namespace_object(namespace: Namespace) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace.name, None, namespace.labels)}


def endpoints_object(state: ClusterState, service: Service) -> dict[str, Any] | None:
    """The Endpoints object the endpoints controller keeps for ``service`` (only the fields shown).

    Pods are listed by name in ``targetRef`` (their addresses differ on every cluster); one
    subset per distinct set of resolved ports; a pod that does not define a named
    ``targetPort`` is left out, as the controller leaves it out. A Service without a
    selector gets no controller-made Endpoints: ``None``. A subset's ports are in the Service's
    order; the real controller sorts them by a hash (``SortSubsets``), so for a Service with
    several ports kubectl may list them in another order.
    """
    if not service.selector:
        return None
    subsets: dict[tuple[int, ...], list[str]] = {}
    for pod in state.endpoints(service):
        ports = [p.target_port if isinstance(p.target_port, int) or str(p.target_port).isdigit()
                 else pod.resolve_port(str(p.target_port), p.protocol) for p in service.ports]
        if any(p is None for p in ports):
            continue
        subsets.setdefault(tuple(int(p) for p in ports), []).append(pod.name)  # type: ignore[arg-type]
    meta = _meta(service.name, service.namespace, {})
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if subsets:
        obj["subsets"] = [{"addresses": [{"targetRef": {"kind": "Pod", "name": n}} for n in names],
                           "ports": [{"port": p} for p in ports]} for ports, names in subsets.items()]
    return obj


# --------------------------------------------------------------------------------------
# kubectl get
# --------------------------------------------------------------------------------------
def pod_columns(show_labels: bool = True) -> list[tuple[str, str]]:
    cols = [("NAME", ".metadata.name")]
    return cols + [("LABELS", ".metadata.labels")] if show_labels else cols


ENDPOINTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NAME", ".metadata.name"),
    ("PODS", ".subsets[*].addresses[*].targetRef.name"),
    ("PORTS", ".subsets[*].ports[*].port"),
)
"""kubectl's own ``get endpoints`` columns are NAME, ENDPOINTS (``ip:port,...``) and AGE, which
differ on every cluster; these custom columns name the pods and ports instead."""


def get_endpoints(objects: Iterable[Mapping[str, Any]]) -> str:
    """``kubectl get endpoints -o custom-columns=NAME:...,PODS:...targetRef.name,PORTS:...port``.

    ``<none>`` in PODS and PORTS for a Service whose selector picks no (fitting) pod.
    """
    return custom_columns(objects, ENDPOINTS_COLUMNS)


def get_endpoints_command(name: str | None = None, namespace: str | None = None) -> str:
    """The command whose output is :func:`get_endpoints` (of one Service, or all of a namespace)."""
    parts = ["kubectl", "get", "endpoints"] + ([name] if name else [])
    if namespace and namespace != "default":
        parts += ["-n", namespace]
    return " ".join(parts + ["-o", "custom-columns=" + shlex.quote(custom_columns_spec(ENDPOINTS_COLUMNS))])


def get_pods(pods: Iterable[Pod], show_labels: bool = True) -> str:
    """``kubectl get pods -o custom-columns=NAME:.metadata.name,LABELS:.metadata.labels``.

    Labels print as ``map[app:bookstore role:api]`` (``<none>`` for a pod without labels).
    """
    return custom_columns([pod_object(p) for p in _sorted(pods)], pod_columns(show_labels))


def get_pods_command(
    pods: Iterable[Pod] = (), show_labels: bool = True, *, namespace: str | None = None, names: bool = False
) -> str:
    """The command whose output is :func:`get_pods` of ``pods``.

    Without ``names`` it lists every pod of the namespace, so ``pods`` must be all of
    them; with ``names`` it names the pods (in the order the table shows them).
    """
    pods = _sorted(pods)
    return _get_command("pods", pods, pod_columns(show_labels), namespace, names)


def service_columns(cluster_ip: bool = False) -> list[tuple[str, str]]:
    cols = [("NAME", ".metadata.name"), ("TYPE", ".spec.type")]
    if cluster_ip:
        cols.append(("CLUSTER-IP", ".spec.clusterIP"))
    return cols + [("PORTS", ".spec.ports[*].port"), ("SELECTOR", ".spec.selector")]


def get_services(services: Iterable[Service], cluster_ip: bool = False) -> str:
    """``kubectl get services -o custom-columns=NAME,TYPE,[CLUSTER-IP,]PORTS,SELECTOR``.

    ``PORTS`` lists the service ports (``80`` or ``80,443``); ``SELECTOR`` is the
    selector map (``map[app:bookstore role:api]``). CLUSTER-IP is off by default: a real
    cluster picks it at random unless the manifest pins ``spec.clusterIP``. There is no
    EXTERNAL-IP column: it is ``<none>`` for every ClusterIP service. Note that the
    ``default`` namespace of a real cluster also holds the ``kubernetes`` service: pass
    it in, or use ``names=True`` in :func:`get_services_command`.
    """
    return custom_columns([service_object(s) for s in _sorted(services)], service_columns(cluster_ip))


def get_services_command(
    services: Iterable[Service] = (), cluster_ip: bool = False, *, namespace: str | None = None, names: bool = False
) -> str:
    services = _sorted(services)
    return _get_command("services", services, service_columns(cluster_ip), namespace, names)


def networkpolicy_columns(policies: Iterable[NetworkPolicy] = ()) -> list[tuple[str, str]]:
    """NAME and POD-SELECTOR; the selector column shows ``matchLabels`` as a map.

    If a policy's pod selector uses ``matchExpressions`` (which ``matchLabels`` would
    hide), the column shows the whole ``podSelector`` instead, e.g.
    ``map[matchExpressions:[map[key:tier operator:In values:[api]]]]``.
    """
    full = any(p.pod_selector.match_expressions for p in policies)
    return [
        ("NAME", ".metadata.name"),
        ("POD-SELECTOR", ".spec.podSelector" if full else ".spec.podSelector.matchLabels"),
    ]


def get_networkpolicies(policies: Iterable[NetworkPolicy]) -> str:
    """``kubectl get networkpolicy -o custom-columns=NAME:...,POD-SELECTOR:...``.

    kubectl's own ``POD-SELECTOR`` string (``app=bookstore,role=api``) only exists in the
    default table, which ends in AGE; :func:`describe_networkpolicy` prints that string.
    Here the selector is a map: ``map[app:bookstore role:api]``, ``<none>`` for ``{}``.
    """
    policies = _sorted(policies)
    return custom_columns([networkpolicy_object(p) for p in policies], networkpolicy_columns(policies))


def get_networkpolicies_command(
    policies: Iterable[NetworkPolicy] = (), *, namespace: str | None = None, names: bool = False
) -> str:
    policies = _sorted(policies)
    return _get_command("networkpolicy", policies, networkpolicy_columns(policies), namespace, names)


def get_namespaces(namespaces: Iterable[Namespace]) -> str:
    """``kubectl get namespaces -o custom-columns=NAME:.metadata.name,LABELS:.metadata.labels``.

    A real cluster also has ``default``, ``kube-*`` and (kind) ``local-path-storage``:
    pass them in, or use ``names=True`` in :func:`get_namespaces_command`.
    """
    return custom_columns([namespace_object(n) for n in _sorted(namespaces, False)], pod_columns(True))


def get_namespaces_command(namespaces: Iterable[Namespace] = (), *, names: bool = False) -> str:
    return _get_command("namespaces", _sorted(namespaces, False), pod_columns(True), None, names, namespaced=False)


# --------------------------------------------------------------------------------------
# kubectl describe networkpolicy
# --------------------------------------------------------------------------------------
def format_label_selector(selector: LabelSelector | None) -> str:
    """``metav1.FormatLabelSelector``: requirements sorted by key, ``<none>`` when empty.

    ``matchLabels`` print as ``k=v``, expressions as ``k in (a,b)``, ``k notin (a)``,
    ``k`` (Exists) and ``!k`` (DoesNotExist), values sorted. The sort by key is stable,
    so ``matchLabels`` come before expressions on the same key.
    """
    if selector is None:
        return "<none>"
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in selector.match_labels]
    for r in selector.match_expressions:
        if r.operator == "Exists":
            text = r.key
        elif r.operator == "DoesNotExist":
            text = f"!{r.key}"
        else:
            op = "in" if r.operator == "In" else "notin"
            text = f"{r.key} {op} ({','.join(sorted(r.values))})"
        reqs.append((r.key, text))
    reqs.sort(key=lambda kr: kr[0])
    return ",".join(t for _, t in reqs) or "<none>"


def _multiline(title: str, items: list[str]) -> list[str]:
    # printLabelsMultiline / printAnnotationsMultiline: first item after the title, the
    # others on their own lines in the same (tab) column.
    if not items:
        return [f"{title}:\t<none>"]
    return [f"{title}:\t{items[0]}"] + [f"\t{item}" for item in items[1:]]


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MAX_ANNOTATION_LEN = 140


def _annotation_lines(annotations: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    keys = sorted(k for k in annotations if k != _LAST_APPLIED)
    for i, key in enumerate(keys):
        first = "Annotations:\t" if i == 0 else "\t"
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION_LEN or "\n" in value:
            lines.append(f"{first}{key}:")
            for s in value.split("\n"):
                short = s if len(s) <= _MAX_ANNOTATION_LEN - 2 else s[: _MAX_ANNOTATION_LEN - 2] + "..."
                lines.append(f"\t  {short}")
        else:
            lines.append(f"{first}{key}: {value}")
    return lines or ["Annotations:\t<none>"]


def _rules_lines(rules: Sequence[Rule], direction: str) -> list[str]:
    indent = "    "
    peer_word, any_peer, isolated = (
        ("From", "From: <any> (traffic not restricted by source)", "ingress")
        if direction == INGRESS
        else ("To", "To: <any> (traffic not restricted by destination)", "egress")
    )
    if not rules:
        return [f"{indent}<none> (Selected pods are isolated for {isolated} connectivity)"]
    lines: list[str] = []
    for i, rule in enumerate(rules):
        if not rule.ports:
            lines.append(f"{indent}To Port: <any> (traffic allowed to all ports)")
        for port in rule.ports:
            # A nil port prints through IntOrString's String() as "<nil>".
            number = "<nil>" if port.port is None else str(port.port)
            if port.end_port is None:
                lines.append(f"{indent}To Port: {number}/{port.protocol}")
            else:
                lines.append(f"{indent}To Port Range: {number}-{port.end_port}/{port.protocol}")
        if not rule.peers:
            lines.append(f"{indent}{any_peer}")
        for peer in rule.peers:
            lines.extend(_peer_lines(peer, peer_word, indent))
        if i != len(rules) - 1:
            lines.append(f"{indent}----------")
    return lines


def _peer_lines(peer: Peer, word: str, indent: str) -> list[str]:
    lines = [f"{indent}{word}:"]
    pad = "  " + indent
    if peer.pod_selector is not None and peer.namespace_selector is not None:
        lines.append(f"{pad}NamespaceSelector: {format_label_selector(peer.namespace_selector)}")
        lines.append(f"{pad}PodSelector: {format_label_selector(peer.pod_selector)}")
    elif peer.pod_selector is not None:
        lines.append(f"{pad}PodSelector: {format_label_selector(peer.pod_selector)}")
    elif peer.namespace_selector is not None:
        lines.append(f"{pad}NamespaceSelector: {format_label_selector(peer.namespace_selector)}")
    elif peer.ip_block is not None:
        lines.append(f"{pad}IPBlock:")
        lines.append(f"  {pad}CIDR: {peer.ip_block.cidr}")
        lines.append(f"  {pad}Except: {', '.join(peer.ip_block.excepts)}")
    return lines


def describe_networkpolicy(policy: NetworkPolicy, created_on: str = CREATED_ON_PLACEHOLDER) -> str:
    """``kubectl describe networkpolicy <name>`` output, with a stable ``Created on:``.

    Every line is what kubectl prints except the value after ``Created on:`` (the one
    volatile line, see :data:`VOLATILE_PREFIXES`), which is ``created_on``
    (:data:`CREATED_ON_PLACEHOLDER` by default). Run real output through
    :func:`normalize_volatile` before comparing. Labels and annotations come from the
    policy's manifest; ``kubectl.kubernetes.io/last-applied-configuration`` is skipped,
    as kubectl skips it. No trailing newline.
    """
    meta = (policy.manifest or {}).get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    head = [
        f"Name:\t{policy.name}",
        f"Namespace:\t{policy.namespace}",
        f"Created on:\t{created_on}",
        *_multiline("Labels", [f"{k}={labels[k]}" for k in sorted(labels)]),
        *_annotation_lines(annotations),
    ]
    spec = ["Spec:"]
    if policy.pod_selector.is_empty:
        spec.append("  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)")
    else:
        spec.append(f"  PodSelector:     {format_label_selector(policy.pod_selector)}")
    if INGRESS in policy.policy_types:
        spec += ["  Allowing ingress traffic:", *_rules_lines(policy.ingress, INGRESS)]
    else:
        spec.append("  Not affecting ingress traffic")
    if EGRESS in policy.policy_types:
        spec += ["  Allowing egress traffic:", *_rules_lines(policy.egress, EGRESS)]
    else:
        spec.append("  Not affecting egress traffic")
    spec.append(f"  Policy Types: {', '.join(policy.policy_types) or '<none>'}")
    text = "\n".join(head + spec) + "\n"
    return tabwrite(text, DESCRIBE_MINWIDTH, DESCRIBE_PADDING)[:-1]


def describe_networkpolicy_command(name: str, namespace: str | None = None) -> str:
    return _with_namespace(["kubectl", "describe", "networkpolicy", name], namespace)


def volatile_lines(text: str) -> list[str]:
    """The lines of describe output that change between runs (see :data:`VOLATILE_PREFIXES`)."""
    return [line for line in text.splitlines() if line.startswith(VOLATILE_PREFIXES)]


def normalize_volatile(text: str, created_on: str = CREATED_ON_PLACEHOLDER) -> str:
    """Real ``kubectl describe`` output with its volatile values replaced by stable ones.

    ``Created on:   2024-05-01 09:30:12 +0000 UTC`` becomes
    ``Created on:   <created_on>``; the column alignment does not depend on the value.
    """
    return re.sub(r"(?m)^(Created on:[ \t]+).*$", lambda m: m.group(1) + created_on, text)


# --------------------------------------------------------------------------------------
# What mutating commands print
# --------------------------------------------------------------------------------------
def resource_name(kind: str) -> str:
    """``pod``, ``service``, ``namespace``, ``networkpolicy.networking.k8s.io``: kind.group."""
    return kind_info(kind).resource


def applied(kind: str, name: str, action: str = "created") -> str:
    """``kubectl apply``/``create``/``run`` output: ``pod/apiserver created``,
    ``networkpolicy.networking.k8s.io/api-allow configured``, ``namespace/x unchanged``.
    """
    if action not in ("created", "configured", "unchanged"):
        raise ValueError(f"action must be created, configured or unchanged, not {action!r}")
    return f"{resource_name(kind)}/{name} {action}"


def deleted(kind: str, name: str) -> str:
    """``kubectl delete`` output as 1.31 prints it: ``pod "apiserver" deleted``.

    (kubectl 1.34 and later add `` from <namespace> namespace``, kubernetes#126619.)
    """
    return f'{resource_name(kind)} "{name}" deleted'


def labeled(kind: str, name: str, message: str = "labeled") -> str:
    """``kubectl label`` output: ``pod/apiserver labeled`` (or ``unlabeled``, ``not labeled``)."""
    if message not in ("labeled", "unlabeled", "not labeled"):
        raise ValueError(f"unknown label message {message!r}")
    return f"{resource_name(kind)}/{name} {message}"


def _labels_json_len(labels: Mapping[str, str], present: bool) -> int:
    if not present:
        return 0
    return len('"labels":') + len(json.dumps(dict(labels), separators=(",", ":"), ensure_ascii=False)) + 1


def _label_overwrite_flag(changes: Mapping[str, str | None], overwrite: bool) -> bool:
    # --overwrite is only written when a value is set (removal never needs it).
    return overwrite and any(v is not None for v in changes.values())


def label_message(old: Mapping[str, str], changes: Mapping[str, str | None], overwrite: bool) -> str:
    """The word kubectl 1.31 prints after ``kubectl label``: labeled/unlabeled/not labeled.

    1.31's ``updateDataChangeMsg`` compares the object's JSON before and after: equal
    means ``not labeled``; otherwise ``unlabeled`` only if ``--overwrite`` was *not* given
    and the JSON got shorter, else ``labeled``. (kubectl always writes the labels map
    back, so a pod without labels gains ``"labels":{}``.) ``overwrite`` is whether the
    flag is on the command line.
    """
    new = dict(old)
    for key, value in changes.items():
        if value is None:
            new.pop(key, None)
        else:
            if not overwrite and key in old and old[key] != value:
                raise ValueError(f"'{key}' already has a value ({old[key]}), and --overwrite is false")
            new[key] = value
    if old and new == dict(old):
        return "not labeled"
    if not overwrite and _labels_json_len(new, True) < _labels_json_len(old, bool(old)):
        return "unlabeled"
    return "labeled"


def label_output(
    kind: str, name: str, old: Mapping[str, str], changes: Mapping[str, str | None], overwrite: bool = True
) -> str:
    """All that :func:`label_command` with the same arguments prints (stdout).

    ``label "x" not found.`` for each removed key the object lacks, then the result line.
    """
    flag = _label_overwrite_flag(changes, overwrite)
    lines = [f'label "{k}" not found.' for k, v in changes.items() if v is None and k not in old]
    lines.append(labeled(kind, name, label_message(old, changes, flag)))
    return "\n".join(lines)


def not_found(kind: str, name: str) -> str:
    """What kubectl 1.31 prints on stderr for an object that does not exist.

    ``Error from server (NotFound): pods "web" not found``: the apiserver's NotFound status
    names the resource (plural, with its group) and the object, not the namespace.
    """
    return f'Error from server (NotFound): {kind_info(kind).plural_resource} "{name}" not found'


def already_exists(kind: str, name: str) -> str:
    """``kubectl create`` (and ``expose``) of an object that exists: the apiserver's AlreadyExists."""
    return f'Error from server (AlreadyExists): {kind_info(kind).plural_resource} "{name}" already exists'


Verb = str  # "apply", "create", "run", "expose", "label", "delete", "cleanup"


def render(fact: Fact, verb: Verb = "apply") -> str:
    """What kubectl 1.31 prints for one fact a backend returned, for the command ``verb``.

    * :class:`Applied`: ``pod/web created`` (``configured``, ``unchanged``); for ``expose``
      a created Service prints ``service/web exposed`` (kubectl expose's own word);
    * :class:`Deleted`: ``pod "web" deleted``, or kubectl's NotFound line (:func:`not_found`)
      when it did not exist;
    * :class:`Labeled`: ``label "x" not found.`` for each absent key removed, then
      ``pod/web labeled`` / ``unlabeled`` / ``not labeled`` (:func:`label_output`);
    * :class:`Kept`: nphelpers' own note ``namespace "x" kept: <reason>`` (kubectl has none).
    """
    if isinstance(fact, Applied):
        if verb == "expose" and fact.action == "created":
            return f"{resource_name(fact.kind)}/{fact.name} exposed"
        return applied(fact.kind, fact.name, fact.action)
    if isinstance(fact, Deleted):
        return deleted(fact.kind, fact.name) if fact.found else not_found(fact.kind, fact.name)
    if isinstance(fact, Labeled):
        return label_output(fact.kind, fact.name, fact.old, fact.changes)
    if isinstance(fact, Kept):
        return f'{kind_info(fact.kind).word} "{fact.name}" kept: {fact.reason}'
    raise TypeError(f"not a backend fact: {fact!r}")


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------
def _with_namespace(parts: list[str], namespace: str | None) -> str:
    """Add ``-n NAMESPACE`` (unless default) at the end, or before ``--`` when a command follows."""
    if namespace and namespace != "default":
        at = parts.index("--") if "--" in parts else len(parts)
        parts[at:at] = ["-n", namespace]
    return " ".join(parts)


def _kind_word(kind: str) -> str:
    return kind_info(kind).word


def run_command(
    name: str,
    image: str,
    labels: Mapping[str, str] | None = None,
    port: int | None = None,
    expose: bool = False,
    namespace: str | None = None,
) -> str:
    """``kubectl run apiserver --image=nginx --labels="app=bookstore,role=api" --expose --port=80``."""
    if expose and port is None:
        raise ValueError("--port must be set when exposing a service")
    parts = ["kubectl", "run", name, f"--image={image}"]
    if labels:
        parts.append('--labels="' + ",".join(f"{k}={v}" for k, v in labels.items()) + '"')
    if expose:
        parts.append("--expose")
    if port is not None:
        parts.append(f"--port={port}")
    return _with_namespace(parts, namespace)


def run_output(name: str, expose: bool = False) -> str:
    """What :func:`run_command` prints: with ``--expose`` the service line comes first."""
    lines = [applied("service", name)] if expose else []
    return "\n".join([*lines, applied("pod", name)])


def wget_command(pod: str, url: str, timeout: int = 2, namespace: str | None = None) -> str:
    """``kubectl exec test-blocked -- wget -qO- --timeout=2 http://apiserver``."""
    parts = ["kubectl", "exec", pod, "--", "wget", "-qO-", f"--timeout={timeout}", url]
    return _with_namespace(parts, namespace)


def apply_command(path: str, namespace: str | None = None) -> str:
    return _with_namespace(["kubectl", "apply", "-f", path], namespace)


def delete_command(kind: str, name: str, namespace: str | None = None) -> str:
    """``kubectl delete pod web -n prod``; a cluster-scoped kind (a namespace) takes no ``-n``."""
    return _with_namespace(["kubectl", "delete", _kind_word(kind), name], namespace if kind_info(kind).namespaced
                           else None)


def label_command(
    kind: str, name: str, labels: Mapping[str, str | None], overwrite: bool = True, namespace: str | None = None
) -> str:
    """``kubectl label pod apiserver role=api --overwrite``; a ``None`` value removes (``app-``).

    ``--overwrite`` is added only when a value is set and ``overwrite`` is true: removal
    never needs it, and without it kubectl 1.31 reports a removal as ``unlabeled``.
    """
    if not labels:
        raise ValueError("at least one label update is required")
    parts = ["kubectl", "label", _kind_word(kind), name]
    parts += [f"{k}-" if v is None else f"{k}={v}" for k, v in labels.items()]
    if _label_overwrite_flag(labels, overwrite):
        parts.append("--overwrite")
    return _with_namespace(parts, namespace)


def expose_command(
    pod: str, port: int, target_port: int | str | None = None, name: str | None = None, namespace: str | None = None
) -> str:
    """``kubectl expose pod apiserver --port=8080 --target-port=80 --name=apiserver-8080``."""
    parts = ["kubectl", "expose", "pod", pod, f"--port={port}"]
    if target_port is not None:
        parts.append(f"--target-port={target_port}")
    if name:
        parts.append(f"--name={name}")
    return _with_namespace(parts, namespace)


def create_namespace_command(name: str) -> str:
    """``kubectl create namespace prod`` (it prints ``namespace/prod created``)."""
    return f"kubectl create namespace {name}"


def cleanup_command(selector: str, namespace: str | None = None) -> str:
    """``kubectl delete networkpolicy,service,pod -l SELECTOR [-n NS]``: the kinds in cleanup order."""
    kinds = sorted((k for k in KINDS.values() if k.namespaced), key=lambda k: k.cleanup_order)
    return _with_namespace(["kubectl", "delete", ",".join(k.word for k in kinds), "-l", selector], namespace)


NO_RESOURCES = "No resources found"
"""What ``kubectl delete -l`` prints (on stderr) when nothing matches."""


# --------------------------------------------------------------------------------------
# kubectl exec: the probes' command lines (their texts are in nphelpers.busybox)
# --------------------------------------------------------------------------------------
def nc_command(pod: str, host: str, port: int, timeout: int = 2, namespace: str | None = None) -> str:
    """``kubectl exec search -- nc -v -w 2 db 6379``: does anything accept a TCP connection there?"""
    parts = ["kubectl", "exec", pod, "--", "nc", "-v", "-w", str(timeout), host, str(port)]
    return _with_namespace(parts, namespace)


def connect_command(
    pod: str, host: str, port: int, protocol: str = "UDP", timeout: int = 2, namespace: str | None = None
) -> str:
    """``kubectl exec client -- /agnhost connect dns:5353 --timeout=2s --protocol=udp`` (upstream's netpol probe)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    parts = ["kubectl", "exec", pod, "--", "/agnhost", "connect", target, f"--timeout={timeout}s",
             f"--protocol={protocol.lower()}"]
    return _with_namespace(parts, namespace)


def outside_wget_command(url: str, timeout: int = 2) -> str:
    """``wget -qO- --timeout=2 http://172.18.0.2:30080/``: the request a machine outside the cluster makes."""
    return " ".join(["wget", "-qO-", f"--timeout={timeout}", url])


def exec_failed(code: int = 1) -> str:
    """What kubectl prints on stderr when the exec'd command exits non-zero (wget: 1)."""
    return f"command terminated with exit code {code}"


__all__ = [
    "CREATED_ON_PLACEHOLDER",
    "KUBECTL_VERSION",
    "NO_RESOURCES",
    "VOLATILE_PREFIXES",
    "WGET_TIMEOUT",
    "already_exists",
    "apply_command",
    "applied",
    "cleanup_command",
    "connect_command",
    "create_namespace_command",
    "custom_columns",
    "custom_columns_spec",
    "delete_command",
    "deleted",
    "describe_networkpolicy",
    "describe_networkpolicy_command",
    "endpoints_object",
    "exec_failed",
    "expose_command",
    "format_label_selector",
    "get_endpoints",
    "get_endpoints_command",
    "get_namespaces",
    "get_namespaces_command",
    "get_networkpolicies",
    "get_networkpolicies_command",
    "get_pods",
    "get_pods_command",
    "get_services",
    "get_services_command",
    "go_sprint",
    "jsonpath_find",
    "label_command",
    "label_message",
    "label_output",
    "labeled",
    "networkpolicy_object",
    "not_found",
    "nginx_index",
    "normalize_volatile",
    "pod_object",
    "render",
    "resource_name",
    "run_command",
    "run_output",
    "service_object",
    "table",
    "tabwrite",
    "volatile_lines",
    "wget_bad_address",
    "wget_command",
    "wget_refused",
]
