"""The manifest loader: files, directories, documents, Lists, workloads, notes and errors."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nphelpers import manifests
from nphelpers.cluster import ClusterState
from nphelpers.errors import ManifestError
from nphelpers.manifests import LoadResult, load_objects, load_paths, load_text, parse_documents
from nphelpers.yamlio import fast_documents

NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}}}
spec:
  containers:
  - name: main
    image: nginx
    ports:
    - {{containerPort: 80, name: http}}
"""
NETPOL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  ingress:
  - from:
    - podSelector: {{matchLabels: {{app: web}}}}
    ports:
    - port: http
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: {kind}
metadata:
  name: web
  namespace: shop
spec:
{replicas}  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, tier: front}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{{containerPort: 8080, name: http}}]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(result: LoadResult) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in result.objects]


def error_of(text: str, source: str = "bad.yaml") -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_text(text, source)
    return info.value


# -- documents -----------------------------------------------------------------------------
def test_multi_document_in_order_with_notes() -> None:
    text = "---\n".join([NS.format(name="shop"), CONFIGMAP, POD.format(name="web", app="web"),
                         NETPOL.format(name="api-allow")])
    result = load_text(text, "lesson.yaml")
    assert names(result) == ["Namespace/shop", "Pod/web", "NetworkPolicy/api-allow"]
    assert result.notes == ["lesson.yaml: document 2: skipped kind ConfigMap (not used by NetworkPolicy)"]


def test_empty_documents_are_ignored_but_counted() -> None:
    text = "---\n# nothing here\n---\n" + POD.format(name="a", app="a") + "---\n---\n" + CONFIGMAP + "...\n"
    result = load_text(text, "x.yaml")
    assert names(result) == ["Pod/a"]
    assert result.notes == ["x.yaml: document 4: skipped kind ConfigMap (not used by NetworkPolicy)"]
    err = error_of("---\n---\n" + POD.format(name="Bad", app="a"), "x.yaml")
    assert str(err).startswith("x.yaml: document 2: metadata.name: ")


def test_empty_text() -> None:
    assert load_text("") == LoadResult([], [])
    assert load_text("# only a comment\n") == LoadResult([], [])


def test_yaml_syntax_error_names_document_and_line() -> None:
    text = POD.format(name="a", app="a") + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n labels: {}\n"
    err = error_of(text)
    assert err.source == "bad.yaml" and err.document == 2 and err.field is None
    assert str(err).startswith("bad.yaml: document 2: invalid YAML at line 17: ")


def test_yaml_error_in_flow_sequence() -> None:
    err = error_of("a: 1\n---\nb: [1, 2\n")
    assert str(err).startswith("bad.yaml: document 2: invalid YAML at line 4: ")


def test_yaml_tab_indentation() -> None:
    err = error_of("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n")
    assert str(err).startswith("bad.yaml: document 1: invalid YAML at line 4: ")


def test_duplicate_yaml_key_is_an_error() -> None:
    text = NETPOL.format(name="np") + "  ingress: []\n"
    err = error_of(text)
    assert str(err) == 'bad.yaml: document 1: invalid YAML at line 12: duplicate key "ingress" (first at line 7)'


def test_document_must_be_a_mapping() -> None:
    err = error_of(POD.format(name="a", app="a") + "---\n- just\n- a list\n")
    assert str(err) == (
        "bad.yaml: document 2: expected a mapping (a Kubernetes object with apiVersion and kind), got a list"
    )
    err = error_of("hello\n")
    assert err.document == 1 and "got a string" in err.message


def test_document_without_kind_is_an_error() -> None:
    err = error_of(CONFIGMAP + "---\napiVersion: v1\nmetadata: {name: x}\n")
    assert str(err) == "bad.yaml: document 2: kind: required value: kind not set"


# -- Lists ---------------------------------------------------------------------------------
def as_list(*docs: str) -> str:
    items = "".join("- " + doc.replace("\n", "\n  ").rstrip() + "\n" for doc in docs)
    return "apiVersion: v1\nkind: List\nitems:\n" + items


def test_list_items_are_loaded_and_skipped_items_noted() -> None:
    text = as_list(NS.format(name="shop"), CONFIGMAP, POD.format(name="web", app="web"))
    result = load_text(text, "all.yaml")
    assert names(result) == ["Namespace/shop", "Pod/web"]
    assert result.notes == ["all.yaml: document 1: items[1]: skipped kind ConfigMap (not used by NetworkPolicy)"]


