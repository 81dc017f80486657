"""Exercises that check themselves: reference solutions pass, typical mistakes fail with the right hint.

Every exercise of the catalogue is started in a fresh simulated lab of its lesson; answers are
the reference files of notebooks/solutions/ or YAML strings written the way learners get them wrong.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nphelpers import exercises as X
from nphelpers.backends.base import ProbeResult
from nphelpers.backends.simulated import SimulatedCluster
from nphelpers.errors import ManifestError, NphelpersError, UsageError
from nphelpers.exercises import EXERCISES, CheckResult
from nphelpers.lab import Lab

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def started(exercise_id: str, backend: Any = "simulated") -> tuple[Lab, io.StringIO]:
    ex = EXERCISES[exercise_id]
    out = io.StringIO()
    lab = Lab(backend=backend, namespace=f"lesson-{ex.lesson}", out=out)
    lab.start_exercise(ex)
    out.seek(0)
    out.truncate()
    return lab, out


def peer(labels: str) -> str:
    """A podSelector peer as YAML flow text: ``peer("app: web")``."""
    return f"{{podSelector: {{matchLabels: {{{labels}}}}}}}"


WEB = "podSelector: {matchLabels: {app: web}}"
BACKENDS = "podSelector: {matchLabels: {tier: backend}}"
DB = "podSelector: {matchLabels: {app: bookstore, role: db}}"
ROLE_IN = "{podSelector: {matchExpressions: [{key: role, operator: In, values: [search, api]}]}}"
FOO = "podSelector: {matchLabels: {app: foo}}, policyTypes: [Egress]"
KUBE_DNS = "podSelector: {matchLabels: {k8s-app: kube-dns}}"
KUBE_SYSTEM = "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}"
DNS_PORTS = "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
EVERY_POD_EGRESS = "{podSelector: {}, policyTypes: [Egress]"  # lesson 12: a spec left open for its rules
COREDNS_PEER = ("{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
            "podSelector: {matchLabels: {k8s-app: kube-dns}}}")
DNS_53 = "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
FRONTEND_EGRESS = "podSelector: {matchLabels: {app: frontend}}, policyTypes: [Egress]"  # lesson 13
TO_API = "{to: [{podSelector: {matchLabels: {app: api}}}], ports: [{protocol: TCP, port: 8080}]}"
TO_DNS = "{to: [" + COREDNS_PEER + "], " + DNS_53 + "}"


def policy(name: str, spec: str) -> str:
    """A NetworkPolicy manifest with ``spec`` given as YAML flow text."""
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}}}\nspec: {spec}\n"


API_ALLOW_WEB_AND_FRONTEND = policy(  # lesson 13: the api team's policy, frontend admitted as well
    "api-allow-web", "{podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress], ingress: [{from: ["
    "{podSelector: {matchLabels: {app: web}}}, {podSelector: {matchLabels: {app: frontend}}}], "
    "ports: [{protocol: TCP, port: 8080}]}]}")


# -- the reference solutions -----------------------------------------------------------------
@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_solution_passes(exercise_id: str) -> None:
    ex = EXERCISES[exercise_id]
    assert ex.solution is not None
    lab, out = started(exercise_id)
    result = lab.check(ex, SOLUTIONS / ex.solution)
    assert result, str(result)
    assert result.passed and result.applied and not result.cells and not result.observed
    assert all(f.ok for f in result.findings)
    solved = f"✓ {exercise_id} solved: every connection is as the goal wants and the rules hold."
    assert out.getvalue().splitlines()[-1] == solved


def test_every_solution_file_belongs_to_an_exercise() -> None:
    assert sorted(p.name for p in SOLUTIONS.glob("*.yaml")) == sorted(e.solution for e in EXERCISES.values())


def test_the_plan_s_lessons_have_exercises() -> None:
    assert {e.lesson for e in EXERCISES.values()} == {"01", "02", "02a", "03", "04", "06", "07", "09", "10", "11", "12",
                                                      "13", "14"}
    # real-world examples 2-4, the recipe's acceptance criteria, the policy-editor exercise
    assert len([e for e in EXERCISES.values() if e.lesson == "02"]) == 5


# -- typical wrong answers, and the hint each gets first ---------------------------------------
WRONG = [
    ("01-deny-all", "allow-all shortcut", policy("web-deny-all", "{" + WEB + ", ingress: [{}]}"),
     "`ingress: [{}]` is one rule that matches everything"),
    ("01-deny-all", "every pod selected", policy("web-deny-all", "{podSelector: {}, ingress: []}"),
     "api is blocked too"),
    ("01-deny-all", "label typo", policy("web-deny-all", "{podSelector: {matchLabels: {app: webapp}}, ingress: []}"),
     "web still answers"),
    ("02-api-gateway", "one peer only",
     policy("internal-api-whitelist", "{podSelector: {matchLabels: {app: internal-api, tier: backend}}, ingress: "
            "[{from: [{podSelector: {matchLabels: {role: api-gateway}}}], ports: [{port: 8080}]}]}"),
     "admin is shut out"),
    ("02-api-gateway", "no ports",
     policy("internal-api-whitelist", "{podSelector: {matchLabels: {app: internal-api}}, ingress: [{from: "
            f"[{peer('role: api-gateway')}, {peer('role: admin-console')}]}}]}}"),
     "reachable on port 80 as well"),
    ("02-api-gateway", "every pod admitted",
     policy("internal-api-whitelist", "{podSelector: {matchLabels: {app: internal-api}}, ingress: "
            "[{from: [{podSelector: {}}], ports: [{port: 8080}]}]}"),
     "reporting gets in"),
    ("02-microservices", "cart only",
     policy("order-service-policy", "{podSelector: {matchLabels: {app: order-service}}, ingress: "
            "[{from: [{podSelector: {matchLabels: {app: cart-service}}}], ports: [{port: 8080}]}]}"),
     "inventory-service is shut out"),
    ("02-microservices", "every pod admitted",
     policy("order-service-policy", "{podSelector: {matchLabels: {app: order-service}}, ingress: "
            "[{from: [{podSelector: {}}], ports: [{port: 8080}]}]}"),
     "payment-service gets in"),
    ("02-microservices", "no ports",
     policy("order-service-policy", "{podSelector: {matchLabels: {app: order-service}}, ingress: [{from: "
            f"[{peer('app: cart-service')}, {peer('app: inventory-service')}]}}]}}"),
     "answers on port 80 too"),
    ("02-monitoring", "OR instead of AND",
     policy("app-allow-monitoring", "{podSelector: {matchLabels: {monitoring: 'true'}}, ingress: ["
            "{from: [{podSelector: {matchLabels: {tier: frontend}}}], ports: [{port: 8080}]}, "
            "{from: [{namespaceSelector: {matchLabels: {name: monitoring}}}, "
            "{podSelector: {matchLabels: {app: prometheus}}}], ports: [{port: 9090}]}]}"),
     "prometheus-impostor (app=prometheus, but in the lesson's namespace)"),
    ("02-monitoring", "no namespaceSelector",
     policy("app-allow-monitoring", "{podSelector: {matchLabels: {monitoring: 'true'}}, ingress: ["
            "{from: [{podSelector: {matchLabels: {tier: frontend}}}], ports: [{port: 8080}]}, "
            "{from: [{podSelector: {matchLabels: {app: prometheus}}}], ports: [{port: 9090}]}]}"),
     "Prometheus in monitoring cannot scrape"),
    ("02-monitoring", "whole namespace",
     policy("app-allow-monitoring", "{podSelector: {matchLabels: {monitoring: 'true'}}, ingress: ["
            "{from: [{podSelector: {matchLabels: {tier: frontend}}}], ports: [{port: 8080}]}, "
            "{from: [{namespaceSelector: {matchLabels: {name: monitoring}}}], ports: [{port: 9090}]}]}"),
     "grafana reaches the metrics"),
    ("02a-allow-all-pods", "empty rule", policy("web-allow-all", "{" + WEB + ", ingress: [{}]}"),
     "203.0.113.7, outside the cluster, gets in"),
    ("02a-allow-all-pods", "own namespace only",
     policy("web-allow-all", "{" + WEB + ", ingress: [{from: [{podSelector: {}}]}]}"),
     "lesson-02a-other/client is blocked"),
    ("03-default-deny", "no default deny",
     policy("backend-allow-frontend", "{podSelector: {matchLabels: {tier: backend}}, ingress: "
            "[{from: [{podSelector: {matchLabels: {tier: frontend}}}]}]}") + "---\n"
     + policy("db-allow-backend", "{podSelector: {matchLabels: {tier: db}}, ingress: "
              "[{from: [{podSelector: {matchLabels: {tier: backend}}}]}]}"),
     "The frontend is still open"),
    ("03-default-deny", "deny-all by known labels",
     policy("default-deny-all", "{podSelector: {matchExpressions: [{key: tier, operator: Exists}]}, "
            "policyTypes: [Ingress]}") + "---\n"
     + policy("backend-allow-frontend", "{podSelector: {matchLabels: {tier: backend}}, ingress: "
              "[{from: [{podSelector: {matchLabels: {tier: frontend}}}]}]}") + "---\n"
     + policy("db-allow-backend", "{podSelector: {matchLabels: {tier: db}}, ingress: "
              "[{from: [{podSelector: {matchLabels: {tier: backend}}}]}]}"),
     "A pod started later is open"),
    ("03-default-deny", "an allow that selects every pod (the lesson's attempt)",
     policy("default-deny-all", "{podSelector: {}, policyTypes: [Ingress]}") + "---\n"
     + policy("db-allow-backend", "{podSelector: {}, ingress: "
              "[{from: [{podSelector: {matchLabels: {tier: backend}}}]}]}"),
     "backend reaches pods it should not"),
    ("04-other-namespaces", "every namespace",
     policy("deny-from-other-namespaces", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}"),
     "secondary/client still reaches web"),
    ("04-other-namespaces", "deny everything",
     policy("deny-from-other-namespaces", "{podSelector: {}, ingress: []}"),
     "The namespace's own pods are shut out"),
    ("04-other-namespaces", "web only",
     policy("deny-from-other-namespaces", "{" + WEB + ", ingress: [{from: [{podSelector: {}}]}]}"),
     "Select every pod of the namespace"),
    ("04-other-namespaces", "secondary's policy copied as it is (the lesson's attempt)",
     policy("deny-from-other-namespaces", "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}").replace(
         "{name: deny-from-other-namespaces}", "{name: deny-from-other-namespaces, namespace: secondary}"),
     "must be created here"),
    ("06-from-namespace", "a `name` label",
     policy("web-allow-prod", "{" + WEB + ", ingress: "
            "[{from: [{namespaceSelector: {matchLabels: {name: prod}}}]}]}"),
     "there is no label `name`"),
    ("06-from-namespace", "a custom label (the lesson's attempt)",
     policy("web-allow-prod", "{" + WEB + ", ingress: "
            "[{from: [{namespaceSelector: {matchLabels: {purpose: production}}}]}]}"),
     "Select prod by the label nobody can change"),
    ("06-from-namespace", "the wrong namespace",
     policy("web-allow-prod", "{" + WEB + ", ingress: "
            "[{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}}]}]}"),
     "dev gets in"),
    ("06-from-namespace", "an extra peer",
     policy("web-allow-prod", "{" + WEB + ", ingress: [{from: ["
            "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: prod}}}, {podSelector: {}}]}]}"),
     "Pods of web's own namespace get in"),
    ("07-and-not-or", "the OR unchanged",
     policy("web-allow-all-ns-monitoring", "{" + WEB + ", ingress: [{from: ["
            "{namespaceSelector: {matchLabels: {team: operations}}}, " + peer("type: monitoring") + "]}]}"),
     "Two dashes under `from:` make two peers"),
    ("07-and-not-or", "a second policy",
     policy("web-allow-monitoring-and", "{" + WEB + ", ingress: [{from: ["
            "{namespaceSelector: {matchLabels: {team: operations}}, "
            "podSelector: {matchLabels: {type: monitoring}}}]}]}"),
     "Policies add up: a new policy does not replace"),
    ("07-and-not-or", "the namespace only",
     policy("web-allow-all-ns-monitoring", "{" + WEB + ", ingress: [{from: ["
            "{namespaceSelector: {matchLabels: {team: operations}}}]}]}"),
     "other/client gets in"),
    ("09-named-port", "both numbers (the lesson's attempt)",
     policy("api-allow-metrics", "{" + BACKENDS + ", ingress: [{from: [" + peer("role: monitoring")
            + "], ports: [{port: 5000}, {port: 9100}]}]}"),
     "5000 is apiserver's metrics but billing's application"),
    ("09-named-port", "the Service's port",
     policy("api-allow-metrics", "{" + BACKENDS + ", ingress: [{from: [" + peer("role: monitoring")
            + "], ports: [{port: 5001}]}]}"),
     "A rule's port is the pod's port, not the Service's (5001)"),
    ("09-named-port", "the recipe's api-port",
     policy("api-allow-metrics", "{" + BACKENDS + ", ingress: [{from: [" + peer("role: monitoring")
            + "], ports: [{port: api-port}]}]}"),
     "a named port must be a name the pod declares"),
    ("09-named-port", "apiserver only",
     policy("api-allow-metrics", "{podSelector: {matchLabels: {app: apiserver}}, ingress: [{from: ["
            + peer("role: monitoring") + "], ports: [{port: metrics}]}]}"),
     "client gets into billing: no policy selects billing"),
    ("09-named-port", "a second policy",
     policy("backend-allow-metrics", "{" + BACKENDS + ", ingress: [{from: [" + peer("role: monitoring")
            + "], ports: [{port: metrics}]}]}"),
     "Edit api-allow-metrics (keep its name)"),
    ("10-multiple-selectors", "the two rules unchanged (the lesson's starting policy)",
     policy("redis-allow-services", "{" + DB + ", ingress: [{from: [" + peer("app: bookstore") + ", "
            + peer("app: inventory, role: web") + "]}, {from: [" + ROLE_IN + "]}]}"),
     "a peer that asks for app=bookstore alone"),
    ("10-multiple-selectors", "one selector, an In on each label (the lesson's attempt)",
     policy("redis-allow-services", "{" + DB + ", ingress: [{from: [{podSelector: {matchExpressions: ["
            "{key: app, operator: In, values: [bookstore, inventory]}, "
            "{key: role, operator: In, values: [search, api, web]}]}}]}]}"),
     "every combination of their values"),
    ("10-multiple-selectors", "one In per client, on one key",
     policy("redis-allow-services", "{" + DB + ", ingress: [{from: [{podSelector: {matchExpressions: ["
            "{key: role, operator: In, values: [search]}, {key: role, operator: In, values: [api]}]}}, "
            + peer("app: inventory, role: web") + "]}]}"),
     "search is shut out"),
    ("10-multiple-selectors", "catalog forgotten",
     policy("redis-allow-services", "{" + DB + ", ingress: [{from: [{podSelector: {matchLabels: {app: bookstore}, "
            "matchExpressions: [{key: role, operator: In, values: [search, api]}]}}]}]}"),
     "catalog is shut out"),
    ("10-multiple-selectors", "a second policy",
     policy("redis-allow-three-services", "{" + DB + ", ingress: [{from: [" + peer("app: bookstore, role: search")
            + ", " + peer("app: bookstore, role: api") + ", " + peer("app: inventory, role: web") + "]}]}"),
     "a second policy cannot take away"),
    ("11-dns-only", "the kube-dns label alone (the lesson's attempt)",
     policy("foo-deny-egress", "{" + FOO + ", egress: [{to: [{" + KUBE_DNS + "}], " + DNS_PORTS + "}]}"),
     "a podSelector alone selects pods of the policy's own namespace only"),
    ("11-dns-only", "the recipe's DNS rule, without `to`",
     policy("foo-deny-egress", "{" + FOO + ", egress: [{" + DNS_PORTS + "}]}"),
     "A rule with `ports` but no `to` admits port 53 on every address"),
    ("11-dns-only", "a `name` label for kube-system",
     policy("foo-deny-egress", "{" + FOO + ", egress: [{to: [{namespaceSelector: {matchLabels: {name: kube-system}}, "
            + KUBE_DNS + "}], " + DNS_PORTS + "}]}"),
     "there is no label `name`"),
    ("11-dns-only", "policyTypes left out (Ingress and Egress)",
     policy("foo-deny-egress", "{podSelector: {matchLabels: {app: foo}}, egress: [{to: [{" + KUBE_SYSTEM + ", "
            + KUBE_DNS + "}], " + DNS_PORTS + "}]}"),
     "your policy isolates foo for ingress too"),
    ("11-dns-only", "DNS and web",
     policy("foo-deny-egress", "{" + FOO + ", egress: [{to: [{" + KUBE_SYSTEM + ", " + KUBE_DNS + "}], " + DNS_PORTS
            + "}, {to: [{podSelector: {matchLabels: {app: web}}}]}]}"),
     "some egress rule admits more than DNS"),
    ("12-deny-egress-dns", "the deny alone (no DNS)", policy("default-deny-all-egress", EVERY_POD_EGRESS + "}"),
     "Even web cannot resolve names (`bad address`)"),
    ("12-deny-egress-dns", "the DNS pods without their namespace (the lesson's attempt)",
     policy("default-deny-egress-but-dns", EVERY_POD_EGRESS + ", egress: [{to: [{podSelector: {matchLabels: "
            "{k8s-app: kube-dns}}}], " + DNS_53 + "}]}"),
     "A podSelector alone matches pods of the policy's own namespace"),
    ("12-deny-egress-dns", "DNS for web only",
     policy("default-deny-all-egress", EVERY_POD_EGRESS + "}") + "---\n"
     + policy("web-allow-dns", "{" + WEB + ", policyTypes: [Egress], egress: [{to: [" + COREDNS_PEER + "], "
              + DNS_53 + "}]}"),
     "must select every pod of the namespace"),
    ("12-deny-egress-dns", "the recipe's DNS rule: ports, no `to`",
     policy("default-deny-egress-but-dns", EVERY_POD_EGRESS + ", egress: [{" + DNS_53 + "}]}"),
     "A rule with `ports` but no `to` admits port 53 to every destination"),
    ("12-deny-egress-dns", "ingress isolated too",
     policy("default-deny-egress-but-dns", "{podSelector: {}, policyTypes: [Ingress, Egress], egress: [{to: ["
            + COREDNS_PEER + "], " + DNS_53 + "}]}"),
     "your policy isolates them for ingress too"),
    ("12-deny-egress-dns", "port 53 to every address",
     policy("default-deny-egress-but-dns", EVERY_POD_EGRESS + ", egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], "
            + DNS_53 + "}]}"),
     "a rule admits more than DNS"),
    ("13-egress-to-api", "the egress policy alone (the lesson's attempt)",
     policy("frontend-egress-to-api", "{" + FRONTEND_EGRESS + ", egress: [" + TO_API + ", " + TO_DNS + "]}"),
     "a connection needs both ends"),
    ("13-egress-to-api", "api only, no DNS",
     policy("frontend-egress-to-api", "{" + FRONTEND_EGRESS + ", egress: [" + TO_API + "]}") + "---\n"
     + API_ALLOW_WEB_AND_FRONTEND, "frontend gets `bad address`"),
    ("13-egress-to-api", "policyTypes left out (Ingress and Egress)",
     policy("frontend-egress-to-api", "{podSelector: {matchLabels: {app: frontend}}, egress: [" + TO_API + ", "
            + TO_DNS + "]}") + "---\n" + API_ALLOW_WEB_AND_FRONTEND, "frontend is now isolated for ingress too"),
    ("13-egress-to-api", "api admits every pod of the namespace",
     policy("frontend-egress-to-api", "{" + FRONTEND_EGRESS + ", egress: [" + TO_API + ", " + TO_DNS + "]}") + "---\n"
     + policy("api-allow-web", "{podSelector: {matchLabels: {app: api}}, ingress: [{from: [{podSelector: {}}], "
              "ports: [{protocol: TCP, port: 8080}]}]}"), "admits too much"),
    ("13-egress-to-api", "egress to every pod on 8080",
     policy("frontend-egress-to-api", "{" + FRONTEND_EGRESS + ", egress: [{to: [{podSelector: {}}], "
            "ports: [{protocol: TCP, port: 8080}]}, " + TO_DNS + "]}") + "---\n" + API_ALLOW_WEB_AND_FRONTEND,
     "frontend reaches a pod other than api"),
    ("14-cluster-only", "the recipe's DNS-only rule (the lesson's attempt)",
     policy("foo-deny-external-egress", "{" + FOO + ", egress: [{" + DNS_PORTS + "}]}"),
     "no rule admits port 80 to web"),
    ("14-cluster-only", "everything, by a rule without `to`",
     policy("foo-deny-external-egress", "{" + FOO + ", egress: [{" + DNS_PORTS + "}, {}]}"),
     "foo reaches an address outside the cluster"),
    ("14-cluster-only", "every address, by an ipBlock",
     policy("foo-deny-external-egress", "{" + FOO + ", egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]}"),
     "or an ipBlock such as 0.0.0.0/0"),
    ("14-cluster-only", "the own namespace only",
     policy("foo-deny-external-egress", "{" + FOO + ", egress: [{" + DNS_PORTS + "}, {to: [{podSelector: {}}]}]}"),
     "foo cannot reach lesson-14-shop/api"),
    ("14-cluster-only", "the application's two namespaces, no DNS rule",
     policy("foo-deny-external-egress", "{" + FOO + ", egress: [{to: [{podSelector: {}}, {namespaceSelector: "
            "{matchLabels: {kubernetes.io/metadata.name: lesson-14-shop}}}]}]}"),
     "its lookups no longer reach DNS"),
    ("14-cluster-only", "policyTypes left out (Ingress and Egress)",
     policy("foo-deny-external-egress", "{podSelector: {matchLabels: {app: foo}}, egress: [{" + DNS_PORTS
            + "}, {to: [{namespaceSelector: {}}]}]}"),
     "your policy isolates foo for ingress too"),
]

# lesson 02's own exercises: the acceptance criteria (the lesson's mistakes as answers) and the editor's
API = "podSelector: {matchLabels: {app: bookstore, role: api}}"
WRONG_02 = [
    ("02-api-allow", "mistake 4: a rule without from", policy("api-allow", "{" + API + ", ingress: [{}]}"),
     "`- {}` under `ingress:` is a rule without `from`"),
    ("02-api-allow", "mistake 6: the Service's port", policy("api-allow", "{" + API + ", ingress: [{from: ["
     + peer("app: bookstore") + "], ports: [{port: 8080}]}]}"), "test-allowed is shut out on port 80"),
    ("02-api-allow", "mistake 1: a label typo", policy("api-allow", "{podSelector: {matchLabels: "
     "{app: book-store, role: api}}, ingress: [{from: [" + peer("app: bookstore") + "]}]}"),
     "test-blocked still gets in"),
    ("02-api-allow", "another name", policy("api-allow-bookstore", "{" + API + ", ingress: [{from: ["
     + peer("app: bookstore") + "]}]}"), "The policy must be called api-allow"),
    ("02-frontend-only", "unchanged", policy("api-allow", "{" + API + ", ingress: [{from: ["
     + peer("app: bookstore") + "]}]}"), "test-bookstore (app=bookstore, no role) still gets in"),
    ("02-frontend-only", "role only", policy("api-allow", "{" + API + ", ingress: [{from: ["
     + peer("role: frontend") + "]}]}"), "test-other-frontend (app=other, role=frontend) gets in"),
    ("02-frontend-only", "the target changed", policy("api-allow", "{podSelector: {matchLabels: {role: frontend}}, "
     "ingress: [{from: [" + peer("app: bookstore, role: frontend") + "]}]}"), "test-blocked (app=other) gets in"),
]

def wrong(exercise_id: str, mistake: str) -> str:
    """The answer of one typical mistake of WRONG."""
    return next(w[2] for w in WRONG if w[:2] == (exercise_id, mistake))


@pytest.mark.parametrize(("exercise_id", "mistake", "answer", "hint"), WRONG + WRONG_02,
                         ids=[f"{w[0]}: {w[1]}" for w in WRONG + WRONG_02])
def test_typical_wrong_answer_fails_with_the_right_hint(exercise_id: str, mistake: str, answer: str, hint: str) -> None:
    lab, out = started(exercise_id)
    result = lab.check(exercise_id, answer)
    assert not result
    assert not result.passed
    assert result.hint is not None and hint in result.hint, result.hint
    printed = out.getvalue()
    assert f"hint: {result.hint}" in printed
    assert "✗" in printed and "✓ " + exercise_id not in printed
    if result.applied:  # a goal failure lists the differing connections (or the goals missed), as data and text
        missed = [f for f in result.findings if not f.ok and not f.cells]
        assert result.cells or missed
        for finding in missed:
            assert f"  {finding.text}" in printed
        for cell in result.cells[: X.MAX_CELLS_SHOWN]:
            assert cell.describe(lab.namespace) in printed


def test_every_exercise_has_two_typical_mistakes() -> None:
    counts = {e: 0 for e in EXERCISES}
    for exercise_id, *_ in WRONG + WRONG_02:
        counts[exercise_id] += 1
    assert min(counts.values()) >= 2, counts


def test_differing_cells_are_named_with_both_outcomes() -> None:
    lab, out = started("02-api-gateway")
    result = lab.check("02-api-gateway", WRONG[3][2])  # gateway only: admin is shut out on 8080
    assert [c.describe(lab.namespace) for c in result.cells] == [
        "admin → internal-api-0 on 8080/TCP: expected allowed, got blocked",
        "admin → internal-api-1 on 8080/TCP: expected allowed, got blocked",
    ]
    assert out.getvalue().splitlines()[1:4] == [
        "networkpolicy.networking.k8s.io/internal-api-whitelist created",
        "✗ 2 connections differ from the goal:",
        "  admin → internal-api-0 on 8080/TCP: expected allowed, got blocked",
    ]


def test_matchexpressions_in_is_a_compact_answer_too() -> None:
    """10-multiple-selectors: app=bookstore with `role In (search, api)` in one peer, and catalog's peer."""
    lab, _ = started("10-multiple-selectors")
    answer = policy("redis-allow-services", "{" + DB + ", ingress: [{from: [{podSelector: {matchLabels: "
                    "{app: bookstore}, matchExpressions: [{key: role, operator: In, values: [search, api]}]}}, "
                    + peer("app: inventory, role: web") + "]}]}")
    assert lab.check("10-multiple-selectors", answer)
    assert lab.check("10-multiple-selectors", SOLUTIONS.parent / "manifests" / "redis-allow-services-in.yaml")


