"""Manifest validation: what the apiserver refuses is refused, with its field path; what it accepts loads.

Bad inputs go through the loader (``load_text``) so that each case also checks the
``file: document N:`` prefix a student sees.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nphelpers import validation
from nphelpers.cluster import ClusterState
from nphelpers.errors import ManifestError
from nphelpers.manifests import load_text
from nphelpers.validation import validate_object, validate_workload

NP = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: %s\n"
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\nspec: %s\n"
SVC = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: %s\n"
CTR = "{containers: [%s]}"  # a pod spec around containers


def np_rule(rule: str, direction: str = "ingress") -> str:
    return NP % f"{{podSelector: {{}}, {direction}: [{rule}]}}"


def np_peer(peer: str) -> str:
    return np_rule(f"{{from: [{peer}]}}")


def np_port(port: str) -> str:
    return np_rule(f"{{ports: [{port}]}}")


def np_expr(expr: str) -> str:
    return np_peer(f"{{podSelector: {{matchExpressions: [{expr}]}}}}")


# (id, YAML, field path, part of the message)
BAD: list[tuple[str, str, str | None, str]] = [
    # -- label selectors --------------------------------------------------------------
    ("operator-equals", np_expr("{key: app, operator: Equals, values: [web]}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator",
     'unsupported value "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"'),
    ("operator-missing", np_expr("{key: app, values: [web]}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator", "required value"),
    ("in-without-values", np_expr("{key: app, operator: In}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values",
     "must be specified when `operator` is 'In' or 'NotIn'"),
    ("notin-empty-values", np_expr("{key: app, operator: NotIn, values: []}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values", "must be specified"),
    ("exists-with-values", np_expr("{key: app, operator: Exists, values: [web]}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values",
     "forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
    ("expr-key-invalid", np_expr("{key: -app, operator: Exists}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].key", 'invalid value "-app"'),
    ("expr-key-missing", np_expr("{operator: Exists}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].key", "required value"),
    ("expr-value-invalid", np_expr("{key: app, operator: In, values: [web, 'a b']}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values[1]", 'invalid value "a b"'),
    ("expr-value-number", np_expr("{key: tier, operator: In, values: [1]}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values[0]",
     'label values must be strings: quote it in the YAML ("1")'),
    ("expr-unknown-field", np_expr("{key: app, operator: Exists, value: x}"),
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].value",
     'unknown field "spec.ingress[0].from[0].podSelector.matchExpressions[0].value"'),
    ("selector-unknown-field", NP % "{podSelector: {matchLabel: {app: web}}}",
     "spec.podSelector.matchLabel", 'unknown field "spec.podSelector.matchLabel"'),
    ("matchlabels-bool", NP % "{podSelector: {matchLabels: {enabled: true}}}",
     "spec.podSelector.matchLabels", 'invalid value true: label values must be strings: quote it in the YAML ("true")'),
    ("matchlabels-yes", NP % "{podSelector: {matchLabels: {enabled: yes}}}",
     "spec.podSelector.matchLabels", "label values must be strings"),
    ("matchlabels-null", NP % "{podSelector: {matchLabels: {app: }}}",
     "spec.podSelector.matchLabels", 'write "" for an empty value'),
    ("matchlabels-bad-value", NP % "{podSelector: {matchLabels: {app: 'my app'}}}",
     "spec.podSelector.matchLabels", 'invalid value "my app": a valid label value must be an empty string'),
    ("ns-selector-bad-key", np_peer("{namespaceSelector: {matchLabels: {'a/b/c': x}}}"),
     "spec.ingress[0].from[0].namespaceSelector.matchLabels", "at most one '/'"),
    # -- spec, rules, peers -----------------------------------------------------------
    ("unknown-spec-field", NP % "{podSelector: {}, foo: 1}", "spec.foo", 'unknown field "spec.foo"'),
    ("unknown-rule-field", np_rule("{form: [{podSelector: {}}]}"), "spec.ingress[0].form",
     'unknown field "spec.ingress[0].form"'),
    ("egress-rule-uses-from", np_rule("{from: [{podSelector: {}}]}", "egress"), "spec.egress[0].from",
     'unknown field "spec.egress[0].from"'),
    ("ingress-not-a-list", NP % "{podSelector: {}, ingress: {from: []}}", "spec.ingress",
     "invalid type: expected a list, got a mapping"),
    ("policy-types-three", NP % "{podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}",
     "spec.policyTypes", "may not specify more than two policyTypes"),
    ("policy-type-lowercase", NP % "{podSelector: {}, policyTypes: [Ingress, egress]}",
     "spec.policyTypes[1]", 'unsupported value "egress": supported values: "Ingress", "Egress"'),
    ("empty-peer", np_peer("{}"), "spec.ingress[0].from[0]", "required value: must specify a peer"),
    ("null-selector-peer", np_peer("{podSelector: null}"), "spec.ingress[0].from[0]", "must specify a peer"),
    ("ipblock-and-podselector", np_peer("{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}"),
     "spec.ingress[0].from[0]", "forbidden: may not specify both ipBlock and another peer"),
    ("ipblock-and-nsselector-egress",
     np_rule("{to: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}, namespaceSelector: {}}]}", "egress"),
     "spec.egress[0].to[1]", "may not specify both ipBlock and another peer"),
    ("peer-unknown-field", np_peer("{podSelectr: {}}"), "spec.ingress[0].from[0].podSelectr",
     'unknown field "spec.ingress[0].from[0].podSelectr"'),
    # -- ports ------------------------------------------------------------------------
    ("protocol-lowercase", np_port("{protocol: tcp, port: 80}"), "spec.ingress[0].ports[0].protocol",
     'unsupported value "tcp": supported values: "TCP", "UDP", "SCTP"'),
    ("protocol-icmp", np_port("{protocol: ICMP}"), "spec.ingress[0].ports[0].protocol",
     'unsupported value "ICMP"'),
    ("port-zero", np_port("{port: 0}"), "spec.ingress[0].ports[0].port",
     "invalid value 0: must be between 1 and 65535, inclusive"),
    ("port-too-big", np_port("{port: 65536}"), "spec.ingress[0].ports[0].port", "must be between 1 and 65535"),
    ("port-quoted-number", np_port("{port: '80'}"), "spec.ingress[0].ports[0].port",
     'invalid value "80": must contain at least one letter (a-z); for a port number write 80 without quotes'),
    ("port-name-too-long", np_port("{port: abcdefghijklmnop}"), "spec.ingress[0].ports[0].port",
     "must be no more than 15 characters"),
    ("port-name-double-hyphen", np_port("{port: web--api}"), "spec.ingress[0].ports[0].port",
     "must not contain consecutive hyphens"),
    ("port-name-leading-hyphen", np_port("{port: -web}"), "spec.ingress[0].ports[0].port",
     "must not begin or end with a hyphen"),
    ("port-name-uppercase", np_port("{port: HTTP}"), "spec.ingress[0].ports[0].port",
     "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("port-float", np_port("{port: 80.5}"), "spec.ingress[0].ports[0].port",
     "expected a port number or a port name, got a number (80.5)"),
    ("endport-without-port", np_port("{endPort: 90}"), "spec.ingress[0].ports[0].endPort",
     "may not be specified when `port` is not specified"),
    ("endport-named-port", np_port("{port: http, endPort: 90}"), "spec.ingress[0].ports[0].endPort",
     "may not be specified when `port` is non-numeric"),
    ("endport-below-port", np_port("{port: 8080, endPort: 8000}"), "spec.ingress[0].ports[0].endPort",
     "invalid value 8000: must be greater than or equal to `port`"),
    ("endport-too-big", np_port("{port: 8080, endPort: 70000}"), "spec.ingress[0].ports[0].endPort",
     "must be between 1 and 65535"),
    ("egress-port", np_rule("{ports: [{port: 53, protocol: DNS}]}", "egress"), "spec.egress[0].ports[0].protocol",
     'unsupported value "DNS"'),
    # -- ipBlock ----------------------------------------------------------------------
    ("cidr-prefix-too-long", np_peer("{ipBlock: {cidr: 10.0.0.0/33}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     'invalid value "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'),
    ("cidr-no-prefix", np_peer("{ipBlock: {cidr: 10.0.0.1}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     "must be a valid CIDR value"),
    ("cidr-netmask", np_peer("{ipBlock: {cidr: 10.0.0.0/255.0.0.0}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     "must be a valid CIDR value"),
    ("cidr-ipv6-zone", np_peer("{ipBlock: {cidr: 'fe80::1%eth0/64'}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     "must be a valid CIDR value"),
    ("cidr-leading-zero", np_peer("{ipBlock: {cidr: 010.0.0.0/8}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     "must not have leading 0s"),
    ("cidr-mapped-ipv6", np_peer("{ipBlock: {cidr: '::ffff:10.0.0.0/104'}}"),
     "spec.ingress[0].from[0].ipBlock.cidr", "IPv4-mapped IPv6"),
    ("cidr-missing", np_peer("{ipBlock: {except: [10.0.0.0/16]}}"), "spec.ingress[0].from[0].ipBlock.cidr",
     "required value"),
    ("except-outside", np_peer("{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24, 10.1.0.0/24]}}"),
     "spec.ingress[0].from[0].ipBlock.except[1]", 'invalid value "10.1.0.0/24": must be a strict subset of `cidr`'),
    ("except-equal", np_peer("{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}}"),
     "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset of `cidr`"),
    ("except-bigger", np_peer("{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/8]}}"),
     "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset of `cidr`"),
    ("except-other-family", np_peer("{ipBlock: {cidr: 0.0.0.0/0, except: ['::/1']}}"),
     "spec.ingress[0].from[0].ipBlock.except[0]", "must be a strict subset of `cidr`"),
    ("except-invalid", np_peer("{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/40]}}"),
     "spec.ingress[0].from[0].ipBlock.except[0]", "must be a valid CIDR value"),
    ("ipblock-unknown-field", np_peer("{ipBlock: {cidr: 10.0.0.0/8, exclude: [10.0.0.0/16]}}"),
     "spec.ingress[0].from[0].ipBlock.exclude", "unknown field"),
    # -- object and metadata ----------------------------------------------------------
    ("not-a-mapping", "- apiVersion: v1\n  kind: Pod\n", None, "expected a mapping"),
    ("kind-missing", "apiVersion: v1\nmetadata: {name: x}\n", "kind", "required value: kind not set"),
    ("apiversion-missing", "kind: Pod\nmetadata: {name: x}\n", "apiVersion", "required value"),
    ("apiversion-old", (NP % "{podSelector: {}}").replace("networking.k8s.io/v1", "extensions/v1beta1"),
     "apiVersion", 'no matches for kind "NetworkPolicy" in version "extensions/v1beta1": use "networking.k8s.io/v1"'),
    ("apiversion-wrong-group", (POD % "{}").replace("v1", "apps/v1", 1), "apiVersion",
     'no matches for kind "Pod" in version "apps/v1"'),
    ("unknown-top-field", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\nspecs: {}\n", "specs",
     'unknown field "specs"'),
    ("np-status", NP % "{}" + "status: {}\n", "status", 'unknown field "status"'),
    ("name-missing", "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n", "metadata.name",
     "required value"),
    ("name-uppercase", (NP % "{}").replace("name: np", "name: Allow-API"), "metadata.name",
     'invalid value "Allow-API": a lowercase RFC 1123 subdomain'),
    ("name-number", (NP % "{}").replace("name: np", "name: 42"), "metadata.name",
     "invalid type: expected a string, got an integer (42)"),
    ("name-too-long", (NP % "{}").replace("name: np", "name: " + "a" * 254), "metadata.name",
     "must be no more than 253 characters"),
    ("namespace-invalid", (NP % "{}").replace("{name: np}", "{name: np, namespace: my.ns}"),
     "metadata.namespace", 'invalid value "my.ns": a lowercase RFC 1123 label'),
    ("metadata-unknown-field", (NP % "{}").replace("{name: np}", "{name: np, label: {a: b}}"),
     "metadata.label", 'unknown field "metadata.label"'),
    ("label-value-true", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{app: web, canary: true}"),
     "metadata.labels", 'invalid value true: label values must be strings: quote it in the YAML ("true")'),
    ("label-value-number", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{version: 1.10}"),
     "metadata.labels", 'quote it in the YAML ("1.1")'),
    ("label-value-too-long", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{app: " + "w" * 64 + "}"),
     "metadata.labels", "must be no more than 63 characters"),
    ("label-key-name-too-long", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{" + "k" * 64 + ": x}"),
     "metadata.labels", "name part must be no more than 63 characters"),
    ("label-key-bad-prefix", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{Example.com/app: x}"),
     "metadata.labels", "prefix part a lowercase RFC 1123 subdomain"),
    ("label-key-empty-name", (POD % CTR % "{name: c, image: nginx}").replace("{app: web}", "{example.com/: x}"),
     "metadata.labels", "name part must be non-empty"),
    ("annotation-number", (POD % CTR % "{name: c, image: nginx}").replace("labels: {app: web}", "annotations: {n: 1}"),
     "metadata.annotations", "annotation values must be strings"),
    # -- Pod --------------------------------------------------------------------------
    ("pod-no-spec", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n", "spec.containers", "required value"),
    ("pod-no-containers", POD % "{containers: []}", "spec.containers", "required value"),
    ("container-name-upper", POD % CTR % "{name: Web, image: nginx}", "spec.containers[0].name",
     'invalid value "Web": a lowercase RFC 1123 label'),
    ("container-name-missing", POD % CTR % "{image: nginx}", "spec.containers[0].name", "required value"),
    ("container-name-duplicate", POD % CTR % "{name: c, image: nginx}, {name: c, image: busybox}",
     "spec.containers[1].name", 'duplicate value "c"'),
    ("container-image-missing", POD % CTR % "{name: c}", "spec.containers[0].image", "required value"),
    ("container-unknown-field", POD % CTR % "{name: c, image: nginx, port: 80}", "spec.containers[0].port",
     'unknown field "spec.containers[0].port"'),
    ("pod-spec-unknown-field", POD % "{container: []}", "spec.container", 'unknown field "spec.container"'),
    ("container-port-zero", POD % CTR % "{name: c, image: nginx, ports: [{containerPort: 0}]}",
     "spec.containers[0].ports[0].containerPort", "must be between 1 and 65535"),
    ("container-port-string", POD % CTR % "{name: c, image: nginx, ports: [{containerPort: '80'}]}",
     "spec.containers[0].ports[0].containerPort", 'invalid type: expected an integer, got a string ("80")'),
    ("container-port-missing", POD % CTR % "{name: c, image: nginx, ports: [{name: http}]}",
     "spec.containers[0].ports[0].containerPort", "required value"),
    ("container-port-protocol", POD % CTR % "{name: c, image: nginx, ports: [{containerPort: 80, protocol: HTTP}]}",
     "spec.containers[0].ports[0].protocol", 'unsupported value "HTTP"'),
    ("container-port-name-bad", POD % CTR % "{name: c, image: nginx, ports: [{containerPort: 80, name: web_http}]}",
     "spec.containers[0].ports[0].name", "must contain only alpha-numeric characters"),
    ("container-port-name-dup-in-one-container",  # across containers the apiserver only warns
     POD % CTR % "{name: a, image: nginx, ports: [{containerPort: 80, name: http}, {containerPort: 81, name: http}]}",
     "spec.containers[0].ports[1].name", 'duplicate value "http"'),
    ("pod-ip-invalid", POD % CTR % "{name: c, image: nginx}" + "status: {podIP: 10.0.0.300}\n", "status.podIP",
     'invalid value "10.0.0.300": must be a valid IP address'),
    ("pod-ips-invalid",
     POD % CTR % "{name: c, image: nginx}" + "status: {podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::zz'}]}\n",
     "status.podIPs[1].ip", "must be a valid IP address"),
    ("pod-ips-duplicate",
     POD % CTR % "{name: c, image: nginx}" + "status: {podIPs: [{ip: 10.0.0.1}, {ip: 10.0.0.1}]}\n",
     "status.podIPs[1].ip", 'duplicate value "10.0.0.1"'),
    # -- Service ----------------------------------------------------------------------
    ("service-name-digit", (SVC % "{ports: [{port: 80}]}").replace("name: web", "name: 1web"), "metadata.name",
     "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic"),
    ("service-no-ports", SVC % "{selector: {app: web}}", "spec.ports", "required value"),
    ("service-ports-unnamed", SVC % "{ports: [{port: 80}, {port: 443}]}", "spec.ports[0].name", "required value"),
    ("service-port-name-invalid", SVC % "{ports: [{port: 80, name: Web}]}", "spec.ports[0].name",
     "a lowercase RFC 1123 label"),
    ("service-port-zero", SVC % "{ports: [{port: 0}]}", "spec.ports[0].port", "must be between 1 and 65535"),
    ("service-port-missing", SVC % "{ports: [{targetPort: 80}]}", "spec.ports[0].port", "required value"),
    ("service-target-port-quoted", SVC % "{ports: [{port: 80, targetPort: '8080'}]}", "spec.ports[0].targetPort",
     "must contain at least one letter"),
    ("service-target-port-big", SVC % "{ports: [{port: 80, targetPort: 80000}]}", "spec.ports[0].targetPort",
     "must be between 1 and 65535"),
    ("service-target-port-zero", SVC % "{ports: [{port: 80, targetPort: 0}]}", "spec.ports[0].targetPort",
     "leave targetPort out"),
    ("service-protocol", SVC % "{ports: [{port: 80, protocol: Tcp}]}", "spec.ports[0].protocol",
     'unsupported value "Tcp"'),
    ("service-duplicate-port", SVC % "{ports: [{port: 80, name: a}, {port: 80, name: b}]}", "spec.ports[1]",
     "port 80/TCP is already in spec.ports[0]"),
    ("service-cluster-ip", SVC % "{clusterIP: 10.96.0.256, ports: [{port: 80}]}", "spec.clusterIP",
     "must be a valid IP address"),
    ("service-selector-value", SVC % "{selector: {app: true}, ports: [{port: 80}]}", "spec.selector",
     "label values must be strings"),
    ("service-type", SVC % "{type: Internal, ports: [{port: 80}]}", "spec.type", 'unsupported value "Internal"'),
    # -- Namespace --------------------------------------------------------------------
    ("namespace-name-dot", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n", "metadata.name",
     "a lowercase RFC 1123 label"),
    ("namespace-name-too-long", "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + "n" * 64 + "}\n",
     "metadata.name", "must be no more than 63 characters"),
    ("namespace-in-namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, namespace: default}\n",
     "metadata.namespace", "forbidden: not allowed on this type"),
]


@pytest.mark.parametrize(("text", "field", "fragment"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_manifest(text: str, field: str | None, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        load_text(text, "bad.yaml")
    err = info.value
    assert err.field == field
    assert fragment in err.message
    assert err.source == "bad.yaml" and err.document == 1
    assert str(err).startswith("bad.yaml: document 1: " + (f"{field}: " if field else ""))


def test_bad_case_ids_are_unique() -> None:
    ids = [c[0] for c in BAD]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


def test_the_example_from_the_lesson() -> None:
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-allow
spec:
  podSelector:
    matchLabels: {app: bookstore, role: api}
  ingress:
  - from:
    - podSelector:
        matchExpressions:
        - key: app
          operator: Equals
          values: [bookstore]
"""
    with pytest.raises(ManifestError) as info:
        load_text(text, "api-allow.yaml")
    assert str(info.value) == (
        "api-allow.yaml: document 1: spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: "
        'unsupported value "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"'
    )


