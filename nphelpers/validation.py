"""Validate manifests the way the Kubernetes apiserver does, before the simulator sees them.

The simulator must refuse exactly what a real cluster refuses, or a lesson would teach
something that fails on ``kubectl apply``. So this module checks, for ``Namespace``,
``Pod``, ``Service`` and ``NetworkPolicy`` (and the ``apps/v1`` workloads the loader
expands into pods), what the apiserver's validation checks: names, labels, selectors,
ports, CIDRs, and unknown fields as kubectl's strict field validation reports them.
It also rejects the wrong YAML types the apiserver's decoder rejects (``true`` as a label
value, ``"80"`` where a number is needed), so the model never sees a value it cannot use.

Each check raises :class:`~nphelpers.errors.ManifestError` for the *first* problem, with
the field path the apiserver would report (``spec.ingress[0].from[0].podSelector...``)
and a plain version of its message. The loader (:mod:`nphelpers.manifests`) adds the file
name and document number.

Where we are stricter than the apiserver, it is for values the simulator could not model
faithfully; each such place says so in a comment ("stricter:").
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from .errors import ManifestError
from .selectors import LabelSelector

__all__ = [
    "API_VERSIONS",
    "KINDS",
    "WORKLOAD_KINDS",
    "validate_object",
    "validate_workload",
    "validate_label_selector",
    "validate_labels",
]

# kind -> the one apiVersion the simulator (and a current cluster) serves it under.
API_VERSIONS: dict[str, str] = {
    "Namespace": "v1",
    "Pod": "v1",
    "Service": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
}
KINDS = ("Namespace", "Pod", "Service", "NetworkPolicy")
WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")

# -- formats (written from the apimachinery definitions, not copied) ------------------
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")  # also a non-empty label value
_IANA_SVC_NAME = re.compile(r"[a-z0-9-]+")
_HAS_LETTER = re.compile(r"[a-z]")
_CIDR_SHAPE = re.compile(r"[0-9A-Fa-f.:]+/[0-9]+")
_IPV4_LEADING_ZERO = re.compile(r"(^|\.)0[0-9]")

_MSG_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')"
)
_MSG_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com')"
)
_MSG_DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name' or 'abc-123')"
)
_MSG_QNAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
)
_MSG_LABEL_VALUE = (
    "a valid label value must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', 'my_value' or '12345')"
)
_MSG_PORT_RANGE = "must be between 1 and 65535, inclusive"
_MSG_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_MSG_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"

_INT32_MAX = 2**31 - 1
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_POLICY_TYPES = ("Ingress", "Egress")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")

# -- known fields, for strict field validation (from the v1 API types) ----------------
_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_NP_TOP_FIELDS = _TOP_FIELDS - {"status"}  # networking.k8s.io/v1 NetworkPolicy has no status
_META_FIELDS = frozenset({
    "annotations", "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "finalizers",
    "generateName", "generation", "labels", "managedFields", "name", "namespace", "ownerReferences",
    "resourceVersion", "selfLink", "uid",
})
_SELECTOR_FIELDS = frozenset({"matchLabels", "matchExpressions"})
_REQUIREMENT_FIELDS = frozenset({"key", "operator", "values"})
_NP_SPEC_FIELDS = frozenset({"podSelector", "policyTypes", "ingress", "egress"})
_NP_INGRESS_FIELDS = frozenset({"from", "ports"})
_NP_EGRESS_FIELDS = frozenset({"to", "ports"})
_NP_PEER_FIELDS = frozenset({"podSelector", "namespaceSelector", "ipBlock"})
_NP_PORT_FIELDS = frozenset({"protocol", "port", "endPort"})
_IPBLOCK_FIELDS = frozenset({"cidr", "except"})
_NAMESPACE_SPEC_FIELDS = frozenset({"finalizers"})
_POD_SPEC_FIELDS = frozenset({
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers", "dnsConfig",
    "dnsPolicy", "enableServiceLinks", "ephemeralContainers", "evictionResponders", "hostAliases", "hostIPC",
    "hostNetwork", "hostPID", "hostUsers", "hostname", "hostnameOverride", "imagePullSecrets",
    "initContainers", "nodeName", "nodeSelector", "os", "overhead", "preemptionPolicy", "priority",
    "priorityClassName", "readinessGates", "resourceClaims", "resources", "restartPolicy",
    "runtimeClassName", "schedulerName", "schedulingGates", "schedulingGroup", "securityContext",
    "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace", "subdomain",
    "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints", "volumes",
})
_CONTAINER_FIELDS = frozenset({
    "args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "name",
    "ports", "readinessProbe", "resizePolicy", "resources", "restartPolicy", "restartPolicyRules",
    "securityContext", "startupProbe", "stdin", "stdinOnce", "terminationMessagePath",
    "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts", "workingDir",
})
_CONTAINER_PORT_FIELDS = frozenset({"containerPort", "hostIP", "hostPort", "name", "protocol"})
_POD_STATUS_FIELDS = frozenset({
    "allocatedResources", "conditions", "containerStatuses", "ephemeralContainerStatuses",
    "extendedResourceClaimStatus", "hostIP", "hostIPs", "initContainerStatuses", "message",
    "nodeAllocatableResourceClaimStatuses", "nominatedNodeName", "observedGeneration", "phase", "podIP",
    "podIPs", "qosClass", "reason", "resize", "resourceClaimStatuses", "resources", "startTime",
    "volumeHealth",
})
_POD_IP_FIELDS = frozenset({"ip"})
_SERVICE_SPEC_FIELDS = frozenset({
    "allocateLoadBalancerNodePorts", "clusterIP", "clusterIPs", "externalIPs", "externalName",
    "externalTrafficPolicy", "healthCheckNodePort", "internalTrafficPolicy", "ipFamilies", "ipFamilyPolicy",
    "loadBalancerClass", "loadBalancerIP", "loadBalancerSourceRanges", "ports", "publishNotReadyAddresses",
    "selector", "sessionAffinity", "sessionAffinityConfig", "trafficDistribution", "type",
})
_SERVICE_PORT_FIELDS = frozenset({"appProtocol", "name", "nodePort", "port", "protocol", "targetPort"})
_TEMPLATE_FIELDS = frozenset({"metadata", "spec"})
_WORKLOAD_SPEC_FIELDS: dict[str, frozenset[str]] = {
    "Deployment": frozenset({
        "minReadySeconds", "paused", "progressDeadlineSeconds", "replicas", "revisionHistoryLimit",
        "selector", "strategy", "template",
    }),
    "ReplicaSet": frozenset({"minReadySeconds", "replicas", "selector", "template"}),
    "StatefulSet": frozenset({
        "minReadySeconds", "ordinals", "persistentVolumeClaimRetentionPolicy", "podManagementPolicy",
        "replicas", "revisionHistoryLimit", "selector", "serviceName", "template", "updateStrategy",
        "volumeClaimTemplates",
    }),
    "DaemonSet": frozenset({"minReadySeconds", "revisionHistoryLimit", "selector", "template", "updateStrategy"}),
}


# -- error helpers ----------------------------------------------------------------------
def _fail(path: str | None, message: str) -> NoReturn:
    raise ManifestError(message, field=path or None)


def _show(value: Any) -> str:
    """A value as the apiserver quotes it (strings in double quotes, numbers bare), kept short.

    Whatever the input holds, the result is one line of at most about 100 characters: long
    strings are cut (with their length), huge numbers described, and collections shown
    only as far as that budget goes, so an alias bomb or a 50 MB name never gets serialised.
    """
    parts: list[str] = []
    _emit(value, parts, [_SHOW_BUDGET], 0)
    return "".join(parts)


_SHOW_BUDGET = 80
_UNPRINTABLE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _emit(value: Any, parts: list[str], budget: list[int], depth: int) -> None:
    """Append a bounded rendering of ``value`` to ``parts``; ``budget[0]`` is what is left."""
    if budget[0] <= 0:
        return
    if isinstance(value, str):
        text = _quote(value[:60]) + (f"...({len(value)} characters)" if len(value) > 60 else "")
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, int):
        bits = value.bit_length()
        sign = "-" if value < 0 else ""
        text = str(value) if bits <= 128 else f"{sign}<a number of about {int(bits * 0.30103) + 1} digits>"
    elif isinstance(value, float):
        text = json.dumps(value)
    elif isinstance(value, (Mapping, list, tuple)):
        if depth >= 3:
            text = "{...}" if isinstance(value, Mapping) else "[...]"
        else:
            is_map = isinstance(value, Mapping)
            parts.append("{" if is_map else "[")
            budget[0] -= 1
            items = value.items() if is_map else value
            for n, item in enumerate(items):
                if budget[0] <= 0:
                    parts.append("...")
                    break
                if n:
                    parts.append(", ")
                    budget[0] -= 2
                if is_map:
                    _emit(item[0], parts, budget, depth + 1)
                    parts.append(": ")
                    budget[0] -= 2
                    _emit(item[1], parts, budget, depth + 1)
                else:
                    _emit(item, parts, budget, depth + 1)
            parts.append("}" if is_map else "]")
            return
    else:
        text = f"<{type(value).__name__}>"
    if len(text) > budget[0] + 20:
        text = text[: max(budget[0], 10)] + "..."
    parts.append(text)
    budget[0] -= len(text)


def _quote(text: str) -> str:
    """A string in double quotes, on one line: control and line-break characters escaped."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted) if not quoted.isascii() else quoted


