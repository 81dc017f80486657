"""Lesson 02's short views: kubectl commands the lesson shows that the Lab has no verb for (yet).

* :func:`wget_head`: ``wget ... | head -n 4``, nginx's page in four lines;
* :func:`get_pods`: ``kubectl get pods -l SELECTOR`` with one column per label key (``-L``);
* :func:`jsonpath`: ``kubectl get pod POD -o jsonpath='{...}'``;
* :func:`compact`: the matrix as a table that fits ~100 columns.

The lesson's checks are exercises of the exercise API (``02-api-allow``, the recipe's
acceptance criteria, and ``02-frontend-only``, in :mod:`nphelpers.catalog`), and
``kubectl get endpoints`` is :meth:`nphelpers.Lab.get_endpoints`. Everything here goes
through :class:`nphelpers.Lab`, so it holds on the simulator and on kind alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import kubectl
from .matrix import Reachability

if TYPE_CHECKING:
    from .lab import Lab


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
