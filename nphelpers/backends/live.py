"""The live backend: the lesson's objects in a real kind cluster, probed with busybox wget.

:class:`LiveBackend` implements :class:`~nphelpers.backends.base.Backend` on the official
``kubernetes`` client. Design decisions, all visible to a student:

* **Only kind clusters.** A context whose name does not start with ``kind-`` is refused
  unless ``allow_any_context=True`` or ``NPHELPERS_ALLOW_CONTEXT=<that context>``.
* **One lab namespace.** Objects whose manifest has no namespace, or namespace ``default``,
  land in the lab namespace (``nphelpers-lab``); ``default`` given to ``delete``/``label``/
  ``wget`` means the lab namespace too. :meth:`LiveBackend.state` reports objects under their
  real namespace (``nphelpers-lab/apiserver``). Other namespaces are used as named.
* **Everything created is labelled** ``app.kubernetes.io/managed-by=nphelpers``;
  :meth:`LiveBackend.cleanup` deletes only objects carrying it, and a namespace only when
  nphelpers created it and nothing else is left in it.
* **Probes are honest about races.** A denied packet is dropped, so a blocked probe is a
  timeout; a new pod can slip a first connection through before its policy is programmed,
  so :meth:`LiveBackend.probe_stable` re-probes until two verdicts agree. The exec'd command
  prints its own exit status (``__rc=N``) because the exec return code is unreliable.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3

from .. import kubectl
from ..cluster import ClusterState, canonical_kind
from ..errors import BackendError, NotFoundError
from ..model import NAME_LABEL
from .base import Outcome, ProbeResult

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "nphelpers"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the same note kubectl keeps
LAB_NAMESPACE = "nphelpers-lab"
DOCTOR_PREFIX = "nphelpers-doctor-"
ALLOW_CONTEXT_ENV = "NPHELPERS_ALLOW_CONTEXT"
SERVER_IMAGE_ENV = "NPHELPERS_SERVER_IMAGE"
CLIENT_IMAGE_ENV = "NPHELPERS_CLIENT_IMAGE"
DEFAULT_SERVER_IMAGE = "nginx:1.27-alpine"
DEFAULT_CLIENT_IMAGE = "busybox:1.36"
# Never deleted by cleanup, whatever their labels say.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"})

RESOURCE = {  # kubectl's name for a kind in "<resource>/<name> created"
    "Namespace": "namespace",
    "Pod": "pod",
    "Service": "service",
    "NetworkPolicy": "networkpolicy.networking.k8s.io",
}
PLURAL = {  # the apiserver's name in 'pods "x" not found'
    "Namespace": "namespaces",
    "Pod": "pods",
    "Service": "services",
    "NetworkPolicy": "networkpolicies.networking.k8s.io",
}
API_VERSION = {"Namespace": "v1", "Pod": "v1", "Service": "v1", "NetworkPolicy": "networking.k8s.io/v1"}

# What busybox wget prints when a probe times out; used when the exec call itself ended
# before wget did (no output at all): the student's terminal would have shown this.
TIMEOUT_TEXT = "wget: download timed out"
_RC_RE = re.compile(r"(?:^|\n)__rc=(\d+)\s*$")
SETTLE_SECONDS = 30.0  # how long probe_stable waits for two agreeing verdicts
EXEC_GRACE = 30.0  # extra seconds the exec call gets beyond wget's own --timeout (slow DNS)


# -- images and helper manifests ---------------------------------------------------------
STOCK_SERVER_IMAGES = frozenset({DEFAULT_SERVER_IMAGE, "nginx", "nginx:latest", "docker.io/library/nginx"})
STOCK_CLIENT_IMAGES = frozenset(
    {DEFAULT_CLIENT_IMAGE, "busybox", "busybox:latest", "alpine", "alpine:latest", "docker.io/library/alpine"}
)


@dataclass(frozen=True)
class Images:
    """Container images for servers (answer HTTP on :80) and clients (have busybox wget).

    Air-gapped classrooms pre-load other tags with ``kind load docker-image`` and set
    ``NPHELPERS_SERVER_IMAGE`` / ``NPHELPERS_CLIENT_IMAGE``. Applied pods that use the stock
    images are switched to these, so lesson manifests need not change.
    """

    server: str = DEFAULT_SERVER_IMAGE
    client: str = DEFAULT_CLIENT_IMAGE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Images:
        env = os.environ if env is None else env
        return cls(
            server=env.get(SERVER_IMAGE_ENV) or DEFAULT_SERVER_IMAGE,
            client=env.get(CLIENT_IMAGE_ENV) or DEFAULT_CLIENT_IMAGE,
        )

    def swap(self, image: str) -> str:
        """The configured image for a stock one; any other image is kept.

        The lessons write ``--image=nginx`` and ``--image=alpine`` as the seed recipe does; on a
        live cluster those run the pinned server and client images, so the page nginx serves
        is the one the stored outputs show and classrooms can pre-load exactly two images.
        """
        if image in STOCK_SERVER_IMAGES:
            return self.server
        if image in STOCK_CLIENT_IMAGES:
            return self.client
        return image


def server_pod(
    name: str, labels: Mapping[str, str], *, namespace: str | None = None, image: str = DEFAULT_SERVER_IMAGE
) -> dict[str, Any]:
    """A pod answering HTTP on port 80 (container port named ``http``)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "server", "image": image, "ports": [{"name": "http", "containerPort": 80}]}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def client_pod(
    name: str, labels: Mapping[str, str], *, namespace: str | None = None, image: str = DEFAULT_CLIENT_IMAGE
) -> dict[str, Any]:
    """A long-lived pod to run wget in (never a one-shot ``kubectl run --rm`` pod: a new pod
    can get its first connections through before policies are programmed for it)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    # The trap makes the pod stop at once on delete (a bare `sleep` as PID 1 ignores TERM).
    script = "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "client", "image": image, "command": ["sh", "-c", script]}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def deny_all_ingress(name: str = "deny-all", *, namespace: str | None = None) -> dict[str, Any]:
    """A policy selecting every pod of its namespace for ingress, with no rules."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


