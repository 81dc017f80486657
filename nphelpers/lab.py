"""The object a lesson holds: ``lab = Lab()``, then verbs that read like kubectl.

Every verb prints the kubectl command it stands for (``$ kubectl ...``) and then what
kubectl (or busybox wget) prints, on the simulator and on a live kind cluster alike, so
students learn kubectl and stored notebook outputs hold for both backends.

The lab works in one namespace (``namespace=``), as if the kubectl context had been set
to it; objects that name no namespace go there.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from . import kubectl
from .backends.base import Backend, ProbeResult
from .cluster import ClusterState
from .engine import Verdict, evaluate, resolve_endpoint
from .errors import BackendError, NotFoundError, NphelpersError
from .matrix import Reachability, reachability
from .policy import NetworkPolicy
from .selectors import parse_label_string

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BACKEND_ENV = "NPHELPERS_BACKEND"
CLIENT_IMAGE = "alpine"
MANAGED_BY = "app.kubernetes.io/managed-by"


def choose_backend(backend: str | Backend = "auto", namespace: str = "default", **options: Any) -> tuple[Backend, str]:
    """The backend to use and one line saying why.

    ``auto`` reads ``$NPHELPERS_BACKEND`` (``simulated`` or ``kind``), else uses the current
    kubeconfig context when it is a kind cluster, else the simulator.
    """
    if not isinstance(backend, str):
        return backend, f"Using the {backend.name} backend you passed."
    choice = backend
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
    if choice in ("simulated", "simulator", "sim"):
        from .backends.simulated import SimulatedCluster

        why = f" ({reason})" if reason else ""
        return SimulatedCluster(), f"Using the simulated cluster{why}: NetworkPolicy v1 semantics, computed exactly."
    if choice in ("kind", "live"):
        from .backends.live import LiveBackend

        live = LiveBackend(namespace=namespace, **options)
        why = f" ({reason})" if reason else ""
        return live, f"Using the live kind cluster{why}: every probe really runs in a pod."
    raise BackendError(f'unknown backend "{backend}": use "auto", "simulated" or "kind"')


class Lab:
    """A NetworkPolicy lab on the simulator or a live kind cluster.

    >>> lab = Lab(backend="simulated", namespace="default", out=None)
    """

    def __init__(
        self,
        backend: str | Backend = "auto",
        *,
        namespace: str = "default",
        out: TextIO | None = sys.stdout,
        **backend_options: Any,
    ) -> None:
        self.namespace = namespace
        self._out = out
        self.backend, line = choose_backend(backend, namespace, **backend_options)
        self._say(line)
        _show_errors_in_one_line()

    # -- output ---------------------------------------------------------------------
    def _say(self, *lines: str) -> None:
        if self._out is not None:
            for line in lines:
                print(line, file=self._out)

    def _cmd(self, command: str) -> None:
        self._say(f"$ {command}")

    @contextlib.contextmanager
    def quiet(self) -> Iterator[Lab]:
        """``with lab.quiet():`` run verbs without printing (widgets show the output themselves)."""
        saved, self._out = self._out, None
        try:
            yield self
        finally:
            self._out = saved

    # -- objects ----------------------------------------------------------------------
    def _in_namespace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Put ``obj`` in the lab's namespace (unless it names one) and mark it as the lab's."""
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        if obj.get("kind") != "Namespace":
            meta.setdefault("namespace", self.namespace)
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "nphelpers"}
        return obj

    def run(
        self,
        name: str,
        image: str = "nginx",
        labels: str | Mapping[str, str] | None = None,
        port: int | None = None,
        expose: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        """``kubectl run NAME --image=IMAGE --labels=... [--port=P --expose]``: a pod (and its Service)."""
        labels = dict(parse_label_string(labels) if isinstance(labels, str) else labels or {"run": name})
        if command is None and not port:
            command = ["sleep", "3600"]  # a client pod that stays up for probes
        container: dict[str, Any] = {"name": name, "image": image}
        if port:
            container["ports"] = [{"containerPort": port}]
        if command:
            container["command"] = list(command)
        objects: list[dict[str, Any]] = []
        if expose:
            if not port:
                raise ValueError("expose=True needs a port, as kubectl run --expose needs --port")
            objects.append({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"selector": dict(labels), "ports": [{"port": port, "targetPort": port}]},
            })
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                        "spec": {"containers": [container]}})
        run = kubectl.run_command(name, image, labels, port, expose, namespace=self.namespace)
        self._cmd(run + (" -- " + " ".join(command) if command else ""))
        self.apply_objects(objects)

    def expose(self, pod: str, port: int, target_port: int | str | None = None, name: str | None = None) -> None:
        """``kubectl expose pod POD --port=P --target-port=T --name=N``: a Service in front of a pod."""
        target = self.backend.state().pod(self._key(pod))
        svc_name = name or pod
        selector = {k: v for k, v in target.labels.items() if k != MANAGED_BY}
        spec: dict[str, Any] = {"selector": selector, "ports": [{"port": port, "targetPort": target_port or port}]}
        command = f"kubectl expose pod {pod} --port={port}"
        command += (f" --target-port={target_port}" if target_port else "") + (f" --name={name}" if name else "")
        command += f" -n {self.namespace}" if self.namespace != "default" else ""
        self._cmd(command)
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc_name}, "spec": spec}
        # kubectl expose reports "exposed" where apply would say "created".
        lines = self.backend.apply([self._in_namespace(service)])
        self._say(*(line.replace(" created", " exposed") for line in lines))

    def apply(self, source: str | os.PathLike[str]) -> None:
        """``kubectl apply -f FILE``: a file, a directory, or a YAML string (validated first, all or nothing)."""
        from .manifests import load_paths, load_text

        text = str(source)
        if "\n" in text or (not Path(text).exists() and ":" in text):
            self._cmd(kubectl.apply_command("-", self.namespace) + " <<EOF ... EOF")
            result = load_text(text, "<yaml>", namespace=self.namespace)
        else:
            self._cmd(kubectl.apply_command(text, self.namespace))
            result = load_paths([text], namespace=self.namespace)
        for note in result.notes:
            self._say(f"note: {note}")
        self.apply_objects(result.objects)

    def apply_objects(self, objects: Sequence[Mapping[str, Any]]) -> list[str]:
        """Apply manifest dicts: validated all first (nothing changes on an error), then applied.

        Prints kubectl's lines (unless :meth:`quiet`) and returns them.
        """
        from .validation import validate_object

        objects = [self._in_namespace(dict(o)) for o in objects]
        for obj in objects:
            validate_object(obj)
        lines = self.backend.apply(objects)
        self._say(*lines)
        return lines

    def cat(self, path: str | os.PathLike[str]) -> None:
        """``cat FILE``: show a manifest before applying it."""
        text = Path(path).read_text()
        self._cmd(f"cat {path}")
        self._say(text.rstrip("\n"))

    def delete(self, kind: str, name: str) -> None:
        """``kubectl delete KIND NAME``."""
        self._cmd(kubectl.delete_command(kind, name, self.namespace))
        self._say(self.backend.delete(kind, name, self.namespace))

    def label(self, pod: str, *changes: str, kind: str = "pod") -> None:
        """``kubectl label pod POD app=bookstore role- --overwrite``: set ``k=v``, remove ``k-``."""
        labels: dict[str, str | None] = {}
        for change in changes:
            for item in change.replace(",", " ").split():
                if item.endswith("-") and "=" not in item:
                    labels[item[:-1]] = None
                else:
                    labels.update(parse_label_string(item))
        self._cmd(kubectl.label_command(kind, pod, labels, namespace=self.namespace))
        self._say(self.backend.label(kind, pod, labels, self.namespace))

    def unlabel(self, pod: str, *keys: str) -> None:
        """``kubectl label pod POD key-``: remove labels."""
        self.label(pod, *(f"{k}-" for k in keys))

    # -- looking ----------------------------------------------------------------------
    def state(self) -> ClusterState:
        """A snapshot of the cluster (namespaces, pods, services, policies) for code to inspect."""
        return self.backend.state()

    def _lab_pods(self, state: ClusterState) -> list[str]:
        return [p.key for p in self._in_lab(state.pods)]

    def _in_lab(self, table: Mapping[str, Any]) -> list[Any]:
        return [table[k] for k in sorted(table) if k.split("/", 1)[0] == self.namespace]

    def _table(self, command: str, objects: list[Any], render: Any) -> None:
        self._cmd(command)
        self._say(render(objects) if objects else f"No resources found in {self.namespace} namespace.")

    def get_pods(self) -> None:
        """``kubectl get pods`` with labels: who carries which label."""
        pods = self._in_lab(self.state().pods)
        self._table(kubectl.get_pods_command(pods, namespace=self.namespace), pods, kubectl.get_pods)

    def get_services(self) -> None:
        """``kubectl get services``: names, ports and the selectors that pick their pods."""
        services = self._in_lab(self.state().services)
        self._table(kubectl.get_services_command(services, namespace=self.namespace), services, kubectl.get_services)

    def get_policies(self) -> None:
        """``kubectl get networkpolicy``."""
        policies = self._in_lab(self.state().policies)
        command = kubectl.get_networkpolicies_command(policies, namespace=self.namespace)
        self._table(command, policies, kubectl.get_networkpolicies)

    def describe_policy(self, name: str) -> None:
        """``kubectl describe networkpolicy NAME``: the policy in kubectl's words."""
        policy = self.policy(name)
        self._cmd(kubectl.describe_networkpolicy_command(name, self.namespace))
        self._say(kubectl.describe_networkpolicy(policy))

    def policy(self, name: str) -> NetworkPolicy:
        """The policy called ``name`` in the lab's namespace (for code: selectors, rules, types)."""
        policies = self.state().policies
        key = self._key(name)
        if key not in policies:
            raise NotFoundError(f'networkpolicies.networking.k8s.io "{name}" not found in namespace "{self.namespace}"')
        return policies[key]

    def selected_by(self, name: str) -> list[str]:
        """The pods (names) the policy ``name`` selects, that is, isolates."""
        policy = self.policy(name)
        return [p.name for p in self._in_lab(self.state().pods) if policy.selects(p)]

    # -- traffic ----------------------------------------------------------------------
    def probe(
        self, target: str = "apiserver", *, from_pod: str, port: int | None = None, timeout: int = 2
    ) -> ProbeResult:
        """What :meth:`wget` does, without printing: the outcome and output for code to check."""
        url = target if "://" in target else f"http://{target}" + (f":{port}" if port else "")
        source = self._key(from_pod)
        stable = getattr(self.backend, "probe_stable", None)  # live clusters: repeat until two verdicts agree
        return stable(source, url, timeout) if stable else self.backend.wget(source, url, timeout)

    def wget(
        self,
        target: str = "apiserver",
        *,
        from_pod: str | None = None,
        labels: str | Mapping[str, str] | None = None,
        port: int | None = None,
        timeout: int = 2,
    ) -> None:
        """``kubectl exec FROM -- wget -qO- --timeout=2 http://TARGET``: a real request from a pod.

        With ``labels`` instead of an existing ``from_pod``, a throw-away client pod with those
        labels is run first and deleted afterwards (named ``from_pod`` if given).
        """
        if labels is not None:
            wanted = dict(parse_label_string(labels) if isinstance(labels, str) else labels)
            name = from_pod or _client_name(wanted)
            self.run(name, image=CLIENT_IMAGE, labels=wanted)
            try:
                self.wget(target, from_pod=name, port=port, timeout=timeout)
            finally:
                self.delete("pod", name)
            return
        if from_pod is None:
            raise ValueError("say which pod the request comes from: from_pod=NAME, or labels=... for a throw-away one")
        result = self.probe(target, from_pod=from_pod, port=port, timeout=timeout)
        self._cmd(result.command)
        self._say(result.output.rstrip("\n"))
        if not result.allowed:  # kubectl exec reports wget's non-zero exit on stderr
            self._say(kubectl.exec_failed(1))

    def matrix(self, port: int = 80, protocol: str = "TCP") -> Reachability:
        """Who can reach whom among the lab's pods on ``port``/``protocol``, as the policies say."""
        state = self.state()
        return reachability(state, port, protocol, pods=self._lab_pods(state))

    def plot(self, port: int = 80, protocol: str = "TCP", *, compare: Reachability | None = None,
             compare_label: tuple[str, str] = ("before", "after"), title: str | None = None) -> Figure:
        """The reachability matrix as a figure; ``compare`` marks the cells that changed."""
        from .plotting import plot_matrix

        state = self.state()
        matrix = reachability(state, port, protocol, pods=self._lab_pods(state))
        return plot_matrix(matrix, state, compare=compare, compare_label=compare_label, title=title)

    def verdict(self, source: str, destination: str, port: int = 80, protocol: str = "TCP") -> Verdict:
        """The judgement on one connection, as data (see :meth:`explain` for the words)."""
        state = self.state()
        ends = (resolve_endpoint(state, name, self.namespace) for name in (source, destination))
        return evaluate(state, *ends, port, protocol)

    def explain(self, source: str, destination: str, port: int = 80, protocol: str = "TCP") -> None:
        """Why ``source`` can or cannot reach ``destination``: the policies, rules and peers involved."""
        self._say(self.verdict(source, destination, port, protocol).explain())

    def observe(self, port: int = 80, *, max_workers: int = 32) -> Reachability:
        """What the cluster really does: every lab pod probes every lab pod's IP on ``port`` (TCP).

        On kind the probes run in parallel and each is repeated until two verdicts agree.
        A refused connection counts as allowed: the policy let it through, nothing listened.
        """
        state = self.state()
        pods = self._lab_pods(state)
        pairs = [(s, d) for s in pods for d in pods]
        sweep = getattr(self.backend, "sweep", None)
        if sweep is not None:
            results = sweep(pairs, port, max_workers=max_workers)
        else:
            results = {(s, d): self.backend.wget(s, f"http://{state.pods[d].ip}:{port}") for s, d in pairs}
        allowed = np.array([[results[(s, d)].outcome in ("allowed", "refused") for d in pods] for s in pods],
                           dtype=bool).reshape(len(pods), len(pods))
        return Reachability(port, "TCP", pods, allowed)

    def _compare(self, port: int) -> tuple[Reachability, Reachability]:
        predicted = self.matrix(port)
        observed = self.observe(port)
        wrong = [
            (src, dst) for i, src in enumerate(predicted.pods) for j, dst in enumerate(predicted.pods)
            if predicted.allowed[i, j] != observed.allowed[i, j]
        ]
        total = len(predicted.pods) ** 2
        if not wrong:
            self._say(f"observed = predicted on all {total} pairs ({port}/TCP)")
        else:
            self._say(f"{len(wrong)} of {total} pairs differ from the prediction ({port}/TCP):")
            for src, dst in wrong:
                seen = "allowed" if observed.is_allowed(src, dst) else "blocked"
                self._say(f"  {src} -> {dst}: observed {seen}, predicted the opposite")
        return predicted, observed

    def verify(self, port: int = 80) -> None:
        """Observed versus predicted: probe every pair, compare with the policies' verdict, list mismatches."""
        self._compare(port)

    def plot_verify(self, port: int = 80) -> Figure:
        """:meth:`verify` as a figure: what the cluster did, with the cells that differ from the prediction marked."""
        from .plotting import plot_matrix

        predicted, observed = self._compare(port)
        return plot_matrix(observed, self.state(), compare=predicted, compare_label=("predicted", "observed"))

    def widget(self, pods: Sequence[str] | None = None, port: int = 80, **options: Any) -> Any:
        """Checkboxes that toggle labels on the lab's pods, with the matrix and probes updating live.

        ``options`` go to :class:`nphelpers.widgets.LabelToggles` (``labels``, ``target``, ``image_format``...).
        """
        from .widgets import LabelToggles

        return LabelToggles(self, pods=pods, port=port, **options).view()

    def policy_editor(self, text: str = "", **options: Any) -> Any:
        """A YAML text area: validate and apply a policy, errors shown inline."""
        from .widgets import PolicyEditor

        return PolicyEditor(self, text, **options).view()

    # -- the end ----------------------------------------------------------------------
    def cleanup(self) -> None:
        """Delete everything this lab created (and only that)."""
        ns = f" -n {self.namespace}" if self.namespace != "default" else ""
        self._cmd(f"kubectl delete networkpolicy,service,pod -l {MANAGED_BY}=nphelpers{ns}")
        lines = self.backend.cleanup()
        objects = [line for line in lines if not line.startswith('namespace "')]
        self._say(*objects)
        for line in lines[len(objects):]:
            self._cmd(f"kubectl delete namespace {line.split(chr(34))[1]}")
            self._say(line)

    def _key(self, name: str) -> str:
        return name if "/" in name else f"{self.namespace}/{name}"

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- added for lesson 02 and its widgets (issue 9); kept apart so that it merges -------
    def get_endpoints(self, name: str | None = None) -> None:
        """``kubectl get endpoints [NAME]``: which pods (and ports) stand behind each Service.

        Printed as custom columns naming the pods rather than their addresses (which differ
        between clusters); a Service whose selector matches no pod shows ``<none>``.
        """
        from .lesson02 import endpoints_objects, get_endpoints, get_endpoints_command

        state = self.state()
        services = self._in_lab(state.services)
        if name is not None:
            services = [s for s in services if s.name == name]
            if not services:
                raise NotFoundError(f'endpoints "{name}" not found in namespace "{self.namespace}"')
        self._cmd(get_endpoints_command(name, self.namespace))
        objects = endpoints_objects(state, services)
        self._say(get_endpoints(objects) if objects else f"No resources found in {self.namespace} namespace.")

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


