"""kubectl/busybox output rendering: expected texts derived by hand from kubectl's sources.

Table vectors are kubectl's own (kubectl/pkg/cmd/get/customcolumn_test.go); describe
texts follow describe.go's describeNetworkPolicy line by line (PrefixWriter: 2 spaces a
level; tabbedString: tabwriter padding 2).
"""

from __future__ import annotations

import hashlib
import shlex

import pytest

from nphelpers import kubectl as k
from nphelpers.model import Namespace, Pod, Service, ServicePort
from nphelpers.policy import NetworkPolicy
from nphelpers.selectors import LabelSelector, Requirement


def policy(name: str, spec: dict, namespace: str = "default", **meta: object) -> NetworkPolicy:
    return NetworkPolicy.from_manifest(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, **meta},
            "spec": spec,
        }
    )


API_ALLOW = policy(
    "api-allow",
    {
        "podSelector": {"matchLabels": {"app": "bookstore", "role": "api"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "bookstore"}}}]}],
    },
)


# -- layout ------------------------------------------------------------------------------
def test_custom_columns_matches_kubectl_unit_test_vectors():
    obj = {"metadata": {"name": "foo"}, "apiVersion": "baz"}
    cols = [("NAME", "{.metadata.name}"), ("API_VERSION", "{.apiVersion}"), ("NOT_FOUND", "{.notFound}")]
    assert k.custom_columns([obj], cols) == "NAME   API_VERSION   NOT_FOUND\nfoo    baz           <none>"
    assert k.custom_columns([obj], cols[:1]) == "NAME\nfoo"
    pods = [{"metadata": {"name": n, "labels": {"label1": n, "label2": n}}} for n in ("foo", "bar")]
    cols = [
        ("NAME", ".metadata.name"),
        ("LONG COLUMN NAME", ".metadata.labels.label1"),
        ("LABEL 2", ".metadata.labels.label2"),
    ]
    assert k.custom_columns(pods, cols) == (
        "NAME   LONG COLUMN NAME   LABEL 2\nfoo    foo                foo\nbar    bar                bar"
    )


def test_table_pads_to_widest_cell_plus_three_with_minimum_six():
    assert k.table(["A", "B", "C"], [["x", "yy", "z"]]) == "A     B     C\nx     yy    z"
    assert k.table(["NAME", "READY"], [["nginx", "1/1"]]) == "NAME    READY\nnginx   1/1"
    assert k.table(["NAME"], []) == "NAME"
    # the last column is never padded, even when it is the widest
    assert k.table(["N", "LABELS"], [["a", "x"], ["bb", "much-longer"]]) == "N     LABELS\na     x\nbb    much-longer"


def test_tabwrite_column_blocks_end_at_lines_without_that_column():
    text = "a:\t1\nlonger:\t2\nbreak\nb:\t3\n"
    assert k.tabwrite(text, 0, 2) == "a:       1\nlonger:  2\nbreak\nb:  3\n"
    # nested columns: the second column's block is only the lines that have it
    text = "x\ty\tz\nxx\tyyyy\nxxx\ty\tz\n"
    assert k.tabwrite(text, 0, 1) == "x   y z\nxx  yyyy\nxxx y z\n"


def test_go_sprint_and_jsonpath():
    assert k.go_sprint({"role": "api", "app": "bookstore"}) == "map[app:bookstore role:api]"
    assert k.go_sprint({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}) == (
        "map[matchExpressions:[map[key:tier operator:In values:[a b]]]]"
    )
    assert k.go_sprint({}) == "map[]"
    assert k.go_sprint([True, None, 80]) == "[true <nil> 80]"
    obj = {"spec": {"ports": [{"port": 80}, {"port": 443}], "types": []}}
    assert k.jsonpath_find(obj, ".spec.ports[*].port") == [80, 443]
    assert k.jsonpath_find(obj, "{.spec.ports[-1].port}") == [443]
    assert k.jsonpath_find(obj, ".spec.missing.deeper") == []
    assert k.jsonpath_find(obj, ".spec.types[*]") == []


# -- kubectl get -------------------------------------------------------------------------
PODS = [
    Pod("default", "test-blocked", {}),
    Pod("default", "apiserver", {"role": "api", "app": "bookstore"}),
    Pod("default", "test-allowed", {"app": "bookstore"}),
]


