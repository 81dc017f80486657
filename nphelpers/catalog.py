"""The course's exercises, one or more per lesson (``course/plan.md``), by id.

Each starting state is its lesson's scenario at the point of the exercise (the same object
names, labels, images and namespaces as the notebook's ``lab.run``/``lab.create_namespace``
cells; ``tests/test_lessons.py`` checks that the two agree), written as manifest dicts:
objects without ``metadata.namespace`` go to the lab's namespace, the others to the namespaces
they name. The reference answers are ``notebooks/solutions/<id>.yaml``. Lesson 05 has no exercise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exercises import (
    Breaks,
    Differs,
    Exercise,
    FromOutside,
    HasLabels,
    Hint,
    InLessonNamespace,
    Matrix,
    MaxPolicies,
    NewPod,
    NoAllowAll,
    NoBareNamespaceSelector,
    NoLabelChanges,
    Probe,
    SelectNamespacesBy,
    Selects,
    Serves,
    ToOutside,
)
from .model import NAME_LABEL

if TYPE_CHECKING:
    from .lab import Lab

OUTSIDE = "203.0.113.7"  # a documentation address (TEST-NET-3): a client outside the cluster


# -- manifest builders -----------------------------------------------------------------------
def _meta(name: str, labels: dict[str, str] | None, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def pod(name: str, labels: dict[str, str], *, image: str = "busybox", ports: tuple[Any, ...] = (),
        namespace: str | None = None) -> dict[str, Any]:
    """A pod; ``ports`` are numbers or ``(number, name)``. A client without ports sleeps."""
    container: dict[str, Any] = {"name": name, "image": image}
    if ports:
        container["ports"] = [{"containerPort": p} if isinstance(p, int) else {"containerPort": p[0], "name": p[1]}
                              for p in ports]
    else:
        container["args"] = ["sleep", "3600"]  # as `kubectl run ... -- sleep 3600` sets it
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, labels, namespace),
            "spec": {"containers": [container]}}


def client(name: str = "client", labels: dict[str, str] | None = None,
           namespace: str | None = None) -> dict[str, Any]:
    """``kubectl run client --image=alpine --labels=app=client -- sleep 3600``: a client that stays up."""
    return pod(name, labels or {"app": "client"}, image="alpine", namespace=namespace)


def web(name: str = "web", labels: dict[str, str] | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
    """``kubectl run web --image=nginx --labels=app=web --expose --port=80``: the pod and its Service."""
    labels = labels or {"app": name}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, None, namespace),
               "spec": {"selector": dict(labels), "ports": [{"port": 80, "targetPort": 80}]}}
    return [service, pod(name, labels, image="nginx", ports=(80,), namespace=namespace)]


def two_ports(name: str, labels: dict[str, str], app: int, metrics: int,
              targets: tuple[int | str, int | str]) -> list[dict[str, Any]]:
    """A backend on two ports (its Service first), as lesson 09's manifests write it: one agnhost
    ``serve-hostname`` container per port, named ``http`` (``app``) and ``metrics`` (``metrics``),
    and a Service that maps 8001 and 5001 to ``targets`` (numbers, or the ports' names)."""
    containers = [{"name": container, "image": "agnhost", "args": ["serve-hostname", "--port", str(number)],
                   "ports": [{"name": port_name, "containerPort": number}]}
                  for container, port_name, number in (("app", "http", app), ("metrics", "metrics", metrics))]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, None, None),
               "spec": {"selector": {"app": labels["app"]},
                        "ports": [{"name": "http", "port": 8001, "targetPort": targets[0]},
                                  {"name": "metrics", "port": 5001, "targetPort": targets[1]}]}}
    return [service, {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, labels, None),
                      "spec": {"containers": containers}}]