def test_three_rules_of_one_peer_admit_what_one_rule_of_three_peers_admits() -> None:
    lab, _ = started("10-multiple-selectors")
    answer = policy("redis-allow-services", "{" + DB + ", ingress: [{from: [" + peer("app: bookstore, role: search")
                    + "]}, {from: [" + peer("app: bookstore, role: api") + "]}, {from: ["
                    + peer("app: inventory, role: web") + "]}]}")
    assert lab.check("10-multiple-selectors", answer)


# -- constraints ---------------------------------------------------------------------------------
def test_allow_all_shortcut_is_reported_and_nothing_is_applied() -> None:
    lab, out = started("01-deny-all")
    result = lab.check("01-deny-all", policy("web-deny-all", "{" + WEB + ", ingress: [{}]}"))
    assert not result and not result.applied
    assert [v.piece for v in result.violations] == ["NoAllowAll"]
    assert result.violations[0].text == ("shortcut not allowed here: web-deny-all: ingress rule 1 has no `from`: "
                                         "it admits everyone")
    assert "nothing was applied" in out.getvalue()
    assert lab.state().policies == {}  # the lab is unchanged


def test_bare_namespace_selector_is_reported() -> None:
    lab, _ = started("02-microservices")
    answer = "{podSelector: {matchLabels: {app: order-service}}, ingress: [{from: [{namespaceSelector: {}}]}]}"
    result = lab.check("02-microservices", policy("order-service-policy", answer))
    assert [v.piece for v in result.violations] == ["NoBareNamespaceSelector"]
    assert "peer 1 is a bare `namespaceSelector: {}`: every pod of every namespace" in result.violations[0].text