def test_get_pods_sorted_by_name_with_label_maps():
    assert k.get_pods(PODS) == (
        "NAME           LABELS\n"
        "apiserver      map[app:bookstore role:api]\n"
        "test-allowed   map[app:bookstore]\n"
        "test-blocked   <none>"
    )
    assert k.get_pods(PODS, show_labels=False) == "NAME\napiserver\ntest-allowed\ntest-blocked"
    assert k.get_pods_command(PODS) == (
        "kubectl get pods -o custom-columns=NAME:.metadata.name,LABELS:.metadata.labels"
    )
    assert k.get_pods_command(PODS, names=True).startswith("kubectl get pods apiserver test-allowed test-blocked -o ")
    assert k.get_pods_command([Pod("shop", "web")]).startswith("kubectl get pods -n shop -o ")


def test_get_commands_refuse_several_namespaces_and_sort_like_storage_keys():
    with pytest.raises(ValueError, match="one get per namespace"):
        k.get_pods_command([Pod("a", "x"), Pod("b", "y")])
    # storage keys are "<namespace>/<name>": "a-x/..." sorts before "a/..." ('-' < '/')
    assert k.get_pods([Pod("a", "p"), Pod("a-x", "q")], show_labels=False) == "NAME\nq\np"


def test_get_services_columns_and_quoted_command():
    svcs = [
        Service("default", "apiserver", {"app": "bookstore", "role": "api"}, (ServicePort(80, 80),), "10.96.0.12"),
        Service("default", "db", {"app": "db"}, (ServicePort(5432, 5432), ServicePort(8080, "metrics")), None),
    ]
    assert k.get_services(svcs) == (
        "NAME        TYPE        PORTS       SELECTOR\n"
        "apiserver   ClusterIP   80          map[app:bookstore role:api]\n"
        "db          ClusterIP   5432,8080   map[app:db]"
    )
    assert k.get_services(svcs, cluster_ip=True).splitlines()[2] == (
        "db          ClusterIP   None         5432,8080   map[app:db]"
    )
    cmd = k.get_services_command(svcs)
    assert cmd == (
        "kubectl get services -o custom-columns='NAME:.metadata.name,TYPE:.spec.type,"
        "PORTS:.spec.ports[*].port,SELECTOR:.spec.selector'"
    )
    assert shlex.split(cmd)[-1] == (
        "custom-columns=NAME:.metadata.name,TYPE:.spec.type,PORTS:.spec.ports[*].port,SELECTOR:.spec.selector"
    )


def test_get_networkpolicies_selector_maps():
    deny = policy("default-deny", {"podSelector": {}})
    assert k.get_networkpolicies([deny, API_ALLOW]) == (
        "NAME           POD-SELECTOR\napi-allow      map[app:bookstore role:api]\ndefault-deny   <none>"
    )
    assert k.get_networkpolicies_command([deny, API_ALLOW]) == (
        "kubectl get networkpolicy -o custom-columns=NAME:.metadata.name,POD-SELECTOR:.spec.podSelector.matchLabels"
    )
    expr = policy(
        "tiers", {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}}
    )
    assert k.get_networkpolicies([expr, deny]) == (
        "NAME           POD-SELECTOR\n"
        "default-deny   map[]\n"
        "tiers          map[matchExpressions:[map[key:tier operator:In values:[web api]]]]"
    )
    assert k.get_networkpolicies_command([expr]).endswith("POD-SELECTOR:.spec.podSelector")


def test_get_namespaces_shows_the_name_label():
    nss = [Namespace("shop", {"team": "web"}), Namespace("default")]
    assert k.get_namespaces(nss) == (
        "NAME      LABELS\n"
        "default   map[kubernetes.io/metadata.name:default]\n"
        "shop      map[kubernetes.io/metadata.name:shop team:web]"
    )
    assert k.get_namespaces_command(nss, names=True) == (
        "kubectl get namespaces default shop -o custom-columns=NAME:.metadata.name,LABELS:.metadata.labels"
    )