def test_bad_list_item_error_path_starts_with_items() -> None:
    no_image = POD.format(name="web", app="web").replace("    image: nginx\n", "")
    text = as_list(NS.format(name="shop"), CONFIGMAP, no_image)
    err = error_of(text, "all.yaml")
    assert err.field == "items[2].spec.containers[0].image"
    assert str(err) == "all.yaml: document 1: items[2].spec.containers[0].image: required value"


def test_typed_list_and_nested_list() -> None:
    text = "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: List, items: [{kind: Pod}]}\n"
    err = error_of(text)
    assert err.field == "items[0].items[0].apiVersion"
    assert load_text("apiVersion: v1\nkind: List\nitems: []\n").objects == []


def test_list_item_not_a_mapping() -> None:
    err = error_of("apiVersion: v1\nkind: List\nitems: [1]\n")
    assert err.field == "items[0]" and "got an integer" in err.message


# -- workloads -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet"])
def test_workload_expands_into_replicas(kind: str) -> None:
    result = load_text(DEPLOYMENT.format(kind=kind, replicas="  replicas: 3\n"), "deploy.yaml")
    assert names(result) == ["Pod/web-0", "Pod/web-1", "Pod/web-2"]
    for obj in result.objects:
        assert obj["apiVersion"] == "v1"
        assert obj["metadata"]["namespace"] == "shop"
        assert obj["metadata"]["labels"] == {"app": "web", "tier": "front"}
        assert obj["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "name": "http"}]
    state = ClusterState.from_objects(result.objects)
    assert sorted(state.pods) == ["shop/web-0", "shop/web-1", "shop/web-2"]
    assert state.pods["shop/web-1"].resolve_port("http", "TCP") == 8080
    assert result.notes == []


def test_workload_default_and_zero_replicas() -> None:
    assert names(load_text(DEPLOYMENT.format(kind="Deployment", replicas=""))) == ["Pod/web-0"]
    result = load_text(DEPLOYMENT.format(kind="Deployment", replicas="  replicas: 0\n"), "d.yaml")
    assert result.objects == []
    assert result.notes == ["d.yaml: document 1: Deployment web has 0 replicas: no pods"]


def test_daemonset_gives_one_pod() -> None:
    assert names(load_text(DEPLOYMENT.format(kind="DaemonSet", replicas=""))) == ["Pod/web-0"]


def test_workload_without_namespace_keeps_none() -> None:
    result = load_text(DEPLOYMENT.format(kind="Deployment", replicas="").replace("  namespace: shop\n", ""))
    assert "namespace" not in result.objects[0]["metadata"]


def test_workload_selector_must_match_template() -> None:
    text = CONFIGMAP + "---\n" + DEPLOYMENT.format(kind="Deployment", replicas="").replace(
        "matchLabels: {app: web}", "matchLabels: {app: api}")
    err = error_of(text, "deploy.yaml")
    assert str(err).startswith(
        "deploy.yaml: document 2: spec.template.metadata.labels: invalid value ")
    assert err.message.endswith("`selector` does not match template `labels`")


def test_workload_template_errors_have_template_paths() -> None:
    text = DEPLOYMENT.format(kind="StatefulSet", replicas="").replace("containerPort: 8080", "containerPort: 0")
    err = error_of(text)
    assert err.field == "spec.template.spec.containers[0].ports[0].containerPort"


def test_workload_old_api_version() -> None:
    text = DEPLOYMENT.format(kind="Deployment", replicas="").replace("apps/v1", "extensions/v1beta1")
    err = error_of(text)
    assert err.field == "apiVersion" and 'no matches for kind "Deployment" in version "extensions/v1beta1"' in str(err)


def test_workload_pod_collides_with_a_pod() -> None:
    text = POD.format(name="web-1", app="x").replace("metadata:\n", "metadata:\n  namespace: shop\n")
    text += "---\n" + DEPLOYMENT.format(kind="Deployment", replicas="  replicas: 2\n")
    err = error_of(text, "all.yaml")
    assert str(err) == (
        'all.yaml: document 2: metadata.name: duplicate Pod "shop/web-1" (made by Deployment web): '
        "already defined at all.yaml: document 1"
    )


# -- duplicates and namespaces ------------------------------------------------------------------
def test_duplicate_object_names_the_second_place(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", NETPOL.format(name="np"))
    b = write(tmp_path / "b.yaml", CONFIGMAP + "---\n" + NETPOL.format(name="np"))
    with pytest.raises(ManifestError) as info:
        load_paths([a, b])
    assert str(info.value) == (
        f'{b}: document 2: metadata.name: duplicate NetworkPolicy "default/np": already defined at {a}: document 1'
    )


def test_same_name_in_other_namespace_or_kind_is_fine() -> None:
    other = NETPOL.format(name="np").replace("metadata:\n", "metadata:\n  namespace: team-a\n")
    result = load_text(NETPOL.format(name="np") + "---\n" + other + "---\n" + POD.format(name="np", app="a"))
    assert len(result.objects) == 3


def test_default_namespace_decides_collisions() -> None:
    explicit = NETPOL.format(name="np").replace("metadata:\n", "metadata:\n  namespace: lab\n")
    text = NETPOL.format(name="np") + "---\n" + explicit
    assert len(load_text(text).objects) == 2  # default vs lab
    with pytest.raises(ManifestError, match='duplicate NetworkPolicy "lab/np"'):
        load_text(text, namespace="lab")


def test_duplicate_namespace_and_list_paths() -> None:
    text = NS.format(name="shop") + "---\n" + as_list(CONFIGMAP, NS.format(name="shop"))
    err = error_of(text)
    assert err.field == "items[1].metadata.name"
    assert 'duplicate Namespace "shop": already defined at bad.yaml: document 1' in err.message


def test_namespace_is_kept_only_when_given() -> None:
    text = POD.format(name="a", app="a") + "---\n" + POD.format(name="b", app="b").replace(
        "metadata:\n", "metadata:\n  namespace: shop\n")
    a, b = load_text(text, namespace="lab").objects
    assert "namespace" not in a["metadata"]
    assert b["metadata"]["namespace"] == "shop"
    state = ClusterState.from_objects([a, b], "lab")
    assert sorted(state.pods) == ["lab/a", "shop/b"]


# -- files and directories ---------------------------------------------------------------------
def test_directory_recursion_sorted_with_joined_names(tmp_path: Path) -> None:
    root = tmp_path / "lesson"
    write(root / "b.yaml", POD.format(name="b", app="b"))
    write(root / "a.yml", POD.format(name="a", app="a"))
    write(root / "sub" / "deeper" / "d.yaml", POD.format(name="d", app="d"))
    write(root / "sub" / "c.yaml", CONFIGMAP)
    write(root / "notes.txt", "not yaml: [")
    write(root / "README.md", "# hi")
    result = load_paths([str(root) + os.sep])
    assert names(result) == ["Pod/a", "Pod/b", "Pod/d"]
    given = str(root) + os.sep
    assert result.notes == [
        f"{os.path.join(given, 'sub', 'c.yaml')}: document 1: skipped kind ConfigMap (not used by NetworkPolicy)"
    ]


def test_relative_paths_are_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "m" / "x" / "bad.yaml", POD.format(name="Bad", app="a"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError) as info:
        load_paths(["m"])
    assert str(info.value).startswith(f"{os.path.join('m', 'x', 'bad.yaml')}: document 1: metadata.name: ")
    with pytest.raises(ManifestError) as info:
        load_paths([Path("m/x/bad.yaml")])
    assert info.value.source == os.path.join("m", "x", "bad.yaml")


def test_paths_keep_the_order_given(tmp_path: Path) -> None:
    z = write(tmp_path / "z.yaml", NS.format(name="z"))
    a = write(tmp_path / "a.yaml", NS.format(name="a"))
    assert names(load_paths([z, a])) == ["Namespace/z", "Namespace/a"]
    assert names(load_paths(str(z))) == ["Namespace/z"]  # one path, not a list of characters


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load_paths(["missing.yaml"])
    assert str(info.value) == "missing.yaml: no such file or directory"
    good = write(tmp_path / "good.yaml", NS.format(name="a"))
    with pytest.raises(ManifestError, match="no such file or directory"):
        load_paths([good, tmp_path / "nope.yaml"])  # nothing half-loaded: the whole batch fails


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    binary = tmp_path / "image.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ManifestError) as info:
        load_paths([binary])
    assert info.value.source == str(binary) and "not UTF-8" in info.value.message
    if os.geteuid() != 0:  # root reads anything
        secret = write(tmp_path / "secret.yaml", NS.format(name="a"))
        secret.chmod(0)
        with pytest.raises(ManifestError, match="permission denied"):
            load_paths([secret])


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + NS.format(name="a").replace("\n", "\r\n").encode())
    assert names(load_paths([path])) == ["Namespace/a"]


def test_documents_are_numbered_per_file(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", NS.format(name="a") + "---\n" + NS.format(name="b"))
    b = write(tmp_path / "b.yaml", NS.format(name="c") + "---\n" + NS.format(name="D"))
    with pytest.raises(ManifestError) as info:
        load_paths([a, b])
    assert (info.value.source, info.value.document) == (str(b), 2)


# -- the returned objects -----------------------------------------------------------------------
def test_load_objects_does_not_change_its_input() -> None:
    docs = [
        yaml.safe_load(POD.format(name="a", app="a")),
        yaml.safe_load(DEPLOYMENT.format(kind="Deployment", replicas="  replicas: 2\n")),
        {"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(CONFIGMAP)]},
    ]
    before = copy.deepcopy(docs)
    result = load_objects(docs, "cells")
    assert docs == before
    assert names(result) == ["Pod/a", "Pod/web-0", "Pod/web-1"]
    assert result.objects[0] is docs[0]  # no copies of what was already valid
    assert result.notes == ["cells: document 3: items[0]: skipped kind ConfigMap (not used by NetworkPolicy)"]
    with pytest.raises(ManifestError, match="^cells: document 2: metadata.name"):
        load_objects([docs[0], {**docs[0], "metadata": {"name": "B"}}], "cells")


def test_loaded_objects_build_a_cluster() -> None:
    text = "---\n".join([
        NS.format(name="shop"),
        POD.format(name="web", app="web"),
        POD.format(name="api", app="api"),
        NETPOL.format(name="api-allow"),
        """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.1.1/4, except: ['10.0.0.0/8']}
    - ipBlock: {cidr: 'fd00::/8', except: ['fd00:1::/32']}
    ports:
    - {port: 30000, endPort: 32767}
    - {port: http, protocol: TCP}
""",
        "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  selector: {app: api}\n"
        "  ports: [{port: 80, targetPort: http}]\n",
    ])
    state = ClusterState.from_objects(load_text(text).objects)
    assert sorted(state.policies) == ["default/api-allow", "default/egress"]
    block = state.policies["default/egress"].egress[0].peers[0].ip_block
    assert block is not None and block.matches_ip("1.2.3.4") and not block.matches_ip("10.1.2.3")
    assert [p.name for p in state.endpoints(state.services["default/api"])] == ["api"]


# -- YAML reading ---------------------------------------------------------------------------------
def test_uses_libyaml_when_available() -> None:
    manifests._pyyaml()
    if getattr(yaml, "__with_libyaml__", False):
        assert manifests._LOADER is yaml.CSafeLoader


TRICKY_YAML = [
    "a: 1\nb: 0x1F\nc: 012\nd: 1_000\ne: 1:30\nf: 1.5\ng: .inf\nh: -.Inf\nj: yes\nk: No\nl: on\nm: ~\n"
    "n: null\no: ''\np: \"1\"\nq: 2024-01-02\nr: 2024-01-02T03:04:05Z\ns: +12\nt: -0\nu: 0b101\nw: 1e3\n"
    "x: 1.0e+3\ny: '<<'\nz: 0\n",
    "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 9\nn:\n  <<: *b\n  w: 0\n",
    "a: &x [1, {b: c}]\nb: *x\n",
    "- !!str 5\n- !!int '7'\n- !!float 1\n- !!binary aGk=\n- !!bool yes\n- ! 12\n",
    "a: !!set {x, y}\nb: !!omap [{x: 1}]\n",
    "a: |\n  text\n  more\nb: >\n  folded\n  line\nc: 'it''s'\nd: \"tab\\there\"\n",
    "---\n---\na: 1\n...\n---\n",
    "ünï: çødé\n🙂: x\nnum: ١٢\n",
    "{a: 1, b: [x, {c: d}], 3: three, null: n, true: t}\n",
    "- a\n- - b\n  - c\n- {}\n- []\n- ''\n-\n",
    "? [1, 2]\n: x\n",
]


@pytest.mark.parametrize("text", TRICKY_YAML)
def test_fast_reader_agrees_with_pyyaml(text: str) -> None:
    try:
        expected = list(yaml.load_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        with pytest.raises(ManifestError, match="invalid YAML"):
            parse_documents(text)
        return
    assert parse_documents(text) == expected


@pytest.mark.parametrize("text", TRICKY_YAML[:4])
def test_pure_python_fallback(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "_LOADER", yaml.SafeLoader)
    assert parse_documents(text) == list(yaml.load_all(text, Loader=yaml.SafeLoader))


def test_unknown_tag_and_undefined_alias_are_yaml_errors() -> None:
    assert "could not determine a constructor" in str(error_of("a: !Ref x\n"))
    assert str(error_of("a: 1\n---\nb: *nope\n")).startswith("bad.yaml: document 2: invalid YAML at line 3: ")


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["yes", "no", "on", "off", "~", "null", "0x10", "012", "1_0", "1:30", "<<", ".inf", "-.5",
                     "2024-01-01", "True", "NULL", "-", "- a", "a: b", "#x", "'q'", "\"", "!x", "&a", "*a"]),
)
keys = st.one_of(st.text(max_size=10), st.integers(0, 99), st.sampled_from(["yes", "null", "1.5", "on"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def pyyaml_or_error(text: str) -> list[Any] | None:
    """PyYAML's documents (with libyaml's parser when present, as the loader uses), or None when refused."""
    manifests._pyyaml()
    try:
        return list(yaml.load_all(text, Loader=manifests._LOADER))
    except (yaml.YAMLError, ValueError):
        return None


def agrees_with_pyyaml(text: str) -> None:
    """parse_documents and the yaml_rs fast path say what PyYAML says, or refuse what it refuses."""
    expected = pyyaml_or_error(text)
    fast = fast_documents(text)
    if expected is None:
        assert fast is None, (text, fast)
        with pytest.raises(ManifestError):
            parse_documents(text)
    else:
        assert fast is None or repr(fast) == repr(expected), (text, fast, expected)  # repr: True is not 1
        assert repr(parse_documents(text)) == repr(expected)


# Each of these once made the fast path differ from PyYAML (a NUL byte dropped the rest of
# the text, directives and odd characters were accepted, 1.2 numbers read as 1.1 strings).
SEEDED = [
    "a: 1\n\0b: 2\n", "- a\n- \0\n- b\n", "a: \"x\x01y\"\n", "a: x\x85y\n", "a: \u2028b\n", "a: x\x7fy\n",
    "%YAML 1.2\n---\na: 1\n", "%FOO bar\n---\na: 1\n", "%TAG ! tag:x,2000:\n---\na: !b 1\n",
    "a: 0o17\n", "a: 1e3\n", "a: 1_000\n", "a: 0b101\n", "a: 012\n", "a: 1:30\n", "a: 2024-01-01\n",
    "a: \"\\/\"\n", "a: \"\\N\"\n", "a:\tb\n", "a: b\r\nc: d\r\n", "a: \ufeffb\n", "a: \ufffe\n",
    "a: - b\n", "a: '08'\nb: 08\n", "name: auth-08d362b25\nhash: 087908ba1\nx: 0257e8454\n",
]


@pytest.mark.parametrize("text", SEEDED)
def test_fast_path_on_the_texts_that_once_differed(text: str) -> None:
    agrees_with_pyyaml(text)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(documents, min_size=1, max_size=3), st.booleans())
def test_fast_reader_round_trips_random_documents(docs: list[Any], flow: bool) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=flow, allow_unicode=True)
    agrees_with_pyyaml(text)


ODD = st.sampled_from(["\0", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\ufffe", "\t", "\r",
                       "%YAML 1.2\n---\n", "%TAG ! x:\n---\n", "!", "&a ", "*a", "<<: ", "0", "0o", "0x", "- ",
                       ": ", "\\", "\"", "'", "#", "\n", "---\n", "...\n", "? ", "[", "{", "1e3", "yes", "~"])


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.lists(documents, min_size=1, max_size=2), st.booleans(),
       st.lists(st.tuples(st.integers(0, 10_000), ODD), min_size=1, max_size=3))
def test_fast_reader_agrees_on_mutated_text(docs: list[Any], flow: bool, edits: list[tuple[int, str]]) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=flow, allow_unicode=True)
    for at, piece in edits:
        at %= len(text) + 1
        text = text[:at] + piece + text[at:]
    agrees_with_pyyaml(text)


ODD_TOKEN_TEMPLATES = ("a: {}", "{}: a", "- {}", "a:\n  - {}\n  - x", "- {}: 1", "a: {}\nb: 1", "k:\n  {}: 1\n",
                       "a: b\n  {}\n", "---\n{}\n", "{}\n", "a:\n  {}\n")


def test_fast_path_on_thousands_of_odd_tokens_in_every_position() -> None:
    """Tokens that YAML 1.1, YAML 1.2 and yaml_rs's leniency read differently (``_1``, ``0X1F``,
    ``1:30``, ``[x:]``, ``: a``...), placed as values, keys, items: where the fast path answers,
    its answer is PyYAML's. (A seeded sample; a run over 500,000 texts found no difference.)"""
    import random

    rnd = random.Random(7)
    alphabet = "0123456789._:eE+-xXoObBinfINFaAnNtTyYsS~=lLuUrR#%@`,\"' "
    tokens = {"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8))) for _ in range(2500)}
    tokens |= {"inf", ".nan", "Infinity", "_1", "0X1F", "1_000", "1:30", "2024-01-01", "yes", "On", ":", "::", "-"}
    answered = 0
    for token in sorted(tokens):
        for template in ODD_TOKEN_TEMPLATES:
            text = template.format(token)
            fast = fast_documents(text)
            if fast is not None:
                answered += 1
                assert repr(fast) == repr(pyyaml_or_error(text)), text  # repr: True is not 1 here
    assert answered > 10_000  # the check is not vacuous: most of these texts are answered


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.text(alphabet="0123456789-+._:eExXoObB~<=yesnotrufalYNTF aninfNAIt", max_size=14),
                 st.sampled_from(["2024-01-02", "2024-1-2 3:04:05", "2001-12-14t21:59:43.10-05:00", ".nan",
                                  "-.inf", "0b1_0", "190:20:30", "1_000.5", "+12", "0x_1F", "=", "<<", ""])))