def test_changed_pod_labels_are_reported() -> None:
    lab, _ = started("01-deny-all")
    lab.label("api", "app=web")  # "solve" it by relabelling instead of writing the policy right
    result = lab.check("01-deny-all", SOLUTIONS / "01-deny-all.yaml")
    assert [v.piece for v in result.violations] == ["NoLabelChanges"]
    assert result.violations[0].text.endswith("pod api (app=api → app=web)")


def test_changed_namespace_labels_are_reported() -> None:
    lab, _ = started("06-from-namespace")
    lab.backend.label("namespace", "prod", {"name": "prod"})  # as `kubectl label namespace prod name=prod` would
    result = lab.check("06-from-namespace", SOLUTIONS / "06-from-namespace.yaml")
    assert [v.piece for v in result.violations] == ["NoLabelChanges"]
    assert "namespace prod (kubernetes.io/metadata.name=prod,purpose=production → " in result.violations[0].text


def test_a_policy_in_another_namespace_is_reported() -> None:
    lab, _ = started("01-deny-all")
    answer = policy("web-deny-all", "{" + WEB + ", ingress: []}").replace(
        "{name: web-deny-all}", "{name: web-deny-all, namespace: production}")
    result = lab.check("01-deny-all", answer)
    assert [v.piece for v in result.violations] == ["InLessonNamespace"]
    wanted = 'policies belong in namespace "lesson-01": web-deny-all (namespace "production")'
    assert wanted in result.violations[0].text
    assert lab.state().policies == {}


