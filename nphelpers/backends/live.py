"""The live backend: the lesson's objects in a real kind cluster, probed with busybox wget.

:class:`LiveBackend` implements :class:`~nphelpers.backends.base.Backend` on the official
``kubernetes`` client and returns the same facts as the simulator (``Applied``, ``Deleted``,
``Kept``, ``Labeled``); :mod:`nphelpers.kubectl` renders them. It is a guest in someone's
cluster; the rules, all visible to a student:

* **Only local kind clusters** (:mod:`.kubeconfig`): context ``kind-X`` with cluster and user
  ``kind-X`` and a loopback server, unless the user opts in.
* **One namespace rule.** Lesson namespaces are used as named, except ``default``, which is
  the lab's own namespace (``nphelpers-lab`` unless ``lab_namespace=`` names another): a lesson
  never writes into the cluster's real ``default``. Facts and :meth:`LiveBackend.state` speak
  lesson names (``default/apiserver``), so both backends print the same. A lesson may not name
  the lab namespace itself. ``namespace=`` is the lesson namespace for objects that name none.
  One limit: on the cluster the label ``kubernetes.io/metadata.name`` of the lesson's
  ``default`` says ``nphelpers-lab``, so a policy selecting that namespace by this label with
  the value ``default`` matches nothing there; lessons select namespaces by labels of their own.
* **Ownership it can prove.** Every object and namespace it creates carries the label
  ``app.kubernetes.io/managed-by=nphelpers`` and the annotation ``nphelpers.io/lab-id`` with
  a random id of this backend. Anything without both is someone else's: ``apply`` refuses,
  before sending anything of the batch, to touch such an object or to put objects into such a
  namespace; ``delete`` and ``label`` refuse too. An nphelpers object of another (e.g. a
  restarted) lab is adopted by ``apply`` (re-stamped with this lab's id).
* **Cleanup deletes only this lab's objects** (its id), policies first, and a namespace only if
  it carries this lab's id and nothing else lives in it (:data:`OTHER_RESOURCES`).
* **All or nothing.** When the cluster refuses an object of a batch (or a pod never gets
  Ready, or Ctrl-C), what the batch created is deleted again and what it configured is put
  back as it was.
* **Every call is bounded** (:mod:`.kubeapi`): connect/read timeouts, no client retries;
  after Ctrl-C cleanup uses short timeouts and a budget of :data:`CLEANUP_BUDGET` seconds.
* **Probes are honest about races.** A denied packet is dropped, so a blocked probe is a
  timeout; a new pod can slip a first connection through before its policy is programmed,
  so :meth:`LiveBackend.probe_stable` re-probes until two verdicts agree. The exec'd command
  prints its own exit status (``__rc=N``) because the exec return code is unreliable.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import kubectl
from ..busybox import hostport as busybox_hostport
from ..cluster import ClusterState
from ..errors import BackendError, NotFoundError, UsageError
from ..kinds import KINDS, canonical_kind
from ..model import NAME_LABEL
from ..traffic import is_image
from . import live_probes
from .base import Applied, Deleted, Kept, Labeled, Outcome, OutsideProbe, Probe, ProbeResult
from .kubeapi import DEFAULT_TIMEOUTS, KubeApi, Timeouts
from .kubeconfig import ALLOW_CONTEXT_ENV, check_context, current_context, detect_kind_context, read_kubeconfig
from .live_manifests import Images, client_pod, deny_all_ingress, server_pod, with_quick_dns
from .live_probes import parse_wget_output, wget_script

__all__ = [
    "ALLOW_CONTEXT_ENV", "DEFAULT_TIMEOUTS", "KubeApi", "LiveBackend", "check_context", "detect_kind_context",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "nphelpers"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
LAB_ID_ANNOTATION = "nphelpers.io/lab-id"  # which lab created an object: the proof cleanup needs
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the same note kubectl keeps
LAB_NAMESPACE = "nphelpers-lab"
DOCTOR_PREFIX = "nphelpers-doctor-"
# Never deleted, whatever their labels say.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
# What else may live in a namespace: cleanup keeps a namespace holding any of these (besides
# what every namespace gets from the cluster's controllers, see _CLUSTER_MADE). Listed by
# name rather than by discovery: a fixed set of cheap calls, each bounded like every call.
OTHER_RESOURCES: tuple[tuple[str, str, str], ...] = (  # (apiVersion, plural, kind)
    ("v1", "configmaps", "ConfigMap"),
    ("v1", "secrets", "Secret"),
    ("v1", "serviceaccounts", "ServiceAccount"),
    ("v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ("v1", "replicationcontrollers", "ReplicationController"),
    ("v1", "podtemplates", "PodTemplate"),
    ("apps/v1", "deployments", "Deployment"),
    ("apps/v1", "replicasets", "ReplicaSet"),
    ("apps/v1", "statefulsets", "StatefulSet"),
    ("apps/v1", "daemonsets", "DaemonSet"),
    ("batch/v1", "jobs", "Job"),
    ("batch/v1", "cronjobs", "CronJob"),
    ("networking.k8s.io/v1", "ingresses", "Ingress"),
    ("rbac.authorization.k8s.io/v1", "roles", "Role"),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget"),
    ("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
)
_CLUSTER_MADE = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}  # in every namespace

SETTLE_SECONDS = 30.0  # how long probe_stable waits for two agreeing verdicts...
SETTLE_ATTEMPTS = 12  # ...and at most this many probes, however fast they are
EXEC_GRACE = 15.0  # extra seconds the exec call gets beyond wget's own --timeout (slow DNS)
CLEANUP_BUDGET = 5.0  # seconds cleanup may take after Ctrl-C (short timeouts, then it stops)
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation",
                  "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")


# -- helpers on API dicts ----------------------------------------------------------------
def _status(err: BaseException) -> int | None:
    return getattr(err, "status", None)


def _is_api_error(err: BaseException) -> bool:
    """An answer from the apiserver (ApiException, with an HTTP status), not a bug or a BackendError."""
    return isinstance(_status(err), int) and not isinstance(err, BackendError)


def _api_message(err: BaseException) -> str:
    """The apiserver's own message from an ApiException body, else its reason (one line, bounded)."""
    body = getattr(err, "body", None)
    try:
        msg = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        msg = None
    text = str(msg or getattr(err, "reason", None) or err)
    return (text.splitlines() or [""])[0][:300]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("annotations") or {})