# -- kubectl describe networkpolicy --------------------------------------------------------
def test_describe_api_allow():
    assert k.describe_networkpolicy(API_ALLOW) == "\n".join(
        [
            "Name:         api-allow",
            "Namespace:    default",
            "Created on:   1970-01-01 00:00:00 +0000 UTC",
            "Labels:       <none>",
            "Annotations:  <none>",
            "Spec:",
            "  PodSelector:     app=bookstore,role=api",
            "  Allowing ingress traffic:",
            "    To Port: <any> (traffic allowed to all ports)",
            "    From:",
            "      PodSelector: app=bookstore",
            "  Not affecting egress traffic",
            "  Policy Types: Ingress",
        ]
    )
    assert k.describe_networkpolicy_command("api-allow") == "kubectl describe networkpolicy api-allow"
    assert k.describe_networkpolicy_command("x", "shop") == "kubectl describe networkpolicy x -n shop"


def test_describe_egress_ipblock_namespace_selector_ports_and_metadata():
    pol = policy(
        "mixed",
        {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [
                        {"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.5/32", "10.0.0.6/32"]}},
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        },
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"port": 8000, "endPort": 8080}, {"port": "http"}],
                },
                {"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "192.168.0.0/16"}}]},
                {},
            ],
        },
        namespace="shop",
        labels={"team": "web", "app": "x"},
        annotations={"kubectl.kubernetes.io/last-applied-configuration": '{"kind":"NetworkPolicy"}\n', "note": "hello"},
    )
    assert k.describe_networkpolicy(pol) == "\n".join(
        [
            "Name:         mixed",
            "Namespace:    shop",
            "Created on:   1970-01-01 00:00:00 +0000 UTC",
            "Labels:       app=x",
            "              team=web",
            "Annotations:  note: hello",
            "Spec:",
            "  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)",
            "  Allowing ingress traffic:",
            "    <none> (Selected pods are isolated for ingress connectivity)",
            "  Allowing egress traffic:",
            "    To Port: 53/UDP",
            "    To Port Range: 8000-8080/TCP",
            "    To Port: http/TCP",
            "    To:",
            "      IPBlock:",
            "        CIDR: 10.0.0.0/24",
            "        Except: 10.0.0.5/32, 10.0.0.6/32",
            "    To:",
            "      NamespaceSelector: kubernetes.io/metadata.name=kube-system",
            "      PodSelector: k8s-app=kube-dns",
            "    ----------",
            "    To Port: <any> (traffic allowed to all ports)",
            "    To:",
            "      NamespaceSelector: <none>",
            "    To:",
            "      IPBlock:",
            "        CIDR: 192.168.0.0/16",
            "        Except: ",  # kubectl prints "Except: %v" even for an empty list
            "    ----------",
            "    To Port: <any> (traffic allowed to all ports)",
            "    To: <any> (traffic not restricted by destination)",
            "  Policy Types: Ingress, Egress",
        ]
    )


def test_describe_ingress_variants_and_egress_only():
    pol = policy(
        "monitoring",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "ops"}},
                            "podSelector": {"matchLabels": {"app": "monitor"}},
                        }
                    ],
                    "ports": [{"port": 80}, {"protocol": "UDP"}],
                },
                {"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}}]},
            ],
        },
    )
    spec = k.describe_networkpolicy(pol).split("Spec:\n", 1)[1]
    assert spec == "\n".join(
        [
            "  PodSelector:     app=web",
            "  Allowing ingress traffic:",
            "    To Port: 80/TCP",
            "    To Port: <nil>/UDP",
            "    From:",
            "      NamespaceSelector: team=ops",
            "      PodSelector: app=monitor",
            "    ----------",
            "    To Port: <any> (traffic allowed to all ports)",
            "    From:",
            "      NamespaceSelector: team=ops",
            "  Not affecting egress traffic",
            "  Policy Types: Ingress",
        ]
    )
    egress_only = policy("no-egress", {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]})
    assert k.describe_networkpolicy(egress_only).split("Spec:\n", 1)[1] == "\n".join(
        [
            "  PodSelector:     app=web",
            "  Not affecting ingress traffic",
            "  Allowing egress traffic:",
            "    <none> (Selected pods are isolated for egress connectivity)",
            "  Policy Types: Egress",
        ]
    )