def agnhost_server(name: str, labels: dict[str, str], port: int, args: tuple[str, ...],
                   namespace: str | None = None) -> list[dict[str, Any]]:
    """``kubectl run NAME --image=agnhost --labels=... --expose --port=P -- ARGS``: the pod and its Service."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, None, namespace),
               "spec": {"selector": dict(labels), "ports": [{"port": port, "targetPort": port}]}}
    container = {"name": name, "image": "agnhost", "ports": [{"containerPort": port}], "args": list(args)}
    return [service, {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, labels, namespace),
                      "spec": {"containers": [container]}}]


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels, None)}


# -- lesson 01: deny all traffic to an application -----------------------------------------------
DENY_ALL = Exercise(
    id="01-deny-all",
    lesson="01",
    title="Isolate web, and only web",
    task="Write one NetworkPolicy that stops every pod from reaching web, while api stays open to everyone.",
    setup=(*web("web"), *web("api"), client()),
    goals=(Matrix(80, only=(("web", ()),)), Probe("client", "web", "blocked"), Probe("client", "api", "allowed")),
    constraints=(MaxPolicies(1), NoAllowAll(), NoLabelChanges()),
    hints=(
        Hint("`ingress: [{}]` is one rule that matches everything: it lets every source in. An empty list, "
             "`ingress: []`, admits nobody.", when=Breaks(NoAllowAll)),
        Hint("api is blocked too: your policy selects more than web. `podSelector: {}` selects every pod "
             "of the namespace; select app=web only.", when=Differs(destination="api", got="blocked")),
        Hint("web still answers. Does spec.podSelector match web's labels exactly (`lab.get_pods()`), and "
             "does the policy isolate ingress (policyTypes Ingress, or no policyTypes)?",
             when=Differs(destination="web", got="allowed")),
        Hint("A pod is isolated for ingress as soon as one policy selects it for Ingress; then only what "
             "some rule admits gets in. No rule admits nothing."),
        Hint("A solution: `podSelector: {matchLabels: {app: web}}` and `ingress: []`."),
    ),
    solution="01-deny-all.yaml",
)


# -- lesson 02: the real-world examples 2-4, written to match M ------------------------------------
_GATEWAY_SETUP: tuple[dict[str, Any], ...] = (
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "internal-api"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "internal-api"}},
              "template": {"metadata": {"labels": {"app": "internal-api", "tier": "backend"}},
                           "spec": {"containers": [{"name": "api", "image": "nginx",
                                                    "ports": [{"containerPort": 8080, "name": "http"}]}]}}}},
    pod("gateway", {"role": "api-gateway"}),
    pod("admin", {"role": "admin-console"}),
    pod("reporting", {"role": "reporting"}),
)

API_GATEWAY = Exercise(
    id="02-api-gateway",
    lesson="02",
    title="Real-world example 2: an API behind a gateway",
    task="Only the gateway and the admin console may reach the internal API, and only on TCP 8080.",
    setup=_GATEWAY_SETUP,
    goals=(Matrix(8080, only=(("internal-api-*", ("gateway", "admin")),)),
           Matrix(80, only=(("internal-api-*", ()),))),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("admin is shut out. One podSelector with role=api-gateway matches the gateway only; to admit "
             "two kinds of pods, list two peers under `from:`, each starting with its own dash (OR).",
             when=Differs(source="admin", destination="internal-api-*", got="blocked")),
        Hint("reporting gets in. Ask the lab which peer admits it: "
             "lab.explain('reporting', 'internal-api-0', port=8080).",
             when=Differs(source="reporting", got="allowed")),
        Hint("The API is reachable on port 80 as well: a rule without `ports:` admits every port. "
             "Add `ports: [{protocol: TCP, port: 8080}]` to the rule.", when=Differs(port=80, got="allowed")),
        Hint("Select the API's pods by both of their labels, and admit two peers on one port."),
        Hint("A solution: podSelector app=internal-api,tier=backend; one ingress rule whose `from` lists "
             "podSelector role=api-gateway and podSelector role=admin-console, ports TCP 8080."),
    ),
    solution="02-api-gateway.yaml",
)

MICROSERVICES = Exercise(
    id="02-microservices",
    lesson="02",
    title="Real-world example 3: who may call the order service",
    task="The cart and inventory services may reach the order service on TCP 8080; payment may not.",
    setup=(
        pod("order-service", {"app": "order-service"}, image="nginx", ports=((8080, "http"),)),
        pod("cart-service", {"app": "cart-service"}),
        pod("inventory-service", {"app": "inventory-service"}),
        pod("payment-service", {"app": "payment-service"}),
    ),
    goals=(Matrix(8080, only=(("order-service", ("cart-service", "inventory-service")),)),
           Matrix(80, only=(("order-service", ()),))),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("inventory-service is shut out. Rules (and peers) add up: give it a rule of its own, or a "
             "second peer next to cart-service.",
             when=Differs(source="inventory-service", destination="order-service", got="blocked")),
        Hint("payment-service gets in: some rule admits more than the two services. "
             "lab.explain('payment-service', 'order-service', port=8080) names it.",
             when=Differs(source="payment-service", got="allowed")),
        Hint("The order service answers on port 80 too: limit each rule to TCP 8080 with `ports:`.",
             when=Differs(port=80, got="allowed")),
        Hint("One policy, selecting app=order-service, with one rule per allowed caller (or one rule, two peers)."),
        Hint("A solution: podSelector app=order-service; ingress rule 1 from podSelector app=cart-service, "
             "rule 2 from podSelector app=inventory-service, each with ports TCP 8080."),
    ),
    solution="02-microservices.yaml",
)

MONITORING = Exercise(
    id="02-monitoring",
    lesson="02",
    title="Real-world example 4: user traffic and Prometheus scraping",
    task="The frontend reaches the app on TCP 8080; only Prometheus in the monitoring namespace reaches "
         "its metrics on TCP 9090.",
    setup=(
        namespace("monitoring", {"name": "monitoring"}),
        pod("prometheus", {"app": "prometheus"}, namespace="monitoring"),
        pod("grafana", {"app": "grafana"}, namespace="monitoring"),
        pod("app", {"monitoring": "true"}, image="nginx", ports=((8080, "http"), (9090, "metrics"))),
        pod("web", {"tier": "frontend"}),
        pod("prometheus-impostor", {"app": "prometheus"}),
    ),
    goals=(Matrix(8080, only=(("app", ("web",)),)), Matrix(9090, only=(("app", ("monitoring/prometheus",)),))),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("Prometheus in monitoring cannot scrape. A podSelector alone matches pods of the policy's own "
             "namespace only; to reach into monitoring, the peer needs a namespaceSelector.",
             when=Differs(source="monitoring/prometheus", port=9090, got="blocked")),
        Hint("prometheus-impostor (app=prometheus, but in the lesson's namespace) reaches the metrics. Two "
             "dashes under `from:` are two peers (OR); namespaceSelector and podSelector in ONE peer must "
             "both match (AND).", when=Differs(source="prometheus-impostor", port=9090, got="allowed")),
        Hint("grafana reaches the metrics: every pod of monitoring gets in. Add podSelector app=prometheus "
             "to the same peer as the namespaceSelector.", when=Differs(source="monitoring/grafana", got="allowed")),
        Hint("Someone reaches a port meant for others: give each port its own rule, with its own `from` and "
             "`ports`.", when=Differs(destination="app", got="allowed")),
        Hint("Two rules: one for user traffic, one for metrics, each with the peers of that port only."),
        Hint("A solution: podSelector monitoring=true; rule 1 from podSelector tier=frontend on TCP 8080; "
             "rule 2 from one peer with namespaceSelector name=monitoring AND podSelector app=prometheus on "
             "TCP 9090."),
    ),
    solution="02-monitoring.yaml",
)


# -- lesson 02: the recipe's acceptance criteria, and the policy-editor exercise ----------------------
_BOOKSTORE_API = {"app": "bookstore", "role": "api"}

API_ALLOW = Exercise(
    id="02-api-allow",
    lesson="02",
    title="The recipe's acceptance criteria",
    task="Protect apiserver (app=bookstore, role=api) so that only the bookstore's pods (app=bookstore) reach it.",
    setup=(*web("apiserver", _BOOKSTORE_API), pod("test-blocked", {"app": "other"}, image="alpine"),
           pod("test-allowed", {"app": "bookstore", "role": "frontend"}, image="alpine")),
    goals=(
        HasLabels("apiserver", tuple(_BOOKSTORE_API.items()),
                  title="API server pod deployed with labels app=bookstore and role=api"),
        Serves("apiserver", 80, ("apiserver",), title="Service exposed on port 80"),
        Selects("api-allow", title="NetworkPolicy api-allow created successfully"),
        Selects("api-allow", ("apiserver",), title="Policy targets pods with correct labels"),
        Probe("test-blocked", "apiserver", "blocked", title="Traffic from non-matching pods is blocked (timeout)"),
        Probe("test-allowed", "apiserver", "allowed",
              title="Traffic from matching pods is allowed (successful response)"),
        Matrix(80, only=(("apiserver", ("test-allowed",)),),
               title="Policy only affects specified pods, not cluster-wide"),
    ),
    constraints=(MaxPolicies(1), NoAllowAll()),
    hints=(
        Hint("`- {}` under `ingress:` is a rule without `from`: it admits every source. Name the sources: "
             "`from: [{podSelector: {matchLabels: {app: bookstore}}}]`.", when=Breaks(NoAllowAll)),
        Hint("test-allowed is shut out on port 80. A rule's `ports` are the pod's port (the Service's "
             "targetPort, 80), not the Service's port; or leave `ports` out.",
             when=Differs(source="test-allowed", got="blocked")),
        Hint("test-blocked still gets in: spec.podSelector must match apiserver's labels exactly "
             "(app=bookstore and role=api), and `from` only app=bookstore.",
             when=Differs(source="test-blocked", got="allowed")),
        Hint("The policy must be called api-allow, in the lesson's namespace (leave metadata.namespace out).",
             when=Breaks(Selects)),
        Hint("A solution: manifests/api-allow.yaml, the policy of Task 2."),
    ),
    solution="02-api-allow.yaml",
)

_FRONTEND_CLIENTS = (("test-blocked", "app=other"), ("test-allowed", "app=bookstore,role=frontend"),
                     ("test-bookstore", "app=bookstore"), ("test-other-frontend", "app=other,role=frontend"))


def _frontend_only_setup(lab: Lab) -> None:
    """Lesson 02 as its core path leaves it (only what the lab lacks is made: in the lesson that is
    nothing), plus two clients that tell the answers apart: app=bookstore alone, role=frontend alone."""
    from .lessons import api_allow_yaml

    state = lab.state()
    if f"{lab.namespace}/apiserver" not in state.pods:
        lab.run("apiserver", image="nginx", labels="app=bookstore,role=api", port=80, expose=True)
    for name, labels in _FRONTEND_CLIENTS:
        if f"{lab.namespace}/{name}" not in state.pods:
            lab.run(name, image="alpine", labels=labels)
    if f"{lab.namespace}/api-allow" not in state.policies:
        lab.apply(api_allow_yaml())


FRONTEND_ONLY = Exercise(
    id="02-frontend-only",
    lesson="02",
    title="Only the frontend",
    task="Change api-allow so that only the bookstore's frontend (app=bookstore AND role=frontend) reaches apiserver.",
    setup=_frontend_only_setup,
    pods=("apiserver", *(name for name, _ in _FRONTEND_CLIENTS)),
    goals=(Matrix(80, only=(("apiserver", ("test-allowed",)),)),
           Probe("test-allowed", "apiserver", "allowed"), Probe("test-bookstore", "apiserver", "blocked")),
    constraints=(MaxPolicies(1), NoAllowAll(), NoLabelChanges()),
    hints=(
        Hint("test-blocked (app=other) gets in: the policy no longer isolates apiserver. Keep spec.podSelector "
             "(app=bookstore, role=api) as it is and change only the `from` side.",
             when=Differs(source="test-blocked", destination="apiserver", got="allowed")),
        Hint("test-bookstore (app=bookstore, no role) still gets in: add `role: frontend` next to "
             "`app: bookstore` in from's matchLabels. Two labels in one matchLabels must both match.",
             when=Differs(source="test-bookstore", destination="apiserver", got="allowed")),
        Hint("test-other-frontend (app=other, role=frontend) gets in: keep `app: bookstore` in from's "
             "matchLabels, next to `role: frontend`, under ONE dash (two dashes are two peers: OR).",
             when=Differs(source="test-other-frontend", destination="apiserver", got="allowed")),
        Hint("test-allowed (app=bookstore, role=frontend) is shut out: does from's podSelector ask for exactly "
             "its labels, spelled as lab.get_pods() shows them?", when=Differs(source="test-allowed", got="blocked")),
        Hint("One peer, one podSelector, two labels: app=bookstore and role=frontend."),
        Hint("A solution: api-allow with `from: [{podSelector: {matchLabels: {app: bookstore, role: frontend}}}]`."),
    ),
    solution="02-frontend-only.yaml",
)


# -- lesson 02a: allow all traffic to an application ----------------------------------------------
_WEB_DENY_ALL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web-deny-all"},
                 "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": []}}

ALLOW_ALL_PODS = Exercise(
    id="02a-allow-all-pods",
    lesson="02a",
    title="Admit every pod, but nothing from outside",
    task=f"web-deny-all isolates web. Add a policy that admits every pod of every namespace to web, while a "
         f"client outside the cluster ({OUTSIDE}) stays out.",
    setup=(*web("web"), client(), namespace("lesson-02a-other"), client(namespace="lesson-02a-other"),
           _WEB_DENY_ALL),
    goals=(Matrix(80), FromOutside(OUTSIDE, "web", "blocked")),
    constraints=(MaxPolicies(2), NoLabelChanges()),
    hints=(
        Hint(f"{OUTSIDE}, outside the cluster, gets in. A rule without `from` (`- {{}}`) admits every source, "
             "addresses outside the cluster included: it is not the same as admitting all pods.",
             when=Differs(source=OUTSIDE, got="allowed")),
        Hint("lesson-02a-other/client is blocked. A podSelector alone matches pods of the policy's own "
             "namespace; `namespaceSelector: {}` matches every namespace.",
             when=Differs(source="lesson-02a-other/*", got="blocked")),
        Hint("Policies add up: the deny-all stays, and your policy only has to admit. Which peer means "
             "'every pod, whatever its namespace'?"),
        Hint("A solution: a second policy selecting app=web with `ingress: [{from: [{namespaceSelector: {}}]}]`."),
    ),
    solution="02a-allow-all-pods.yaml",
)


# -- lesson 03: default deny in a namespace -------------------------------------------------------
_TIERS = ("frontend", "backend", "db", "cache")

THREE_TIERS = Exercise(
    id="03-default-deny",
    lesson="03",
    title="Default deny, then two allows",
    task="Deny all ingress in the namespace, then let the frontend reach the backend and the backend reach "
         "the database (port 80), and nothing else. Pods started later must be protected too.",
    setup=tuple(o for tier in _TIERS for o in web(tier, {"tier": tier})),
    goals=(Matrix(80, only=(("backend", ("frontend",)), ("db", ("backend",))), others="blocked"),
           NewPod((("app", "newcomer"),))),
    constraints=(MaxPolicies(3), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("The frontend is still open: no policy selects it, so it is not isolated. That is what a "
             "namespace-wide default deny is for.", when=Differs(source="db", destination="frontend", got="allowed")),
        Hint("backend reaches pods it should not: one of your allows selects more than the pods it protects. "
             "`podSelector: {}` selects every pod of the namespace; db-allow-backend should select tier=db only.",
             when=Differs(source="backend", destination="frontend", got="allowed")),
        Hint("A pod started later is open: your deny-all lists the pods it knows. `podSelector: {}` selects "
             "every pod of the namespace, today's and tomorrow's.",
             when=Differs(destination="newcomer", got="allowed")),
        Hint("A connection the goal wants is blocked: check the selectors of your two allows against the "
             "pods' labels (lab.get_pods()).", when=Differs(got="blocked")),
        Hint("Three policies: a default deny (every pod, no ingress rules) and one allow per connection."),
        Hint("A solution: default-deny-all with `podSelector: {}` and no ingress; backend-allow-frontend "
             "(tier=backend from tier=frontend); db-allow-backend (tier=db from tier=backend)."),
    ),
    solution="03-default-deny.yaml",
)


# -- lesson 04: deny traffic from other namespaces ------------------------------------------------
_DENY_FROM_OTHER_NAMESPACES = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "deny-from-other-namespaces", "namespace": "secondary"},
    "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
}

OTHER_NAMESPACES = Exercise(
    id="04-other-namespaces",
    lesson="04",
    title="Both sides of the wall",
    task="secondary admits only its own pods. Protect the lab's namespace the same way: its pods accept "
         "traffic from pods of the same namespace only, so nothing crosses between the two namespaces.",
    setup=(namespace("secondary"), *web("web", namespace="secondary"), client(namespace="secondary"),
           _DENY_FROM_OTHER_NAMESPACES, *web("web"), client()),
    goals=(Matrix(80, only=(("*", ("*",)), ("secondary/*", ("secondary/*",)))),
           Probe("secondary/client", "web", "blocked"), Probe("client", "web")),
    constraints=(MaxPolicies(2), NoAllowAll(), NoLabelChanges()),
    hints=(
        Hint("A policy selects pods of its own namespace only: the one that protects this namespace's pods "
             "must be created here. Leave metadata.namespace out (or name the lab's namespace).",
             when=Breaks(InLessonNamespace)),
        Hint("secondary/client still reaches web. Namespaces do not isolate by themselves, and a "
             "namespaceSelector admits pods of other namespaces.",
             when=Differs(source="secondary/*", destination="web", got="allowed")),
        Hint("secondary/client is kept from web but still reaches client. Select every pod of the namespace "
             "(`podSelector: {}`), not only web.", when=Differs(source="secondary/*", got="allowed")),
        Hint("The namespace's own pods are shut out: admit them with a peer `podSelector: {}`, which "
             "matches every pod of the policy's namespace.", when=Differs(source="*", destination="*",
                                                                            got="blocked")),
        Hint("One policy for the whole namespace: it selects every pod, and admits the namespace's own pods."),
        Hint("A solution: secondary's policy without metadata.namespace: podSelector {} with "
             "`ingress: [{from: [{podSelector: {}}]}]`."),
    ),
    solution="04-other-namespaces.yaml",
)


# -- lesson 06: allow traffic from a namespace -----------------------------------------------------
FROM_NAMESPACE = Exercise(
    id="06-from-namespace",
    lesson="06",
    title="Admit the prod namespace by its name",
    task="Only pods of the namespace prod may reach web. Select prod by the label the apiserver sets on every "
         "namespace, kubernetes.io/metadata.name.",
    setup=(*web("web"), client(),
           namespace("dev", {"purpose": "testing"}), namespace("prod", {"purpose": "production"}),
           client(namespace="dev"), client(namespace="prod")),
    goals=(Matrix(80, only=(("web", ("prod/*",)),)),
           Probe("prod/client", "web", "allowed"), Probe("dev/client", "web", "blocked")),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges(),
                 SelectNamespacesBy("kubernetes.io/metadata.name")),
    hints=(
        Hint("Select prod by the label nobody can change: the control plane labels every namespace "
             "kubernetes.io/metadata.name=<its name> (lab.get_namespaces() shows it). A label such as purpose "
             "can be given to any namespace, and there is no label `name` unless someone adds it.",
             when=Breaks(SelectNamespacesBy)),
        Hint("dev gets in: check the namespace name your selector asks for.",
             when=Differs(source="dev/*", got="allowed")),
        Hint("Pods of web's own namespace get in: which peer admits them? A podSelector peer of its own "
             "matches pods of the policy's namespace.", when=Differs(source="client", got="allowed")),
        Hint("prod is shut out: is the namespaceSelector spelled exactly kubernetes.io/metadata.name: prod?",
             when=Differs(source="prod/*", got="blocked")),
        Hint("A solution: podSelector app=web; `from: [{namespaceSelector: {matchLabels: "
             "{kubernetes.io/metadata.name: prod}}}]`."),
    ),
    solution="06-from-namespace.yaml",
)


# -- lesson 07: some pods in another namespace -------------------------------------------------------
_WEB_ALLOW_OR = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web-allow-all-ns-monitoring"},
    "spec": {"podSelector": {"matchLabels": {"app": "web"}},
             "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "operations"}}},
                                   {"podSelector": {"matchLabels": {"type": "monitoring"}}}]}]},
}

AND_NOT_OR = Exercise(
    id="07-and-not-or",
    lesson="07",
    title="One dash, not two",
    task="web-allow-all-ns-monitoring admits monitoring pods OR pods of operations' namespaces. Turn it into "
         "the intended policy: only type=monitoring pods in namespaces labelled team=operations.",
    setup=(*web("web"), client(), client("monitor", {"type": "monitoring"}),
           namespace("other", {"team": "operations"}), client(namespace="other"),
           client("monitor", {"type": "monitoring"}, namespace="other"), _WEB_ALLOW_OR),
    goals=(Matrix(80, only=(("web", ("other/monitor",)),)),),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("Policies add up: a new policy does not replace web-allow-all-ns-monitoring, which still admits "
             "the OR. Edit that policy (keep its name) instead of adding one.", when=Breaks(MaxPolicies)),
        Hint("Two dashes under `from:` make two peers, and a source matching either gets in (OR). Put "
             "namespaceSelector and podSelector under ONE dash so both must match (AND).",
             when=Differs(source="monitor", got="allowed")),
        Hint("other/client gets in: every pod of the operations namespace does. Narrow that peer with "
             "podSelector type=monitoring.", when=Differs(source="other/client", got="allowed")),
        Hint("other/monitor is shut out: the peer must match both its namespace's label (team=operations) "
             "and its own (type=monitoring).", when=Differs(source="other/monitor", got="blocked")),
        Hint("A solution: the same policy with `from: [{namespaceSelector: {matchLabels: {team: operations}}, "
             "podSelector: {matchLabels: {type: monitoring}}}]`."),
    ),
    solution="07-and-not-or.yaml",
)


# -- lesson 09: traffic only to a port ----------------------------------------------------------
_API_ALLOW_METRICS = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "api-allow-metrics"},
    "spec": {"podSelector": {"matchLabels": {"app": "apiserver"}},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "monitoring"}}}],
                          "ports": [{"port": "metrics"}]}]},
}
_BACKENDS = ("apiserver", "billing")

NAMED_PORT = Exercise(
    id="09-named-port",
    lesson="09",
    title="The metrics port, whatever its number",
    task="One policy for both backends (tier=backend): monitor reaches each backend's metrics port (apiserver: "
         "5000, billing: 9100) and nothing else of them; no other pod reaches them at all. Edit api-allow-metrics.",
    setup=(*two_ports("apiserver", {"app": "apiserver", "tier": "backend"}, 8000, 5000, (8000, 5000)),
           client(), client("monitor", {"role": "monitoring"}),
           *two_ports("billing", {"app": "billing", "tier": "backend"}, 5000, 9100, ("http", "metrics")),
           _API_ALLOW_METRICS),
    goals=(Matrix(5000, only=(("apiserver", ("monitor",)), ("billing", ()))),
           Matrix(9100, only=(("billing", ("monitor",)), ("apiserver", ()))),
           Matrix(8000, only=tuple((b, ()) for b in _BACKENDS)),
           Probe("monitor", "billing", "allowed", port=5001), Probe("monitor", "billing", "blocked", port=8001),
           Probe("client", "billing", "blocked", port=5001)),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("Policies add up: a second policy next to api-allow-metrics makes two that select apiserver. Edit "
             "api-allow-metrics (keep its name) so that it selects both backends.", when=Breaks(MaxPolicies)),
        Hint("client gets into billing: no policy selects billing, so it is not isolated. Select both backends by "
             "the label they share, tier=backend.", when=Differs(source="client", destination="billing",
                                                                 got="allowed")),
        Hint("monitor reaches billing's application on 5000. A number in `ports` is that port on every pod the "
             "policy selects, and 5000 is apiserver's metrics but billing's application. Name the port instead: "
             "a named port is looked up in each pod's own container ports.",
             when=Differs(source="monitor", destination="billing", port=5000, got="allowed")),
        Hint("monitor cannot reach the metrics. A rule's port is the pod's port, not the Service's (5001); a named "
             "port must be a name the pod declares (lab.cat the manifests: `metrics`, not the recipe's `api-port`).",
             when=Differs(source="monitor", got="blocked")),
        Hint("monitor reaches a port other than the metrics: a rule without `ports` admits every port.",
             when=Differs(source="monitor", got="allowed")),
        Hint("One policy, selecting tier=backend, with one rule: from role=monitoring, on the port named metrics."),
        Hint("A solution: api-allow-metrics with `podSelector: {matchLabels: {tier: backend}}` and `ingress: "
             "[{from: [{podSelector: {matchLabels: {role: monitoring}}}], ports: [{port: metrics}]}]`."),
    ),
    solution="09-named-port.yaml",
)


# -- lesson 10: multiple selectors -----------------------------------------------------------------
REDIS_PORT = 6379
_BOOKSTORE_DB = {"app": "bookstore", "role": "db"}
_DB_CLIENTS = (("search", {"app": "bookstore", "role": "search"}), ("api", {"app": "bookstore", "role": "api"}),
               ("catalog", {"app": "inventory", "role": "web"}), ("frontend", {"app": "bookstore", "role": "web"}))
_REDIS_TWO_RULES = {  # notebooks/manifests/redis-allow-services-two-rules.yaml: rule 2 meant to narrow rule 1
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "redis-allow-services"},
    "spec": {"podSelector": {"matchLabels": dict(_BOOKSTORE_DB)},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "bookstore"}}},
                                   {"podSelector": {"matchLabels": {"app": "inventory", "role": "web"}}}]},
                         {"from": [{"podSelector": {"matchExpressions": [
                             {"key": "role", "operator": "In", "values": ["search", "api"]}]}}]}]},
}

MULTIPLE_SELECTORS = Exercise(
    id="10-multiple-selectors",
    lesson="10",
    title="Three clients, one policy",
    task=f"redis-allow-services admits the whole bookstore. Change it so that search, api and catalog reach db "
         f"on TCP {REDIS_PORT} and no other pod does (frontend stays out), with this one policy.",
    setup=(*agnhost_server("db", _BOOKSTORE_DB, REDIS_PORT, ("netexec", f"--http-port={REDIS_PORT}")),
           *(client(name, labels) for name, labels in _DB_CLIENTS), _REDIS_TWO_RULES),
    goals=(Matrix(REDIS_PORT, only=(("db", ("search", "api", "catalog")),)),),
    constraints=(MaxPolicies(1), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("Policies add up: a second policy cannot take away what redis-allow-services admits. Edit that "
             "policy (keep its name) instead of adding one.", when=Breaks(MaxPolicies)),
        Hint("search is shut out: no peer matches app=bookstore,role=search. The requirements of one selector "
             "must all hold (AND), a matchExpressions entry as much as a matchLabels label: `role In (search)` "
             "next to `role In (api)` matches no pod. It is the values of one In that are alternatives (OR): "
             "`role In (search, api)`.",
             when=Differs(source="search", got="blocked")),
        Hint("catalog is shut out. It is app=inventory, role=web: no selector that asks for app=bookstore "
             "matches it. Give it a peer of its own (a second dash under `from:`).",
             when=Differs(source="catalog", got="blocked")),
        Hint(f"frontend (app=bookstore, role=web) gets in, so some peer matches its labels: "
             f"lab.explain('frontend', 'db', port={REDIS_PORT}) names the rule. Two things admit too much here: a "
             "peer that asks for app=bookstore alone (no other rule can take back what it admits), and one "
             "selector with an In on each label, which matches every combination of their values.",
             when=Differs(source="frontend", got="allowed")),
        Hint("frontend still gets in. Give each kind of client a peer that names exactly its labels: "
             "app=bookstore,role=search; app=bookstore,role=api; app=inventory,role=web.",
             when=Differs(source="frontend", got="allowed")),
        Hint("One rule whose `from` lists one peer per kind of client: several dashes are OR, the labels "
             "inside one peer are AND."),
        Hint("A solution: the recipe's three peers under one `from` (or one peer with app=bookstore and "
             "`role In (search, api)`, and a peer for catalog)."),
    ),
    solution="10-multiple-selectors.yaml",
)


# -- lesson 11: deny egress from an application ---------------------------------------------------
_FOO_DENY_EGRESS = {  # notebooks/manifests/foo-deny-egress.yaml: egress isolated, no rule
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "foo-deny-egress"},
    "spec": {"podSelector": {"matchLabels": {"app": "foo"}}, "policyTypes": ["Egress"], "egress": []},
}

DNS_ONLY = Exercise(
    id="11-dns-only",
    lesson="11",
    title="Names resolve, nothing answers",
    task="foo-deny-egress cuts foo off, DNS included (`bad address`). Let foo resolve names and nothing else: "
         "its requests to web and api must find their addresses and then time out.",
    setup=(*web("web"), *web("api"), client("foo", {"app": "foo"}), _FOO_DENY_EGRESS),
    goals=(Probe("foo", "web", "blocked"), Probe("foo", "api", "blocked"),
           Matrix(80, blocked=(("foo", "*"),)), Matrix(53, "UDP", blocked=(("foo", "*"),))),
    constraints=(MaxPolicies(2), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges(),
                 SelectNamespacesBy("kubernetes.io/metadata.name")),
    hints=(
        Hint("A rule with `ports` but no `to` admits port 53 on every address, in the cluster and outside it "
             "(the recipe's own rule, as its text warns). Name the DNS pods in `to`.", when=Breaks(NoAllowAll)),
        Hint("Select kube-system by the label the control plane sets on every namespace, "
             "kubernetes.io/metadata.name: kube-system (there is no label `name`).", when=Breaks(SelectNamespacesBy)),
        Hint("foo gets `bad address`: its lookups never reach DNS. Asking CoreDNS is egress too: UDP port 53 to "
             "the pods labelled k8s-app=kube-dns, which run in kube-system (a podSelector alone selects pods of "
             "the policy's own namespace only).", when=Differs(source="foo", got="dns-failure")),
        Hint("Still `bad address`. Put `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
             "kube-system}}` and `podSelector: {matchLabels: {k8s-app: kube-dns}}` in ONE peer (one dash), on "
             "port 53 with protocol UDP (lookups go over UDP), and TCP for large answers.",
             when=Differs(source="foo", got="dns-failure")),
        Hint("web cannot reach api: other pods lose their egress too. Your policy selects more than app=foo.",
             when=Differs(source="web", destination="api", got="blocked")),
        Hint("web cannot reach foo: your policy isolates foo for ingress too. Without `policyTypes`, a policy "
             "with egress rules gets both Ingress and Egress; write `policyTypes: [Egress]`.",
             when=Differs(destination="foo", got="blocked")),
        Hint("foo reaches a pod it should not: some egress rule admits more than DNS. "
             "lab.explain('foo', 'web') names it (add port=53, protocol='UDP' for the DNS port).",
             when=Differs(source="foo", got="allowed")),
        Hint("Keep foo isolated for egress (policyTypes: [Egress]) and add one egress rule: to the DNS pods, "
             "on port 53."),
        Hint("A solution: foo-deny-egress with `egress: [{to: [{namespaceSelector: {matchLabels: "
             "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
             "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]`."),
    ),
    solution="11-dns-only.yaml",
)


# -- lesson 12: default deny egress in a namespace -------------------------------------------------
OPS = "lesson-12-ops"  # the ops team's namespace: its log collector, which lesson-12 ships logs to
_LOGS_ALLOW = {  # notebooks/manifests/logs-allow-lesson-12.yaml
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "logs-allow-lesson-12", "namespace": OPS},
    "spec": {"podSelector": {"matchLabels": {"app": "logs"}},
             "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {NAME_LABEL: "lesson-12"}}}],
                          "ports": [{"protocol": "TCP", "port": 80}]}]},
}
_NOTHING_LEAVES = (("*", "*/*"),)  # every connection from a pod of the lab's namespace, to any pod

DENY_EGRESS_DNS = Exercise(
    id="12-deny-egress-dns",
    lesson="12",
    title="Nothing leaves but DNS",
    task="Deny all egress from every pod of the namespace, except DNS: each pod still resolves names "
         "(a wget then times out instead of printing `bad address`), and reaches nothing else, in any "
         f"namespace. Ingress stays as it is: {OPS}/logs still reaches the pods here. At most two policies "
         "of your own (logs-allow-lesson-12 counts as a third).",
    setup=(namespace(OPS), *web("logs", namespace=OPS), _LOGS_ALLOW, *web("web"), *web("api"), *web("db")),
    goals=(Probe("web", "api", "blocked"), Probe("api", "db", "blocked"), Probe("db", "web", "blocked"),
           Matrix(80, blocked=_NOTHING_LEAVES), Matrix(53, "UDP", blocked=_NOTHING_LEAVES)),
    constraints=(MaxPolicies(3), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges()),
    hints=(
        Hint("A rule with `ports` but no `to` admits port 53 to every destination, in the cluster and outside "
             "it. Name the DNS server's pods: `to:` one peer with namespaceSelector "
             "kubernetes.io/metadata.name: kube-system and podSelector k8s-app: kube-dns.", when=Breaks(NoAllowAll)),
        Hint("Even web cannot resolve names (`bad address`): a DNS query is egress too, to the CoreDNS pods in "
             "kube-system. A podSelector alone matches pods of the policy's own namespace; put namespaceSelector "
             "kubernetes.io/metadata.name: kube-system and podSelector k8s-app: kube-dns under ONE dash.",
             when=Differs(source="web", got="dns-failure")),
        Hint("Some pods still cannot resolve names: the policy with the DNS rule must select every pod of the "
             "namespace (`podSelector: {}`), not only some.", when=Differs(source="db", got="dns-failure")),
        Hint(f"{OPS}/logs no longer reaches the pods here: your policy isolates them for ingress too "
             "(policyTypes lists Ingress). This exercise is about egress only: `policyTypes: [Egress]`.",
             when=Differs(source=f"{OPS}/*", got="blocked")),
        Hint("A pod reaches another pod: a rule admits more than DNS. Its `to` must name the CoreDNS pods only, "
             "and its `ports` UDP and TCP 53.", when=Differs(got="allowed")),
        Hint("One policy can do it all: `podSelector: {}`, `policyTypes: [Egress]`, and one egress rule to the "
             "DNS pods on port 53."),
        Hint("A solution: podSelector {}, policyTypes [Egress], egress: [{to: [{namespaceSelector: {matchLabels: "
             "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
             "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]."),
    ),
    solution="12-deny-egress-dns.yaml",
)



# -- lesson 13: limit egress to some pods ----------------------------------------------------------
API_PORT = 8080  # where agnhost netexec serves HTTP (its default --http-port), on api and db
_API_ALLOW_WEB = {  # notebooks/manifests/api-allow-web.yaml: the api team's ingress policy, web only
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "api-allow-web"},
    "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                          "ports": [{"protocol": "TCP", "port": API_PORT}]}]},
}
_NETEXEC = ("netexec", f"--http-port={API_PORT}")

EGRESS_TO_API = Exercise(
    id="13-egress-to-api",
    lesson="13",
    title="frontend talks to api, and to nobody else",
    task=f"Let frontend reach api on TCP {API_PORT} and resolve names, and send nothing else: its requests to "
         f"db and web must find their addresses and then time out. api keeps admitting web, and nobody else. "
         "At most three policies (api-allow-web counts).",
    setup=(*agnhost_server("api", {"app": "api"}, API_PORT, _NETEXEC),
           *agnhost_server("db", {"app": "db"}, API_PORT, _NETEXEC),
           pod("web", {"app": "web"}, image="alpine"), pod("frontend", {"app": "frontend"}, image="alpine"),
           _API_ALLOW_WEB),
    goals=(Probe("frontend", "api", "allowed", port=API_PORT), Probe("frontend", "db", "blocked", port=API_PORT),
           Probe("web", "api", "allowed", port=API_PORT),
           Matrix(API_PORT, only=(("api", ("web", "frontend")),), blocked=(("frontend", "db"), ("frontend", "web"))),
           Matrix(53, "UDP", only=(("api", ()),), blocked=(("frontend", "*"),))),
    constraints=(MaxPolicies(3), NoAllowAll(), NoBareNamespaceSelector(), NoLabelChanges(),
                 SelectNamespacesBy(NAME_LABEL)),
    hints=(
        Hint("A rule with `ports` but no `to` admits its ports on every address, in the cluster and outside it. "
             "Name the DNS pods in `to`.", when=Breaks(NoAllowAll)),
        Hint("Policies add up: edit api-allow-web (keep its name) rather than adding policy after policy.",
             when=Breaks(MaxPolicies)),
        Hint("frontend gets `bad address`: its lookups never reach DNS. A DNS query is egress too: UDP and TCP 53 "
             "to the pods labelled k8s-app=kube-dns in kube-system (both selectors in ONE peer).",
             when=Differs(source="frontend", got="dns-failure")),
        Hint(f"frontend's egress may admit api, but api is isolated for ingress too, and api-allow-web admits web "
             f"only: a connection needs both ends. lab.explain('frontend', 'api', port={API_PORT}) shows each side. "
             "Let api-allow-web admit frontend as well (a second peer), keeping its name.",
             when=Differs(source="frontend", destination="api", got="blocked")),
        Hint("frontend is now isolated for ingress too: without `policyTypes`, a policy with egress rules gets "
             "Ingress and Egress. Write `policyTypes: [Egress]` on frontend's policy.",
             when=Differs(destination="frontend", got="blocked")),
        Hint("web lost api: api-allow-web must keep its peer for app=web.",
             when=Differs(source="web", destination="api", got="blocked")),
        Hint("frontend reaches a pod other than api: an egress rule admits more than api and DNS. "
             f"lab.explain('frontend', 'db', port={API_PORT}) names it.",
             when=Differs(source="frontend", got="allowed")),
        Hint("Some pod other than web and frontend gets into api: api-allow-web's new peer admits too much. "
             "Name frontend by its label, app=frontend.", when=Differs(destination="api", got="allowed")),
        Hint(f"Two changes: an egress policy for app=frontend (policyTypes [Egress]) with two rules, api on "
             f"TCP {API_PORT} and the DNS pods on 53; and api-allow-web with a second peer for app=frontend."),
        Hint("A solution: frontend-egress-to-api with `egress: [{to: [{podSelector: {matchLabels: {app: api}}}], "
             f"ports: [{{protocol: TCP, port: {API_PORT}}}]}}, {{to: [{{namespaceSelector: {{matchLabels: "
             "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
             "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]`, and api-allow-web's `from` listing "
             "app=web and app=frontend."),
    ),
    solution="13-egress-to-api.yaml",
)


# -- lesson 14: deny external egress -----------------------------------------------------------
FAR = "203.0.113.10"  # a documentation address (TEST-NET-3): a server outside the cluster
SHOP = "lesson-14-shop"  # another namespace of the cluster, with a server foo must reach too
_FOO_DENY_EXTERNAL = {  # notebooks/manifests/foo-deny-external-egress.yaml: the recipe's DNS-only rule
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "foo-deny-external-egress"},
    "spec": {"podSelector": {"matchLabels": {"app": "foo"}}, "policyTypes": ["Egress"],
             "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]},
}

CLUSTER_ONLY = Exercise(
    id="14-cluster-only",
    lesson="14",
    title="The cluster, and nothing outside it",
    task="foo-deny-external-egress (the recipe's policy) lets foo send DNS queries and nothing else, although "
         "its text says in-cluster traffic still works. Repair it: foo reaches web (by its name), every pod "
         f"of the cluster, {SHOP}/api included, stays reachable from foo, and an address outside the cluster "
         f"({FAR}) stays blocked.",
    setup=(namespace(SHOP), *web("api", namespace=SHOP), *web("web"), client("foo", {"app": "foo"}),
           _FOO_DENY_EXTERNAL),
    goals=(Probe("foo", "web", "allowed"), ToOutside("foo", FAR, "blocked"), ToOutside("foo", FAR, "blocked", 443),
           Matrix(80)),
    constraints=(MaxPolicies(1), NoLabelChanges()),
    hints=(
        Hint("foo's request to web times out: the name resolves (the DNS rule works) but no rule admits port 80 "
             "to web. The recipe's policy admits port 53 only; in-cluster traffic needs a rule of its own.",
             when=Differs(source="foo", destination="web", got="blocked")),
        Hint(f"foo cannot reach {SHOP}/api: a podSelector alone selects pods of the policy's own namespace. "
             "A namespaceSelector selects namespaces; an empty one selects them all.",
             when=Differs(source="foo", destination=f"{SHOP}/*", got="blocked")),
        Hint("foo reaches an address outside the cluster: a rule without `to` (or an ipBlock such as "
             "0.0.0.0/0) admits every address. Name the cluster's pods instead: a peer with a selector matches "
             "pods only, never an outside address.", when=Differs(source="foo", destination=FAR, got="allowed")),
        Hint("foo gets `bad address`: its lookups no longer reach DNS. CoreDNS runs in kube-system, so a "
             "podSelector alone (pods of the policy's own namespace) misses it; keep the DNS rule or select "
             "every namespace.", when=Differs(source="foo", got="dns-failure")),
        Hint("web cannot reach foo: your policy isolates foo for ingress too. Keep `policyTypes: [Egress]`.",
             when=Differs(destination="foo", got="blocked")),
        Hint("Keep the DNS rule and add a second egress rule whose `to` selects every pod of every namespace."),
        Hint("A solution: foo-deny-external-egress with a second rule, `- to: [{namespaceSelector: {}}]` (no "
             "ports: any port, to every pod of every namespace)."),
    ),
    solution="14-cluster-only.yaml",
)


EXERCISES: dict[str, Exercise] = {
    e.id: e for e in (DENY_ALL, API_GATEWAY, MICROSERVICES, MONITORING, ALLOW_ALL_PODS, THREE_TIERS,
                      OTHER_NAMESPACES, FROM_NAMESPACE, AND_NOT_OR, NAMED_PORT,
                      MULTIPLE_SELECTORS, DNS_ONLY, DENY_EGRESS_DNS, EGRESS_TO_API,
                      CLUSTER_ONLY)
}
EXERCISES.update({e.id: e for e in (API_ALLOW, FRONTEND_ONLY)})  # lesson 02's own (kept apart to merge)