# -- what the apiserver accepts ---------------------------------------------------------
def netpol(spec: dict[str, Any], name: str = "np", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, **meta},
            "spec": spec}


def pod(name: str = "web", labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "main", "image": "nginx"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": spec}


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("deny-all", netpol({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})),
    ("podselector-omitted", netpol({"ingress": [{}]})),  # the API defaults it to {}
    ("no-spec", {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"}}),
    ("null-lists", netpol({"podSelector": {"matchLabels": None}, "ingress": None, "egress": [None]})),
    ("policy-types-repeated", netpol({"podSelector": {}, "policyTypes": ["Ingress", "Ingress"]})),
    ("all-operators", netpol({"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["a", "b"]},
        {"key": "example.com/tier", "operator": "NotIn", "values": [""]},
        {"key": "canary", "operator": "Exists"},
        {"key": "legacy", "operator": "DoesNotExist", "values": []},
    ]}})),
    ("selectors-and-together", netpol({"podSelector": {}, "ingress": [{"from": [
        {"podSelector": {"matchLabels": {"role": "client"}}, "namespaceSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}},
    ]}]})),
    ("ipv4-cidr-except", netpol({"podSelector": {}, "egress": [{"to": [
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.3.4/32"]}}]}]})),
    ("host-bits-cidr", netpol({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.1.1/4"}}]}]})),
    ("host-bits-except", netpol({"podSelector": {}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.5.7/24"]}}]}]})),
    ("ipv6-cidr", netpol({"podSelector": {}, "egress": [{"to": [
        {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}},
        {"ipBlock": {"cidr": "::/0"}},
        {"ipBlock": {"cidr": "FD00:0:0:0:0:0:0:1/128"}},
    ]}]})),
    ("all-addresses", netpol({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})),
    ("ports", netpol({"podSelector": {}, "ingress": [{"ports": [
        {"port": 80}, {"protocol": "UDP", "port": 53}, {"protocol": "SCTP"}, {"port": "http"},
        {"port": "metrics-9090"}, {"port": 32000, "endPort": 32768}, {"port": 1, "endPort": 1},
        {"port": 65535, "protocol": None},
    ]}]})),
    ("egress-dns", netpol({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})),
    ("subdomain-name", netpol({"podSelector": {}}, name="allow.from-" + "x" * 200, namespace="team-a")),
    ("label-shapes", netpol({"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "My_App-1.0", "a": "", "x" * 63: "y" * 63}}})),
    ("pod-full", pod("web-0", {"app": "web", "tier": "front"}, containers=[
        {"name": "web", "image": "nginx:1.25", "ports": [
            {"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP", "name": "dns"}]},
        {"name": "sidecar", "image": "busybox", "ports": [{"containerPort": 9090, "name": "metrics"},
                                                          {"containerPort": 9091, "hostPort": 0}]},
    ])),
    ("pod-ips", {**pod("p"), "status": {"phase": "Running", "podIP": "10.244.1.5",
                                        "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}}),
    ("pod-dotted-name", pod("web.v2")),
    ("service", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
                 "spec": {"selector": {"app": "web"}, "ports": [
                     {"name": "http", "port": 80, "targetPort": "http"},
                     {"name": "metrics", "port": 9090, "targetPort": 9091, "protocol": "TCP"},
                     {"name": "dns", "port": 80, "protocol": "UDP"}]}}),
    ("service-one-unnamed-port", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                  "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.50"}}),
    ("service-headless", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                          "spec": {"clusterIP": "None", "selector": {"app": "db"}}}),
    ("service-external-name", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                               "spec": {"type": "ExternalName", "externalName": "example.com"}}),
    ("namespace", {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"team": "a"}, "annotations": {"note": "x"}}}),
]


@pytest.mark.parametrize("obj", [c[1] for c in GOOD], ids=[c[0] for c in GOOD])
def test_good_object(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    validate_object(obj)
    assert obj == before  # validation never changes its input
    ClusterState.from_objects([obj])  # and the model can use what it accepted


@pytest.mark.parametrize("obj", [c[1] for c in GOOD], ids=[c[0] for c in GOOD])
def test_good_objects_pass_the_openapi_schema(obj: dict[str, Any]) -> None:
    """Our "good" fixtures are good by the published API schema too (strict: no unknown fields)."""
    kv = pytest.importorskip("kubernetes_validate")
    kv.validate(obj, kv.latest_version(), strict=True)


def test_known_fields_match_the_openapi_schema() -> None:
    """Strict field validation is only right while our field lists follow the API types."""
    kv = pytest.importorskip("kubernetes_validate")
    import json
    from pathlib import Path

    schemas = Path(kv.__file__).parent / "kubernetes-json-schema" / f"v{kv.latest_version()}-local-strict"
    if not (schemas / "_definitions.json").exists():
        pytest.skip("kubernetes-validate's schema layout changed")
    data = json.loads((schemas / "_definitions.json").read_text())
    defs = data.get("definitions") or data.get("$defs")

    meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    core, net, apps = "io.k8s.api.core.v1.", "io.k8s.api.networking.v1.", "io.k8s.api.apps.v1."
    ours = {
        meta + "ObjectMeta": validation._META_FIELDS,
        meta + "LabelSelector": validation._SELECTOR_FIELDS,
        meta + "LabelSelectorRequirement": validation._REQUIREMENT_FIELDS,
        core + "Pod": validation._TOP_FIELDS,
        core + "Service": validation._TOP_FIELDS,
        core + "Namespace": validation._TOP_FIELDS,
        core + "PodSpec": validation._POD_SPEC_FIELDS,
        core + "Container": validation._CONTAINER_FIELDS,
        core + "ContainerPort": validation._CONTAINER_PORT_FIELDS,
        core + "PodStatus": validation._POD_STATUS_FIELDS,
        core + "PodIP": validation._POD_IP_FIELDS,
        core + "PodTemplateSpec": validation._TEMPLATE_FIELDS,
        core + "ServiceSpec": validation._SERVICE_SPEC_FIELDS,
        core + "ServicePort": validation._SERVICE_PORT_FIELDS,
        core + "NamespaceSpec": validation._NAMESPACE_SPEC_FIELDS,
        net + "NetworkPolicy": validation._NP_TOP_FIELDS,
        net + "NetworkPolicySpec": validation._NP_SPEC_FIELDS,
        net + "NetworkPolicyIngressRule": validation._NP_INGRESS_FIELDS,
        net + "NetworkPolicyEgressRule": validation._NP_EGRESS_FIELDS,
        net + "NetworkPolicyPeer": validation._NP_PEER_FIELDS,
        net + "NetworkPolicyPort": validation._NP_PORT_FIELDS,
        net + "IPBlock": validation._IPBLOCK_FIELDS,
        **{apps + kind + "Spec": fields for kind, fields in validation._WORKLOAD_SPEC_FIELDS.items()},
    }
    for name, fields in ours.items():
        assert set(defs[name]["properties"]) == fields, name


# -- direct calls -------------------------------------------------------------------------
def test_errors_carry_no_location_until_the_loader_adds_one() -> None:
    with pytest.raises(ManifestError) as info:
        validate_object(netpol({"podSelector": {}, "policyTypes": ["Both"]}))
    err = info.value
    assert (err.source, err.document, err.field) == (None, None, "spec.policyTypes[0]")
    assert str(err) == 'spec.policyTypes[0]: unsupported value "Both": supported values: "Ingress", "Egress"'


def test_unsupported_kind() -> None:
    with pytest.raises(ManifestError) as info:
        validate_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert info.value.field == "kind" and 'unsupported value "ConfigMap"' in info.value.message


@pytest.mark.parametrize("value", [None, [], "pod", 3])
def test_object_must_be_a_mapping(value: Any) -> None:
    with pytest.raises(ManifestError, match="expected a mapping"):
        validate_object(value)


def test_input_is_not_mutated_on_error() -> None:
    obj = netpol({"podSelector": {}, "ingress": [{"from": [{}]}]})
    before = copy.deepcopy(obj)
    with pytest.raises(ManifestError):
        validate_object(obj)
    assert obj == before


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                     "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
    }
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": base}


def test_workload_good() -> None:
    validate_workload(deployment())
    validate_workload(deployment(replicas=0, selector={"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["front", "back"]}]}))


@pytest.mark.parametrize(
    ("spec", "field", "fragment"),
    [
        ({"selector": {"matchLabels": {"app": "api"}}}, "spec.template.metadata.labels",
         "`selector` does not match template `labels`"),
        ({"selector": None}, "spec.selector", "required value"),
        ({"selector": {}}, "spec.selector", "empty selector is invalid for deployment"),
        ({"replicas": -1}, "spec.replicas", "must be greater than or equal to 0"),
        ({"replicas": "2"}, "spec.replicas", "expected an integer"),
        ({"template": None}, "spec.template", "required value"),
        ({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "Web"}]}}},
         "spec.template.spec.containers[0].name", "a lowercase RFC 1123 label"),
        ({"template": {"metadata": {"labels": {"app": "web"}}}}, "spec.template.spec.containers", "required value"),
        ({"template": {"metadata": {"labels": {"app": "web", "on": True}},
                       "spec": {"containers": [{"name": "w", "image": "x"}]}}},
         "spec.template.metadata.labels", "label values must be strings"),
        ({"strategy": {}, "paused": False, "foo": 1}, "spec.foo", 'unknown field "spec.foo"'),
    ],
)
def test_workload_bad(spec: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as info:
        validate_workload(deployment(**spec))
    assert info.value.field == field
    assert fragment in info.value.message


def test_daemonset_has_no_replicas() -> None:
    obj = deployment()
    obj["kind"] = "DaemonSet"
    with pytest.raises(ManifestError, match='unknown field "spec.replicas"'):
        validate_workload(obj)
    del obj["spec"]["replicas"]
    validate_workload(obj)


def test_template_image_may_be_left_to_admission() -> None:
    obj = deployment()
    del obj["spec"]["template"]["spec"]["containers"][0]["image"]
    validate_workload(obj)  # the apiserver allows an empty image in a template, not in a pod


def test_remembered_valid_values_never_admit_a_look_alike_of_another_type() -> None:
    """Validation remembers valid ports/labels for speed; `true` must not pass for a known 1."""
    good = ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {n: '1'}}\n"
            "spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 1, name: http}]}]}\n")
    load_text(good, "good.yaml")
    with pytest.raises(ManifestError, match="containerPort: invalid type: expected an integer, got a boolean"):
        load_text(good.replace("containerPort: 1", "containerPort: true"), "bad.yaml")
    with pytest.raises(ManifestError, match="metadata.labels: invalid value 1: label values must be strings"):
        load_text(good.replace("n: '1'", "n: 1"), "bad.yaml")
    with pytest.raises(ManifestError, match='duplicate value "http"'):
        load_text(good.replace("ports: [{containerPort: 1, name: http}]",
                               "ports: [{containerPort: 1, name: http}, {containerPort: 1, name: http}]"), "bad.yaml")