def _key_text(key: Any) -> str:
    """A mapping key for a field path: itself when a short string, else a bounded rendering."""
    if isinstance(key, str) and len(key) <= 60 and key.isprintable():
        return key
    return _show(key)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"  # e.g. a YAML timestamp


def _wrong_type(path: str, expected: str, value: Any) -> NoReturn:
    shown = f" ({_show(value)})" if isinstance(value, (bool, int, float, str)) else ""
    _fail(path, f"invalid type: expected {expected}, got {_type_name(value)}{shown}")


def _invalid(path: str, value: Any, message: str) -> NoReturn:
    _fail(path, f"invalid value {_show(value)}: {message}")


def _unsupported(path: str, value: Any, supported: tuple[str, ...]) -> NoReturn:
    choices = ", ".join(f'"{s}"' for s in supported)
    _fail(path, f"unsupported value {_show(value)}: supported values: {choices}")


def _required(path: str, detail: str = "") -> NoReturn:
    _fail(path, "required value" + (f": {detail}" if detail else ""))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_fields(data: Mapping[Any, Any], allowed: frozenset[str], path: str) -> None:
    """Reject keys the API type does not have, as ``kubectl apply`` (strict) does."""
    if not allowed.issuperset(data):
        for key in data:
            if key not in allowed:
                where = _child(path, _key_text(key))
                _fail(where, f'unknown field "{where}"')


