"""Which kubeconfig context the live backend may use: the kind guard.

nphelpers creates and deletes objects, so by default it only talks to a local kind cluster,
recognised by what ``kind create cluster`` itself writes into the kubeconfig: a context
``kind-<name>`` whose cluster and user are both called ``kind-<name>``, and whose server is
on a loopback address (``https://127.0.0.1:<port>``). A context that only looks like kind
(``kind-prod`` pointing at ``gke_acme-prod_...``, a bare ``kind-``) is refused, in
:func:`check_context` and in auto-detection (:func:`detect_kind_context`) alike, unless the
user opts in: ``allow_any_context=True`` (``nphelpers doctor --allow-context``) or
``NPHELPERS_ALLOW_CONTEXT=<that context>``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import BackendError

ALLOW_CONTEXT_ENV = "NPHELPERS_ALLOW_CONTEXT"
MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024  # a kubeconfig is a few KB; refuse to read a huge file
# kind's cluster names: lowercase DNS-like words (kind refuses others when it creates one).
_KIND_CONTEXT = re.compile(r"kind-[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def kubeconfig_paths() -> list[str]:
    """The files ``$KUBECONFIG`` names (``os.pathsep``-separated), else ``~/.kube/config``."""
    raw = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


@dataclass(frozen=True)
class Kubeconfig:
    """The merged kubeconfig: like kubectl, the first file that defines a name wins."""

    paths: tuple[str, ...]
    current: str | None
    contexts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    clusters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def server(self, context: str) -> str | None:
        entry = self.contexts.get(context) or {}
        return (self.clusters.get(str(entry.get("cluster"))) or {}).get("server")


def _named(items: Any, key: str) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and isinstance(item.get(key), Mapping):
            out.setdefault(item["name"], item[key])
    return out


def read_kubeconfig() -> Kubeconfig | None:
    """The merged kubeconfig, ``None`` if no file exists; a one-line :class:`BackendError` if unreadable."""
    import yaml

    paths = [p for p in kubeconfig_paths() if os.path.isfile(p)]
    if not paths:
        return None
    current: str | None = None
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_KUBECONFIG_BYTES + 1)
            if len(data) > MAX_KUBECONFIG_BYTES:
                raise ValueError(f"larger than {MAX_KUBECONFIG_BYTES} bytes")
            doc = yaml.safe_load(data) or {}
            if not isinstance(doc, Mapping):
                raise ValueError("not a kubeconfig (expected a mapping)")
        except (OSError, ValueError, yaml.YAMLError) as err:
            first = (str(err).strip().splitlines() or [err.__class__.__name__])[0][:200]
            raise BackendError(f"cannot read kubeconfig {path}: {first}") from None
        if current is None and isinstance(doc.get("current-context"), str) and doc["current-context"]:
            current = doc["current-context"]
        for name, entry in _named(doc.get("contexts"), "context").items():
            contexts.setdefault(name, entry)
        for name, entry in _named(doc.get("clusters"), "cluster").items():
            clusters.setdefault(name, entry)
    return Kubeconfig(tuple(paths), current, contexts, clusters)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def kind_problem(context: str, config: Kubeconfig | None) -> str | None:
    """Why ``context`` is not a kind context as kind writes it, or ``None`` if it is.

    Without a kubeconfig (an injected API in tests) only the name can be checked.
    """
    if not _KIND_CONTEXT.fullmatch(context):
        return "it is not named kind-<cluster> as kind names its contexts"
    if config is None:
        return None
    entry = config.contexts.get(context)
    if entry is None:
        return "it is not in the kubeconfig"
    for part in ("cluster", "user"):
        if entry.get(part) != context:
            return f"its {part} is {entry.get(part)!r}, not {context!r} as kind writes it"
    server = config.server(context)
    try:
        host = urlsplit(str(server or "")).hostname
    except ValueError:
        host = None
    if not _is_loopback(host):
        return f"its server {server!r} is not on a loopback address (127.0.0.1, ::1, localhost) as kind's is"
    return None


def check_context(context: str | None, allow_any_context: bool = False, config: Kubeconfig | None = None) -> None:
    """Refuse a context that is not a local kind cluster unless the user opted in."""
    if context is None or allow_any_context or os.environ.get(ALLOW_CONTEXT_ENV) == context:
        return
    problem = kind_problem(context, config)
    if problem is None:
        return
    raise BackendError(
        f"refusing kube context {context!r}: {problem}; nphelpers creates and deletes objects, so it only uses "
        f"local kind clusters: run 'kubectl config use-context kind-nphelpers', or opt in with "
        f"{ALLOW_CONTEXT_ENV}={context}"
    )


def current_context(config: Kubeconfig | None) -> str:
    """The kubeconfig's current context, or a one-line :class:`BackendError` saying what to do."""
    if config is None:
        raise BackendError(
            "no kubeconfig found (KUBECONFIG or ~/.kube/config): create the lab cluster with "
            "'scripts/kind-cluster.sh up' (see kind/README.md)"
        )
    if not config.current:
        raise BackendError("the kubeconfig has no current context: run 'kubectl config use-context kind-nphelpers'")
    return config.current


def detect_kind_context() -> str | None:
    """The current context if it passes the kind guard (or is opted in), else ``None``; never raises."""
    try:
        config = read_kubeconfig()
        context = current_context(config)
        check_context(context, False, config)
        return context
    except BackendError:
        return None
