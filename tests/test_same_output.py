"""One script of verbs through both backends: the printed text must be byte-identical, verb by verb.

The simulator runs it as is; the live backend runs it on the in-memory Kubernetes API of
``tests/fake_kube.py``. Both print through the same :class:`~nphelpers.lab.Lab`, so any
difference comes from the facts a backend returns (:mod:`nphelpers.backends.base`) — which
is what this test pins down: run, expose, apply created/configured/unchanged, label
add/overwrite/remove/remove-absent, unlabel, delete, delete-missing, namespace creation and
labels, probes, tables, and cleanup across several namespaces.

The script is run twice: with the lab's home namespace ``default`` (which the live backend
keeps in its own lab namespace and must report as ``default``) and with ``lesson-x``.
Steps avoid text that legitimately differs (addresses: a real cluster picks them).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import pytest

from nphelpers import kubectl
from nphelpers.backends.simulated import SimulatedCluster
from nphelpers.lab import Lab

try:
    from fake_kube import NGINX_PAGE, FakeKube
except ImportError:  # tests/ imported as a package
    from tests.fake_kube import NGINX_PAGE, FakeKube

POLICY = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: api-allow
spec:
  podSelector:
    matchLabels: {app: api}
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: client}
"""
POLICY_CHANGED = POLICY + "    ports:\n    - port: 80\n"
PROD_POLICY = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: from-prod-only, namespace: prod}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {purpose: production}
"""

Step = tuple[str, Callable[[Lab], object]]
STEPS: list[Step] = [
    ("run --expose", lambda lab: lab.run("api", "nginx", labels="app=api", port=80, expose=True)),
    ("run client", lambda lab: lab.run("client", "alpine", labels="app=client")),
    ("run other", lambda lab: lab.run("other", "alpine", labels="app=other")),
    ("expose", lambda lab: lab.expose("api", port=8080, target_port=80, name="api-8080")),
    ("apply created", lambda lab: lab.apply(POLICY)),
    ("apply unchanged", lambda lab: lab.apply(POLICY)),
    ("apply configured", lambda lab: lab.apply(POLICY_CHANGED)),
    ("wget allowed", lambda lab: lab.wget("api", from_pod="client")),
    ("wget blocked", lambda lab: lab.wget("api", from_pod="other")),
    ("wget service port", lambda lab: lab.wget("api-8080:8080", from_pod="client")),
    ("label add", lambda lab: lab.label("other", "tier=web")),
    ("label overwrite", lambda lab: lab.label("other", "app=client")),
    ("label remove", lambda lab: lab.label("other", "tier-")),
    ("label remove absent", lambda lab: lab.label("other", "gone-")),
    ("label remove and set", lambda lab: lab.label("other", "app-", "b=2")),
    ("label same value", lambda lab: lab.label("other", "b=2")),
    ("unlabel", lambda lab: lab.unlabel("other", "b")),
    ("get pods", lambda lab: lab.get_pods()),
    ("get policies", lambda lab: lab.get_policies()),
    ("describe policy", lambda lab: lab.describe_policy("api-allow")),
    ("create namespace", lambda lab: lab.create_namespace("prod", labels="purpose=production")),
    ("label namespace", lambda lab: lab.label_namespace("prod", "team=a")),
    ("unlabel namespace", lambda lab: lab.unlabel_namespace("prod", "team")),
    ("run in prod", lambda lab: lab.run("web", "nginx", labels="app=web", port=80, expose=True, namespace="prod")),
    ("apply in prod", lambda lab: lab.apply(PROD_POLICY)),
    ("wget across namespaces", lambda lab: lab.wget("prod/web", from_pod="client")),
    ("wget from prod, short name", lambda lab: lab.wget("api", from_pod="prod/web")),
    ("wget from prod", lambda lab: lab.wget(f"{lab.namespace}/api", from_pod="prod/web")),
    ("get pods in prod", lambda lab: lab.get_pods(namespace="prod")),
    ("delete", lambda lab: lab.delete("pod", "other")),
    ("delete missing", lambda lab: lab.delete("pod", "ghost")),
    ("delete missing in prod", lambda lab: lab.delete("networkpolicy", "nope", namespace="prod")),
    ("delete service", lambda lab: lab.delete("service", "api-8080")),
    ("cleanup", lambda lab: lab.cleanup()),
]
HOMES = ("default", "lesson-x")


def simulated() -> SimulatedCluster:
    return SimulatedCluster()


def live() -> object:
    from nphelpers.backends.live import LiveBackend

    backend = LiveBackend("kind-test", api=FakeKube(), ready_timeout=5)  # type: ignore[arg-type]
    backend.settle = 0.2
    backend._poll_interval = 0.0
    backend._sleep = lambda seconds: None
    return backend


@functools.cache
def transcript(backend: str, home: str) -> tuple[str, ...]:
    """What each step printed (or the one-line error it raised), in order."""
    out = io.StringIO()
    lab = Lab(simulated() if backend == "simulated" else live(), namespace=home, out=out)  # type: ignore[arg-type]
    texts = []
    for _, step in STEPS:
        out.truncate(0), out.seek(0)
        try:
            step(lab)
            text = out.getvalue()
        except Exception as err:  # the comparison shows it; the simulated side must have none
            text = out.getvalue() + f"raised {type(err).__name__}: {err}\n"
        texts.append(text.replace(NGINX_PAGE, kubectl.nginx_index()))
    return tuple(texts)


@pytest.mark.parametrize("home", HOMES)
def test_the_simulated_script_runs_without_errors(home: str) -> None:
    texts = dict(zip((name for name, _ in STEPS), transcript("simulated", home), strict=True))
    assert not [name for name, text in texts.items() if "raised " in text]
    n = "" if home == "default" else f" -n {home}"
    assert texts["run --expose"] == (
        f'$ kubectl run api --image=nginx --labels="app=api" --expose --port=80{n}\nservice/api created\n'
        "pod/api created\n"
    )
    assert texts["expose"].endswith("service/api-8080 exposed\n")
    assert [texts[f"apply {a}"].splitlines()[-1] for a in ("created", "unchanged", "configured")] == [
        f"networkpolicy.networking.k8s.io/api-allow {a}" for a in ("created", "unchanged", "configured")]
    assert texts["label remove absent"].splitlines()[1:] == ['label "gone" not found.', "pod/other not labeled"]
    assert texts["label remove and set"].splitlines()[1:] == ["pod/other labeled"]
    assert texts["delete missing"].splitlines()[1:] == ['Error from server (NotFound): pods "ghost" not found']
    assert texts["wget from prod, short name"].splitlines()[1] == "wget: bad address 'api'"  # prod's search path
    assert texts["wget from prod"].splitlines()[-2:] == [
        "wget: download timed out", "command terminated with exit code 1"]
    cleanup = texts["cleanup"]
    assert "$ kubectl delete namespace prod\nnamespace \"prod\" deleted" in cleanup
    assert 'namespace "default"' not in cleanup  # the lab did not create it
    assert (f'namespace "{home}" deleted' in cleanup) == (home != "default")


@pytest.mark.parametrize("home", HOMES)
@pytest.mark.parametrize("index", range(len(STEPS)), ids=[name.replace(" ", "-") for name, _ in STEPS])
def test_both_backends_print_the_same(home: str, index: int) -> None:
    sim, kind = transcript("simulated", home)[index], transcript("live", home)[index]
    assert kind == sim, f"step {STEPS[index][0]!r} (home {home})"
