"""The object a lesson holds: ``lab = Lab()``, then verbs that read like kubectl.

Every verb prints the kubectl command it stands for (``$ kubectl ...``) and then what
kubectl (or busybox wget) prints, on the simulator and on a live kind cluster alike, so
students learn kubectl and stored notebook outputs hold for both backends. Backends return
facts (:mod:`nphelpers.backends.base`); :mod:`nphelpers.kubectl` alone turns them into text.

Namespaces
----------
The lab has a *home* namespace (``namespace=``, ``default`` unless given), as if the kubectl
context had been set to it: a name without a namespace (``web``) is there, and ``prod/web``
or ``namespace="prod"`` is in ``prod`` (:mod:`nphelpers.refs` holds the one rule).
``lab.create_namespace("prod", labels="purpose=production")`` adds namespaces, every verb
takes ``namespace=``, and the tables, matrix, figure, verify and widgets cover all the lab's
namespaces (:attr:`Lab.namespaces`: home, created, and every one it put objects in), grouped
by namespace. Commands print ``-n NS`` for every namespace but ``default``.

Arguments are checked before anything is printed or sent (:mod:`nphelpers.arguments`); a
mistake is one :class:`~nphelpers.errors.NphelpersError` line, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import arguments, kubectl
from .arguments import MANAGED_BY
from .backends.base import Backend, Deleted, Fact, OutsideProbe, Probe, ProbeResult
from .cluster import ClusterState
from .engine import Endpoint, Verdict, evaluate
from .errors import BackendError, NotFoundError, NphelpersError, UsageError, show_errors_in_one_line
from .kinds import KINDS, kind_info
from .manifests import copy_manifest
from .matrix import Reachability, reachability
from .policy import NetworkPolicy, ip_value
from .refs import Ref, namespace_of_key
from .traffic import is_image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BACKEND_ENV = "NPHELPERS_BACKEND"
CLIENT_IMAGE = "alpine"
MANAGED_SELECTOR = f"{MANAGED_BY}=nphelpers"
MAX_CAT_BYTES = 1_000_000
_PATH_MAX, _NAME_MAX = 4096, 255  # what a file name can be at most (Linux)


def choose_backend(backend: str | Backend = "auto", **options: Any) -> tuple[Backend, str]:
    """The backend to use and one line saying why.

    ``auto`` reads ``$NPHELPERS_BACKEND`` (``simulated`` or ``kind``), else uses the current
    kubeconfig context when it is a kind cluster, else the simulator. ``options`` go to the
    live backend (``context=``, ``namespace=`` for its own lab namespace, which lesson
    ``default`` maps onto).
    """
    if not isinstance(backend, str):
        if not isinstance(backend, Backend):
            raise UsageError(f"backend must be 'auto', 'simulated', 'kind' or a backend object, not {backend!r}")
        return backend, f"Using the {backend.name} backend you passed."
    choice = backend.strip().lower()
    reason = ""
    if choice == "auto":
        env = os.environ.get(BACKEND_ENV, "").strip().lower()
        if env:
            choice, reason = env, f"{BACKEND_ENV}={env}"
        else:
            from .backends.live import detect_kind_context

            context = detect_kind_context()
            if context:
                choice, reason = "kind", f"found kind context {context}"
                options.setdefault("context", context)
            else:
                choice, reason = "simulated", "no kind cluster found"
    why = f" ({reason})" if reason else ""
    if choice in ("simulated", "simulator", "sim"):
        from .backends.simulated import SimulatedCluster

        if options:
            raise UsageError(f"the simulated backend takes no options (got {', '.join(sorted(options))})")
        return SimulatedCluster(), f"Using the simulated cluster{why}: NetworkPolicy v1 semantics, computed exactly."
    if choice in ("kind", "live"):
        from .backends.live import LiveBackend

        live = LiveBackend(**options)
        return live, f"Using the live kind cluster{why}: every probe really runs in a pod."
    shown = f'{BACKEND_ENV}="{choice}"' if reason.startswith(BACKEND_ENV) else f'"{backend}"'
    raise BackendError(f'unknown backend {shown}: use "auto", "simulated" or "kind"')


class Lab:
    """A NetworkPolicy lab on the simulator or a live kind cluster.

    ``out``: where verbs print; ``None`` (the default) is whatever ``sys.stdout`` is at the
    time of printing (so ``%%capture`` and redirections work), ``False`` prints nothing.

    >>> lab = Lab(backend="simulated", namespace="default", out=False)
    """

    def __init__(
        self,
        backend: str | Backend = "auto",
        *,
        namespace: str = "default",
        out: TextIO | None | bool = None,
        **backend_options: Any,
    ) -> None:
        show_errors_in_one_line()  # first: the first Lab() failing is already one line
        if out is True or not (out is None or out is False or hasattr(out, "write")):
            raise UsageError(f"out must be a stream (e.g. sys.stdout), None (the current stdout) or False, not {out!r}")
        self._out: TextIO | None | bool = out
        self._quiet = 0
        self.namespace = _namespace_name(namespace)
        self._namespaces: dict[str, None] = {self.namespace: None}  # the lab's namespaces, first use first
        self.backend, line = choose_backend(backend, **backend_options)
        self._say(line)

    # -- output ---------------------------------------------------------------------
    def _stream(self) -> TextIO | None:
        if self._quiet or self._out is False:
            return None
        return sys.stdout if self._out is None or self._out is True else self._out  # type: ignore[return-value]

    def _say(self, *lines: str) -> None:
        stream = self._stream()
        if stream is not None:
            for line in lines:
                print(line, file=stream)

    def _cmd(self, command: str) -> None:
        self._say(f"$ {command}")

    def _show(self, facts: Sequence[Fact], verb: str = "apply") -> list[str]:
        lines = [kubectl.render(f, verb) for f in facts]
        self._say(*lines)
        return lines

    @contextlib.contextmanager
    def quiet(self) -> Iterator[Lab]:
        """``with lab.quiet():`` run verbs without printing (widgets show the output themselves)."""
        self._quiet += 1
        try:
            yield self
        finally:
            self._quiet -= 1

    # -- namespaces -------------------------------------------------------------------
    @property
    def namespaces(self) -> list[str]:
        """The lab's namespaces, sorted: home, those it created, and every one it put objects in."""
        return sorted(self._namespaces)

    def _ns(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else _namespace_name(namespace)

    def _ref(self, text: str, namespace: str | None = None, what: str = "name") -> Ref:
        """``web`` (in ``namespace``, else home) or ``prod/web``."""
        if isinstance(text, str) and "/" in text and namespace is not None:
            raise UsageError(f"{what} {text!r} names its namespace: do not also give namespace=")
        ref = Ref.parse(text, self._ns(namespace), what=what)
        _namespace_name(ref.namespace)
        return ref

    def create_namespace(self, name: str, labels: str | Mapping[str, str] | None = None) -> None:
        """``kubectl create namespace NAME`` (then ``kubectl label namespace NAME ...`` for ``labels``).

        The namespace is the lab's: cleanup deletes it (and only namespaces the lab created).
        """
        name = _namespace_name(name)
        wanted = arguments.labels(labels)
        if MANAGED_BY in wanted:
            raise UsageError(f"label {MANAGED_BY} is nphelpers' own: it is set on every object the lab creates")
        if name in self.state().namespaces:
            raise NphelpersError(kubectl.already_exists("namespace", name))
        marked = self._prepare([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}], name)
        self._cmd(kubectl.create_namespace_command(name))
        self._apply(marked, "create")
        if wanted:
            self.label(name, wanted, kind="namespace")

    def label_namespace(self, name: str, *changes: str | Mapping[str, str | None]) -> None:
        """``kubectl label namespace NAME key=value key- --overwrite`` (:meth:`label` with ``kind="namespace"``)."""
        self.label(name, *changes, kind="namespace")

    def unlabel_namespace(self, name: str, *keys: str) -> None:
        """``kubectl label namespace NAME key-``: remove labels from a namespace."""
        self.unlabel(name, *keys, kind="namespace")

    def get_namespaces(self) -> None:
        """``kubectl get namespaces NAMES`` with labels: the lab's namespaces and the labels selectors see."""
        state = self.state()
        found = [state.namespaces[n] for n in self.namespaces if n in state.namespaces]
        self._cmd(kubectl.get_namespaces_command(found, names=True))
        self._say(kubectl.get_namespaces(found) if found else "No resources found")

    # -- objects ----------------------------------------------------------------------
    def _in_namespace(self, obj: Mapping[str, Any], home: str) -> dict[str, Any]:
        """A copy of ``obj`` in ``home`` (unless it names a namespace), marked as the lab's."""
        obj = dict(obj)
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        if obj.get("kind") != "Namespace":
            meta["namespace"] = meta.get("namespace") or home
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "nphelpers"}
        return obj

    def _prepare(self, objects: Sequence[Mapping[str, Any]], home: str) -> list[dict[str, Any]]:
        """Copies of ``objects`` placed and marked as the lab's, every one validated (before any is sent)."""
        from .validation import validate_object

        marked = [self._in_namespace(o, home) for o in objects]
        for obj in marked:
            validate_object(obj)
        return marked

    def _apply(self, marked: Sequence[dict[str, Any]], verb: str) -> list[str]:
        """Apply prepared objects all or nothing; print the facts as kubectl's lines."""
        try:
            facts = self.backend.apply(marked)
        finally:
            self._changed()
        for obj in marked:
            meta = obj["metadata"]
            self._namespaces.setdefault(str(meta["name"] if obj["kind"] == "Namespace" else meta["namespace"]))
        return self._show(facts, verb)

    def run(
        self,
        name: str,
        image: str = "nginx",
        labels: str | Mapping[str, str] | None = None,
        port: int | str | None = None,
        expose: bool = False,
        command: Sequence[str] | None = None,
        *,
        namespace: str | None = None,
    ) -> None:
        """``kubectl run NAME --image=IMAGE --labels=... [--port=P --expose] [-n NS]``: a pod (and its Service).

        The image decides where a server listens: stock ``nginx`` serves on 80 whatever ``port`` says.
        """
        name = arguments.name(name, "pod name")
        ns = self._ns(namespace)
        if not isinstance(image, str) or not image.strip():
            raise UsageError(f"image must be a non-empty string like 'nginx', not {image!r}")
        wanted = arguments.labels(labels) or {"run": name}
        port_number = arguments.optional_port(port)
        expose = arguments.flag(expose, "expose")
        if expose and port_number is None:
            raise UsageError("expose=True needs a port, as kubectl run --expose needs --port: add port=80")
        if command is not None and (isinstance(command, str) or not all(isinstance(c, str) for c in command)):
            raise UsageError(f"command must be a list of strings like ['sleep', '3600'], not {command!r}")
        agnhost = is_image(image.strip(), "agnhost")
        if command is None and port_number is None and not agnhost:
            command = ["sleep", "3600"]  # a client pod that stays up for probes (agnhost's default is pause)
        container: dict[str, Any] = {"name": name, "image": image}
        if port_number is not None:
            container["ports"] = [{"containerPort": port_number}]
        if command:
            container["args"] = list(command)  # kubectl run NAME --image=I -- ARGS: the image's entrypoint runs them
        objects: list[dict[str, Any]] = []
        if expose:
            objects.append({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"selector": dict(wanted), "ports": [{"port": port_number, "targetPort": port_number}]},
            })
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": wanted},
                        "spec": {"containers": [container]}})
        marked = self._prepare(objects, ns)
        line = kubectl.run_command(name, image, wanted, port_number, expose, namespace=ns)
        self._cmd(line + (" -- " + " ".join(command) if command else ""))
        self._apply(marked, "run")

    def expose(
        self,
        pod: str,
        port: int | str,
        target_port: int | str | None = None,
        name: str | None = None,
        *,
        namespace: str | None = None,
    ) -> None:
        """``kubectl expose pod POD --port=P --target-port=T --name=N [-n NS]``: a Service in front of a pod."""
        ref = self._ref(pod, namespace, "pod")
        port_number = arguments.port(port)
        target = None if target_port is None else arguments.target_port(target_port)
        svc_name = ref.name if name is None else arguments.name(name, "service name")
        state = self.state()
        if ref.key not in state.pods:
            raise NotFoundError(kubectl.not_found("pod", ref.name) + f' in namespace "{ref.namespace}"')
        if Ref(ref.namespace, svc_name).key in state.services:
            raise NphelpersError(kubectl.already_exists("service", svc_name))
        selector = {k: v for k, v in state.pods[ref.key].labels.items() if k != MANAGED_BY}
        spec = {"selector": selector, "ports": [{"port": port_number, "targetPort": port_number if target is None
                                                 else target}]}
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc_name}, "spec": spec}
        marked = self._prepare([service], ref.namespace)
        self._cmd(kubectl.expose_command(ref.name, port_number, target, name and svc_name, ref.namespace))
        self._apply(marked, "expose")

    def apply(self, source: str | os.PathLike[str], *, namespace: str | None = None) -> None:
        """``kubectl apply -f FILE [-n NS]``: a file, a directory, or a YAML string (validated first, all or nothing).

        Objects that name no namespace go to ``namespace`` (else the lab's home). As with
        ``kubectl apply -n``, a file that mixes such objects with objects of other namespaces
        is refused; one whose objects all name their namespace needs no ``-n``.
        """
        from .manifests import load_paths, load_text

        ns = self._ns(namespace)
        if _is_yaml_text(source):
            shown = "-"
            result = load_text(str(source), "<yaml>", namespace=ns)
        else:
            shown = os.fspath(source)
            result = load_paths([source], namespace=ns)
        named = {str(o["metadata"]["namespace"]) for o in result.objects
                 if o.get("kind") != "Namespace" and (o.get("metadata") or {}).get("namespace")}
        unnamed = any(o.get("kind") != "Namespace" and not (o.get("metadata") or {}).get("namespace")
                      for o in result.objects)
        other = sorted(named - {ns})
        if other and unnamed and ns != "default":
            raise UsageError(
                f'the namespace from the provided object "{other[0]}" does not match the namespace "{ns}": '
                f"give every object of {'the YAML' if shown == '-' else shown} its metadata.namespace"
            )
        marked = self._prepare(result.objects, ns)
        flag_ns = ns if unnamed or not named else None
        command = kubectl.apply_command(shown, flag_ns)
        self._cmd(command + (" <<EOF ... EOF" if shown == "-" else ""))
        for note in result.notes:
            self._say(f"note: {note}")
        self._apply(marked, "apply")

    def apply_objects(self, objects: Sequence[Mapping[str, Any]], *, namespace: str | None = None) -> list[str]:
        """Apply manifest dicts: validated all first (nothing changes on an error), then applied.

        Prints kubectl's lines (unless :meth:`quiet`) and returns them.
        """
        if isinstance(objects, Mapping) or not all(isinstance(o, Mapping) for o in objects):
            raise UsageError("apply_objects takes a list of manifest dicts")
        return self._apply(self._prepare(objects, self._ns(namespace)), "apply")

    def cat(self, path: str | os.PathLike[str]) -> None:
        """``cat FILE``: show a manifest before applying it."""
        if not isinstance(path, str | os.PathLike):
            raise UsageError(f"cat takes a file name, not {type(path).__name__}")
        shown = os.fspath(path)
        try:
            file = Path(path)
            if file.is_dir():
                raise UsageError(f"cat: {shown}: Is a directory")
            with file.open("rb") as handle:
                data = handle.read(MAX_CAT_BYTES + 1)
        except FileNotFoundError:
            raise UsageError(f"cat: {shown}: No such file or directory") from None
        except (OSError, ValueError) as err:
            raise UsageError(f"cat: {shown}: {getattr(err, 'strerror', None) or err}") from None
        if len(data) > MAX_CAT_BYTES:
            raise UsageError(f"cat: {shown}: larger than {MAX_CAT_BYTES:,} bytes; not a lesson manifest")
        self._cmd(f"cat {shown}")
        self._say(data.decode("utf-8", errors="replace").rstrip("\n"))

    def delete(self, kind: str, name: str, *, namespace: str | None = None) -> None:
        """``kubectl delete KIND NAME [-n NS]`` (``name`` may be ``ns/name``).

        A name that does not exist prints kubectl's ``Error from server (NotFound): ...`` line.
        """
        info = kind_info(kind)
        if info.kind == "Namespace":
            if namespace is not None:
                raise UsageError("a namespace is not in a namespace: lab.delete('namespace', NAME)")
            target, ns = _namespace_name(name), None
        else:
            ref = self._ref(name, namespace, info.word)
            target, ns = ref.name, ref.namespace
        self._cmd(kubectl.delete_command(info.kind, target, ns))
        try:
            fact = self.backend.delete(info.kind, target, ns or "default")
        finally:
            self._changed()
        if info.kind == "Namespace" and fact.found and target != self.namespace:
            self._namespaces.pop(target, None)
        self._show([fact], "delete")

    def label(self, target: str, *changes: str | Mapping[str, str | None], kind: str = "pod",
              namespace: str | None = None) -> None:
        """``kubectl label pod POD app=bookstore role- --overwrite [-n NS]``: set ``k=v``, remove ``k-``.

        ``kind="namespace"`` labels a namespace (``kubectl label namespace prod purpose=production``).
        Keys and values are checked as the apiserver checks them, before anything is sent.
        """
        info = kind_info(kind)
        if info.kind not in ("Pod", "Namespace"):
            raise UsageError(f"labels can be changed on pods and namespaces here, not {info.word}")
        labels = arguments.label_changes(changes)
        if info.kind == "Namespace":
            if namespace is not None:
                raise UsageError("a namespace is not in a namespace: lab.label(NAME, ..., kind='namespace')")
            name, ns = _namespace_name(target), None
        else:
            ref = self._ref(target, namespace, "pod")
            name, ns = ref.name, ref.namespace
        self._cmd(kubectl.label_command(info.kind, name, labels, namespace=ns))
        try:
            fact = self.backend.label(info.kind, name, labels, ns or "default")
        finally:
            self._changed()
        self._show([fact], "label")

    def unlabel(self, target: str, *keys: str, kind: str = "pod", namespace: str | None = None) -> None:
        """``kubectl label pod POD key-``: remove labels."""
        for key in keys:
            if not isinstance(key, str) or not key or key.endswith("-") or "=" in key:
                raise UsageError(f"unlabel takes label keys like 'role', not {key!r}")
        if not keys:
            raise UsageError("say which label keys to remove: lab.unlabel(POD, 'role')")
        self.label(target, *(f"{k}-" for k in keys), kind=kind, namespace=namespace)

    # -- looking ----------------------------------------------------------------------
    def state(self) -> ClusterState:
        """A snapshot of the cluster (namespaces, pods, services, policies) for code to inspect."""
        return self.backend.state()

    def _lab_pods(self, state: ClusterState) -> list[str]:
        return [p.key for p in self._in_lab(state.pods)]

    def _in_lab(self, table: Mapping[str, Any], namespaces: Sequence[str] | None = None) -> list[Any]:
        wanted = set(self.namespaces if namespaces is None else namespaces)
        return [table[k] for k in sorted(table) if namespace_of_key(k) in wanted]

    def _get(self, kind: str, namespace: str | None, command: Any, render: Any) -> None:
        """One ``kubectl get`` per namespace (the lab's, or ``namespace``), each with its table."""
        state = self.state()
        namespaces = [self._ns(namespace)] if namespace is not None else self.namespaces
        for ns in namespaces:
            objects = self._in_lab(state.table(kind), [ns])
            self._cmd(command(objects, namespace=ns))
            self._say(render(objects) if objects else f"No resources found in {ns} namespace.")

    def get_pods(self, *, namespace: str | None = None) -> None:
        """``kubectl get pods`` with labels, for each of the lab's namespaces: who carries which label."""
        self._get("Pod", namespace, kubectl.get_pods_command, kubectl.get_pods)

    def get_services(self, *, namespace: str | None = None) -> None:
        """``kubectl get services``: names, ports and the selectors that pick their pods."""
        self._get("Service", namespace, kubectl.get_services_command, kubectl.get_services)

    def get_policies(self, *, namespace: str | None = None) -> None:
        """``kubectl get networkpolicy``, for each of the lab's namespaces."""
        self._get("NetworkPolicy", namespace, kubectl.get_networkpolicies_command, kubectl.get_networkpolicies)

    def describe_policy(self, name: str, *, namespace: str | None = None) -> None:
        """``kubectl describe networkpolicy NAME [-n NS]``: the policy in kubectl's words."""
        policy = self.policy(name, namespace=namespace)
        self._cmd(kubectl.describe_networkpolicy_command(policy.name, policy.namespace))
        self._say(kubectl.describe_networkpolicy(policy))

    def policy(self, name: str, *, namespace: str | None = None) -> NetworkPolicy:
        """The policy ``name`` (or ``ns/name``) for code: selectors, rules, types."""
        ref = self._ref(name, namespace, "policy")
        policies = self.state().policies
        if ref.key not in policies:
            raise NotFoundError(kubectl.not_found("networkpolicy", ref.name) + f' in namespace "{ref.namespace}"')
        return policies[ref.key]

    def selected_by(self, name: str, *, namespace: str | None = None) -> list[str]:
        """The pods (names) the policy ``name`` selects, that is, isolates (all in its namespace)."""
        policy = self.policy(name, namespace=namespace)
        return [p.name for p in self._in_lab(self.state().pods, [policy.namespace]) if policy.selects(p)]

    def get_endpoints(self, name: str | None = None, *, namespace: str | None = None) -> None:
        """``kubectl get endpoints [NAME]``: which pods (and ports) stand behind each Service.

        Printed as custom columns naming the pods rather than their addresses (which differ
        between clusters); a Service whose selector matches no pod shows ``<none>``. Without
        ``name``, one table per lab namespace (or ``namespace``).
        """
        state = self.state()
        if name is not None:
            ref = self._ref(name, namespace, "service")
            service = state.services.get(ref.key)
            obj = kubectl.endpoints_object(state, service) if service is not None else None
            if obj is None:  # no Service, or one without a selector: no controller-made Endpoints
                raise NotFoundError(f'Error from server (NotFound): endpoints "{ref.name}" not found'
                                    f' in namespace "{ref.namespace}"')
            self._cmd(kubectl.get_endpoints_command(ref.name, ref.namespace))
            self._say(kubectl.get_endpoints([obj]))
            return
        for ns in [self._ns(namespace)] if namespace is not None else self.namespaces:
            found = [kubectl.endpoints_object(state, s) for s in self._in_lab(state.services, [ns])]
            objects = [o for o in found if o is not None]
            self._cmd(kubectl.get_endpoints_command(None, ns))
            self._say(kubectl.get_endpoints(objects) if objects else f"No resources found in {ns} namespace.")

    def policy_yaml(self, name: str, *, namespace: str | None = None) -> str:
        """The policy ``name`` as YAML, the way an author writes it: the same text on both backends.

        What the policy editor starts with; give it to :meth:`check` to check the policy in force.
        Left out: what the apiserver adds (``uid``, ``resourceVersion``, ``creationTimestamp``...),
        the lab's label and namespace, and the defaults it fills in (``policyTypes`` when it is
        the default, a port's ``protocol: TCP``), so re-applying it changes nothing that matters.
        """
        import yaml

        policy = self.policy(name, namespace=namespace)
        manifest = copy_manifest(policy.manifest or {})
        old = manifest.get("metadata") or {}
        meta: dict[str, Any] = {"name": old.get("name", policy.name)}
        labels = {k: v for k, v in (old.get("labels") or {}).items() if k != MANAGED_BY}
        if labels:
            meta["labels"] = labels
        if old.get("annotations"):
            meta["annotations"] = old["annotations"]
        spec = manifest.get("spec") or {}
        default_types = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        if spec.get("policyTypes") == default_types:
            del spec["policyTypes"]
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in rule.get("ports") or []:
                    if port.get("protocol") == "TCP":
                        del port["protocol"]
        out = {k: v for k, v in manifest.items() if k not in ("metadata", "spec", "status")}
        return yaml.safe_dump({**out, "metadata": meta, "spec": spec}, sort_keys=False, default_flow_style=False)

    # -- traffic ----------------------------------------------------------------------
    def _url(self, target: str, port: int | None, path: str | None = None) -> str:
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"target must be a Service, pod IP or URL like 'apiserver', not {target!r}")
        target = target.strip()
        shown = _path(path)
        if "://" in target:
            if path is not None:
                raise UsageError(f"target {target!r} is a URL: put the path in it, not in path=")
            return target
        return f"http://{self._host(target)}" + (f":{port}" if port is not None else "") + shown

    def _host(self, target: str) -> str:
        """``web`` (a Service of the home namespace, as a pod there resolves it), ``prod/web`` (``web.prod``),
        an address, or an outside name."""
        if not isinstance(target, str) or not target.strip():
            raise UsageError(f"target must be a Service, pod IP or host name like 'db', not {target!r}")
        target = target.strip()
        if "/" in target and ip_value(target) is None:  # ns/name: the Service's DNS name from any namespace
            ref = Ref.parse(target, self.namespace, what="target")
            return f"{ref.name}.{ref.namespace}"
        return target

    def probe(
        self, target: str = "apiserver", *, from_pod: str, port: int | str | None = None, timeout: int | str = 2,
        namespace: str | None = None, path: str | None = None, tool: str = "wget", protocol: str = "TCP",
    ) -> ProbeResult:
        """What :meth:`wget` (``tool="wget"``), :meth:`nc` or :meth:`connect` does, without printing:
        the outcome, output and exit status for code to check."""
        seconds = arguments.timeout(timeout)
        source = self._ref(from_pod, namespace, "from_pod")
        if tool == "wget":
            url = self._url(target, arguments.optional_port(port), path)
            return self.backend.probe_stable(source.key, url, seconds)
        if tool not in ("nc", "connect"):
            raise UsageError(f"tool must be 'wget', 'nc' or 'connect', not {tool!r}")
        if port is None:
            raise UsageError(f"{tool} needs a port: lab.{tool}('db', 6379, from_pod=...)")
        proto = arguments.protocol(protocol)
        if tool == "nc" and proto != "TCP":
            raise UsageError("nc probes TCP here (busybox nc -u cannot tell a dropped datagram from a silent "
                             "server): use lab.connect(..., protocol='UDP') for UDP and SCTP")
        probe = Probe(tool, source.key, self._host(target), arguments.port(port), proto, seconds)  # type: ignore[arg-type]
        return self.backend.exec_probe(probe)

    def _print_probe(self, result: ProbeResult) -> None:
        self._cmd(result.command)
        if result.output:
            self._say(result.output.rstrip("\n"))
        if result.status:  # kubectl exec reports the tool's non-zero exit on stderr
            self._say(kubectl.exec_failed(result.status))

    def nc(self, target: str, port: int | str, *, from_pod: str, timeout: int | str = 2,
           namespace: str | None = None) -> None:
        """``kubectl exec FROM -- nc -v -w 2 TARGET PORT``: does anything accept a TCP connection there?

        busybox nc prints ``db (10.96.0.12:6379) open`` (then whatever the server sends first),
        ``nc: db (10.96.0.12:6379): Connection timed out`` when a policy drops it, nothing at all
        when the connection is refused (a single ``-v`` hides refusals), ``nc: bad address 'db'``
        when the name does not resolve; every failure ends in ``command terminated with exit code 1``.
        """
        self._print_probe(self.probe(target, from_pod=from_pod, port=port, timeout=timeout, namespace=namespace,
                                     tool="nc"))

    def connect(self, target: str, port: int | str, *, from_pod: str, protocol: str = "UDP",
                timeout: int | str = 2, namespace: str | None = None) -> None:
        """``kubectl exec FROM -- /agnhost connect TARGET:PORT --timeout=2s --protocol=udp``: upstream's netpol probe.

        For UDP and SCTP (and TCP): the source pod must run the agnhost image
        (``lab.run("client", image="agnhost")``) and the server something that answers, e.g.
        ``lab.run("dns", image="agnhost", port=5353, command=["serve-hostname", "--udp", "--http=false",
        "--port", "5353"])``. Silent on success; ``TIMEOUT...`` when dropped, ``REFUSED...`` when
        nothing listens, then ``command terminated with exit code 1``.
        """
        self._print_probe(self.probe(target, from_pod=from_pod, port=port, timeout=timeout, namespace=namespace,
                                     tool="connect", protocol=protocol))

    def outside(
        self, service: str, *, port: int | str | None = None, path: str | None = None, client: str | None = None,
        node: str | None = None, timeout: int | str = 2, namespace: str | None = None,
    ) -> ProbeResult:
        """What :meth:`from_outside` does, without printing."""
        seconds = arguments.timeout(timeout)
        ref = self._ref(service, namespace, "service")
        state = self.state()
        svc = state.services.get(ref.key)
        if svc is None:
            raise NotFoundError(kubectl.not_found("service", ref.name) + f' in namespace "{ref.namespace}"')
        if not svc.external:
            raise UsageError(f"service {ref.key} is type {svc.type}: clients outside the cluster cannot reach it; "
                             "give it type: NodePort (or LoadBalancer)")
        wanted = arguments.optional_port(port)
        sport = svc.ports[0] if wanted is None and len(svc.ports) == 1 else (
            svc.port_for(wanted, "TCP") if wanted is not None else None)
        if sport is None:
            ports = ", ".join(str(p.port) for p in svc.ports)
            raise UsageError(f"say which port of service {ref.key} ({ports}): port=N, a service port")
        if client is not None and ip_value(str(client).strip()) is None:
            raise UsageError(f"client must be an IP address like '203.0.113.7', not {client!r}")
        nodes = dict(self.backend.nodes())
        if svc.type == "LoadBalancer" and node is None:
            if not svc.load_balancer_ip:
                raise UsageError(f"service {ref.key} has no LoadBalancer address yet (on kind, cloud-provider-kind "
                                 "assigns one); or reach it at a node: node='NAME'")
            address, number = svc.load_balancer_ip, sport.port
        else:
            name = node if node is not None else next(iter(nodes), None)
            if name not in nodes:
                raise UsageError(f"node must be one of {', '.join(nodes) or 'the nodes'}, not {node!r}")
            if not sport.node_port:
                raise UsageError(f"service {ref.key} port {sport.port} has no nodePort yet")
            address, number = nodes[name], sport.node_port
        probe = OutsideProbe(address, number, _path(path) or "/", client and str(client).strip(), seconds)
        return self.backend.outside_probe(probe)

    def from_outside(
        self, service: str, *, port: int | str | None = None, path: str | None = None, client: str | None = None,
        node: str | None = None, timeout: int | str = 2, namespace: str | None = None,
    ) -> None:
        """``wget -qO- --timeout=2 http://NODE:NODEPORT/`` from a machine outside the cluster.

        ``service`` must be ``type: NodePort`` (reached at ``node``, the first node by default) or
        ``LoadBalancer`` (at its address). ``client`` is the outside address the request comes from
        (simulator only; a live backend sends from the machine it runs on). Which source address the
        pod's ingress policies see depends on the Service's ``externalTrafficPolicy``: ``Cluster``
        (the default) SNATs to the node's address, ``Local`` keeps the client's and answers only on
        nodes that run an endpoint (:mod:`nphelpers.traffic`). Prints busybox wget's words.
        """
        result = self.outside(service, port=port, path=path, client=client, node=node, timeout=timeout,
                              namespace=namespace)
        where = "this machine" if client is None else str(client).strip()
        self._cmd(result.command + f"   # from {where}, outside the cluster")
        if result.output:
            self._say(result.output.rstrip("\n"))

    def wget(
        self,
        target: str = "apiserver",
        *,
        from_pod: str | None = None,
        labels: str | Mapping[str, str] | None = None,
        port: int | str | None = None,
        timeout: int | str = 2,
        namespace: str | None = None,
        path: str | None = None,
    ) -> None:
        """``kubectl exec FROM -- wget -qO- --timeout=2 http://TARGET[:PORT][PATH]``: a real request from a pod.

        With ``labels`` instead of an existing ``from_pod``, a throw-away client pod with those
        labels is run first (in ``namespace``) and deleted afterwards (named ``from_pod`` if given).
        ``target`` is a Service name (``apiserver``, ``apiserver:8080``), ``ns/name`` for a
        Service of another namespace (``http://name.ns``), an address or a URL.
        """
        port_number = arguments.optional_port(port)
        seconds = arguments.timeout(timeout)
        self._url(target, port_number, path)  # a bad target fails before the client pod is run
        if labels is not None:
            wanted = arguments.labels(labels)
            if from_pod is not None and "/" in from_pod:
                raise UsageError("with labels=, from_pod is only the throw-away pod's name: give namespace= apart")
            name = from_pod or _client_name(wanted)
            self.run(name, image=CLIENT_IMAGE, labels=wanted, namespace=namespace)
            try:
                self.wget(target, from_pod=name, port=port_number, timeout=seconds, namespace=namespace, path=path)
            finally:
                self.delete("pod", name, namespace=namespace)
            return
        if from_pod is None:
            raise UsageError("say which pod the request comes from: from_pod=NAME, or labels=... for a throw-away one")
        result = self.probe(target, from_pod=from_pod, port=port_number, timeout=seconds, namespace=namespace,
                            path=path)
        self._cmd(result.command)
        self._say(result.output.rstrip("\n"))
        if result.status:  # kubectl exec reports wget's non-zero exit on stderr
            self._say(kubectl.exec_failed(result.status))

    def matrix(self, port: int | str = 80, protocol: str = "TCP") -> Reachability:
        """Who can reach whom among the lab's pods (all its namespaces) on ``port``/``protocol``."""
        port_number, proto = arguments.port(port), arguments.protocol(protocol)
        state = self.state()
        return reachability(state, port_number, proto, pods=self._lab_pods(state))

    def plot(self, port: int | str = 80, protocol: str = "TCP", *, compare: Reachability | None = None,
             compare_label: tuple[str, str] = ("before", "after"), title: str | None = None) -> Figure:
        """The reachability matrix as a figure; ``compare`` (an earlier :meth:`matrix`) marks the cells that changed."""
        from .plotting import plot_matrix

        matrix = self.matrix(port, protocol)
        if compare is not None:
            if not isinstance(compare, Reachability):
                raise UsageError(f"compare= takes a matrix (before = lab.matrix()), not {type(compare).__name__}")
            if list(compare.pods) != list(matrix.pods):
                gone = sorted(set(compare.pods) - set(matrix.pods))
                new = sorted(set(matrix.pods) - set(compare.pods))
                diff = "; ".join(filter(None, [gone and f"gone: {', '.join(gone[:3])}",
                                               new and f"new: {', '.join(new[:3])}"]))
                raise UsageError(
                    f"compare= is a matrix of other pods ({diff or 'another order'}): take it again "
                    "(before = lab.matrix()) with the pods of this lab"
                )
        if not (isinstance(compare_label, tuple | list) and len(compare_label) == 2):
            raise UsageError("compare_label takes two words, like ('before', 'after')")
        return plot_matrix(matrix, self.state(), compare=compare, compare_label=tuple(compare_label), title=title)

    def _endpoint(self, state: ClusterState, name: str) -> Endpoint:
        """A pod (``web``, ``prod/web``) or an address (a pod's, or outside the cluster)."""
        if isinstance(name, str) and ip_value(name.strip()) is not None:
            return state.pod_by_ip(name.strip()) or name.strip()
        ref = self._ref(name, None, "pod")
        return state.pod(ref.key)

    def verdict(self, source: str, destination: str, port: int | str = 80, protocol: str = "TCP") -> Verdict:
        """The judgement on one connection, as data (see :meth:`explain` for the words)."""
        port_number, proto = arguments.port(port), arguments.protocol(protocol)
        state = self.state()
        return evaluate(state, self._endpoint(state, source), self._endpoint(state, destination), port_number, proto)

    def explain(self, source: str, destination: str, port: int | str = 80, protocol: str = "TCP") -> None:
        """Why ``source`` can or cannot reach ``destination``: the policies, rules and peers involved."""
        self._say(self.verdict(source, destination, port, protocol).explain())

    def observe(self, port: int | str = 80, *, max_workers: int = 32) -> Reachability:
        """What the cluster really does: every lab pod probes every lab pod's IP on ``port`` (TCP).

        On kind the probes run in parallel and each is repeated until two verdicts agree.
        A refused connection counts as allowed: the policy let it through, nothing listened.
        """
        import numpy as np

        port_number = arguments.port(port)
        workers = arguments.integer(max_workers, "max_workers", 1, 256)
        state = self.state()
        pods = self._lab_pods(state)
        pairs = [(s, d) for s in pods for d in pods]
        results = self.backend.sweep(pairs, port_number, max_workers=workers)
        allowed = np.array([[results[(s, d)].outcome in ("allowed", "refused") for d in pods] for s in pods],
                           dtype=bool).reshape(len(pods), len(pods))
        return Reachability(port_number, "TCP", pods, allowed)

    def _compare(self, port: int | str) -> tuple[Reachability, Reachability]:
        predicted = self.matrix(port)
        observed = self.observe(port)
        wrong = [(src, dst) for src, dst, _, _ in predicted.diff(observed)]
        total = len(predicted.pods) ** 2
        if not wrong:
            self._say(f"observed = predicted on all {total} pairs ({predicted.port}/TCP)")
        else:
            self._say(f"{len(wrong)} of {total} pairs differ from the prediction ({predicted.port}/TCP):")
            for src, dst in wrong:
                seen = "allowed" if observed.is_allowed(src, dst) else "blocked"
                self._say(f"  {src} -> {dst}: observed {seen}, predicted the opposite")
        return predicted, observed

    def verify(self, port: int | str = 80) -> None:
        """Observed versus predicted: probe every pair, compare with the policies' verdict, list mismatches."""
        self._compare(port)

    def plot_verify(self, port: int | str = 80) -> Figure:
        """:meth:`verify` as a figure: what the cluster did, with the cells that differ from the prediction marked."""
        from .plotting import plot_matrix

        predicted, observed = self._compare(port)
        return plot_matrix(observed, self.state(), compare=predicted, compare_label=("predicted", "observed"))

    def widget(self, pods: Sequence[str] | None = None, port: int | str = 80, **options: Any) -> Any:
        """Checkboxes that toggle labels on the lab's pods, with the matrix and probes updating live.

        ``options`` go to :class:`nphelpers.widgets.LabelToggles` (``labels``, ``target``,
        ``clients``, ``matrix_format``...).
        """
        from .widgets import LabelToggles

        return LabelToggles(self, pods=pods, port=arguments.port(port), **options).view()

    def policy_editor(self, text: str = "", **options: Any) -> Any:
        """A YAML text area: validate and apply a policy, errors shown inline."""
        from .widgets import PolicyEditor

        if not isinstance(text, str):
            raise UsageError(f"policy_editor takes YAML text, not {type(text).__name__}")
        return PolicyEditor(self, text, **options).view()

    # -- the end ----------------------------------------------------------------------
    def cleanup(self) -> None:
        """Delete everything this lab created (and only that), one namespace at a time.

        ``kubectl delete networkpolicy,service,pod -l app.kubernetes.io/managed-by=nphelpers -n NS``
        for each of the lab's namespaces, then ``kubectl delete namespace NS`` for each namespace
        the lab created (a namespace that holds objects nphelpers did not create is kept).
        """
        try:
            facts = self.backend.cleanup()
        finally:
            self._changed()
        order = {k: info.cleanup_order for k, info in KINDS.items()}
        objects = sorted((f for f in facts if f.kind != "Namespace"),
                         key=lambda f: (order[f.kind], f.name))
        namespaces = sorted(set(self.namespaces) | {str(f.namespace) for f in objects})
        for ns in namespaces:
            self._cmd(kubectl.cleanup_command(MANAGED_SELECTOR, ns))
            here = [f for f in objects if f.namespace == ns]
            if here:
                self._show(here, "delete")
            else:
                self._say(kubectl.NO_RESOURCES)
        for fact in sorted((f for f in facts if f.kind == "Namespace"), key=lambda f: f.name):
            if isinstance(fact, Deleted):
                self._cmd(kubectl.delete_command("namespace", fact.name))
            self._show([fact], "delete")
        self._namespaces = {self.namespace: None}

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"Lab(backend={self.backend.name!r}, namespace={self.namespace!r})"

    # -- exercises and predictions: thin delegates to nphelpers.exercises and nphelpers.predict --
    def start_exercise(self, exercise: Any) -> Any:
        """Set an exercise up (an :class:`~nphelpers.exercises.Exercise` or its id) and show its goal."""
        from .exercises import start

        return start(self, exercise, say=self._say)

    def check(self, exercise: Any, answer: str | os.PathLike[str], *, observe: bool = True) -> Any:
        """Apply the learner's ``answer`` (a file or YAML text) and check it against ``exercise``.

        Prints ✓ or the differing connections with the next hint; returns a
        :class:`~nphelpers.exercises.CheckResult`, truthy on success (``assert lab.check(...)``).
        """
        from .exercises import check

        return check(self, exercise, answer, observe=observe, say=self._say)

    def predict(self, blocked: Any = None, *, port: int = 80, protocol: str = "TCP",
                after: str | os.PathLike[str] | None = None, pods: Sequence[str] | None = None) -> Any:
        """Score a prediction of the matrix: ``blocked`` lists the (source, destination) pairs you expect blocked.

        ``after``: a policy (file or YAML text) to judge as if applied, without applying it.
        Without ``blocked``, returns the predict-then-reveal widget instead.
        """
        from .predict import predict

        return predict(self, blocked, port=port, protocol=protocol, after=after, pods=pods, say=self._say)

    # -- what widgets need: change notifications, captured output --------------------------
    @property
    def probes_take_seconds(self) -> bool:
        """True on a live cluster, where every probe really runs in a pod (widgets probe on demand there)."""
        return self.backend.name != "simulated"

    @property
    def changes(self) -> int:
        """How many verbs that may change the cluster ran through this lab (widgets compare it)."""
        return self.__dict__.get("_change_count", 0)

    def on_change(self, callback: Callable[[], None], *, key: str | None = None) -> Callable[[], None]:
        """Call ``callback()`` after every verb that may change the cluster; returns an unsubscribe function.

        With ``key``, a new callback replaces the one registered under the same key (a widget
        shown again replaces its older copy). A callback that raises is dropped.
        """
        listeners: dict[object, Callable[[], None]] = self.__dict__.setdefault("_listeners", {})
        token: object = key if key is not None else object()
        listeners[token] = callback
        return lambda: listeners.pop(token, None) if listeners.get(token) is callback else None

    @contextlib.contextmanager
    def captured(self) -> Iterator[list[str]]:
        """``with lab.captured() as lines:``: run verbs and collect what they print instead of printing it."""
        lines: list[str] = []
        saved, self._out = self._out, _Lines(lines)
        try:
            yield lines
        finally:
            self._out = saved

    def _changed(self) -> None:
        self.__dict__["_change_count"] = self.changes + 1
        listeners = self.__dict__.get("_listeners", {})
        for token, callback in list(listeners.items()):
            try:
                callback()
            except Exception:  # a broken widget must not break the student's cell
                listeners.pop(token, None)