def test_an_answer_with_pods_is_reported() -> None:
    lab, _ = started("01-deny-all")
    answer = (SOLUTIONS / "01-deny-all.yaml").read_text() + (
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: api, labels: {app: web}}\n"
        "spec: {containers: [{name: api, image: nginx}]}\n")
    result = lab.check("01-deny-all", answer)
    assert {v.piece for v in result.violations} >= {"PoliciesOnly"}
    assert "not Pod api" in result.violations[0].text
    assert lab.state().pods["lesson-01/api"].labels["app"] == "api"  # nothing applied


def test_too_many_policies_count_the_ones_already_there() -> None:
    lab, _ = started("07-and-not-or")
    result = lab.check("07-and-not-or", wrong("07-and-not-or", "a second policy"))  # AND next to the starting OR
    assert [v.piece for v in result.violations] == ["MaxPolicies"]
    assert result.violations[0].text == ("at most 1 policy may select the exercise's pods: 2 would "
                                         "(web-allow-all-ns-monitoring, web-allow-monitoring-and)")


# -- results ---------------------------------------------------------------------------------------
def test_result_is_truthy_only_on_success_and_works_with_assert() -> None:
    lab, _ = started("04-other-namespaces")
    attempt = lab.check("04-other-namespaces", wrong("04-other-namespaces", "every namespace"))
    assert isinstance(attempt, CheckResult) and bool(attempt) is False
    with pytest.raises(AssertionError):
        assert lab.check("04-other-namespaces", wrong("04-other-namespaces", "every namespace"))
    assert lab.check("04-other-namespaces", SOLUTIONS / "04-other-namespaces.yaml")


