"""An in-memory Kubernetes API with the same calls as :class:`nphelpers.backends.live.KubeApi`.

Faithful where the live backend depends on it:

* errors are ``kubernetes.client.ApiException`` with the apiserver's status codes: 404
  NotFound, 409 AlreadyExists / Conflict (stale resourceVersion), 422 Invalid (changing
  an immutable pod spec or a Service's clusterIP), 400 when a body's namespace differs
  from the request's;
* every write bumps a global ``resourceVersion``; the server fills uid, creationTimestamp,
  the ``kubernetes.io/metadata.name`` label, pod IPs / Ready status, service clusterIPs and
  a NetworkPolicy's defaulted ``policyTypes``; deleting a namespace deletes its contents;
* ``list`` understands label selectors (``k=v``, ``k!=v``, ``k``, ``!k``, comma-joined);
* ``patch`` is a JSON merge patch (RFC 7386);
* every object the client sends (create/replace bodies, patched results) is validated
  against the Kubernetes OpenAPI schema of :data:`KUBERNETES_VERSION` with
  ``kubernetes-validate`` (strict): a schema error fails the test at once;
* ``exec`` runs the backend's wget line: it resolves the URL (pod IP, service IP or
  service DNS name), decides a verdict (a pluggable function, else NetworkPolicy
  evaluation when ``enforcing``) and prints what busybox wget prints plus ``__rc=N``.
  ``leak_first_probes`` lets a new pod's first probes through regardless of policy, as a
  real CNI may before it programs the rules; ``exec_gate`` (a ``threading.Barrier``) makes
  execs wait for each other, to prove how many run at once without timing anything;
* a new namespace gets what the cluster's controllers put into every namespace (the
  ``default`` ServiceAccount, the ``kube-root-ca.crt`` ConfigMap); ``add_other`` stores any
  other namespaced object (a student's ConfigMap, Secret, PVC...) for ``list_any``;
* ``refuse(verb, kind, name, status, message)`` makes one call fail as the apiserver would
  (e.g. 403 for an exhausted quota); ``quick()`` records which calls ran in the backend's
  short-timeout mode (``quick_calls``).
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import itertools
import json
import re
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
from kubernetes.client.exceptions import ApiException

from nphelpers.cluster import ClusterState
from nphelpers.model import NAME_LABEL, Pod
from nphelpers.policy import EGRESS, INGRESS, NetworkPolicy, Rule

KUBERNETES_VERSION = "1.31.2"  # the kindest/node tag pinned in kind/cluster.yaml
KINDS = ("Namespace", "Pod", "Service", "NetworkPolicy")
PLURAL = {
    "Namespace": "namespaces",
    "Pod": "pods",
    "Service": "services",
    "NetworkPolicy": "networkpolicies.networking.k8s.io",
}
NGINX_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
    "<h1>Welcome to nginx!</h1>\n</body>\n</html>\n"
)
# A verdict function: (source pod dict, url) -> "allowed" | "blocked" | "dns-failure" |
# "refused", or None to let the fake decide from the objects it holds.
Verdict = Callable[[Mapping[str, Any], str], "str | None"]


class SchemaError(AssertionError):
    """An object the client sent does not match the Kubernetes OpenAPI schema."""


def _error(status: int, reason: str, message: str) -> ApiException:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": status,
    }
    return ApiException(status=status, reason=reason, body=json.dumps(body))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def selector_matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Equality-based label selector, as ``kubectl -l`` takes it."""
    if not selector:
        return True
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.split("=", 1))
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def validate_object(obj: Mapping[str, Any], version: str = KUBERNETES_VERSION) -> str:
    """Validate against the newest schema ``kubernetes-validate`` ships that is <= ``version``."""
    try:
        return kubernetes_validate.validate(json.loads(json.dumps(obj)), version, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(p) for p in err.path)
        raise SchemaError(
            f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}: {path}: {err.message}"
        ) from None