def test_format_label_selector_sorts_requirements_by_key():
    sel = LabelSelector(
        (("role", "api"),),
        (
            Requirement("tier", "In", ("web", "api")),
            Requirement("env", "NotIn", ("prod",)),
            Requirement("legacy", "DoesNotExist"),
            Requirement("app", "Exists"),
        ),
    )
    assert k.format_label_selector(sel) == "app,env notin (prod),!legacy,role=api,tier in (api,web)"
    assert k.format_label_selector(LabelSelector()) == "<none>"


def test_volatile_created_on_line():
    real = k.describe_networkpolicy(API_ALLOW, created_on="2024-05-01 09:30:12 +0000 UTC")
    assert k.volatile_lines(real) == ["Created on:   2024-05-01 09:30:12 +0000 UTC"]
    assert k.normalize_volatile(real + "\n") == k.describe_networkpolicy(API_ALLOW) + "\n"
    assert k.VOLATILE_PREFIXES == ("Created on:",)


# -- mutating commands ---------------------------------------------------------------------
def test_applied_deleted_labeled_texts():
    assert k.applied("Pod", "apiserver") == "pod/apiserver created"
    assert k.applied("svc", "apiserver") == "service/apiserver created"
    assert k.applied("NetworkPolicy", "api-allow", "configured") == (
        "networkpolicy.networking.k8s.io/api-allow configured"
    )
    assert k.applied("netpol", "api-allow", "unchanged") == "networkpolicy.networking.k8s.io/api-allow unchanged"
    assert k.applied("namespace", "x") == "namespace/x created"
    with pytest.raises(ValueError):
        k.applied("pod", "x", "deleted")
    assert k.deleted("pod", "apiserver") == 'pod "apiserver" deleted'
    assert k.deleted("networkpolicy", "api-allow") == 'networkpolicy.networking.k8s.io "api-allow" deleted'
    assert k.labeled("pod", "apiserver") == "pod/apiserver labeled"
    assert k.labeled("ns", "shop", "unlabeled") == "namespace/shop unlabeled"


def test_label_command_syntax():
    assert k.label_command("pod", "apiserver", {"app": None}) == "kubectl label pod apiserver app-"
    assert k.label_command("pod", "apiserver", {"role": "db"}) == "kubectl label pod apiserver role=db --overwrite"
    assert k.label_command("pod", "apiserver", {"role": "db"}, overwrite=False) == "kubectl label pod apiserver role=db"
    assert k.label_command("namespace", "shop", {"team": "web", "old": None}, namespace="x") == (
        "kubectl label namespace shop team=web old- --overwrite -n x"
    )
    with pytest.raises(ValueError):
        k.label_command("pod", "x", {})


def test_label_output_follows_kubectl_131_messages():
    old = {"app": "bookstore", "role": "api"}
    assert k.label_output("pod", "apiserver", old, {"app": None}) == "pod/apiserver unlabeled"
    assert k.label_output("pod", "apiserver", old, {"role": "db"}) == "pod/apiserver labeled"
    assert k.label_output("pod", "apiserver", old, {"role": "api"}) == "pod/apiserver not labeled"
    assert k.label_output("pod", "apiserver", old, {"gone": None}) == (
        'label "gone" not found.\npod/apiserver not labeled'
    )
    # with --overwrite on the command line a removal is reported as "labeled"
    assert k.label_message(old, {"app": None}, overwrite=True) == "labeled"
    # without it, mixed changes are judged by the JSON length (kubernetes/kubectl#1323)
    assert k.label_message(old, {"role": None, "a": "b"}, overwrite=False) == "unlabeled"
    assert k.label_message(old, {"app": None, "extra-long": "value"}, overwrite=False) == "labeled"
    # a pod with no labels gains "labels":{} even when nothing is removed
    assert k.label_output("pod", "bare", {}, {"x": None}) == 'label "x" not found.\npod/bare labeled'
    with pytest.raises(ValueError, match="already has a value"):
        k.label_message(old, {"role": "db"}, overwrite=False)