def _notifies(verb: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a changing verb so that the lab's listeners hear of it once, after the outermost call."""

    @functools.wraps(verb)
    def wrapper(self: Lab, *args: Any, **kwargs: Any) -> Any:
        depth = self.__dict__.get("_verb_depth", 0)
        self.__dict__["_verb_depth"] = depth + 1
        try:
            return verb(self, *args, **kwargs)
        finally:
            self.__dict__["_verb_depth"] = depth
            if depth == 0:
                self._changed()

    return wrapper


# The verbs that may change the cluster (those a Lab defines; namespace verbs once it has them).
CHANGING_VERBS = ("run", "expose", "apply", "apply_objects", "delete", "label", "unlabel", "cleanup",
                  "create_namespace", "delete_namespace", "label_namespace", "unlabel_namespace")
for _verb in CHANGING_VERBS:
    if _verb in vars(Lab):
        setattr(Lab, _verb, _notifies(vars(Lab)[_verb]))



def _show_errors_in_one_line() -> None:
    """In IPython, show a user's mistake (an NphelpersError) as one line, not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def show(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        print(f"error: {value}", file=sys.stderr)

    shell.set_custom_exc((NphelpersError,), show)


def _client_name(labels: Mapping[str, str]) -> str:
    """A stable pod name for a throw-away client: ``test-app-other`` for ``app=other``."""
    words = "-".join(f"{k.rsplit('/', 1)[-1]}-{v}" for k, v in sorted(labels.items())) or "nolabels"
    cleaned = "".join(c if c.isalnum() else "-" for c in words.lower()).strip("-")
    return ("test-" + "-".join(filter(None, cleaned.split("-"))))[:63].rstrip("-")