def test_a_named_port_is_judged_on_each_pod_and_a_probe_names_its_service_port() -> None:
    """09-named-port: the name is the pod's (5000 on apiserver, 9100 on billing); the numbers are not."""
    lab, _ = started("09-named-port")
    numbers = lab.check("09-named-port", wrong("09-named-port", "both numbers (the lesson's attempt)"))
    assert [(c.source, c.destination, c.port, c.got) for c in numbers.cells] == [
        ("lesson-09/monitor", "lesson-09/billing", 5000, "allowed"),  # billing's application
        ("lesson-09/monitor", "lesson-09/apiserver", 9100, "allowed"),  # nothing listens, but the policy admits it
        ("lesson-09/monitor", "lesson-09/billing", 8001, "allowed"),  # the Service's 8001 is billing's 5000
    ]
    assert "✗ wget from monitor to billing:8001: blocked wanted, got allowed" in numbers.explain().splitlines()
    named = lab.check("09-named-port", SOLUTIONS / "09-named-port.yaml")
    assert named and "✓ wget from monitor to billing:5001: allowed" in named.explain().splitlines()


def test_explain_lists_every_goal_and_rule() -> None:
    lab, _ = started("01-deny-all")
    result = lab.check("01-deny-all", policy("web-deny-all", "{podSelector: {}, ingress: []}"))
    assert result.explain().splitlines() == [
        "✗ the matrix on 80/TCP: 4 of 6 connections differ",
        "✓ wget from client to web: blocked",
        "✗ wget from client to api: allowed wanted, got blocked",
        "✓ the answer holds NetworkPolicies only",
        "✓ every policy goes to namespace lesson-01",
        "✓ at most 1 policy may select the exercise's pods: 1 would (web-deny-all)",
        "✓ no rule admits everyone",
        "✓ pods and namespaces keep their labels",
    ]
    assert [c.via for c in result.cells] == ["policies"] * 4 + ["probe"]