def test_run_wget_apply_delete_commands():
    assert k.run_command("apiserver", "nginx", {"app": "bookstore", "role": "api"}, 80, expose=True) == (
        'kubectl run apiserver --image=nginx --labels="app=bookstore,role=api" --expose --port=80'
    )
    assert k.run_command("test-blocked", "busybox", namespace="other") == (
        "kubectl run test-blocked --image=busybox -n other"
    )
    with pytest.raises(ValueError):
        k.run_command("x", "nginx", expose=True)
    assert k.run_output("apiserver", expose=True) == "service/apiserver created\npod/apiserver created"
    assert k.run_output("apiserver") == "pod/apiserver created"
    assert k.wget_command("test-blocked", "http://apiserver") == (
        "kubectl exec test-blocked -- wget -qO- --timeout=2 http://apiserver"
    )
    assert k.wget_command("t", "http://a", timeout=5, namespace="other") == (
        "kubectl exec t -n other -- wget -qO- --timeout=5 http://a"
    )
    assert k.apply_command("api-allow.yaml") == "kubectl apply -f api-allow.yaml"
    assert k.delete_command("netpol", "api-allow") == "kubectl delete networkpolicy api-allow"
    # a namespace is cluster-scoped: kubectl delete namespace takes no -n
    assert k.delete_command("namespace", "prod", "lesson-02") == "kubectl delete namespace prod"
    assert k.delete_command("pod", "web", "prod") == "kubectl delete pod web -n prod"


# -- busybox / nginx ---------------------------------------------------------------------
def test_busybox_wget_messages():
    assert k.WGET_TIMEOUT == "wget: download timed out"
    assert k.wget_bad_address("apiserver") == "wget: bad address 'apiserver'"
    assert k.wget_refused("10.96.0.12") == "wget: can't connect to remote host (10.96.0.12): Connection refused"
    assert k.exec_failed() == "command terminated with exit code 1"


def test_nginx_index_is_the_615_byte_default_page():
    body = k.nginx_index()
    data = body.encode()
    assert len(data) == 615
    assert body.startswith("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n")
    assert "html { color-scheme: light dark; }\n" in body
    assert body.endswith("<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n")
    assert hashlib.sha256(data).hexdigest() == "fb47468a2cd3953c7131431991afcc6a2703f14640520102eea0a685a7e8d6de"


def test_render_facts_as_kubectl_131_prints_them():
    from nphelpers.backends.base import Applied, Deleted, Kept, Labeled

    assert k.render(Applied("Service", "web", "prod", "created"), "run") == "service/web created"
    assert k.render(Applied("Service", "web", "prod", "created"), "expose") == "service/web exposed"
    assert k.render(Applied("NetworkPolicy", "p", "ns", "unchanged")) == "networkpolicy.networking.k8s.io/p unchanged"
    assert k.render(Deleted("Pod", "web", "prod")) == 'pod "web" deleted'
    assert k.render(Deleted("Namespace", "prod", None, found=False)) == (
        'Error from server (NotFound): namespaces "prod" not found')
    old = {"a": "1", "app.kubernetes.io/managed-by": "nphelpers"}
    fact = Labeled("Pod", "frontend", "default", old, {"b": "2", "app.kubernetes.io/managed-by": "nphelpers"},
                   {"a": None, "b": "2"})
    assert k.render(fact) == "pod/frontend labeled"  # not the live backend's old "label(s) changed"
    absent = Labeled("Namespace", "prod", None, {"x": "y"}, {"x": "y"}, {"gone": None})
    assert k.render(absent) == 'label "gone" not found.\nnamespace/prod not labeled'
    assert k.render(Kept("Namespace", "prod", None, "it holds 1 object(s) nphelpers did not create")) == (
        'namespace "prod" kept: it holds 1 object(s) nphelpers did not create')
    with pytest.raises(TypeError):
        k.render("pod/web created")  # type: ignore[arg-type]


def test_namespace_and_cleanup_commands():
    assert k.create_namespace_command("prod") == "kubectl create namespace prod"
    assert k.cleanup_command("app.kubernetes.io/managed-by=nphelpers", "prod") == (
        "kubectl delete networkpolicy,service,pod -l app.kubernetes.io/managed-by=nphelpers -n prod")
    assert k.expose_command("api", 8080, 80, "api-8080", "default") == (
        "kubectl expose pod api --port=8080 --target-port=80 --name=api-8080")
    assert k.label_command("namespace", "prod", {"purpose": "production"}) == (
        "kubectl label namespace prod purpose=production --overwrite")