class FakeKube:
    """See the module docstring. Thread-safe: the live backend probes from many threads."""

    def __init__(
        self,
        *,
        enforcing: bool = True,
        verdict: Verdict | None = None,
        leak_first_probes: int = 0,
        exec_delay: float = 0.0,
        ready_after_reads: int = 0,
        image_problem: str | None = None,
        validate: bool = True,
    ) -> None:
        self.enforcing = enforcing
        self.verdict = verdict
        self.leak_first_probes = leak_first_probes
        self.exec_delay = exec_delay
        self.ready_after_reads = ready_after_reads
        self.image_problem = image_problem  # e.g. "ImagePullBackOff": pods never start
        self.validate = validate
        # Raw exec output override: (namespace, pod, command) -> str, or None to simulate.
        self.exec_output: Callable[[str, str, Sequence[str]], str | None] | None = None
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, ns, name)
        self.calls: list[tuple[str, str, str | None, str | None]] = []  # (verb, kind, ns, name)
        self.validated: list[str] = []  # "Kind/name" of every schema-checked object
        self.exec_calls: list[tuple[str, str, str]] = []  # (namespace, pod, url)
        self.exec_gate: threading.Barrier | None = None
        self.others: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name) -> object
        self.refusals: dict[tuple[str, str, str], ApiException] = {}  # (verb, kind, name) -> error
        self.quick_calls: list[tuple[str, str, str | None, str | None]] = []  # calls made inside quick()
        self._quick = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._probes_from: dict[str, int] = {}  # pod uid -> probes so far
        self._reads: dict[str, int] = {}  # pod uid -> reads so far (for ready_after_reads)
        self._lock = threading.RLock()
        self._rv = itertools.count(1000)
        self._uid = itertools.count(1)
        self._pod_ip = itertools.count(10)
        self._svc_ip = itertools.count(20)
        self._node_port = itertools.count(31000)  # the apiserver picks at random in 30000-32767
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # -- server-side filling ------------------------------------------------------------
    def _fill(self, kind: str, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", "networking.k8s.io/v1" if kind == "NetworkPolicy" else "v1")
        meta = obj.setdefault("metadata", {})
        meta["uid"] = f"00000000-0000-0000-0000-{next(self._uid):012d}"
        meta["resourceVersion"] = str(next(self._rv))
        meta["creationTimestamp"] = "2024-11-20T10:00:00Z"
        if namespace is not None:
            meta["namespace"] = namespace
        if kind == "Namespace":
            meta["labels"] = {**(meta.get("labels") or {}), NAME_LABEL: meta["name"]}
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif kind == "Pod":
            spec = obj.setdefault("spec", {})
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("serviceAccountName", "default")
            spec["nodeName"] = "nphelpers-worker"
            for c in spec.get("containers") or []:
                c.setdefault("imagePullPolicy", "IfNotPresent")
                for port in c.get("ports") or []:
                    port.setdefault("protocol", "TCP")
            obj["status"] = self._pod_status(obj, started=False)
            if not self.ready_after_reads and not self.image_problem:
                obj["status"] = self._pod_status(obj, started=True)
        elif kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") != "None":
                spec.setdefault("clusterIP", f"10.96.0.{next(self._svc_ip)}")
            spec["clusterIPs"] = [spec["clusterIP"]]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port["port"])
                if spec["type"] in ("NodePort", "LoadBalancer"):
                    port.setdefault("nodePort", next(self._node_port))
            if spec["type"] in ("NodePort", "LoadBalancer"):
                spec.setdefault("externalTrafficPolicy", "Cluster")
        elif kind == "NetworkPolicy":
            spec = obj.setdefault("spec", {})
            if not spec.get("policyTypes"):
                spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        return obj

    def _pod_status(self, pod: Mapping[str, Any], *, started: bool) -> dict[str, Any]:
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        if not started:
            reason = self.image_problem or "ContainerCreating"
            image = (pod["spec"].get("containers") or [{}])[0].get("image")
            message = f'Back-off pulling image "{image}"' if self.image_problem else None
            waiting = {"reason": reason, **({"message": message} if message else {})}
            return {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
                ],
                "containerStatuses": [
                    {
                        "name": n,
                        "ready": False,
                        "restartCount": 0,
                        "image": "",
                        "imageID": "",
                        "state": {"waiting": waiting},
                    }
                    for n in names
                ],
            }
        ip = pod.get("status", {}).get("podIP") or f"10.244.1.{next(self._pod_ip)}"
        return {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "172.18.0.3",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": n,
                    "ready": True,
                    "restartCount": 0,
                    "image": "",
                    "imageID": "",
                    "state": {"running": {"startedAt": "2024-11-20T10:00:01Z"}},
                }
                for n in names
            ],
        }

    def add(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Put an object straight into the store (as if someone else created it)."""
        kind = obj["kind"]
        ns = None if kind == "Namespace" else (obj["metadata"].get("namespace") or "default")
        with self._lock:
            stored = self._fill(kind, dict(obj), ns)
            self.objects[(kind, ns or "", obj["metadata"]["name"])] = stored
            if kind == "Namespace":
                self.add_other("v1", "configmaps", "ConfigMap", stored["metadata"]["name"], "kube-root-ca.crt")
                self.add_other("v1", "serviceaccounts", "ServiceAccount", stored["metadata"]["name"], "default")
            return copy.deepcopy(stored)

    def add_other(self, api_version: str, plural: str, kind: str, namespace: str, name: str,
                  **fields: Any) -> None:
        """Store any other namespaced object (a ConfigMap, Secret, PVC...) as someone else made it."""
        with self._lock:
            meta = {"name": name, "namespace": namespace}
            obj = {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}
            self.others[(plural, namespace, name)] = obj

    def refuse(self, verb: str, kind: str, name: str, status: int = 403, message: str = "forbidden") -> None:
        """Make ``verb`` on ``kind``/``name`` fail as the apiserver would."""
        reason = {403: "Forbidden", 409: "Conflict", 422: "Invalid", 500: "InternalError"}.get(status, "Failure")
        self.refusals[(verb, kind, name)] = _error(status, reason, message)

    @contextlib.contextmanager
    def quick(self, timeouts: tuple[float, float] = (1.0, 2.0)) -> Iterator[None]:
        self._quick += 1
        try:
            yield
        finally:
            self._quick -= 1

    def version(self) -> dict[str, Any]:
        self._record(("version", "", None, None))
        return {"major": "1", "minor": "31", "gitVersion": f"v{KUBERNETES_VERSION}"}

    def close(self) -> None:
        pass

    # -- helpers ----------------------------------------------------------------------------
    def _record(self, call: tuple[str, str, str | None, str | None]) -> None:
        """Log one call, and raise the refusal set for it, if any."""
        self.calls.append(call)
        if self._quick:
            self.quick_calls.append(call)
        refusal = self.refusals.get((call[0], call[1], call[3] or ""))
        if refusal is not None:
            raise refusal

    def _check(self, obj: Mapping[str, Any]) -> None:
        if self.validate:
            validate_object(obj)
            self.validated.append(f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}")

    def _key(self, kind: str, namespace: str | None, name: str) -> tuple[str, str, str]:
        assert kind in KINDS, kind
        if kind == "Namespace":
            assert namespace is None, "namespaces are not namespaced"
        else:
            assert namespace, f"{kind} needs a namespace"
        return (kind, namespace or "", name)

    def _get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get(self._key(kind, namespace, name))
        if obj is None:
            raise _error(404, "NotFound", f'{PLURAL[kind]} "{name}" not found')
        return obj

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Test helper: the stored object, or None."""
        return self.objects.get(self._key(kind, namespace, name))

    def names(self, kind: str, namespace: str | None = None) -> list[str]:
        """Test helper: names of stored objects of ``kind`` (in ``namespace``)."""
        return sorted(n for (k, ns, n) in self.objects if k == kind and (namespace is None or ns == namespace))

    # -- the KubeApi calls ------------------------------------------------------------------
    def create(self, kind: str, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            name = body["metadata"]["name"]
            self._record(("create", kind, namespace, name))
            key = self._key(kind, namespace, name)
            body_ns = body["metadata"].get("namespace")
            if namespace is not None and body_ns not in (None, namespace):
                raise _error(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            self._check(body)
            if namespace is not None:
                ns = self.objects.get(("Namespace", "", namespace))
                if ns is None:
                    raise _error(404, "NotFound", f'namespaces "{namespace}" not found')
            if key in self.objects:
                raise _error(409, "AlreadyExists", f'{PLURAL[kind]} "{name}" already exists')
            stored = self._fill(kind, dict(body), namespace)
            self.objects[key] = stored
            if kind == "Namespace":  # what the cluster's controllers add to every namespace
                self.add_other("v1", "configmaps", "ConfigMap", name, "kube-root-ca.crt")
                self.add_other("v1", "serviceaccounts", "ServiceAccount", name, "default")
            return copy.deepcopy(stored)

    def read(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        with self._lock:
            self._record(("read", kind, namespace, name))
            obj = self._get(kind, namespace, name)
            if kind == "Pod" and obj["status"].get("phase") == "Pending" and not self.image_problem:
                uid = obj["metadata"]["uid"]
                self._reads[uid] = self._reads.get(uid, 0) + 1
                if self._reads[uid] >= self.ready_after_reads:
                    obj["status"] = self._pod_status(obj, started=True)
            return copy.deepcopy(obj)

    def replace(self, kind: str, namespace: str | None, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._record(("replace", kind, namespace, name))
            old = self._get(kind, namespace, name)
            self._check(body)
            rv = body["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise _error(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {PLURAL[kind]} "{name}": the object has been modified',
                )
            new = copy.deepcopy(dict(body))
            meta = new["metadata"]
            for keep in ("uid", "creationTimestamp"):
                meta[keep] = old["metadata"][keep]
            if namespace is not None:
                meta["namespace"] = namespace
            if kind == "Pod":
                # Pod updates may not change the spec (beyond images etc.): PUT must resend it whole.
                filled = self._fill("Pod", new, namespace)
                filled["spec"]["nodeName"] = old["spec"].get("nodeName")
                if filled["spec"] != old["spec"]:
                    raise _error(
                        422,
                        "Invalid",
                        f'Pod "{name}" is invalid: spec: Forbidden: pod updates may '
                        "not change fields other than `spec.containers[*].image`...",
                    )
                new["spec"], new["status"] = old["spec"], old["status"]
            elif kind == "Service":
                spec = new.setdefault("spec", {})
                if spec.get("clusterIP", old["spec"].get("clusterIP")) != old["spec"].get("clusterIP"):
                    raise _error(
                        422,
                        "Invalid",
                        f'Service "{name}" is invalid: spec.clusterIPs[0]: Invalid value: field is immutable',
                    )
                spec.setdefault("clusterIP", old["spec"].get("clusterIP"))
                spec["clusterIPs"] = [spec["clusterIP"]]
                new = self._fill_keep(kind, new, old)
            elif kind == "NetworkPolicy":
                new = self._fill_keep(kind, new, old)
            elif kind == "Namespace":
                new["metadata"]["labels"] = {**(meta.get("labels") or {}), NAME_LABEL: name}
                new["spec"], new["status"] = old["spec"], old["status"]
            new["metadata"]["resourceVersion"] = str(next(self._rv))
            self.objects[self._key(kind, namespace, name)] = new
            return copy.deepcopy(new)

    def _fill_keep(self, kind: str, new: dict[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
        filled = self._fill(kind, new, new["metadata"].get("namespace"))
        filled["metadata"]["uid"] = old["metadata"]["uid"]
        return filled

    def patch(self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._record(("patch", kind, namespace, name))
            old = self._get(kind, namespace, name)
            new = merge_patch(old, patch)
            if kind == "Namespace":  # the apiserver always keeps this label
                new["metadata"]["labels"] = {**(new["metadata"].get("labels") or {}), NAME_LABEL: name}
            self._check(new)
            new["metadata"]["resourceVersion"] = str(next(self._rv))
            self.objects[self._key(kind, namespace, name)] = new
            return copy.deepcopy(new)

    def delete(self, kind: str, namespace: str | None, name: str, *, grace_period_seconds: int | None = None) -> None:
        with self._lock:
            self._record(("delete", kind, namespace, name))
            self._get(kind, namespace, name)
            del self.objects[self._key(kind, namespace, name)]
            if kind == "Namespace":
                for key in [k for k in self.objects if k[1] == name and k[0] != "Namespace"]:
                    del self.objects[key]
                for other in [k for k in self.others if k[1] == name]:
                    del self.others[other]

    def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._record(("list", kind, namespace, label_selector))
            return [
                copy.deepcopy(obj)
                for (k, ns, _), obj in sorted(self.objects.items())
                if k == kind
                and (namespace is None or ns == namespace)
                and selector_matches(label_selector, obj["metadata"].get("labels") or {})
            ]

    def list_any(self, api_version: str, plural: str, namespace: str, *, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            self._record(("list_any", plural, namespace, None))
            found = [o for (p, ns, _), o in sorted(self.others.items()) if p == plural and ns == namespace]
            return copy.deepcopy(found[:limit])

    def exec(self, namespace: str, pod: str, command: Sequence[str], *, timeout: float | None = None) -> str:
        with self._lock:
            src = copy.deepcopy(self._get("Pod", namespace, pod))
            if src["status"].get("phase") != "Running":
                raise _error(400, "BadRequest", f"container not found ({pod})")
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.exec_gate is not None:
                self.exec_gate.wait()
            if self.exec_delay:
                time.sleep(self.exec_delay)
            words = self._script_words(command)
            with self._lock:
                if words[0] != "wget":
                    self.exec_calls.append((namespace, pod, " ".join(words)))
                    if self.exec_output is not None:
                        raw = self.exec_output(namespace, pod, command)
                        if raw is not None:
                            return raw
                    text, rc = self._probe(src, words)
                    return f"{text}\n__rc={rc}\n"
            url, wget_timeout = self._parse_command(command)
            with self._lock:
                self.exec_calls.append((namespace, pod, url))
                if self.exec_output is not None:
                    raw = self.exec_output(namespace, pod, command)
                    if raw is not None:
                        return raw
                text, rc = self._simulate(src, url)
            return f"{text}\n__rc={rc}\n"
        finally:
            with self._lock:
                self.in_flight -= 1

    # -- nc and agnhost connect: judged by nphelpers.traffic, printed as the tools print ----------
    @staticmethod
    def _script_words(command: Sequence[str]) -> list[str]:
        assert list(command[:2]) == ["sh", "-c"], command
        assert "__rc=" in command[2], "the command must print its own exit status"
        return shlex.split(command[2].split(" 2>&1;", 1)[0])

    def _probe(self, src_obj: Mapping[str, Any], words: list[str]) -> tuple[str, int]:
        """What ``nc -v -w T HOST PORT </dev/null`` or ``/agnhost connect HOST:PORT ...`` prints in ``src_obj``."""
        from nphelpers import busybox, traffic

        state = self._traffic_state()
        src = Pod.from_manifest(src_obj)
        if words[0] == "nc":
            assert words[1:3] == ["-v", "-w"] and words[-1] == "</dev/null", words
            host, port = words[4], int(words[5])
            conn = traffic.connect(state, src, host, port, "TCP", {})
            conn = self._leaky(src_obj, conn)
            if conn.outcome == "dns-failure":
                return busybox.nc_bad_address(host), 1
            if conn.outcome == "blocked":
                return busybox.nc_timed_out(host, str(conn.address), port), 1
            if conn.outcome == "refused":
                return "", 1
            sent = traffic.tcp_greeting(conn.pod, conn.port) if conn.pod is not None else ""
            return busybox.nc_open(host, str(conn.address), port) + ("\n" + sent if sent else ""), 0
        assert words[:2] == ["/agnhost", "connect"], words
        if not any(traffic.is_image(c.image, "agnhost") for c in src.containers):
            return "sh: /agnhost: not found", 127
        target, timeout, protocol = words[2], words[3], words[4]
        assert timeout.startswith("--timeout=") and timeout.endswith("s") and protocol.startswith("--protocol="), words
        host, _, port_text = target.rpartition(":")
        proto = protocol.split("=", 1)[1].upper()
        conn = self._leaky(src_obj, traffic.connect(state, src, host.strip("[]"), int(port_text), proto, {}))
        if conn.outcome == "allowed":
            return "", 0
        if conn.outcome == "dns-failure":
            dns = traffic.dns_verdict(state, src)
            return busybox.agnhost_dns_failure(host, "10.96.0.10:53", dns is None or not dns.allowed), 1
        local = f"{src.ip}:{40000 + next(self._uid) % 20000}"  # the kernel's ephemeral pick
        return busybox.agnhost_failure(proto, conn.outcome, local, f"{conn.address}:{port_text}"), 1

    def _traffic_state(self) -> ClusterState:
        """The store as nphelpers.traffic sees a cluster: plus kind's CoreDNS pods in kube-system (not
        listed by the fake's API, so the backend's tests see only what they made)."""
        state = self._state()
        for i in range(2):
            state.apply({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"coredns-{i}", "namespace": "kube-system",
                                      "labels": {"k8s-app": "kube-dns"}},
                         "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns",
                                                  "ports": [{"containerPort": 53, "protocol": "UDP"}]}]},
                         "status": {"podIP": f"10.244.0.{2 + i}"}})
        if not self.enforcing:
            state.policies.clear()
        return state

    def _leaky(self, src_obj: Mapping[str, Any], conn: Any) -> Any:
        """Policies not yet programmed let a new pod's first probes through (``leak_first_probes``)."""
        from dataclasses import replace

        from nphelpers import traffic

        if conn.outcome == "blocked" and conn.pod is not None and self._leaks(src_obj):
            return replace(conn, outcome="allowed" if traffic.listens(conn.pod, conn.port, conn.protocol)
                           else "refused")
        return conn

    # -- nodes and clients outside the cluster --------------------------------------------------
    HOST_ADDRESS = "172.18.0.1"  # this machine on kind's docker network

    def nodes(self) -> list[tuple[str, str]]:
        from nphelpers import traffic

        return [(n.name, n.ip) for n in traffic.KIND_NODES]

    def dial(self, address: str, port: int, path: str, timeout: float) -> tuple[str, int, str]:
        """An HTTP GET from this machine to ``address:port`` (a node's NodePort), judged by nphelpers.traffic."""
        from nphelpers import traffic

        with self._lock:
            state = self._traffic_state()
            conn = traffic.from_outside(state, traffic.KIND_NODES, self.HOST_ADDRESS, address, int(port), "TCP")
            if conn.outcome != "allowed" or conn.pod is None:
                return conn.outcome, 0, ""
            status, body = traffic.http_response(conn.pod, conn.port, path)
            return "allowed", status, NGINX_PAGE if body.startswith("<!DOCTYPE html>") else body

    # -- wget simulation --------------------------------------------------------------------
    @staticmethod
    def _parse_command(command: Sequence[str]) -> tuple[str, int]:
        assert list(command[:2]) == ["sh", "-c"], command
        words = shlex.split(command[2])
        assert words[:2] == ["wget", "-qO-"], words
        timeout = int(words[2].removeprefix("--timeout="))
        assert "__rc=" in command[2], "the command must print its own exit status"
        return words[3], timeout

    def _state(self) -> ClusterState:
        objs = [o for (k, _, _), o in sorted(self.objects.items(), key=lambda kv: KINDS.index(kv[0][0]))]
        return ClusterState.from_objects(o for o in objs if o.get("kind") in KINDS)

    def _simulate(self, src_obj: Mapping[str, Any], url: str) -> tuple[str, int]:
        """What busybox wget prints for ``url`` from ``src_obj``, and its exit status."""
        state = self._state()
        src = Pod.from_manifest(src_obj)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or 80
        dst: Pod | None = None
        ip = host
        target_port: int | None = port
        try:
            ipaddress.ip_address(host)
            is_ip = True
        except ValueError:
            is_ip = False
        svc = state.service_by_ip(host) if is_ip else self._lookup_service(state, src, host)
        dns_ok = is_ip or (svc is not None and self._dns_allowed(state, src))
        if not is_ip and svc is not None:
            ip = svc.cluster_ip or host
        if svc is not None:
            sp = svc.port_for(port)
            endpoints = state.endpoints(svc)
            if sp is not None and endpoints:
                dst = endpoints[0]
                tp = sp.target_port
                target_port = dst.resolve_port(tp, "TCP") if isinstance(tp, str) else int(tp)
            else:
                target_port = None
        elif is_ip:
            dst = state.pod_by_ip(host)

        outcome = self.verdict(src_obj, url) if self.verdict else None
        if outcome is None:
            if not dns_ok:
                outcome = "dns-failure"
            elif svc is not None and dst is None:
                outcome = "refused"  # a service without endpoints (or without that port)
            elif dst is None:
                outcome = "blocked"  # an address nobody has
            elif self.enforcing and not self._leaks(src_obj) and not self._allowed(state, src, dst, target_port):
                outcome = "blocked"
            elif target_port is None or not dst.serves(target_port, "TCP"):
                outcome = "refused"
            else:
                outcome = "allowed"
        if outcome == "allowed":
            from nphelpers import traffic

            if dst is not None and target_port and any(traffic.is_image(c.image, "agnhost") for c in dst.containers):
                return traffic.http_response(dst, target_port, parts.path or "/")[1], 0  # serve-hostname: its name
            if (parts.path or "/") not in ("/", "/index.html"):  # nginx's default server: 404 elsewhere
                return "wget: server returned error: HTTP/1.1 404 Not Found", 1
            return NGINX_PAGE, 0
        if outcome == "blocked":
            return "wget: download timed out", 1
        if outcome == "dns-failure":
            return f"wget: bad address '{host}'", 1
        if outcome == "refused":
            return f"wget: can't connect to remote host ({ip}): Connection refused", 1
        raise AssertionError(f"unknown verdict {outcome!r}")

    def _leaks(self, src_obj: Mapping[str, Any]) -> bool:
        """A new pod's first ``leak_first_probes`` probes get through (policy not yet programmed)."""
        uid = src_obj["metadata"]["uid"]
        seen = self._probes_from.get(uid, 0)
        self._probes_from[uid] = seen + 1
        return seen < self.leak_first_probes

    @staticmethod
    def _lookup_service(state: ClusterState, src: Pod, host: str) -> Any:
        """Cluster DNS: ``svc``, ``svc.ns``, ``svc.ns.svc[.cluster.local]``."""
        m = re.fullmatch(r"([a-z0-9-]+)(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?", host)
        if not m:
            return None
        return state.services.get(f"{m.group(2) or src.namespace}/{m.group(1)}")

    def _dns_allowed(self, state: ClusterState, src: Pod) -> bool:
        """Egress-isolated pods resolve names only through a rule that lets UDP 53 out to kind's CoreDNS
        pods (k8s-app=kube-dns in kube-system): its peers count, not only its port."""
        if not self.enforcing:
            return True
        egress = [p for p in state.policies.values() if p.selects(src) and p.affects(EGRESS)]
        if not egress:
            return True
        full = self._traffic_state()
        dns_pods = [p for p in full.pods.values()
                    if p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns"]
        return any((not r.peers or any(x.matches_pod(dns, full.namespace_of(dns), p.namespace) for x in r.peers))
                   and r.port_matches(53, "UDP", dns) is not None
                   for dns in dns_pods for p in egress for r in p.egress)

    @staticmethod
    def _admits(rule: Rule, peer: Pod, state: ClusterState, policy: NetworkPolicy, port: int | None, dst: Pod) -> bool:
        peers_ok = not rule.peers or any(
            x.matches_pod(peer, state.namespace_of(peer), policy.namespace) for x in rule.peers
        )
        return peers_ok and port is not None and rule.port_matches(port, "TCP", dst) is not None

    def _allowed(self, state: ClusterState, src: Pod, dst: Pod, port: int | None) -> bool:
        """NetworkPolicy semantics for pod-to-pod TCP: both directions must admit it."""
        ingress = [p for p in state.policies.values() if p.selects(dst) and p.affects(INGRESS)]
        if ingress and not any(self._admits(r, src, state, p, port, dst) for p in ingress for r in p.ingress):
            return False
        egress = [p for p in state.policies.values() if p.selects(src) and p.affects(EGRESS)]
        return not egress or any(self._admits(r, dst, state, p, port, dst) for p in egress for r in p.egress)