# -- probe output ------------------------------------------------------------------------
def wget_script(url: str, timeout: int) -> str:
    """The shell line run in the client pod: wget, then its exit status on a line of its own."""
    return f"wget -qO- --timeout={int(timeout)} {shlex.quote(url)} 2>&1; rc=$?; printf '\\n__rc=%s\\n' \"$rc\""


def parse_wget_output(raw: str) -> tuple[Outcome, str]:
    """Classify what :func:`wget_script` printed; returns (outcome, busybox's own text).

    ``__rc=0`` is ``allowed``; otherwise busybox's message decides: ``download timed out``
    (dropped by a policy) is ``blocked``, ``bad address`` is ``dns-failure``, ``Connection
    refused`` is ``refused``, ``server returned error`` (an HTTP error status) is ``allowed``
    since the server answered. No ``__rc=`` line and no output means the exec call gave up
    before wget did: a timeout, so ``blocked``. Anything else raises :class:`BackendError`.
    """
    match = _RC_RE.search(raw)
    rc = int(match.group(1)) if match else None
    text = raw[: match.start()] if match else raw
    text = text.rstrip("\n") if rc is None else text
    if rc == 0:
        return "allowed", text
    if "download timed out" in text:
        return "blocked", text.strip()
    if "bad address" in text:
        return "dns-failure", text.strip()
    if "Connection refused" in text:
        return "refused", text.strip()
    if "server returned error" in text:
        return "allowed", text.strip()
    if "can't connect to remote host" in text:  # e.g. "Host is unreachable": a rejecting policy
        return "blocked", text.strip()
    if rc is None and not text.strip():
        return "blocked", TIMEOUT_TEXT
    raise BackendError(f"unexpected wget output (exit status {rc}): {text.strip()!r}")


# -- kubeconfig ----------------------------------------------------------------------------
def _kubeconfig_paths() -> list[str]:
    raw = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(p) for p in raw.split(os.pathsep) if p]


def _current_context() -> str:
    """The kubeconfig's current context, or a one-line :class:`BackendError`."""
    paths = [p for p in _kubeconfig_paths() if os.path.exists(p)]
    if not paths:
        raise BackendError(
            "no kubeconfig found (KUBECONFIG or ~/.kube/config): create the lab cluster with "
            "'scripts/kind-cluster.sh up' (see kind/README.md)"
        )
    from kubernetes import config

    try:
        _, current = config.list_kube_config_contexts(config_file=os.pathsep.join(paths))
    except Exception as err:  # the client raises ConfigException, ValueError, yaml errors...
        raise BackendError(f"cannot read kubeconfig {os.pathsep.join(paths)}: {err}") from None
    name = (current or {}).get("name")
    if not name:
        raise BackendError("the kubeconfig has no current context: run 'kubectl config use-context kind-nphelpers'")
    return str(name)


def detect_kind_context() -> str | None:
    """The current kubeconfig context if it is a kind one (``kind-*``), else ``None``.

    Never raises; returns ``None`` at once when there is no kubeconfig file.
    """
    try:
        paths = [p for p in _kubeconfig_paths() if os.path.exists(p)]
        if not paths:
            return None
        from kubernetes import config

        _, current = config.list_kube_config_contexts(config_file=os.pathsep.join(paths))
        name = (current or {}).get("name")
        return str(name) if name and str(name).startswith("kind-") else None
    except Exception:
        return None


def check_context(context: str | None, allow_any_context: bool = False) -> None:
    """Refuse a non-kind context unless the user opted in (argument or environment)."""
    if context is None or context.startswith("kind-") or allow_any_context:
        return
    if os.environ.get(ALLOW_CONTEXT_ENV) == context:
        return
    raise BackendError(
        f"refusing kube context {context!r}: nphelpers creates and deletes objects, so it only uses "
        f"kind clusters (contexts named kind-*); run 'kubectl config use-context kind-nphelpers', or "
        f"opt in with {ALLOW_CONTEXT_ENV}={context}"
    )