def test_quiet_lab_prints_nothing() -> None:
    lab, out = started("01-deny-all")
    with lab.quiet():
        assert lab.check("01-deny-all", SOLUTIONS / "01-deny-all.yaml")
    assert out.getvalue() == ""


def test_start_shows_the_goal() -> None:
    out = io.StringIO()
    lab = Lab(backend="simulated", namespace="lesson-01", out=out)
    lab.start_exercise("01-deny-all")
    text = out.getvalue()
    assert text.splitlines()[1] == "Exercise 01-deny-all: Isolate web, and only web"
    assert ("Goal: the matrix on 80/TCP ('.' allowed, 'X' blocked, '-' a pod to itself):\n"
            "from\\to api client web\n"
            "api     -   .      X\n"
            "client  .   -      X\n"
            "web     .   .      -\n"
            "Goal: wget from client to web: blocked\n"
            "Goal: wget from client to api: allowed\n"
            "Rules: at most 1 policy on these pods; no rule without from/to (`- {}`); do not change labels.\n") in text


# -- attempts --------------------------------------------------------------------------------------
def test_recheck_replaces_the_previous_attempt() -> None:
    lab, out = started("02-microservices")
    lab.check("02-microservices", WRONG[6][2].replace("order-service-policy", "first-try"))
    assert "lesson-02/first-try" in lab.state().policies
    result = lab.check("02-microservices", SOLUTIONS / "02-microservices.yaml")
    assert result
    assert sorted(lab.state().policies) == ["lesson-02/order-service-policy"]
    assert '$ kubectl delete networkpolicy first-try -n lesson-02' in out.getvalue()


def test_recheck_puts_back_a_starting_policy_it_had_replaced() -> None:
    lab, _ = started("02a-allow-all-pods")
    original = lab.policy("web-deny-all").manifest["spec"]
    # First attempt: overwrite the starting deny-all (same name) with an allow.
    lab.check("02a-allow-all-pods", policy("web-deny-all", "{" + WEB + ", ingress: [{}]}"))
    assert lab.policy("web-deny-all").ingress  # the deny-all was replaced
    assert lab.check("02a-allow-all-pods", SOLUTIONS / "02a-allow-all-pods.yaml")
    assert lab.policy("web-deny-all").manifest["spec"] == original  # put back as it started
    assert sorted(lab.state().policies) == ["lesson-02a/web-allow-all-pods", "lesson-02a/web-deny-all"]