def test_own_yaml_1_1_table_matches_pyyaml(value: str) -> None:
    from nphelpers.yamlio import _YAML11_NOT_STR

    assert bool(_YAML11_NOT_STR.fullmatch(value)) == (manifests._resolve(value) is not None), value


# -- speed -------------------------------------------------------------------------------------------
POD_TEMPLATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-{i}
  namespace: ns-{ns}
  labels:
    app: app-{app}
    tier: backend
    example.com/team: team-{team}
    pod-template-hash: 087908ba1
spec:
  containers:
  - name: main
    image: nginx:1.25
    ports:
    - containerPort: 80
      name: http
      protocol: TCP
    - containerPort: 9090
      name: metrics
status:
  podIP: 10.244.{ns}.{app}
"""


def test_ten_thousand_pods_load(tmp_path: Path) -> None:
    # How fast is a figure for benchmarks/ (a script that prints it), not a timed test.
    path = tmp_path / "pods.yaml"
    path.write_text("---\n".join(POD_TEMPLATE.format(i=i, ns=i % 20, app=i % 50, team=i % 7) for i in range(10_000)))
    result = load_paths([path])
    assert len(result.objects) == 10_000
    last = result.objects[-1]["metadata"]
    assert (last["name"], last["namespace"], last["labels"]["app"]) == ("pod-9999", "ns-19", "app-49")


def test_generated_pods_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordinary generated manifests (block style; names with digits and dashes, hashes, addresses)
    are read by yaml_rs, not the slow builder.

    Replaces a timed test: what made loading slow was files falling back, and that is countable.
    """
    if manifests.fast_documents_counted("a: 1") is None:
        pytest.skip("yaml_rs is not installed")
    calls: list[int] = []
    real = manifests._fast_documents
    monkeypatch.setattr(manifests, "_fast_documents", lambda text, budget: calls.append(1) or real(text, budget))
    path = tmp_path / "pods.yaml"
    names = [f"auth-08d362b25-{i:05x}" for i in range(2_000)]
    path.write_text("---\n".join(POD_TEMPLATE.format(i=n, ns=i % 20, app=i % 50, team=i % 7)
                                 for i, n in enumerate(names)))
    result = load_paths([path])
    assert len(result.objects) == 2_000 and calls == []