# -- the API seam --------------------------------------------------------------------------
class KubeApi:
    """Exactly the API calls :class:`LiveBackend` makes, on plain dicts.

    ``kind`` is one of Namespace, Pod, Service, NetworkPolicy; ``namespace`` is ``None``
    for namespaces. Failures are ``kubernetes.client.ApiException`` (``.status`` 404, 409...);
    an unreachable API server is a :class:`BackendError`. Tests pass an in-memory fake.
    """

    def __init__(self, configuration: Any, *, request_timeout: float = 30.0) -> None:
        from kubernetes import client

        self._client_mod = client
        self.configuration = configuration
        self.request_timeout = request_timeout
        self._client = client.ApiClient(configuration)
        self._core = client.CoreV1Api(self._client)
        self._net = client.NetworkingV1Api(self._client)
        # stream() swaps a method on the ApiClient it is given: exec gets its own client,
        # one per thread, so parallel probes and plain calls never see each other's swap.
        self._local = threading.local()
        self._exec_clients: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    def from_kubeconfig(cls, context: str | None) -> KubeApi:
        from kubernetes import client, config

        cfg = client.Configuration()
        # Name the file(s) explicitly: the client's default path is frozen at import time.
        paths = [p for p in _kubeconfig_paths() if os.path.exists(p)]
        try:
            config.load_kube_config(
                config_file=os.pathsep.join(paths) or None,
                context=context,
                client_configuration=cfg,
                persist_config=False,
            )
        except Exception as err:
            raise BackendError(f"cannot load kube context {context!r}: {err}") from None
        return cls(cfg)

    def _method(self, verb: str, kind: str) -> Callable[..., Any]:
        if kind == "Namespace":
            return getattr(self._core, f"{verb}_namespace")  # type: ignore[no-any-return]
        api = self._net if kind == "NetworkPolicy" else self._core
        suffix = {"Pod": "pod", "Service": "service", "NetworkPolicy": "network_policy"}[kind]
        return getattr(api, f"{verb}_namespaced_{suffix}")  # type: ignore[no-any-return]

    def _call(self, verb: str, kind: str, namespace: str | None, *args: Any, raw: bool = False, **kwargs: Any) -> Any:
        """Call the generated method; ``raw`` skips decoding the reply (errors still raise)."""
        method = self._method(verb, kind)
        if kind != "Namespace":
            args = (*args[:1], namespace, *args[1:]) if verb not in ("create", "list") else (namespace, *args)
        kwargs.setdefault("_request_timeout", self.request_timeout)
        if raw:
            kwargs["_preload_content"] = False
        try:
            result = method(*args, **kwargs)
            if raw:
                result.read()
                result.release_conn()
                return None
        except self._client_mod.ApiException:
            raise
        except (urllib3.exceptions.HTTPError, OSError) as err:  # refused, DNS, TLS, timeouts
            raise BackendError(
                f"cannot reach the Kubernetes API at {self.configuration.host}: {err.__class__.__name__}; "
                "is the kind cluster running? ('kind get clusters', 'scripts/kind-cluster.sh up')"
            ) from None
        except Exception as err:  # e.g. the client could not read the reply
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise BackendError(
                f"unexpected reply from the Kubernetes API ({verb} {kind}): {err.__class__.__name__}: {first}"
            ) from None
        return self._client.sanitize_for_serialization(result)

    def create(self, kind: str, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("create", kind, namespace, dict(body))  # type: ignore[no-any-return]

    def read(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self._call("read", kind, namespace, name)  # type: ignore[no-any-return]

    def replace(self, kind: str, namespace: str | None, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("replace", kind, namespace, name, dict(body))  # type: ignore[no-any-return]

    def patch(self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386): ``None`` values remove keys."""
        return self._call(  # type: ignore[no-any-return]
            "patch", kind, namespace, name, dict(patch), _content_type="application/merge-patch+json"
        )

    def delete(self, kind: str, namespace: str | None, name: str, *, grace_period_seconds: int | None = None) -> None:
        # A DELETE answers with the object or with a Status, depending on the kind and the
        # server version; the strict generated models reject the other one, so skip decoding.
        self._call("delete", kind, namespace, name, raw=True, grace_period_seconds=grace_period_seconds)

    def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        result = self._call("list", kind, namespace, label_selector=label_selector)
        return list(result.get("items") or [])

    def exec(self, namespace: str, pod: str, command: Sequence[str], *, timeout: float | None = None) -> str:
        """Run ``command`` in ``pod``; stdout and stderr as one string (may be cut short)."""
        from kubernetes.stream import stream

        core = getattr(self._local, "core", None)
        if core is None:
            exec_client = self._client_mod.ApiClient(self.configuration)
            with self._lock:
                self._exec_clients.append(exec_client)
            core = self._local.core = self._client_mod.CoreV1Api(exec_client)
        try:
            out = stream(
                core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(command),
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _request_timeout=timeout or self.request_timeout,
            )
        except self._client_mod.ApiException:
            raise
        except Exception as err:
            raise BackendError(f"exec in pod {namespace}/{pod} failed: {err.__class__.__name__}: {err}") from None
        if isinstance(out, bytes):
            return out.decode("utf-8", "replace")
        return "" if out is None else str(out)

    def close(self) -> None:
        with self._lock:
            clients, self._exec_clients = [self._client, *self._exec_clients], []
        for c in clients:
            c.close()


# -- helpers on API dicts ----------------------------------------------------------------
def _status(err: BaseException) -> int | None:
    return getattr(err, "status", None)


def _is_api_error(err: BaseException) -> bool:
    """An answer from the apiserver (ApiException, with an HTTP status), not a bug or a BackendError."""
    return isinstance(_status(err), int) and not isinstance(err, BackendError)


def _api_message(err: BaseException) -> str:
    """The apiserver's own message from an ApiException body, else its reason."""
    body = getattr(err, "body", None)
    try:
        msg = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        msg = None
    return str(msg or getattr(err, "reason", None) or err)


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _is_managed(obj: Mapping[str, Any]) -> bool:
    return _labels(obj).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def _label_change_message(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """kubectl label's verdict: labeled, unlabeled, label(s) changed, not labeled."""
    removed = any(k not in new for k in old)
    changed = any(k in new and new[k] != v for k, v in old.items()) or any(k not in old for k in new)
    if changed and removed:
        return "label(s) changed"
    if changed:
        return "labeled"
    return "unlabeled" if removed else "not labeled"


def _for_state(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An API object as ClusterState wants it: without managedFields and kubectl's note."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if notes:
        meta["annotations"] = notes
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pod_trouble(pod: Mapping[str, Any]) -> str:
    """Why a pod is not Ready, in the words ``kubectl describe`` would use."""
    status = pod.get("status") or {}
    parts = [f"phase {status.get('phase') or 'Unknown'}"]
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            parts.append(f"container {cs.get('name')} {waiting['reason']}{detail}")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("reason"):
            msg = f": {cond['message']}" if cond.get("message") else ""
            parts.append(f"{cond.get('type')} {cond['reason']}{msg}")
    return ", ".join(parts)


@dataclass
class _Prepared:
    kind: str
    namespace: str | None  # None for Namespace objects
    name: str
    body: dict[str, Any]


# -- the backend ---------------------------------------------------------------------------
class LiveBackend:
    """A kind cluster behind the :class:`~nphelpers.backends.base.Backend` verbs.

    ``with LiveBackend() as b:`` cleans up on errors and Ctrl-C. See the module docstring
    for the namespace mapping and the cleanup rules.
    """

    name = "kind"

    def __init__(
        self,
        context: str | None = None,
        *,
        namespace: str = LAB_NAMESPACE,
        allow_any_context: bool = False,
        images: Images | None = None,
        probe_timeout: int = 2,
        ready_timeout: float = 120,
        api: KubeApi | None = None,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", namespace):
            raise BackendError(f"invalid lab namespace {namespace!r}: use lowercase letters, digits and '-'")
        if api is None and context is None:
            context = _current_context()
        check_context(context, allow_any_context)
        self.context = context
        self.namespace = namespace
        self.images = images or Images.from_env()
        self.probe_timeout = int(probe_timeout)
        self.ready_timeout = float(ready_timeout)
        self.api = api if api is not None else KubeApi.from_kubeconfig(context)
        self._created_namespaces: set[str] = set()  # created by this backend: deleted by cleanup
        self._touched_namespaces: set[str] = {namespace}  # where this backend put objects
        self.settle = SETTLE_SECONDS  # seconds probe_stable / the doctor wait for a steady verdict
        self._poll_interval = 0.5
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"LiveBackend(context={self.context!r}, namespace={self.namespace!r})"

    # -- context manager: clean up whatever happens (exceptions, KeyboardInterrupt) ---------
    def __enter__(self) -> LiveBackend:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.cleanup()
        except Exception as err:
            if exc is None:
                raise
            # Do not hide the error that got us here; say what could not be cleaned.
            warnings.warn(f"nphelpers cleanup failed: {err}", RuntimeWarning, stacklevel=2)

    # -- names ------------------------------------------------------------------------------
    def _ns(self, namespace: str | None) -> str:
        """The real namespace for one a lesson names (none or ``default`` → the lab's)."""
        return self.namespace if not namespace or namespace == "default" else namespace

    def _split_key(self, key: str) -> tuple[str, str]:
        ns, _, name = key.rpartition("/")
        return self._ns(ns), name

    def _not_found(self, kind: str, namespace: str | None, name: str) -> NotFoundError:
        where = f' in namespace "{namespace}"' if namespace else ""
        return NotFoundError(f'{PLURAL[kind]} "{name}" not found{where}')

    def _refused(self, err: BaseException, what: str) -> BackendError:
        return BackendError(f"the API server refused {what}: {_api_message(err)}")

    def _own(self, kind: str, namespace: str | None, name: str, verb: str) -> dict[str, Any]:
        """The object, if nphelpers created it; a guest in someone's cluster changes nothing else."""
        obj = self._read(kind, namespace, name)
        if obj is None:
            raise self._not_found(kind, namespace, name)
        if not _is_managed(obj):
            where = f" in namespace {namespace!r}" if namespace else ""
            raise BackendError(
                f"refusing to {verb} {RESOURCE[kind]}/{name}{where}: nphelpers did not create it "
                f"(it has no {MANAGED_BY_LABEL}={MANAGED_BY_VALUE} label)"
            )
        return obj

    def _read(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.api.read(kind, namespace, name)  # type: ignore[no-any-return]
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return None
            raise self._refused(err, f"reading {RESOURCE[kind]}/{name}") from None

    # -- apply ------------------------------------------------------------------------------
    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[str]:
        """Create or replace manifests; kubectl's lines, in the order given.

        Namespaces are applied first; then the call waits until every applied pod is Ready.
        """
        prepared = [self._prepare(obj) for obj in objects]
        in_batch = {p.name for p in prepared if p.kind == "Namespace"}
        for ns in sorted({p.namespace for p in prepared if p.namespace} - in_batch):
            self._ensure_namespace(ns)
        lines = [""] * len(prepared)
        for i in sorted(range(len(prepared)), key=lambda i: prepared[i].kind != "Namespace"):
            lines[i] = self._apply_one(prepared[i])
        self._wait_ready([(p.namespace or "", p.name) for p in prepared if p.kind == "Pod"])
        return lines

    def _prepare(self, obj: Mapping[str, Any]) -> _Prepared:
        body: dict[str, Any] = json.loads(json.dumps(obj))  # a plain, private deep copy
        kind = str(body.get("kind"))
        if kind not in RESOURCE:
            raise BackendError(f"cannot apply kind {kind!r}: expected one of {', '.join(RESOURCE)}")
        body.setdefault("apiVersion", API_VERSION[kind])
        body.pop("status", None)
        meta = body.setdefault("metadata", {})
        for server_field in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            meta.pop(server_field, None)
        namespace: str | None
        if kind == "Namespace":
            meta["name"] = self._ns(str(meta["name"]))
            meta.pop("namespace", None)
            namespace = None
        else:
            namespace = meta["namespace"] = self._ns(meta.get("namespace"))
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        spec = body.get("spec") or {}
        # A Service's addresses are the cluster's to choose (the simulator's may be taken).
        if kind == "Service" and spec.get("clusterIP") not in (None, "None"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if kind == "Pod":
            for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
                if c.get("image"):
                    c["image"] = self.images.swap(str(c["image"]))
        return _Prepared(kind, namespace, str(meta["name"]), body)

    @staticmethod
    def _seal(body: dict[str, Any]) -> str:
        """Record the applied manifest in kubectl's annotation; returns the recorded JSON."""
        meta = body["metadata"]
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
        if notes:
            meta["annotations"] = notes
        else:
            meta.pop("annotations", None)
        note = json.dumps(body, sort_keys=True, separators=(",", ":"))
        meta["annotations"] = {**notes, LAST_APPLIED: note}
        return note

    def _apply_one(self, p: _Prepared) -> str:
        line = f"{RESOURCE[p.kind]}/{p.name}"
        existing = self._read(p.kind, p.namespace, p.name)
        if p.kind == "Namespace":
            self._touched_namespaces.add(p.name)
            if existing is not None and not _is_managed(existing):
                # Applying to a namespace nphelpers did not create must not make it "ours".
                p.body["metadata"]["labels"].pop(MANAGED_BY_LABEL, None)
        note = self._seal(p.body)
        if existing is None:
            self._create(p)
            return f"{line} created"
        live_labels = {k: v for k, v in _labels(existing).items() if k != NAME_LABEL}
        want_labels = {k: v for k, v in p.body["metadata"]["labels"].items() if k != NAME_LABEL}
        old_note = ((existing.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        if old_note == note and live_labels == want_labels:
            return f"{line} unchanged"
        if p.kind in ("Namespace", "Pod"):
            old_spec = json.loads(old_note).get("spec") if old_note else None
            if p.kind == "Namespace" or old_spec == p.body.get("spec"):
                # Only metadata changed: patch it (a pod's spec is mostly immutable).
                self._patch_metadata(p, existing)
                return f"{line} configured"
            # A pod whose spec changed cannot be updated in place: replace it by a new one.
            self._delete_and_wait(p.kind, p.namespace, p.name)
            self._create(p)
            return f"{line} configured"
        # PUT needs the live resourceVersion, and a Service keeps the addresses it was given.
        body = json.loads(json.dumps(p.body))
        body["metadata"]["resourceVersion"] = (existing.get("metadata") or {}).get("resourceVersion")
        if p.kind == "Service":
            live_spec = existing.get("spec") or {}
            for keep in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if keep in live_spec and keep not in body.setdefault("spec", {}):
                    body["spec"][keep] = live_spec[keep]
        try:
            self.api.replace(p.kind, p.namespace, p.name, body)
        except Exception as err:
            if not _is_api_error(err):
                raise
            if p.kind == "Service" and _status(err) == 422:  # an immutable field changed
                self._delete_and_wait(p.kind, p.namespace, p.name)
                self._create(p)
            else:
                raise self._refused(err, f"updating {line}") from None
        return f"{line} configured"

    def _create(self, p: _Prepared) -> None:
        try:
            self.api.create(p.kind, p.namespace, p.body)
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"creating {RESOURCE[p.kind]}/{p.name}") from None
        if p.kind == "Namespace":
            self._created_namespaces.add(p.name)
            self._touched_namespaces.add(p.name)

    def _patch_metadata(self, p: _Prepared, existing: Mapping[str, Any]) -> None:
        want = p.body["metadata"]
        labels: dict[str, str | None] = {k: None for k in _labels(existing) if k != NAME_LABEL}
        labels.update(want.get("labels") or {})
        patch = {"metadata": {"labels": labels, "annotations": dict(want.get("annotations") or {})}}
        try:
            self.api.patch(p.kind, p.namespace, p.name, patch)
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"updating {RESOURCE[p.kind]}/{p.name}") from None

    def _api_delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete through the API; False when it was already gone."""
        try:
            self.api.delete(kind, namespace, name, grace_period_seconds=0 if kind == "Pod" else None)
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return False
            raise self._refused(err, f"deleting {RESOURCE[kind]}/{name}") from None
        return True

    def _delete_and_wait(self, kind: str, namespace: str | None, name: str) -> None:
        self._api_delete(kind, namespace, name)
        self._wait_gone(kind, namespace, name)

    def _wait_gone(self, kind: str, namespace: str | None, name: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while self._read(kind, namespace, name) is not None:
            if time.monotonic() >= deadline:
                raise BackendError(f"{RESOURCE[kind]}/{name} is still being deleted after {self.ready_timeout:g}s")
            self._sleep(self._poll_interval)

    def _ensure_namespace(self, ns: str) -> None:
        """Create ``ns`` (labelled as ours) unless it exists; wait out a terminating one."""
        existing = self._read("Namespace", None, ns)
        if existing is not None and (existing.get("status") or {}).get("phase") == "Terminating":
            self._delete_and_wait("Namespace", None, ns)  # wait for the previous lab to go
            existing = None
        self._touched_namespaces.add(ns)
        if existing is None:
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
            }
            self._create(_Prepared("Namespace", None, ns, body))

    def _wait_ready(self, pods: Iterable[tuple[str, str]]) -> None:
        """Wait until every pod is Ready; a clear error names the first one that is not."""
        pending = list(dict.fromkeys(pods))
        deadline = time.monotonic() + self.ready_timeout
        while pending:
            late: list[tuple[str, str, dict[str, Any]]] = []
            for ns, name in pending:
                pod = self._read("Pod", ns, name)
                if pod is None:
                    raise BackendError(f"pod {ns}/{name} disappeared while waiting for it to be Ready")
                if _pod_ready(pod):
                    continue
                if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
                    raise BackendError(f"pod {ns}/{name} will never be Ready: {_pod_trouble(pod)}")
                late.append((ns, name, pod))
            if not late:
                return
            if time.monotonic() >= deadline:
                ns, name, pod = late[0]
                trouble = _pod_trouble(pod)
                hint = ""
                if "ImagePull" in trouble or "ErrImage" in trouble:
                    hint = (
                        "; offline? pre-load the image with 'kind load docker-image <image> --name "
                        "nphelpers' and set NPHELPERS_SERVER_IMAGE/NPHELPERS_CLIENT_IMAGE (kind/README.md)"
                    )
                raise BackendError(f"pod {ns}/{name} is not Ready after {self.ready_timeout:g}s: {trouble}{hint}")
            pending = [(ns, name) for ns, name, _ in late]
            self._sleep(self._poll_interval)

    # -- delete / label ----------------------------------------------------------------------
    def delete(self, kind: str, name: str, namespace: str = "default") -> str:
        """Delete one object; kubectl's line (``pod "client" deleted``)."""
        k = canonical_kind(kind)
        ns: str | None
        if k == "Namespace":
            name, ns = self._ns(name), None
            if name in PROTECTED_NAMESPACES:
                raise BackendError(f"refusing to delete namespace {name!r}: it belongs to the cluster")
        else:
            ns = self._ns(namespace)
        self._own(k, ns, name, "delete")
        if not self._api_delete(k, ns, name):
            raise self._not_found(k, ns, name)
        if k == "Namespace":
            self._created_namespaces.discard(name)
        else:
            self._wait_gone(k, ns, name)  # like kubectl: return once it is gone
        return f'{RESOURCE[k]} "{name}" deleted'

    def label(self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default") -> str:
        """Set (value) or remove (``None``) labels on a pod or namespace; kubectl's line."""
        k = canonical_kind(kind)
        if k not in ("Pod", "Namespace"):
            raise BackendError(f"labels can be changed on pods and namespaces here, not {RESOURCE[k]}")
        if MANAGED_BY_LABEL in labels:
            raise BackendError(
                f"label {MANAGED_BY_LABEL} is how nphelpers finds its objects to clean up: it cannot be changed"
            )
        ns: str | None = None if k == "Namespace" else self._ns(namespace)
        if k == "Namespace":
            name = self._ns(name)
        before = self._own(k, ns, name, "label")
        try:
            after = self.api.patch(k, ns, name, {"metadata": {"labels": dict(labels)}})
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                raise self._not_found(k, ns, name) from None
            raise self._refused(err, f"labelling {RESOURCE[k]}/{name}") from None
        return f"{RESOURCE[k]}/{name} {_label_change_message(_labels(before), _labels(after))}"

    # -- state -------------------------------------------------------------------------------
    def _namespaces_in_use(self) -> list[str]:
        """The lab namespace and every namespace this backend put objects in.

        Deliberately not every namespace labelled as nphelpers': other notebooks (each with
        its own lab namespace) may be using those right now.
        """
        return sorted(self._touched_namespaces)

    def _list(self, kind: str, ns: str, selector: str | None = MANAGED_SELECTOR) -> list[dict[str, Any]]:
        """Objects of ``kind`` in ``ns`` (by default only nphelpers' own)."""
        try:
            return list(self.api.list(kind, ns, label_selector=selector))
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return []
            raise self._refused(err, f"listing {PLURAL[kind]} in {ns}") from None

    def state(self) -> ClusterState:
        """This lab's namespaces, and the pods (with IPs and ports), services and policies
        nphelpers manages in them, under their real namespace names."""
        state = ClusterState()
        namespaces = self._namespaces_in_use()
        for ns in namespaces:
            obj = self._read("Namespace", None, ns)
            if obj is not None:
                state.apply(_for_state(obj))
        for kind in ("Pod", "Service", "NetworkPolicy"):
            for ns in namespaces:
                for obj in sorted(self._list(kind, ns), key=lambda o: o["metadata"]["name"]):
                    state.apply(_for_state(obj), ns)
        return state

    # -- probing -----------------------------------------------------------------------------
    def _probe(self, namespace: str, pod: str, url: str, timeout: int) -> ProbeResult:
        command = ["sh", "-c", wget_script(url, timeout)]
        shown = kubectl.wget_command(pod, url, timeout=timeout, namespace=namespace)  # as the simulator shows it
        try:
            raw = self.api.exec(namespace, pod, command, timeout=timeout + EXEC_GRACE)
        except Exception as err:
            if not _is_api_error(err):
                raise
            if self._read("Pod", namespace, pod) is None:
                raise self._not_found("Pod", namespace, pod) from None
            raise BackendError(f"exec in pod {namespace}/{pod} failed: {_api_message(err)}") from None
        try:
            outcome, text = parse_wget_output(raw)
        except BackendError as err:
            raise BackendError(f"pod {namespace}/{pod}: {err}") from None
        return ProbeResult(source=f"{namespace}/{pod}", url=url, outcome=outcome, output=text, command=shown)

    def wget(self, source: str, url: str, timeout: int | None = None) -> ProbeResult:
        """One ``wget -qO- --timeout=T url`` in pod ``source`` (``ns/name``; ``default/`` = the lab).

        A single probe can be fooled right after a change (see :meth:`probe_stable`).
        """
        ns, pod = self._split_key(source)
        return self._probe(ns, pod, url, self.probe_timeout if timeout is None else int(timeout))

    def probe_stable(
        self, source: str, url: str, timeout: int | None = None, *, deadline: float | None = None
    ) -> ProbeResult:
        """Probe until two consecutive verdicts agree; :class:`BackendError` past ``deadline`` s.

        Policies are programmed asynchronously, so the first probe after a change may still
        see the old rules; two agreeing answers in a row are what the lesson reports.
        """
        deadline = self.settle if deadline is None else deadline
        end = time.monotonic() + deadline
        previous = self.wget(source, url, timeout)
        seen = [previous.outcome]
        while True:
            current = self.wget(source, url, timeout)
            seen.append(current.outcome)
            if current.outcome == previous.outcome:
                return current
            if time.monotonic() >= end:
                raise BackendError(
                    f"{source} -> {url}: the verdict did not settle within {deadline:g}s "
                    f"({', '.join(seen)}); policies may still be being programmed, try again"
                )
            previous = current

    def sweep(
        self,
        pairs: Iterable[tuple[str, str]],
        port: int,
        max_workers: int = 8,
        *,
        timeout: int | None = None,
        stable: bool = True,
    ) -> dict[tuple[str, str], ProbeResult]:
        """Probe many (source pod, destination) pairs at ``http://<destination IP>:<port>/``.

        A destination is a pod key (resolved to its IP) or an IP address. Up to
        ``max_workers`` probes run at once, so a 9×9 sweep costs a few timeouts, not 81.
        Results keep the order of ``pairs``; with ``stable`` each is a :meth:`probe_stable`.
        """
        pairs = list(dict.fromkeys(pairs))
        state = self.state()
        urls: dict[tuple[str, str], str] = {}
        for src, dst in pairs:
            host = dst
            if "/" in dst:
                ns, name = self._split_key(dst)
                pod = state.pod(f"{ns}/{name}")
                if not pod.ip:
                    raise BackendError(f"pod {pod.key} has no IP address yet")
                host = pod.ip
            host = f"[{host}]" if ":" in host else host
            urls[(src, dst)] = f"http://{host}:{int(port)}/"
        probe = self.probe_stable if stable else self.wget
        with ThreadPoolExecutor(max_workers=max(1, int(max_workers)), thread_name_prefix="nphelpers-probe") as pool:
            futures = {pair: pool.submit(probe, pair[0], urls[pair], timeout) for pair in pairs}
            return {pair: fut.result() for pair, fut in futures.items()}

    # -- cleanup -------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        """Delete the objects labelled as nphelpers' in this lab's namespaces, then the
        namespaces it created (or an earlier nphelpers session did: they carry the label).

        A namespace is kept if anything not made by nphelpers is still in it.
        """
        lines: list[str] = []
        namespaces = self._namespaces_in_use()
        for ns in namespaces:
            for kind in ("NetworkPolicy", "Service", "Pod"):
                for obj in self._list(kind, ns):
                    name = str(obj["metadata"]["name"])
                    if self._api_delete(kind, ns, name):
                        lines.append(f'{RESOURCE[kind]} "{name}" deleted')
        for ns in namespaces:
            if ns in PROTECTED_NAMESPACES:
                continue
            obj = self._read("Namespace", None, ns)
            if obj is None or not (ns in self._created_namespaces or _is_managed(obj)):
                continue
            leftovers = [o for kind in ("Pod", "Service", "NetworkPolicy") for o in self._list(kind, ns, None)]
            if leftovers:
                lines.append(f'namespace "{ns}" kept: it holds {len(leftovers)} object(s) nphelpers did not create')
                continue
            self._api_delete("Namespace", None, ns)
            lines.append(f'namespace "{ns}" deleted')
        self._created_namespaces.clear()
        self._touched_namespaces = {self.namespace}
        return lines

    def close(self) -> None:
        """Release connections (does not clean up: see :meth:`cleanup`)."""
        close = getattr(self.api, "close", None)
        if callable(close):
            close()

    # -- doctor --------------------------------------------------------------------------------
    def check_enforcement(self, *, settle: float | None = None) -> str:
        """Prove that this cluster enforces NetworkPolicy, in a scratch namespace.

        Starts a server and a client, checks the client reaches the server, applies a
        deny-all ingress policy and checks the traffic stops. Raises :class:`BackendError`
        when it does not; the scratch namespace is deleted in every case.
        """
        settle = self.settle if settle is None else settle
        scratch = f"{DOCTOR_PREFIX}{secrets.token_hex(3)}"
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        ns_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": scratch, "labels": labels}}
        server = server_pod("server", {"app": "doctor-server", **labels}, namespace=scratch, image=self.images.server)
        client = client_pod("client", {"app": "doctor-client", **labels}, namespace=scratch, image=self.images.client)
        policy = deny_all_ingress(namespace=scratch)
        policy["metadata"]["labels"] = dict(labels)
        try:
            try:
                self.api.create("Namespace", None, ns_body)
                self.api.create("Pod", scratch, server)
                self.api.create("Pod", scratch, client)
            except Exception as err:
                if not _is_api_error(err):
                    raise
                raise self._refused(err, f"creating the doctor's pods in {scratch}") from None
            self._wait_ready([(scratch, "server"), (scratch, "client")])
            ip = (self._read("Pod", scratch, "server") or {}).get("status", {}).get("podIP")
            if not ip:
                raise BackendError(f"pod {scratch}/server is Ready but has no IP address")
            url = f"http://{ip}:80/"
            before = self._until(scratch, url, "allowed", settle)
            if not before.allowed:
                raise BackendError(
                    f"the cluster network is broken: a client cannot reach a server with no policy at all "
                    f"({before.output}); check 'kubectl get pods -A' for a failing CNI"
                )
            started = time.monotonic()
            try:
                self.api.create("NetworkPolicy", scratch, policy)
            except Exception as err:
                if not _is_api_error(err):
                    raise
                raise self._refused(err, "creating the doctor's deny-all policy") from None
            after = self._until(scratch, url, "blocked", settle)
            if after.outcome != "blocked":
                raise BackendError(
                    "this cluster does not enforce NetworkPolicy: traffic still flows under a deny-all "
                    f"policy (context {self.context or '?'}; use kind >= 0.25, whose default CNI enforces "
                    "policies, or on WSL2 create the cluster from kind/calico-cluster.yaml and install "
                    "Calico: see kind/README.md)"
                )
            took = time.monotonic() - started
            return (
                f"NetworkPolicy is enforced (context {self.context or '?'}): a client reached a server "
                f"without policies and was blocked ({after.output}) {took:.1f}s after a deny-all policy"
            )
        finally:
            with contextlib.suppress(Exception):  # best effort: it may never have been created
                self.api.delete("Namespace", None, scratch)

    def _until(self, namespace: str, url: str, wanted: Outcome, settle: float) -> ProbeResult:
        """Probe until ``wanted`` is seen twice in a row, or ``settle`` s pass (last result)."""
        end = time.monotonic() + settle
        streak = 0
        while True:
            result = self._probe(namespace, "client", url, self.probe_timeout)
            streak = streak + 1 if result.outcome == wanted else 0
            if streak >= 2 or time.monotonic() >= end:
                return result
            if result.outcome != wanted:
                self._sleep(self._poll_interval)

    def doctor(self) -> str:
        """A short report on the cluster: context, images, and proof of policy enforcement."""
        lines = [
            f"context: {self.context or '(injected API)'}; lab namespace: {self.namespace}",
            f"images: server {self.images.server}, client {self.images.client}",
            self.check_enforcement(),
        ]
        return "\n".join(lines)