def test_recheck_puts_back_a_lesson_policy_an_attempt_had_overwritten() -> None:
    from nphelpers.lessons import deploy_lesson_02

    lab = Lab(backend="simulated", namespace="lesson-02", out=None)
    deploy_lesson_02(lab)  # the lesson so far, with its api-allow
    original = lab.policy("api-allow").manifest["spec"]
    lab.start_exercise("02-api-gateway")
    solution = (SOLUTIONS / "02-api-gateway.yaml").read_text()
    assert lab.check("02-api-gateway", solution.replace("internal-api-whitelist", "api-allow"))
    assert lab.policy("api-allow").manifest["spec"] != original
    assert lab.check("02-api-gateway", solution)
    assert lab.policy("api-allow").manifest["spec"] == original
    assert sorted(lab.state().policies) == ["lesson-02/api-allow", "lesson-02/internal-api-whitelist"]


def test_a_rejected_attempt_changes_nothing_and_keeps_the_previous_one() -> None:
    lab, _ = started("07-and-not-or")
    assert lab.check("07-and-not-or", SOLUTIONS / "07-and-not-or.yaml")
    before = lab.state().policies
    assert not lab.check("07-and-not-or", wrong("07-and-not-or", "a second policy"))  # two policies would select web
    assert lab.state().policies == before


def test_hints_escalate_with_each_failed_attempt() -> None:
    lab, _ = started("01-deny-all")
    typo = policy("web-deny-all", "{podSelector: {matchLabels: {app: webapp}}, ingress: []}")
    hints = [lab.check("01-deny-all", typo).hint for _ in range(4)]
    ex = EXERCISES["01-deny-all"]
    assert hints == [ex.hints[2].text, ex.hints[3].text, ex.hints[4].text, ex.hints[4].text]
    assert [lab.check("01-deny-all", typo).attempt for _ in range(2)] == [5, 6]


def test_hints_start_again_in_a_new_lab_or_a_restart() -> None:
    typo = policy("web-deny-all", "{podSelector: {matchLabels: {app: webapp}}, ingress: []}")
    lab, _ = started("01-deny-all")
    lab.check("01-deny-all", typo)
    lab.start_exercise("01-deny-all")
    assert lab.check("01-deny-all", typo).hint == EXERCISES["01-deny-all"].hints[2].text
    other, _ = started("01-deny-all")
    assert other.check("01-deny-all", typo).hint == EXERCISES["01-deny-all"].hints[2].text


# -- bad answers -----------------------------------------------------------------------------------
def test_bad_yaml_is_one_line_and_changes_nothing() -> None:
    lab, _ = started("07-and-not-or")
    before = lab.state().policies
    with pytest.raises(ManifestError) as caught:
        lab.check("07-and-not-or", "kind: NetworkPolicy\nmetadata: {name: x\nspec: [")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("<answer>: document 1: invalid YAML at line")
    assert lab.state().policies == before
    # It was not an attempt: the next wrong answer still gets the first hint that fits.
    assert lab.check("07-and-not-or", wrong("07-and-not-or", "the OR unchanged")).attempt == 1


def test_invalid_policy_names_the_field() -> None:
    lab, _ = started("01-deny-all")
    with pytest.raises(ManifestError) as caught:
        lab.check("01-deny-all", policy("web-deny-all", "{" + WEB + ", policyTypes: [ingress]}"))
    assert str(caught.value).startswith("<answer>: document 1: spec.policyTypes[0]")
    assert lab.state().policies == {}


def test_an_empty_answer_or_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    lab, _ = started("01-deny-all")
    with pytest.raises(UsageError, match="the answer holds no objects"):
        lab.check("01-deny-all", "# nothing yet\n")
    with pytest.raises(ManifestError, match="no such file or directory"):
        lab.check("01-deny-all", tmp_path / "missing.yaml")


def test_an_answer_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "answer.yaml"
    path.write_text((SOLUTIONS / "01-deny-all.yaml").read_text())
    lab, out = started("01-deny-all")
    assert lab.check("01-deny-all", str(path))
    assert f"$ kubectl apply -f {path} -n lesson-01" in out.getvalue()


def test_unknown_exercise_and_unstarted_exercise() -> None:
    lab = Lab(backend="simulated", namespace="lesson-01", out=None)
    with pytest.raises(UsageError, match='no exercise "01-nope": the exercises are 01-deny-all, '):
        lab.check("01-nope", "x: y")
    with pytest.raises(UsageError) as caught:
        lab.check("01-deny-all", SOLUTIONS / "01-deny-all.yaml")
    assert str(caught.value) == ('the exercise\'s pod "api" is not in the lab: '
                                 'run lab.start_exercise("01-deny-all") first')
    assert isinstance(caught.value, NphelpersError)
    assert lab.state().policies == {}


def test_check_works_without_start_when_the_pods_are_there() -> None:
    """An autograder may check in a fresh lab that was set up another way (same pods, same labels)."""
    lab = Lab(backend="simulated", namespace="lesson-01", out=None)
    lab.apply_objects(list(EXERCISES["01-deny-all"].setup))
    assert lab.check("01-deny-all", SOLUTIONS / "01-deny-all.yaml")


def test_setup_function_needs_pods_and_a_start() -> None:
    def setup(lab: Lab) -> None:
        lab.run("web", "nginx", labels="app=web", port=80, expose=True)
        lab.run("client", "alpine", labels="run=client")

    base = dict(id="x-web", lesson="x", title="t", task="t", goals=(X.Matrix(80, only=(("web", ()),)),))
    with pytest.raises(UsageError, match="needs the exercise's pods= named"):
        X.Exercise(setup=setup, **base).start(Lab(backend="simulated", namespace="x", out=None))
    ex = X.Exercise(setup=setup, pods=("web", "client"), **base)
    lab = Lab(backend="simulated", namespace="x", out=None)
    with pytest.raises(UsageError, match="not started in this lab"):
        lab.check(ex, SOLUTIONS / "01-deny-all.yaml")
    ex.start(lab)
    assert lab.check(ex, SOLUTIONS / "01-deny-all.yaml")


# -- observed traffic --------------------------------------------------------------------------------
class NoEnforcement(SimulatedCluster):
    """A cluster whose network plugin ignores NetworkPolicy: every request gets through."""

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        real = super().wget(source, url, timeout)
        if real.outcome != "blocked":
            return real
        return ProbeResult(real.source, url, "allowed", "", real.command)