def _mapping(value: Any, path: str) -> Mapping[Any, Any]:
    """``value`` as a mapping; ``None`` (YAML ``~`` or an empty key) counts as ``{}``."""
    if type(value) is dict:  # the common case, without the abstract class check
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _wrong_type(path, "a mapping", value)
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        _wrong_type(path, "a list", value)
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _wrong_type(path, "a string", value)
    return value


# -- names, labels, ports, addresses --------------------------------------------------
def _check_dns_label(
    value: Any, path: str, message: str = _MSG_LABEL, pattern: re.Pattern[str] = _DNS1123_LABEL
) -> None:
    _string(value, path)
    if len(value) > 63:
        _invalid(path, value, "must be no more than 63 characters")
    if not pattern.fullmatch(value):
        _invalid(path, value, message)


def _check_dns_subdomain(value: Any, path: str) -> None:
    _string(value, path)
    if len(value) > 253:
        _invalid(path, value, "must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        _invalid(path, value, _MSG_SUBDOMAIN)


def _check_label_key(key: Any, path: str) -> None:
    """A qualified name: ``[prefix/]name``; the prefix a DNS subdomain, the name at most 63 chars."""
    if not isinstance(key, str):
        _invalid(path, key, "label keys must be strings: quote the key in the YAML")
    prefix, slash, name = key.rpartition("/")
    if slash:
        if "/" in prefix:
            _invalid(path, key, "a qualified name may contain at most one '/'")
        if not prefix:
            _invalid(path, key, "prefix part must be non-empty")
        if len(prefix) > 253:
            _invalid(path, key, "prefix part must be no more than 253 characters")
        if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            _invalid(path, key, "prefix part " + _MSG_SUBDOMAIN)
    if not name:
        _invalid(path, key, "name part must be non-empty")
    if len(name) > 63:
        _invalid(path, key, "name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.fullmatch(name):
        _invalid(path, key, _MSG_QNAME)


def _check_label_value(value: Any, path: str) -> None:
    if not isinstance(value, str):
        # The apiserver's decoder refuses these (YAML reads `true`, `1.0`, `yes` as non-strings).
        if value is None:
            _invalid(path, value, 'label values must be strings: write "" for an empty value')
        if isinstance(value, (bool, int, float)):
            _invalid(path, value, f'label values must be strings: quote it in the YAML ("{_show(value)}")')
        _wrong_type(path, "a string", value)
    if value:
        if len(value) > 63:
            _invalid(path, value, "must be no more than 63 characters")
        if not _QUALIFIED_NAME.fullmatch(value):
            _invalid(path, value, _MSG_LABEL_VALUE)


def validate_labels(labels: Any, path: str) -> None:
    """A label map (``metadata.labels``, ``matchLabels``, a service ``selector``).

    Like the apiserver, errors name the map (``metadata.labels``), and the message the
    offending key or value. Keys and values already found valid are remembered (they
    repeat across thousands of pods), so each distinct one is checked once.
    """
    known_keys, known_values = _VALID_KEYS, _VALID_VALUES
    for key, value in _mapping(labels, path).items():
        if key not in known_keys:
            _check_label_key(key, path)
            _remember(known_keys, key)
        if type(value) is not str or value not in known_values:
            _check_label_value(value, path)
            _remember(known_values, value)


_VALID_KEYS: set[str] = set()
_VALID_VALUES: set[str] = set()


def _remember(known: set[str], item: str) -> None:
    if len(known) > 100_000:  # bounded: a hostile file cannot grow it without end
        known.clear()
    known.add(item)


def _check_annotations(annotations: Any, path: str) -> None:
    for key, value in _mapping(annotations, path).items():
        _check_label_key(key, path)
        if not isinstance(value, str):
            _invalid(path, value, f'annotation values must be strings: quote it in the YAML (key "{key}")')


def _check_port_name(value: str, path: str) -> None:
    """An IANA_SVC_NAME (RFC 6335): what a named port can be called."""
    if value in _VALID_PORT_NAMES:
        return
    _check_new_port_name(value, path)
    _remember(_VALID_PORT_NAMES, value)


_VALID_PORT_NAMES: set[str] = set()


def _check_new_port_name(value: str, path: str) -> None:
    if len(value) > 15:
        _invalid(path, value, "must be no more than 15 characters")
    if not _IANA_SVC_NAME.fullmatch(value):
        _invalid(path, value, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        _invalid(path, value, "must not contain consecutive hyphens")
    if not _HAS_LETTER.search(value):
        hint = f"; for a port number write {value} without quotes" if value.isdigit() else ""
        _invalid(path, value, "must contain at least one letter (a-z)" + hint)
    if value[0] == "-" or value[-1] == "-":
        _invalid(path, value, "must not begin or end with a hyphen")


def _check_port_number(value: Any, path: str) -> int:
    if type(value) is not int:
        _wrong_type(path, "an integer", value)
    if not 1 <= value <= 65535:
        _invalid(path, value, _MSG_PORT_RANGE)
    return value


def _check_port_num_or_name(value: Any, path: str) -> None:
    """An int-or-string port: a number 1-65535 or an IANA_SVC_NAME."""
    if isinstance(value, str):
        _check_port_name(value, path)
    elif type(value) is int:
        _check_port_number(value, path)
    else:
        _wrong_type(path, "a port number or a port name", value)


def _check_protocol(value: Any, path: str) -> None:
    """``None`` means the default, TCP."""
    if value is not None and value not in _PROTOCOLS:
        _unsupported(path, value, _PROTOCOLS)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def _check_ip(value: Any, path: str) -> None:
    _string(value, path)
    if _IPV4.fullmatch(value):  # the common case, without building an address object
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        # stricter: the apiserver still accepts IPv4 with leading zeros (with a warning).
        _invalid(path, value, _MSG_IP)
    if "%" in value:  # Python accepts IPv6 zones ("fe80::1%eth0"), the apiserver does not
        _invalid(path, value, _MSG_IP)


def _parse_cidr(value: Any, path: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as the apiserver accepts it in ``ipBlock``: host bits may be set.

    ``10.0.1.1/4`` means ``0.0.0.0/4``, as in :func:`nphelpers.policy.parse_cidr`.
    """
    _string(value, path)
    if not _CIDR_SHAPE.fullmatch(value):  # no spaces, no zone, a decimal prefix length
        _invalid(path, value, _MSG_CIDR)
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        addr = value.partition("/")[0]
        if "." in addr and ":" not in addr and _IPV4_LEADING_ZERO.search(addr):
            # stricter: the apiserver accepts these with a warning, reading "010" as 10, not as
            # octal 8 the way most other software does; refuse the ambiguity.
            _invalid(path, value, "must not have leading 0s in IP or prefix length")
        _invalid(path, value, _MSG_CIDR)
    if net.version == 6 and net.network_address.ipv4_mapped is not None:
        # stricter: IPv4-mapped IPv6 blocks mean different things to different plugins.
        _invalid(path, value, "must not have an IPv4-mapped IPv6 address")
    return net


# -- label selectors ----------------------------------------------------------------
def validate_label_selector(selector: Any, path: str) -> None:
    """``matchLabels`` + ``matchExpressions`` as ``ValidateLabelSelector`` checks them."""
    sel = _mapping(selector, path)
    _check_fields(sel, _SELECTOR_FIELDS, path)
    if sel.get("matchLabels") is not None:
        validate_labels(sel["matchLabels"], _child(path, "matchLabels"))
    exprs_path = _child(path, "matchExpressions")
    for i, expr in enumerate(_list(sel.get("matchExpressions"), exprs_path)):
        epath = f"{exprs_path}[{i}]"
        if not isinstance(expr, Mapping):
            _wrong_type(epath, "a mapping", expr)
        _check_fields(expr, _REQUIREMENT_FIELDS, epath)
        op = expr.get("operator")
        values = _list(expr.get("values"), f"{epath}.values")
        if op is None or op == "":
            _required(f"{epath}.operator")
        if op in ("In", "NotIn"):
            if not values:
                _required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        elif op in ("Exists", "DoesNotExist"):
            if values:
                _fail(
                    f"{epath}.values",
                    "forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            _unsupported(f"{epath}.operator", op, _OPERATORS)
        key = expr.get("key")
        if key is None or key == "":
            _required(f"{epath}.key")
        _check_label_key(key, f"{epath}.key")
        for j, value in enumerate(values):
            _check_label_value(value, f"{epath}.values[{j}]")


# -- metadata -----------------------------------------------------------------------
def _check_metadata(obj: Mapping[str, Any], kind: str, path: str = "metadata") -> Mapping[Any, Any]:
    meta = _mapping(obj.get("metadata"), path)
    _check_fields(meta, _META_FIELDS, path)
    name = meta.get("name")
    if name is None or name == "":
        # stricter: no generateName, the simulator needs to know the name.
        _required(_child(path, "name"), "name is required")
    name_path = _child(path, "name")
    if kind == "Namespace":
        _check_dns_label(name, name_path)
    elif kind == "Service":
        # Service names become DNS names: DNS-1035 labels (first character a letter).
        _check_dns_label(name, name_path, _MSG_DNS1035, _DNS1035_LABEL)
    else:
        _check_dns_subdomain(name, name_path)
    ns = meta.get("namespace")
    if ns is not None and ns != "":
        if kind == "Namespace":
            _fail(_child(path, "namespace"), "forbidden: not allowed on this type (a Namespace is not namespaced)")
        _check_dns_label(ns, _child(path, "namespace"))
    if meta.get("labels") is not None:
        validate_labels(meta["labels"], _child(path, "labels"))
    if meta.get("annotations") is not None:
        _check_annotations(meta["annotations"], _child(path, "annotations"))
    return meta


def _check_kind(obj: Any, kinds: tuple[str, ...]) -> str:
    """The object's kind, after checking it is a mapping with a served kind/apiVersion pair."""
    if not isinstance(obj, Mapping):
        _fail(None, f"expected a mapping (a Kubernetes object), got {_type_name(obj)}")
    kind = obj.get("kind")
    if kind is None or kind == "":
        _required("kind", "kind not set")
    if kind not in kinds:
        if not isinstance(kind, str):
            _wrong_type("kind", "a string", kind)
        _unsupported("kind", kind, kinds)
    api = obj.get("apiVersion")
    if api is None or api == "":
        _required("apiVersion", "apiVersion not set")
    if api != API_VERSIONS[kind]:
        _fail("apiVersion", f'no matches for kind "{kind}" in version {_show(api)}: use "{API_VERSIONS[kind]}"')
    _check_fields(obj, _NP_TOP_FIELDS if kind == "NetworkPolicy" else _TOP_FIELDS, "")
    return kind


# -- kinds --------------------------------------------------------------------------
def validate_object(obj: Any) -> None:
    """Raise :class:`ManifestError` for the first problem in a Namespace/Pod/Service/NetworkPolicy.

    ``obj`` is a plain dict as read from YAML. Nothing is changed in it.
    """
    kind = _check_kind(obj, KINDS)
    _check_metadata(obj, kind)
    if kind == "Pod":
        spec = obj.get("spec")
        if spec is None:
            _required("spec.containers")
        _check_pod_spec(spec, "spec", image_required=True)
        _check_pod_status(obj.get("status"))
    elif kind == "NetworkPolicy":
        _check_network_policy_spec(obj.get("spec"))
    elif kind == "Service":
        _check_service_spec(obj.get("spec"))
    else:
        spec = _mapping(obj.get("spec"), "spec")
        _check_fields(spec, _NAMESPACE_SPEC_FIELDS, "spec")


def _check_network_policy_spec(raw: Any) -> None:
    spec = _mapping(raw, "spec")
    _check_fields(spec, _NP_SPEC_FIELDS, "spec")
    # podSelector may be left out: the API defaults it to {} (every pod in the namespace).
    if spec.get("podSelector") is not None:
        validate_label_selector(spec["podSelector"], "spec.podSelector")
    for direction, peers_key, fields in (
        ("ingress", "from", _NP_INGRESS_FIELDS),
        ("egress", "to", _NP_EGRESS_FIELDS),
    ):
        for i, rule in enumerate(_list(spec.get(direction), f"spec.{direction}")):
            rpath = f"spec.{direction}[{i}]"
            rule = _mapping(rule, rpath)  # an empty rule (`- {}`) allows everything
            _check_fields(rule, fields, rpath)
            for j, port in enumerate(_list(rule.get("ports"), f"{rpath}.ports")):
                _check_policy_port(port, f"{rpath}.ports[{j}]")
            for j, peer in enumerate(_list(rule.get(peers_key), f"{rpath}.{peers_key}")):
                _check_peer(peer, f"{rpath}.{peers_key}[{j}]")
    types = _list(spec.get("policyTypes"), "spec.policyTypes")
    if len(types) > 2:
        _invalid("spec.policyTypes", types, "may not specify more than two policyTypes")
    # Like the apiserver, a repeated type (["Ingress", "Ingress"]) is accepted.
    for i, ptype in enumerate(types):
        if ptype not in _POLICY_TYPES:
            _unsupported(f"spec.policyTypes[{i}]", ptype, _POLICY_TYPES)


def _check_policy_port(raw: Any, path: str) -> None:
    if not isinstance(raw, Mapping):
        _wrong_type(path, "a mapping", raw)
    _check_fields(raw, _NP_PORT_FIELDS, path)
    _check_protocol(raw.get("protocol"), f"{path}.protocol")
    port = raw.get("port")
    end = raw.get("endPort")
    if port is not None:
        _check_port_num_or_name(port, f"{path}.port")
    if end is None:
        return
    end_path = f"{path}.endPort"
    if port is None:
        _invalid(end_path, end, "may not be specified when `port` is not specified")
    if isinstance(port, str):
        _invalid(end_path, end, "may not be specified when `port` is non-numeric")
    if type(end) is not int:
        _wrong_type(end_path, "an integer", end)
    if end < port:
        _invalid(end_path, end, "must be greater than or equal to `port`")
    _check_port_number(end, end_path)


def _check_peer(raw: Any, path: str) -> None:
    if raw is None:
        _required(path, "must specify a peer")
    if not isinstance(raw, Mapping):
        _wrong_type(path, "a mapping", raw)
    _check_fields(raw, _NP_PEER_FIELDS, path)
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if raw.get(key) is not None:  # `podSelector: {}` counts, a missing or null one does not
            count += 1
            validate_label_selector(raw[key], f"{path}.{key}")
    block = raw.get("ipBlock")
    if block is not None:
        count += 1
        _check_ip_block(block, f"{path}.ipBlock")
    if count == 0:
        _required(path, "must specify a peer (podSelector, namespaceSelector or ipBlock)")
    if block is not None and count > 1:
        _fail(path, "forbidden: may not specify both ipBlock and another peer")


def _check_ip_block(raw: Any, path: str) -> None:
    block = _mapping(raw, path)
    _check_fields(block, _IPBLOCK_FIELDS, path)
    cidr = block.get("cidr")
    if cidr is None or cidr == "":
        _required(f"{path}.cidr")
    net = _parse_cidr(cidr, f"{path}.cidr")
    for i, text in enumerate(_list(block.get("except"), f"{path}.except")):
        epath = f"{path}.except[{i}]"
        sub = _parse_cidr(text, epath)
        # The upstream rule: the except block's network address lies in `cidr` and its prefix
        # is strictly longer. Blocks of the other IP family are never inside.
        if sub.version != net.version or sub.network_address not in net or sub.prefixlen <= net.prefixlen:
            _invalid(epath, text, "must be a strict subset of `cidr`")


def _check_pod_spec(raw: Any, path: str, *, image_required: bool) -> None:
    """A PodSpec, for a Pod (``spec``) or a workload's template (``spec.template.spec``)."""
    spec = _mapping(raw, path)
    _check_fields(spec, _POD_SPEC_FIELDS, path)
    cpath = f"{path}.containers"
    containers = _list(spec.get("containers"), cpath)
    if not containers:
        _required(cpath)
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        ipath = f"{cpath}[{i}]"
        port_names: set[str] = set()  # unique per container; across containers the apiserver only warns
        if type(ctr) is not dict and not isinstance(ctr, Mapping):
            _wrong_type(ipath, "a mapping", ctr)
        _check_fields(ctr, _CONTAINER_FIELDS, ipath)
        name = ctr.get("name")
        if name is None or name == "":
            _required(f"{ipath}.name")
        _check_dns_label(name, f"{ipath}.name")
        if name in names:
            _fail(f"{ipath}.name", f"duplicate value {_show(name)}")
        names.add(name)
        image = ctr.get("image")
        if image is None or image == "":
            if image_required:  # a template may leave it to an admission webhook
                _required(f"{ipath}.image")
        elif not isinstance(image, str):
            _wrong_type(f"{ipath}.image", "a string", image)
        elif image != image.strip():
            _invalid(f"{ipath}.image", image, "must not have leading or trailing whitespace")
        for j, port in enumerate(_list(ctr.get("ports"), f"{ipath}.ports")):
            _check_container_port(port, f"{ipath}.ports[{j}]", port_names)


def _check_container_port(raw: Any, path: str, seen_names: set[str]) -> None:
    # Ports repeat across thousands of pods: one already found valid (same keys, values and
    # value types, so that `true` is never taken for a valid 1) only needs its name counted.
    key = None
    if type(raw) is dict:
        key = (tuple(raw.items()), tuple(map(type, raw.values())))
        try:
            known = key in _VALID_CONTAINER_PORTS
        except TypeError:  # a list or mapping inside: check it the long way
            known, key = False, None
        if known:
            name = raw.get("name")
            if name:
                if name in seen_names:
                    _fail(f"{path}.name",
                          f"duplicate value {_show(name)}: port names must be unique within the pod")
                seen_names.add(name)
            return
    _check_new_container_port(raw, path, seen_names)
    if key is not None:
        _remember(_VALID_CONTAINER_PORTS, key)  # type: ignore[arg-type]


_VALID_CONTAINER_PORTS: set[tuple[tuple[Any, ...], tuple[type, ...]]] = set()


def _check_new_container_port(raw: Any, path: str, seen_names: set[str]) -> None:
    if not isinstance(raw, Mapping):
        _wrong_type(path, "a mapping", raw)
    _check_fields(raw, _CONTAINER_PORT_FIELDS, path)
    name = raw.get("name")
    if name is not None and name != "":
        _string(name, f"{path}.name")
        _check_port_name(name, f"{path}.name")
        if name in seen_names:
            _fail(f"{path}.name", f"duplicate value {_show(name)}")
        seen_names.add(name)
    port = raw.get("containerPort")
    if port is None:
        _required(f"{path}.containerPort")
    _check_port_number(port, f"{path}.containerPort")
    _check_protocol(raw.get("protocol"), f"{path}.protocol")
    host_port = raw.get("hostPort")
    if host_port is not None and host_port != 0:
        _check_port_number(host_port, f"{path}.hostPort")
    if raw.get("hostIP"):
        _check_ip(raw["hostIP"], f"{path}.hostIP")


def _check_pod_status(raw: Any) -> None:
    status = _mapping(raw, "status")
    if not status:
        return
    _check_fields(status, _POD_STATUS_FIELDS, "status")
    if status.get("podIP"):
        _check_ip(status["podIP"], "status.podIP")
    seen: set[str] = set()
    for i, entry in enumerate(_list(status.get("podIPs"), "status.podIPs")):
        ipath = f"status.podIPs[{i}]"
        if not isinstance(entry, Mapping):
            _wrong_type(ipath, "a mapping", entry)
        _check_fields(entry, _POD_IP_FIELDS, ipath)
        ip = entry.get("ip")
        if ip is None or ip == "":
            _required(f"{ipath}.ip")
        _check_ip(ip, f"{ipath}.ip")
        if ip in seen:
            _fail(f"{ipath}.ip", f"duplicate value {_show(ip)}")
        seen.add(ip)


def _check_service_spec(raw: Any) -> None:
    spec = _mapping(raw, "spec")
    _check_fields(spec, _SERVICE_SPEC_FIELDS, "spec")
    stype = spec.get("type")
    if stype is not None and stype not in _SERVICE_TYPES:
        _unsupported("spec.type", stype, _SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip is not None and cluster_ip != "" and cluster_ip != "None":
        _check_ip(cluster_ip, "spec.clusterIP")
    for i, ip in enumerate(_list(spec.get("clusterIPs"), "spec.clusterIPs")):
        if ip != "None":
            _check_ip(ip, f"spec.clusterIPs[{i}]")
    if spec.get("selector") is not None:
        validate_labels(spec["selector"], "spec.selector")
    ports = _list(spec.get("ports"), "spec.ports")
    if not ports and stype != "ExternalName" and cluster_ip != "None":
        _required("spec.ports", "a service needs at least one port (unless it is headless: clusterIP: None)")
    names: set[str] = set()
    seen: dict[tuple[int, str], int] = {}
    for i, port in enumerate(ports):
        ppath = f"spec.ports[{i}]"
        if not isinstance(port, Mapping):
            _wrong_type(ppath, "a mapping", port)
        _check_fields(port, _SERVICE_PORT_FIELDS, ppath)
        name = port.get("name")
        if name is None or name == "":
            if len(ports) > 1:
                _required(f"{ppath}.name", "ports must be named when a service has more than one")
        else:
            _check_dns_label(name, f"{ppath}.name")
            if name in names:
                _fail(f"{ppath}.name", f"duplicate value {_show(name)}")
            names.add(name)
        if port.get("port") is None:
            _required(f"{ppath}.port")
        number = _check_port_number(port["port"], f"{ppath}.port")
        protocol = port.get("protocol")
        _check_protocol(protocol, f"{ppath}.protocol")
        target = port.get("targetPort")
        if target == 0 or target == "":
            # stricter: the apiserver reads these as "the same as port"; say so instead.
            _invalid(f"{ppath}.targetPort", target, "leave targetPort out to use the same number as port")
        if target is not None:
            _check_port_num_or_name(target, f"{ppath}.targetPort")
        node_port = port.get("nodePort")
        if node_port is not None and node_port != 0:
            _check_port_number(node_port, f"{ppath}.nodePort")
            if stype not in ("NodePort", "LoadBalancer"):
                _fail(f"{ppath}.nodePort", f"forbidden: may not be used when `type` is '{stype or 'ClusterIP'}'")
            if not 30000 <= node_port <= 32767:
                _invalid(f"{ppath}.nodePort", node_port,
                         "provided port is not in the valid range. The range of valid ports is 30000-32767")
        key = (number, protocol or "TCP")
        if key in seen:
            _fail(ppath, f"duplicate value: port {number}/{key[1]} is already in spec.ports[{seen[key]}]")
        seen[key] = i
    policy = spec.get("externalTrafficPolicy")
    if policy is not None and policy != "":
        if policy not in ("Cluster", "Local"):
            _unsupported("spec.externalTrafficPolicy", policy, ("Cluster", "Local"))
        if stype not in ("NodePort", "LoadBalancer"):
            _invalid("spec.externalTrafficPolicy", policy, "may only be set for externally-accessible services")
    if stype == "ExternalName":
        if not spec.get("externalName"):
            _required("spec.externalName")
        _check_dns_subdomain(spec["externalName"], "spec.externalName")


# -- workloads ----------------------------------------------------------------------
def validate_workload(obj: Any) -> None:
    """Raise :class:`ManifestError` for the first problem in an ``apps/v1`` workload.

    Checks what the loader needs to expand it into pods, as the apiserver would: the
    name, ``replicas``, a non-empty ``selector`` that matches the template's labels, and
    the template's pod spec.
    """
    kind = _check_kind(obj, WORKLOAD_KINDS)
    _check_metadata(obj, kind)
    spec = _mapping(obj.get("spec"), "spec")
    _check_fields(spec, _WORKLOAD_SPEC_FIELDS[kind], "spec")
    replicas = spec.get("replicas")
    if replicas is not None:
        if type(replicas) is not int:
            _wrong_type("spec.replicas", "an integer", replicas)
        if replicas < 0:
            _invalid("spec.replicas", replicas, "must be greater than or equal to 0")
        if replicas > _INT32_MAX:  # the apiserver's decoder refuses what does not fit its int32
            _invalid("spec.replicas", replicas, f"must be no more than {_INT32_MAX} (an int32)")
    selector = spec.get("selector")
    if selector is None:
        _required("spec.selector")
    validate_label_selector(selector, "spec.selector")
    parsed = LabelSelector.from_dict(selector)
    if parsed.is_empty:
        _invalid("spec.selector", selector, f"empty selector is invalid for {kind.lower()}")
    template = spec.get("template")
    if template is None:
        _required("spec.template")
    template = _mapping(template, "spec.template")
    _check_fields(template, _TEMPLATE_FIELDS, "spec.template")
    tmeta = _mapping(template.get("metadata"), "spec.template.metadata")
    _check_fields(tmeta, _META_FIELDS, "spec.template.metadata")
    labels = tmeta.get("labels")
    if labels is not None:
        validate_labels(labels, "spec.template.metadata.labels")
    if not parsed.matches(_mapping(labels, "spec.template.metadata.labels")):
        _invalid("spec.template.metadata.labels", labels or {}, "`selector` does not match template `labels`")
    if kind == "StatefulSet" and spec.get("serviceName") is not None:
        _string(spec["serviceName"], "spec.serviceName")
    if template.get("spec") is None:
        _required("spec.template.spec.containers")
    _check_pod_spec(template["spec"], "spec.template.spec", image_required=False)
