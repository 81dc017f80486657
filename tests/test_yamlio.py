"""The yaml_rs accelerator answers only when its answer is exactly PyYAML's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nphelpers import yamlio

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(yamlio.yaml_rs is None, reason="yaml_rs is not installed")


def pyyaml(text: str) -> list[object]:
    return list(yaml.load_all(text, Loader=yaml.SafeLoader))


@pytest.mark.parametrize("text", [
    "a: 1", "---\na: 1", "# c\n---\na: 1", "a: 1\n---\nb: 2", "---\n---\na: 1", "---\n- a\n- b", "- a\n- b", "",
    "# only", "---\na: 1\n---\n", "---\n-\n  a: 1\n", "a: ~\nb: null\nc: true",
    "labels:\n  monitoring: \"true\"\n  app: web\n", "ports:\n- 80\n- 443\n", "a: {}\nb: []\n", "a: '1.5'\n",
    "name: auth-08d362b25\nhash: 087908ba1\nip: 10.244.0.10\nimage: nginx:1.25\n",
    # hash-like names that only look like hex, octal, binary or exponent numbers stay on the fast path
    "hash: bb9e1b23f\nother: 0b2f0b802\nthird: 37012192e\n",
])
def test_agrees_with_pyyaml_where_it_answers(text: str) -> None:
    fast = yamlio.fast_documents(text)
    assert fast is not None
    assert fast == pyyaml(text)


@pytest.mark.parametrize("text", [
    "a: on", "a: yes", "a: Off", "a: 0777", "a: 0o17", "a: 2024-01-01", "a: 1:20", "a: 1e3", "a: 1.5",
    "b: &x {k: 1}\nc:\n  <<: *x", "a: !!str 12", "a: 1\na: 2", "a: [1,\nb: 2", "%YAML 1.1\n--- !tag\na: 1",
    "a: 1\n...\n---\nb: 2", "...\nnull\n...\n", "a: 1\0b: 2", "%FOO x\n---\na: 1", "a: 0257e8454",
    "a: |\n  text\n", "labels: {app: web}", "ports: [80, 443]", "a: _1", "a: 0X1F", "a: 1_000", ": a", "? a\n: b",
    "a: [x:]", "k:\n  > #: 1\n",
])
def test_gives_up_where_yaml_1_1_and_1_2_differ_or_input_is_bad(text: str) -> None:
    assert yamlio.fast_documents(text) is None


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.yaml"))
                         + sorted((ROOT / "tests" / "data" / "conformance").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_agrees_on_the_project_yaml(path: Path) -> None:
    text = path.read_text()
    fast = yamlio.fast_documents(text)
    if fast is not None:
        assert fast == pyyaml(text)