class _Lines:
    """A write-only text stream that keeps the lines printed to it."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._partial = ""

    def write(self, text: str) -> int:
        *done, self._partial = (self._partial + text).split("\n")
        self.lines.extend(done)
        return len(text)

    def flush(self) -> None:
        pass


def _namespace_name(name: Any) -> str:
    """A namespace name as the apiserver allows it (a DNS-1123 label)."""
    from .validation import validate_object

    if not isinstance(name, str) or not name:
        raise UsageError(f"a namespace name must be a non-empty string, not {name!r}")
    try:
        validate_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except NphelpersError as err:
        message = getattr(err, "message", str(err))
        raise UsageError(f"namespace {name[:70]!r}: {message}") from None
    return name


def _is_yaml_text(source: Any) -> bool:
    """Whether ``lab.apply`` got YAML text rather than a path, deciding without touching the
    filesystem when the string cannot be a path (a newline, NUL, too long a name)."""
    if isinstance(source, os.PathLike):
        return False
    if not isinstance(source, str):
        raise UsageError(f"apply takes a file, a directory or YAML text, not {type(source).__name__}")
    if not source.strip():
        raise UsageError("apply got an empty string: give a file name or YAML text")
    if "\n" in source or "\0" in source:
        return True
    if len(source.encode()) > _PATH_MAX or any(len(p.encode()) > _NAME_MAX for p in source.split(os.sep)):
        return True  # no file can have this name
    if ":" not in source:
        return False  # a path (a missing one is reported by the loader)
    try:
        return not Path(source).exists()
    except (OSError, ValueError):
        return True


def _path(path: Any) -> str:
    """A URL path for wget (``/healthz``); ``""`` for none. Checked: no spaces, no control characters."""
    if path is None:
        return ""
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 2048 or any(
            c.isspace() or ord(c) < 32 for c in path):
        raise UsageError(f"path must be a URL path like '/healthz' (starting with '/', no spaces), not {path!r}")
    return path


def _client_name(labels: Mapping[str, str]) -> str:
    """A stable pod name for a throw-away client: ``test-app-other`` for ``app=other``."""
    words = "-".join(f"{k.rsplit('/', 1)[-1]}-{v}" for k, v in sorted(labels.items())) or "nolabels"
    cleaned = "".join(c if c.isalnum() else "-" for c in words.lower()).strip("-")
    return ("test-" + "-".join(filter(None, cleaned.split("-"))))[:63].rstrip("-")