def test_observed_traffic_that_disagrees_fails_the_check() -> None:
    lab, out = started("01-deny-all", backend=NoEnforcement())
    result = lab.check("01-deny-all", SOLUTIONS / "01-deny-all.yaml")
    assert not result and result.applied
    assert {(c.source, c.destination, c.via) for c in result.observed} == {
        ("lesson-01/api", "lesson-01/web", "observed"), ("lesson-01/client", "lesson-01/web", "observed")}
    assert "does this cluster enforce NetworkPolicy?" in out.getvalue()
    assert "client → web on 80/TCP (observed traffic): expected blocked, got allowed" in out.getvalue()


def test_observation_can_be_turned_off() -> None:
    lab, _ = started("02-api-gateway", backend=NoEnforcement())
    assert lab.check("02-api-gateway", SOLUTIONS / "02-api-gateway.yaml", observe=False)


# -- names and patterns ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("web", "ns/web", True), ("web", "other/web", False), ("*", "ns/web", True), ("*", "other/web", False),
    ("*/*", "other/web", True), ("other/*", "other/web", True), ("internal-api-*", "ns/internal-api-1", True),
    ("203.0.113.10", "203.0.113.10", True),
])
def test_patterns(pattern: str, key: str, expected: bool) -> None:
    assert X.matches(pattern, key, "ns") is expected


def test_exercise_modules_import_no_widgets_or_plots() -> None:
    code = ("import sys, nphelpers.exercises, nphelpers.catalog, nphelpers.predict; "
            "print(sorted(m for m in ('ipywidgets', 'matplotlib', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- both backends ----------------------------------------------------------------------------------
def _live_backend() -> Any:
    try:
        from fake_kube import FakeKube
    except ImportError:  # tests/ imported as a package
        from tests.fake_kube import FakeKube
    from nphelpers.backends.live import LiveBackend

    backend = LiveBackend("kind-test", api=FakeKube(), ready_timeout=5)  # type: ignore[arg-type]
    backend._poll_interval = 0.01
    backend.settle = 2.0
    return backend


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_live_backend_prints_what_the_simulator_prints(exercise_id: str) -> None:
    """Start, a typical mistake, the reference: the same text and verdicts on the live backend (fake API)."""
    ex = EXERCISES[exercise_id]
    mistake = next(answer for eid, _, answer, _ in WRONG + WRONG_02 if eid == exercise_id)
    printed, verdicts = [], []
    for backend in (_live_backend(), "simulated"):
        out = io.StringIO()
        lab = Lab(backend=backend, namespace="lesson-x", out=out)
        lab.start_exercise(ex)
        results = [lab.check(ex, mistake), lab.check(ex, SOLUTIONS / str(ex.solution))]
        verdicts.append([bool(r) for r in results])
        printed.append(out.getvalue().split("\n", 1)[1])  # the first line names the backend
    assert verdicts == [[False, True], [False, True]]
    assert printed[0] == printed[1]


EGRESS_EXERCISES = ("12-deny-egress-dns", "13-egress-to-api", "14-cluster-only")  # their mistakes run on both backends


@pytest.mark.parametrize(("exercise_id", "mistake"), [w[:2] for w in WRONG if w[0] in EGRESS_EXERCISES],
                         ids=[f"{w[0]}: {w[1]}" for w in WRONG if w[0] in EGRESS_EXERCISES])
def test_egress_mistakes_fail_alike_on_both_backends(exercise_id: str, mistake: str) -> None:
    """12-deny-egress-dns, 13-egress-to-api, 14-cluster-only: each typical mistake (DNS that fails shows in the
    wget probes, an outside address in the policies' verdict) fails with the same text and hint on the live
    backend (fake API) as on the simulator."""
    printed, hints = [], []
    for backend in (_live_backend(), "simulated"):
        out = io.StringIO()
        lab = Lab(backend=backend, namespace=f"lesson-{exercise_id[:2]}", out=out)
        lab.start_exercise(exercise_id)
        result = lab.check(exercise_id, wrong(exercise_id, mistake))
        assert not result
        hints.append(result.hint)
        printed.append(out.getvalue().split("\n", 1)[1])  # the first line names the backend
    assert hints[0] is not None and hints[0] == hints[1]
    assert printed[0] == printed[1]


# -- lesson 02: the acceptance criteria as goals, the editor exercise in the lesson's lab ----------
def test_acceptance_criteria_are_the_recipe_s_words_and_each_can_fail() -> None:
    lab, _ = started("02-api-allow")
    result = lab.check("02-api-allow", SOLUTIONS / "02-api-allow.yaml")
    titles = [line[2:] for line in result.explain().splitlines()[:7]]
    assert titles == [g.title for g in EXERCISES["02-api-allow"].goals] and result
    lab.label("apiserver", "role-")  # the deployment step broken: the pod falls out of policy and Service
    failed = lab.check("02-api-allow", SOLUTIONS / "02-api-allow.yaml")
    missed = {f.piece: f.text for f in failed.findings if not f.ok}
    assert not failed and set(missed) >= {"HasLabels", "Serves", "Selects", "Probe", "Matrix"}
    assert "goals not met:" in str(failed) and "its endpoints are none" in str(failed)


def test_frontend_only_in_the_lesson_lab_adds_only_the_two_clients() -> None:
    from nphelpers.lessons import deploy_lesson_02

    out = io.StringIO()
    lab = Lab(backend="simulated", namespace="lesson-02", out=out)
    deploy_lesson_02(lab)
    out.truncate(0)
    out.seek(0)
    lab.start_exercise("02-frontend-only")
    runs = [line for line in out.getvalue().splitlines() if line.startswith("$ ")]
    assert [r.split()[3] for r in runs] == ["test-bookstore", "test-other-frontend"]
    assert not lab.check("02-frontend-only", lab.policy_yaml("api-allow"))  # the policy in force, unedited
    assert lab.check("02-frontend-only", SOLUTIONS / "02-frontend-only.yaml")