def _lab_id(obj: Mapping[str, Any]) -> str | None:
    """The lab that created ``obj``, if nphelpers did (the managed-by label and a lab id); else None."""
    if _labels(obj).get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
        return None
    return _annotations(obj).get(LAB_ID_ANNOTATION) or None


def _terminating(obj: Mapping[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp")) or (obj.get("status") or {}).get("phase") == "Terminating"


def _fresh(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A live object as a body to create or send again: without status and server fields."""
    body: dict[str, Any] = json.loads(json.dumps(obj))
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    return body


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
            detail = f": {str(waiting['message'])[:200]}" if waiting.get("message") else ""
            parts.append(f"container {cs.get('name')} {waiting['reason']}{detail}")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("reason"):
            msg = f": {str(cond['message'])[:200]}" if cond.get("message") else ""
            parts.append(f"{cond.get('type')} {cond['reason']}{msg}")
    return ", ".join(parts)


def _shorten(items: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


@dataclass
class _Prepared:
    kind: str
    lesson_ns: str | None  # the lesson's namespace (None for Namespace objects)
    real_ns: str | None  # where it lives in the cluster
    name: str  # the real name (a Namespace's real name)
    lesson_name: str  # the name the lesson uses (differs for the lab namespace: "default")
    body: dict[str, Any]


@dataclass
class _Journal:
    """Undo steps of one apply batch, run newest first if the batch fails."""

    steps: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add(self, what: str, undo: Callable[[], None]) -> None:
        self.steps.append((what, undo))


# -- the backend ---------------------------------------------------------------------------
class LiveBackend:
    """A kind cluster behind the :class:`~nphelpers.backends.base.Backend` verbs.

    ``with LiveBackend() as b:`` cleans up on errors and Ctrl-C. See the module docstring
    for the namespace rule, what it touches, and cleanup.
    """

    name = "kind"

    def __init__(
        self,
        context: str | None = None,
        *,
        namespace: str = "default",
        lab_namespace: str = LAB_NAMESPACE,
        allow_any_context: bool = False,
        images: Images | None = None,
        probe_timeout: int = 2,
        ready_timeout: float = 120,
        timeouts: Timeouts | None = None,
        api: KubeApi | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        dns_label = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
        for what, value in (("lesson namespace", namespace), ("lab namespace", lab_namespace)):
            if not re.fullmatch(dns_label, str(value)):
                raise BackendError(f"invalid {what} {value!r}: use lowercase letters, digits and '-'")
        if lab_namespace in PROTECTED_NAMESPACES:
            raise BackendError(
                f"refusing lab namespace {lab_namespace!r}: it belongs to the cluster; the lab keeps the lesson's "
                f"'default' namespace in a namespace of its own (default {LAB_NAMESPACE})"
            )
        self.lab_namespace = lab_namespace  # the real namespace standing in for the lesson's "default"
        self.namespace = namespace  # the lesson namespace of objects that name none
        self._real(namespace)  # a lesson may not name the lab namespace itself
        config = None
        if api is None:
            config = read_kubeconfig()
            context = current_context(config) if context is None else context
        check_context(context, allow_any_context, config)
        self.context = context
        self.images = images or Images.from_env()
        self.probe_timeout = int(probe_timeout)
        self.ready_timeout = float(ready_timeout)
        self.lab_id = secrets.token_hex(8)  # set on everything this backend creates
        self._clock = clock
        self._sleep = sleep
        self._poll_interval = 0.5
        self.settle = SETTLE_SECONDS  # seconds probe_stable / the doctor wait for a steady verdict
        self.settle_attempts = SETTLE_ATTEMPTS
        self.api = api if api is not None else KubeApi.from_kubeconfig(
            context, config, timeouts=timeouts or DEFAULT_TIMEOUTS
        )
        self._touched_namespaces: set[str] = {self._real(namespace)}  # real namespaces this lab used
        try:
            self.api.version()  # fail now, in one line, if the cluster does not answer
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise BackendError(f"the Kubernetes API refused GET /version: {_api_message(err)}") from None

    def __repr__(self) -> str:
        return f"LiveBackend(context={self.context!r}, lab_namespace={self.lab_namespace!r})"

    # -- context manager: clean up whatever happens (exceptions, KeyboardInterrupt) ---------
    def __enter__(self) -> LiveBackend:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if isinstance(exc, KeyboardInterrupt):
                self.cleanup_quickly()
            else:
                self.cleanup()
        except Exception as err:
            if exc is None:
                raise
            # Do not hide the error that got us here; say what could not be cleaned.
            warnings.warn(f"nphelpers cleanup failed: {err}", RuntimeWarning, stacklevel=2)

    # -- names ------------------------------------------------------------------------------
    def _real(self, namespace: str | None) -> str:
        """The cluster's namespace for a lesson's: ``default`` is the lab namespace, others as named."""
        ns = namespace or self.namespace
        if ns == "default":
            return self.lab_namespace
        if ns == self.lab_namespace:
            raise UsageError(
                f"namespace {ns!r} is where this lab keeps the lesson's 'default' namespace on the cluster: "
                "name the lesson's namespaces otherwise (or say 'default')"
            )
        return ns

    def _lesson(self, real: str) -> str:
        return "default" if real == self.lab_namespace else real

    def _split_key(self, key: str) -> tuple[str, str, str]:
        """``ns/name`` (or ``name``) → (lesson namespace, real namespace, name)."""
        ns, _, name = key.rpartition("/")
        lesson = ns or self.namespace
        return lesson, self._real(lesson), name

    @staticmethod
    def _where(real: str | None, lesson: str | None) -> str:
        if real is None:
            return ""
        return f' in namespace "{real}"' + (f" (the lesson's {lesson!r})" if lesson and lesson != real else "")

    def _not_found(self, kind: str, lesson_ns: str | None, name: str) -> NotFoundError:
        where = f' in namespace "{lesson_ns}"' if lesson_ns else ""
        return NotFoundError(f'{KINDS[kind].plural_resource} "{name}" not found{where}')

    def _refused(self, err: BaseException, what: str) -> BackendError:
        return BackendError(f"the API server refused {what}: {_api_message(err)}")

    def _foreign(self, kind: str, real_ns: str | None, name: str, lesson_ns: str | None, verb: str) -> BackendError:
        word = KINDS[kind].word
        where = self._where(real_ns, lesson_ns)
        ns_flag = f" -n {real_ns}" if real_ns else ""
        return BackendError(
            f'refusing to {verb}: {word} "{name}"{where} exists and nphelpers did not create it '
            f"(no {MANAGED_SELECTOR} label and {LAB_ID_ANNOTATION} annotation); pick another name"
            f"{' or namespace' if kind != 'Namespace' else ''} for the lesson, or delete it yourself if it is "
            f"yours to delete (kubectl delete {word} {name}{ns_flag})"
        )

    def _read(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.api.read(kind, namespace, name)  # type: ignore[no-any-return]
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return None
            raise self._refused(err, f"reading {KINDS[kind].word}/{name}") from None

    def _own(self, kind: str, real_ns: str | None, name: str, lesson_ns: str | None, verb: str) -> dict[str, Any]:
        """The object, if nphelpers created it; a guest in someone's cluster changes nothing else."""
        obj = self._read(kind, real_ns, name)
        if obj is None:
            raise self._not_found(kind, lesson_ns, name)
        if _lab_id(obj) is None:
            raise self._foreign(kind, real_ns, name, lesson_ns, verb)
        return obj

    # -- apply ------------------------------------------------------------------------------
    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[Applied]:
        """Create or configure manifests; one :class:`Applied` per object, in the order given.

        Checked first (nothing is sent if any object or namespace of the batch belongs to someone
        else); namespaces are applied first; then the call waits until every applied pod is Ready.
        If anything fails (a refusal, a pod that never gets Ready, Ctrl-C), the batch is undone.
        """
        prepared = [self._prepare(obj) for obj in objects]
        namespaces, existing = self._check(prepared)
        journal = _Journal()
        facts: list[Applied | None] = [None] * len(prepared)
        try:
            for ns in sorted(namespaces):
                self._ensure_namespace(ns, namespaces[ns], journal)
            for i in sorted(range(len(prepared)), key=lambda i: prepared[i].kind != "Namespace"):
                p = prepared[i]
                action = self._apply_one(p, existing[i], journal)
                facts[i] = Applied(p.kind, p.lesson_name, p.lesson_ns, action)  # type: ignore[arg-type]
            self._wait_ready([(p.real_ns or "", p.name) for p in prepared if p.kind == "Pod"])
        except BaseException as err:
            quick = isinstance(err, KeyboardInterrupt)
            undone, failed = self._undo(journal, quick=quick)
            if isinstance(err, BackendError):
                summary = "nothing was changed" if not journal.steps else f"the batch was rolled back ({undone})"
                if failed:
                    summary = f"rolling the batch back failed for {_shorten(failed)}"
                raise BackendError(f"{err}; {summary}") from None
            if failed:
                warnings.warn(f"nphelpers could not roll back {_shorten(failed)}", RuntimeWarning, stacklevel=2)
            raise
        return [f for f in facts if f is not None]

    def _prepare(self, obj: Mapping[str, Any]) -> _Prepared:
        body: dict[str, Any] = json.loads(json.dumps(obj))  # a plain, private deep copy
        kind = str(body.get("kind"))
        if kind not in KINDS:
            raise BackendError(f"cannot apply kind {kind!r}: expected one of {', '.join(KINDS)}")
        body.setdefault("apiVersion", KINDS[kind].api_version)
        body.pop("status", None)
        meta = body.setdefault("metadata", {})
        for server_field in _SERVER_FIELDS:
            meta.pop(server_field, None)
        lesson_ns: str | None
        real_ns: str | None
        if kind == "Namespace":
            lesson_name = str(meta["name"])
            meta["name"] = self._real(lesson_name)
            meta.pop("namespace", None)
            lesson_ns = real_ns = None
        else:
            lesson_name = str(meta["name"])
            lesson_ns = str(meta.get("namespace") or self.namespace)
            real_ns = meta["namespace"] = self._real(lesson_ns)
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in (LAST_APPLIED, LAB_ID_ANNOTATION)}
        if notes:
            meta["annotations"] = notes
        else:
            meta.pop("annotations", None)
        spec = body.get("spec") or {}
        # A Service's addresses are the cluster's to choose (the simulator's may be taken).
        if kind == "Service" and spec.get("clusterIP") not in (None, "None"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if kind == "Pod":
            for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
                if c.get("image"):
                    c["image"] = self.images.swap(str(c["image"]))
            with_quick_dns(spec)  # a blocked lookup fails within the probe's budget
        return _Prepared(kind, lesson_ns, real_ns, str(meta["name"]), lesson_name, body)

    def _check(self, prepared: Sequence[_Prepared]) -> tuple[dict[str, dict[str, Any] | None], list[Any]]:
        """Read every namespace and object the batch touches; refuse anything nphelpers did not create.

        Returns the namespaces to ensure (real name → live object or None) and each object's live state.
        """
        in_batch = {p.name: p for p in prepared if p.kind == "Namespace"}
        needed = {p.real_ns for p in prepared if p.real_ns} - set(in_batch)
        namespaces: dict[str, dict[str, Any] | None] = {}
        for ns in sorted(needed | set(in_batch)):
            live = self._read("Namespace", None, ns)
            if live is not None and _lab_id(live) is None:
                err = self._foreign("Namespace", None, ns, None, "apply")
                if ns in needed:
                    err = BackendError(f"{err}; nphelpers only puts the lesson's objects into namespaces it created")
                raise err
            if ns in needed:
                namespaces[ns] = live
        existing: list[Any] = []
        for p in prepared:
            if p.kind == "Namespace":
                live = self._read("Namespace", None, p.name)
            elif p.real_ns in namespaces and namespaces[p.real_ns] is None:
                live = None  # its namespace does not exist yet: nothing to collide with
            else:
                live = self._read(p.kind, p.real_ns, p.name)
            if live is not None and _lab_id(live) is None:
                raise self._foreign(p.kind, p.real_ns, p.name, p.lesson_ns, "apply")
            existing.append(live)
        return namespaces, existing

    def _seal(self, body: dict[str, Any]) -> str:
        """Record the applied manifest in kubectl's annotation and stamp this lab's id; the recorded JSON."""
        meta = body["metadata"]
        notes = dict(meta.get("annotations") or {})
        note = json.dumps(body, sort_keys=True, separators=(",", ":"))
        meta["annotations"] = {**notes, LAST_APPLIED: note, LAB_ID_ANNOTATION: self.lab_id}
        return note

    def _apply_one(self, p: _Prepared, live: dict[str, Any] | None, journal: _Journal) -> str:
        note = self._seal(p.body)
        if p.kind == "Namespace":
            self._touched_namespaces.add(p.name)
        if live is not None and _terminating(live):
            self._wait_gone(p.kind, p.real_ns, p.name)
            live = None
        if live is None:
            self._create(p.kind, p.real_ns, p.name, p.body, journal)
            return "created"
        live_labels = {k: v for k, v in _labels(live).items() if k != NAME_LABEL}
        want_labels = {k: v for k, v in p.body["metadata"]["labels"].items() if k != NAME_LABEL}
        notes = _annotations(live)
        if notes.get(LAST_APPLIED) == note and live_labels == want_labels:
            if notes.get(LAB_ID_ANNOTATION) != self.lab_id:  # another lab's: adopt it, quietly
                self._patch_metadata(p, live, journal)
            return "unchanged"
        old_note = notes.get(LAST_APPLIED)
        if p.kind in ("Namespace", "Pod"):
            old_spec = json.loads(old_note).get("spec") if old_note else None
            if p.kind == "Namespace" or old_spec == p.body.get("spec"):
                # Only metadata changed: patch it (a pod's spec is mostly immutable).
                self._patch_metadata(p, live, journal)
                return "configured"
            # A pod whose spec changed cannot be updated in place: replace it by a new one.
            self._recreate(p, live, journal)
            return "configured"
        # PUT needs the live resourceVersion, and a Service keeps the addresses it was given.
        body = json.loads(json.dumps(p.body))
        body["metadata"]["resourceVersion"] = _meta(live).get("resourceVersion")
        if p.kind == "Service":
            live_spec = live.get("spec") or {}
            for keep in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if keep in live_spec and keep not in body.setdefault("spec", {}):
                    body["spec"][keep] = live_spec[keep]
        try:
            self.api.replace(p.kind, p.real_ns, p.name, body)
        except Exception as err:
            if not _is_api_error(err):
                raise
            if p.kind == "Service" and _status(err) == 422:  # an immutable field changed
                self._recreate(p, live, journal)
                return "configured"
            raise self._refused(err, f"updating {KINDS[p.kind].word}/{p.name}") from None
        journal.add(f"{KINDS[p.kind].word}/{p.name}", lambda: self._put_back(p.kind, p.real_ns, p.name, live))
        return "configured"

    def _create(self, kind: str, ns: str | None, name: str, body: Mapping[str, Any], journal: _Journal) -> None:
        try:
            self.api.create(kind, ns, body)
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"creating {KINDS[kind].word}/{name}") from None
        journal.add(f"{KINDS[kind].word}/{name}", lambda: self._api_delete(kind, ns, name))
        if kind == "Namespace":
            self._touched_namespaces.add(name)

    def _recreate(self, p: _Prepared, live: Mapping[str, Any], journal: _Journal) -> None:
        """Delete and create again (a pod's spec, a Service's immutable fields); undo creates the old one."""
        self._delete_and_wait(p.kind, p.real_ns, p.name)
        old = _fresh(live)
        if p.kind == "Service":
            (old.get("spec") or {}).pop("clusterIP", None)
            (old.get("spec") or {}).pop("clusterIPs", None)

        def undo() -> None:
            self._delete_and_wait(p.kind, p.real_ns, p.name)
            self.api.create(p.kind, p.real_ns, old)

        journal.add(f"{KINDS[p.kind].word}/{p.name}", undo)
        try:
            self.api.create(p.kind, p.real_ns, p.body)
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"creating {KINDS[p.kind].word}/{p.name}") from None

    def _patch_metadata(self, p: _Prepared, live: Mapping[str, Any], journal: _Journal) -> None:
        want = p.body["metadata"]
        self._patch_to(p.kind, p.real_ns, p.name, live, want.get("labels") or {}, want.get("annotations") or {})
        old_labels, old_notes = _labels(live), _annotations(live)
        journal.add(
            f"{KINDS[p.kind].word}/{p.name}",
            lambda: self._patch_to(p.kind, p.real_ns, p.name, None, old_labels, old_notes),
        )

    def _patch_to(self, kind: str, ns: str | None, name: str, live: Mapping[str, Any] | None,
                  labels: Mapping[str, str], annotations: Mapping[str, str]) -> None:
        """Merge-patch an object's labels and annotations to exactly these (server-set keys kept)."""
        live = live if live is not None else (self._read(kind, ns, name) or {})
        new_labels: dict[str, str | None] = {k: None for k in _labels(live) if k != NAME_LABEL}
        new_labels.update(labels)
        ours = (LAST_APPLIED, LAB_ID_ANNOTATION)
        new_notes: dict[str, str | None] = {k: None for k in ours if k in _annotations(live)}
        new_notes.update(annotations)
        try:
            self.api.patch(kind, ns, name, {"metadata": {"labels": new_labels, "annotations": new_notes}})
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"updating {KINDS[kind].word}/{name}") from None

    def _put_back(self, kind: str, ns: str | None, name: str, old: Mapping[str, Any]) -> None:
        """Undo a PUT: send the old object again over the current one."""
        body = _fresh(old)
        current = self._read(kind, ns, name)
        if current is None:
            self.api.create(kind, ns, body)
            return
        body["metadata"]["resourceVersion"] = _meta(current).get("resourceVersion")
        self.api.replace(kind, ns, name, body)

    def _undo(self, journal: _Journal, *, quick: bool) -> tuple[str, list[str]]:
        """Run the batch's undo steps newest first; (what was undone, what could not be)."""
        failed: list[str] = []
        done = 0
        end = self._clock() + CLEANUP_BUDGET
        with self.api.quick() if quick else contextlib.nullcontext():
            for what, undo in reversed(journal.steps):
                if quick and self._clock() >= end:
                    failed.append(what)
                    continue
                try:
                    undo()
                    done += 1
                except Exception:  # best effort: say what is left, never hide the first error
                    failed.append(what)
        return f"{done} step(s) undone", failed

    def _api_delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete through the API; False when it was already gone."""
        try:
            self.api.delete(kind, namespace, name, grace_period_seconds=0 if kind == "Pod" else None)
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return False
            raise self._refused(err, f"deleting {KINDS[kind].word}/{name}") from None
        return True

    def _delete_and_wait(self, kind: str, namespace: str | None, name: str) -> None:
        self._api_delete(kind, namespace, name)
        self._wait_gone(kind, namespace, name)

    def _wait_gone(self, kind: str, namespace: str | None, name: str) -> None:
        deadline = self._clock() + self.ready_timeout
        while self._read(kind, namespace, name) is not None:
            if self._clock() >= deadline:
                raise BackendError(f"{KINDS[kind].word}/{name} is still being deleted after {self.ready_timeout:g}s")
            self._sleep(self._poll_interval)

    def _namespace_body(self, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
                "annotations": {LAB_ID_ANNOTATION: self.lab_id},
            },
        }

    def _ensure_namespace(self, ns: str, live: dict[str, Any] | None, journal: _Journal) -> None:
        """Create ``ns`` (with this lab's id) unless it exists; adopt an nphelpers one; wait out a terminating one."""
        self._touched_namespaces.add(ns)
        if live is not None and _terminating(live):
            self._wait_gone("Namespace", None, ns)  # wait for the previous lab's to go
            live = None
        if live is None:
            self._create("Namespace", None, ns, self._namespace_body(ns), journal)
        elif _lab_id(live) != self.lab_id:
            old = _annotations(live).get(LAB_ID_ANNOTATION)
            self._set_lab_id("Namespace", None, ns, self.lab_id)
            journal.add(f"namespace/{ns}", lambda: self._set_lab_id("Namespace", None, ns, old))

    def _set_lab_id(self, kind: str, ns: str | None, name: str, lab_id: str | None) -> None:
        try:
            self.api.patch(kind, ns, name, {"metadata": {"annotations": {LAB_ID_ANNOTATION: lab_id}}})
        except Exception as err:
            if not _is_api_error(err):
                raise
            raise self._refused(err, f"updating {KINDS[kind].word}/{name}") from None

    def _wait_ready(self, pods: Iterable[tuple[str, str]]) -> None:
        """Wait until every pod is Ready; a clear error names the first one that is not."""
        pending = list(dict.fromkeys(pods))
        deadline = self._clock() + self.ready_timeout
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
            if self._clock() >= deadline:
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
    def delete(self, kind: str, name: str, namespace: str = "default") -> Deleted:
        """Delete one object nphelpers created; ``Deleted(found=False)`` if there is none."""
        k = canonical_kind(kind)
        if k == "Namespace":
            lesson_ns, real_ns, real_name, lesson_name = None, None, self._real(name), name
            if name in PROTECTED_NAMESPACES:  # the lesson's default too: like the apiserver, never deleted
                raise BackendError(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        else:
            lesson_ns, real_ns, real_name, lesson_name = namespace, self._real(namespace), name, name
        obj = self._read(k, real_ns, real_name)
        if obj is None:
            return Deleted(k, lesson_name, lesson_ns, found=False)
        if _lab_id(obj) is None:
            raise self._foreign(k, real_ns, real_name, lesson_ns, "delete")
        if not self._api_delete(k, real_ns, real_name):
            return Deleted(k, lesson_name, lesson_ns, found=False)
        self._wait_gone(k, real_ns, real_name)  # like kubectl: return once it is gone
        return Deleted(k, lesson_name, lesson_ns)

    def label(self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default") -> Labeled:
        """Set (value) or remove (``None``) labels on a pod or namespace nphelpers created."""
        k = canonical_kind(kind)
        if k not in ("Pod", "Namespace"):
            raise UsageError(f"labels can be changed on pods and namespaces here, not {KINDS[k].word}")
        if MANAGED_BY_LABEL in labels:
            raise UsageError(
                f"label {MANAGED_BY_LABEL} is how nphelpers finds its objects to clean up: it cannot be changed"
            )
        if k == "Namespace":
            lesson_ns, real_ns, real_name = None, None, self._real(name)
        else:
            lesson_ns, real_ns, real_name = namespace, self._real(namespace), name
        before = self._own(k, real_ns, real_name, lesson_ns, "label")
        try:
            after = self.api.patch(k, real_ns, real_name, {"metadata": {"labels": dict(labels)}})
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                raise self._not_found(k, lesson_ns, name) from None
            raise self._refused(err, f"labelling {KINDS[k].word}/{name}") from None
        return Labeled(k, name, lesson_ns, _labels(before), _labels(after), dict(labels))

    # -- state -------------------------------------------------------------------------------
    def _list(self, kind: str, ns: str, selector: str | None = MANAGED_SELECTOR) -> list[dict[str, Any]]:
        """Objects of ``kind`` in ``ns`` (by default only those labelled as nphelpers')."""
        try:
            return list(self.api.list(kind, ns, label_selector=selector))
        except Exception as err:
            if not _is_api_error(err):
                raise
            if _status(err) == 404:
                return []
            raise self._refused(err, f"listing {KINDS[kind].plural} in {ns}") from None

    def _for_state(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """An API object as ClusterState wants it: lesson namespace, no managedFields, no nphelpers notes."""
        out = dict(obj)
        meta = dict(out.get("metadata") or {})
        meta.pop("managedFields", None)
        if out.get("kind") == "Namespace":
            meta["name"] = self._lesson(str(meta.get("name")))
        elif meta.get("namespace"):
            meta["namespace"] = self._lesson(str(meta["namespace"]))
        notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in (LAST_APPLIED, LAB_ID_ANNOTATION)}
        if notes:
            meta["annotations"] = notes
        else:
            meta.pop("annotations", None)
        out["metadata"] = meta
        return out

    def state(self) -> ClusterState:
        """This lab's namespaces and the pods (with IPs and ports), services and policies nphelpers
        created in them, under the lesson's namespace names (``default/apiserver``)."""
        state = ClusterState()
        namespaces = sorted(self._touched_namespaces)
        for ns in namespaces:
            obj = self._read("Namespace", None, ns)
            if obj is not None:
                state.apply(self._for_state(obj))
        for kind in ("Pod", "Service", "NetworkPolicy"):
            for ns in namespaces:
                for obj in sorted(self._list(kind, ns), key=lambda o: o["metadata"]["name"]):
                    if _lab_id(obj) is not None:
                        state.apply(self._for_state(obj), self._lesson(ns))
        return state

    # -- probing -----------------------------------------------------------------------------
    def _real_url(self, url: str) -> str:
        """``url`` with a Service name in the lesson's ``default`` (``api.default``, ``api.default.svc...``)
        pointed at the lab namespace that stands in for it; any other URL as it is."""
        scheme, sep, rest = url.rpartition("://")
        host, slash, path = rest.partition("/")
        name, colon, port = host.partition(":")
        labels = name.split(".")
        if len(labels) >= 2 and labels[1] == "default" and (len(labels) == 2 or labels[2] == "svc"):
            labels[1] = self.lab_namespace
            host = ".".join(labels) + colon + port
        return scheme + sep + host + slash + path

    def _exec(self, lesson_ns: str, real_ns: str, pod: str, command: list[str], timeout: float) -> str:
        """Run ``command`` in a lab pod; a missing pod is kubectl's NotFound, other refusals one line."""
        try:
            return self.api.exec(real_ns, pod, command, timeout=timeout)  # type: ignore[no-any-return]
        except Exception as err:
            if not _is_api_error(err):
                raise
            if self._read("Pod", real_ns, pod) is None:
                raise self._not_found("Pod", lesson_ns, pod) from None
            raise BackendError(f"exec in pod {real_ns}/{pod} failed: {_api_message(err)}") from None

    def _probe(self, lesson_ns: str, real_ns: str, pod: str, url: str, timeout: int) -> ProbeResult:
        command = ["sh", "-c", wget_script(self._real_url(url), timeout)]
        shown = kubectl.wget_command(pod, url, timeout=timeout, namespace=lesson_ns)  # as the simulator shows it
        raw = self._exec(lesson_ns, real_ns, pod, command, timeout + EXEC_GRACE)
        try:
            outcome, text = parse_wget_output(raw)
        except BackendError as err:
            raise BackendError(f"pod {lesson_ns}/{pod}: {err}") from None
        code = live_probes.split_status(raw)[1]
        return ProbeResult(source=f"{lesson_ns}/{pod}", url=url, outcome=outcome, output=text, command=shown,
                           exit_code=code if code is not None else None)

    def wget(self, source: str, url: str, timeout: int | None = None) -> ProbeResult:
        """One ``wget -qO- --timeout=T url`` in pod ``source`` (``ns/name`` in lesson names).

        A single probe can be fooled right after a change (see :meth:`probe_stable`).
        """
        lesson_ns, real_ns, pod = self._split_key(source)
        return self._probe(lesson_ns, real_ns, pod, url, self.probe_timeout if timeout is None else int(timeout))

    def probe_stable(
        self, source: str, url: str, timeout: int | None = None, *, deadline: float | None = None
    ) -> ProbeResult:
        """Probe until two consecutive verdicts agree; :class:`BackendError` after ``settle_attempts``
        probes or ``deadline`` seconds (default :attr:`settle`) on the backend's clock, whichever is first.

        Policies are programmed asynchronously, so the first probe after a change may still
        see the old rules; two agreeing answers in a row are what the lesson reports.
        """
        budget = self.settle if deadline is None else deadline
        end = self._clock() + budget
        previous = self.wget(source, url, timeout)
        seen = [previous.outcome]
        while True:
            current = self.wget(source, url, timeout)
            seen.append(current.outcome)
            if current.outcome == previous.outcome:
                return current
            if len(seen) >= self.settle_attempts or self._clock() >= end:
                raise BackendError(
                    f"{source} -> {url}: the verdict did not settle in {len(seen)} probes (at most "
                    f"{self.settle_attempts}, within {budget:g}s): {_shorten(seen, 6)}; "
                    "policies may still be being programmed, try again"
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
        On an error or Ctrl-C the probes not yet started are cancelled.
        """
        pairs = list(dict.fromkeys(pairs))
        state = self.state()
        urls: dict[tuple[str, str], str] = {}
        for src, dst in pairs:
            host = dst
            if "/" in dst:
                lesson_ns, _, name = self._split_key(dst)
                pod = state.pod(f"{lesson_ns}/{name}")
                if not pod.ip:
                    raise BackendError(f"pod {pod.key} has no IP address yet")
                host = pod.ip
            host = f"[{host}]" if ":" in host else host
            urls[(src, dst)] = f"http://{host}:{int(port)}/"
        probe = self.probe_stable if stable else self.wget
        pool = ThreadPoolExecutor(max_workers=max(1, int(max_workers)), thread_name_prefix="nphelpers-probe")
        try:
            futures = {pair: pool.submit(probe, pair[0], urls[pair], timeout) for pair in pairs}
            results = {pair: fut.result() for pair, fut in futures.items()}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # do not wait for every queued probe
            raise
        pool.shutdown(wait=True)
        return results

    # -- probes beyond wget (scripts and parsers: live_probes) ----------------------------------
    def _exec_probe_once(self, probe: Probe) -> ProbeResult:
        lesson_ns, real_ns, pod = self._split_key(probe.source)
        real_host = self._real_url(f"x://{probe.host}").removeprefix("x://")  # api.default -> api.nphelpers-lab
        if probe.tool == "nc":
            script = live_probes.nc_script(real_host, probe.port, probe.timeout)
            shown = kubectl.nc_command(pod, probe.host, probe.port, probe.timeout, lesson_ns)
            parse = live_probes.parse_nc_output
        else:
            live_pod = self._read("Pod", real_ns, pod)
            images = [str(c.get("image") or "") for c in ((live_pod or {}).get("spec") or {}).get("containers") or []]
            if live_pod is not None and not any(is_image(i, "agnhost") for i in images):
                raise UsageError(
                    f"pod {lesson_ns}/{pod} has no /agnhost to run: run the client with image='agnhost' "
                    "(upstream's e2e test image) for UDP and SCTP probes"
                )
            script = live_probes.connect_script(real_host, probe.port, probe.protocol, probe.timeout)
            shown = kubectl.connect_command(pod, probe.host, probe.port, probe.protocol, probe.timeout, lesson_ns)
            parse = live_probes.parse_connect_output
        # nc waits up to twice -w after connecting (its select timeout, stdin at its end)
        budget = 3 * probe.timeout + EXEC_GRACE
        raw = self._exec(lesson_ns, real_ns, pod, ["sh", "-c", script], budget)
        try:
            outcome, text, code = parse(raw)
        except BackendError as err:
            raise BackendError(f"pod {lesson_ns}/{pod}: {err}") from None
        if real_host != probe.host:  # the tools print the name as typed: the lesson's
            text = live_probes.lesson_host(text, real_host, probe.host)
        url = f"{probe.host}:{probe.port}/{probe.protocol}"
        return ProbeResult(f"{lesson_ns}/{pod}", url, outcome, text, shown, code)

    def exec_probe(self, probe: Probe, stable: bool = True) -> ProbeResult:
        """An ``nc`` or agnhost ``connect`` probe; with ``stable``, repeated until two verdicts agree."""
        if not stable:
            return self._exec_probe_once(probe)
        end = self._clock() + self.settle
        previous = self._exec_probe_once(probe)
        seen = [previous.outcome]
        while True:
            current = self._exec_probe_once(probe)
            seen.append(current.outcome)
            if current.outcome == previous.outcome:
                return current
            if len(seen) >= self.settle_attempts or self._clock() >= end:
                raise BackendError(
                    f"{probe.source} -> {probe.host}:{probe.port}: the verdict did not settle in {len(seen)} probes: "
                    f"{_shorten(seen, 6)}; policies may still be being programmed, try again"
                )
            previous = current

    def nodes(self) -> list[tuple[str, str]]:
        """The cluster's nodes and their InternalIP (on kind: addresses on the docker network ``kind``)."""
        return self.api.nodes()

    outside_client = staticmethod(live_probes.http_get)  # (address, port, path, timeout) -> (outcome, status, body)

    def outside_probe(self, probe: OutsideProbe) -> ProbeResult:
        """An HTTP GET from this machine to a NodePort or LoadBalancer address.

        The only outside client a live backend has is the machine it runs on: on kind the pod sees
        its address on the kind docker network (the network's gateway) — or, with
        ``externalTrafficPolicy: Cluster``, the node's. Another source address cannot be faked.
        """
        if probe.client is not None:
            raise UsageError(
                f"a live cluster is reached from this machine only: client={probe.client!r} cannot be faked "
                "(leave client= out; the simulator models any outside address)"
            )
        outcome, status, body = self.outside_client(probe.address, probe.port, probe.path, float(probe.timeout))
        kind, text, code = live_probes.outside_text(outcome, status, body, probe.address, probe.port)
        url = f"http://{busybox_hostport(probe.address, probe.port)}{probe.path}"
        return ProbeResult("outside/this machine", url, kind, text, kubectl.outside_wget_command(url, probe.timeout),
                           code)

    # -- cleanup -------------------------------------------------------------------------------
    def cleanup(self) -> list[Deleted | Kept]:
        """Delete this lab's objects (policies first, then services, pods) and the namespaces it
        created, each only if nothing else lives there; the lesson's names in the facts.

        The lab namespace standing in for the lesson's ``default`` is deleted too when empty,
        without a fact: the lesson's ``default`` namespace stays, as on any cluster.
        """
        return self._cleanup(None)

    def cleanup_quickly(self) -> list[Deleted | Kept]:
        """:meth:`cleanup` after Ctrl-C: short timeouts, at most :data:`CLEANUP_BUDGET` seconds;
        what is left is reported as :class:`Kept`."""
        with self.api.quick():
            return self._cleanup(self._clock() + CLEANUP_BUDGET)

    def _cleanup(self, deadline: float | None) -> list[Deleted | Kept]:
        late = "not deleted: cleanup was cut short (Ctrl-C); run cleanup() again"
        facts: list[Deleted | Kept] = []
        namespaces = sorted(self._touched_namespaces)
        mine: list[tuple[int, str, str, str, str]] = []
        for ns in namespaces:
            for kind in ("NetworkPolicy", "Service", "Pod"):
                for obj in self._list(kind, ns):
                    if _lab_id(obj) == self.lab_id and not _terminating(obj):
                        name = str(obj["metadata"]["name"])
                        mine.append((KINDS[kind].cleanup_order, self._lesson(ns), name, kind, ns))
        for _, lesson_ns, name, kind, ns in sorted(mine):
            if deadline is not None and self._clock() >= deadline:
                facts.append(Kept(kind, name, lesson_ns, late))
            elif self._api_delete(kind, ns, name):
                facts.append(Deleted(kind, name, lesson_ns))
        for ns in sorted(namespaces, key=self._lesson):
            if deadline is not None and self._clock() >= deadline:
                fact: Deleted | Kept | None = Kept("Namespace", self._lesson(ns), None, late)
            else:
                fact = self._cleanup_namespace(ns, deadline)
            if fact is not None and not (isinstance(fact, Deleted) and ns == self.lab_namespace):
                facts.append(fact)
        self._touched_namespaces = {self._real(self.namespace)}
        return facts

    def _cleanup_namespace(self, ns: str, deadline: float | None) -> Deleted | Kept | None:
        """Delete ``ns`` if this lab created it and nothing else lives there; None if it is not this lab's."""
        live = self._read("Namespace", None, ns)
        if live is None or ns in PROTECTED_NAMESPACES or _lab_id(live) != self.lab_id or _terminating(live):
            return None
        lesson = self._lesson(ns)
        where = f"{ns} (the lesson's 'default')" if ns == self.lab_namespace else "it"
        others, problem = self._others_in(ns, deadline)
        if problem:
            return Kept("Namespace", lesson, None, f"{where} was not deleted: {problem}")
        if others:
            return Kept(
                "Namespace", lesson, None,
                f"{where} holds {len(others)} object(s) this lab did not create ({_shorten(others)})",
            )
        self._api_delete("Namespace", None, ns)
        return Deleted("Namespace", lesson, None)

    def _others_in(self, ns: str, deadline: float | None) -> tuple[list[str], str | None]:
        """What lives in ``ns`` besides this lab's objects (``kind/name``), or why that is unknown."""
        others: list[str] = []
        for kind in ("Pod", "Service", "NetworkPolicy"):
            for obj in self._list(kind, ns, None):
                if not (_lab_id(obj) == self.lab_id and _terminating(obj)):
                    others.append(f"{KINDS[kind].word}/{obj['metadata']['name']}")
        for api_version, plural, kind in OTHER_RESOURCES:
            if deadline is not None and self._clock() >= deadline:
                return others, "cleanup was cut short (Ctrl-C) before it could check what else lives there"
            try:
                items = self.api.list_any(api_version, plural, ns)
            except Exception as err:
                if not _is_api_error(err):
                    raise
                if _status(err) == 404:  # the cluster does not serve this resource
                    continue
                return others, f"cannot check it for other objects: listing {plural} was refused ({_api_message(err)})"
            for obj in items:
                name = str(_meta(obj).get("name"))
                if (kind, name) in _CLUSTER_MADE or _is_legacy_token(obj):
                    continue
                others.append(f"{kind.lower()}/{name}")
        return others, None

    def close(self) -> None:
        """Release connections (does not clean up: see :meth:`cleanup`)."""
        self.api.close()

    # -- doctor --------------------------------------------------------------------------------
    def check_enforcement(self, *, settle: float | None = None) -> str:
        """Prove that this cluster enforces NetworkPolicy, in a scratch namespace.

        Starts a server and a client, checks the client reaches the server, applies a
        deny-all ingress policy and checks the traffic stops. Raises :class:`BackendError`
        when it does not; the scratch namespace is deleted in every case (quickly after Ctrl-C).
        """
        settle = self.settle if settle is None else settle
        scratch = f"{DOCTOR_PREFIX}{secrets.token_hex(3)}"
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
        server = server_pod("server", {"app": "doctor-server", **labels}, namespace=scratch, image=self.images.server)
        client = client_pod("client", {"app": "doctor-client", **labels}, namespace=scratch, image=self.images.client)
        policy = deny_all_ingress(namespace=scratch)
        policy["metadata"]["labels"] = dict(labels)
        for obj in (server, client, policy):
            obj["metadata"]["annotations"] = {LAB_ID_ANNOTATION: self.lab_id}
        interrupted = False
        try:
            try:
                self.api.create("Namespace", None, self._namespace_body(scratch))
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
            started = self._clock()
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
            took = self._clock() - started
            return (
                f"NetworkPolicy is enforced (context {self.context or '?'}): a client reached a server "
                f"without policies and was blocked ({after.output}) {took:.1f}s after a deny-all policy"
            )
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            with self.api.quick() if interrupted else contextlib.nullcontext(), contextlib.suppress(Exception):
                self.api.delete("Namespace", None, scratch)  # best effort: it may never have been created

    def _until(self, namespace: str, url: str, wanted: Outcome, settle: float) -> ProbeResult:
        """Probe until ``wanted`` is seen twice in a row, or ``settle`` s / ``settle_attempts`` probes pass."""
        end = self._clock() + settle
        streak = tries = 0
        while True:
            result = self._probe(namespace, namespace, "client", url, self.probe_timeout)
            tries += 1
            streak = streak + 1 if result.outcome == wanted else 0
            if streak >= 2 or tries >= self.settle_attempts or self._clock() >= end:
                return result
            if result.outcome != wanted:
                self._sleep(self._poll_interval)

    def doctor(self) -> str:
        """A short report on the cluster: context, images, and proof of policy enforcement."""
        lines = [
            f"context: {self.context or '(injected API)'}; lab namespace: {self.lab_namespace} "
            "(the lessons' 'default')",
            f"images: server {self.images.server}, client {self.images.client}",
            self.check_enforcement(),
        ]
        return "\n".join(lines)


def _is_legacy_token(obj: Mapping[str, Any]) -> bool:
    """The token Secret clusters before 1.24 made for the ``default`` ServiceAccount."""
    return obj.get("type") == "kubernetes.io/service-account-token" and _annotations(obj).get(
        "kubernetes.io/service-account.name"
    ) == "default"
