"""Every student mistake is one line: run through a real IPython shell, as Jupyter runs cells.

Each case is a cell a student might type; the shell must print exactly one ``error: ...``
line on stderr and no traceback anywhere, and the lab must be unchanged (nothing printed as
if it had happened). The silently-wrong answers (a string port, a lowercase protocol) are
checked to give the right answer instead.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pytest

from nphelpers.errors import NphelpersError, UsageError
from nphelpers.lab import Lab
from nphelpers.lessons import deploy_lesson_02

SETUP = """
from nphelpers import Lab
from nphelpers.lessons import deploy_lesson_02
lab = Lab(backend="simulated", namespace="lesson-02")
deploy_lesson_02(lab)
"""

LONG_YAML = (
    "{apiVersion: v1, kind: Pod, metadata: {name: " + "a" * 300 + "}, spec: {containers: [{name: c, image: i}]}}"
)

MISTAKES: dict[str, tuple[str, str]] = {
    # id: (cell, text the error line must contain)
    "label-with-a-bare-key": ("lab.label('test-blocked', 'a=b,c')", "'c' is not of the form key=value"),
    "label-empty-key": ("lab.label('test-blocked', '=x')", "name part must be non-empty"),
    "label-key-too-long": ("lab.label('test-blocked', 'k' * 300 + '=v')", "no more than 63 characters"),
    "label-value-invalid": ("lab.label('test-blocked', 'app=-a')", "invalid label 'app=-a': a valid label value"),
    "unlabel-managed-by": ("lab.unlabel('test-blocked', 'app.kubernetes.io/managed-by')", "cannot be changed"),
    "label-no-change": ("lab.label('test-blocked')", "say which labels to change"),
    "label-a-service": ("lab.label('apiserver', 'a=b', kind='service')", "pods and namespaces"),
    "wget-without-source": ("lab.wget('apiserver')", "say which pod the request comes from"),
    "wget-port-abc": ("lab.wget('apiserver', from_pod='test-allowed', port='abc')", "port must be a whole number"),
    "wget-port-zero": ("lab.wget('apiserver', from_pod='test-allowed', port=0)", "port must be from 1 to 65535"),
    "wget-timeout-huge": ("lab.wget('apiserver', from_pod='test-allowed', timeout=3600)", "timeout"),
    "wget-missing-pod": ("lab.wget('apiserver', from_pod='ghost')", 'pods "ghost" not found'),
    "run-expose-without-port": ("lab.run('web', expose=True)", "expose=True needs a port"),
    "run-bad-name": ("lab.run('Bad_Name')", "metadata.name"),
    "run-bad-labels": ("lab.run('web', labels='app')", "'app' is not of the form key=value"),
    "run-command-string": ("lab.run('web', command='sleep 10')", "command must be a list"),
    "run-bad-namespace": ("lab.run('web', namespace='Prod')", "namespace 'Prod'"),
    "cat-missing-file": ("lab.cat('manifests/nope.yaml')", "cat: manifests/nope.yaml: No such file or directory"),
    "apply-long-one-line-yaml": (f"lab.apply({LONG_YAML!r})", "metadata.name"),
    "apply-missing-file": ("lab.apply('nope/api-allow.yaml')", "nope/api-allow.yaml"),
    "apply-empty": ("lab.apply('')", "empty string"),
    "plot-compare-after-cleanup": (
        "before = lab.matrix()\nlab.cleanup()\nlab.plot(compare=before)", "compare= is a matrix of other pods"),
    "plot-compare-not-a-matrix": ("lab.plot(compare='before')", "compare= takes a matrix"),
    "matrix-port-eighty": ("lab.matrix(port='eighty')", "port must be a whole number"),
    "matrix-protocol-http": ("lab.matrix(protocol='http')", "protocol must be one of TCP, UDP, SCTP"),
    "expose-missing-pod": ("lab.expose('ghost', 80)", 'pods "ghost" not found'),
    "expose-existing-service": ("lab.expose('apiserver', 80)", 'services "apiserver" already exists'),
    "expose-bad-target-port": ("lab.expose('apiserver', 81, target_port='HTTP_PORT', name='x')", "target_port"),
    "delete-unknown-kind": ("lab.delete('deployment', 'web')", "unknown kind 'deployment'"),
    "explain-missing-pod": ("lab.explain('ghost', 'apiserver')", 'pods "ghost" not found'),
    "explain-bad-ref": ("lab.explain('a/b/c', 'apiserver')", "not of the form NAME or NAMESPACE/NAME"),
    "policy-missing": ("lab.describe_policy('nope')", 'networkpolicies.networking.k8s.io "nope" not found'),
    "create-existing-namespace": ("lab.create_namespace('lesson-02')", 'namespaces "lesson-02" already exists'),
    "ref-and-namespace": ("lab.label('prod/web', 'a=b', namespace='prod')", "do not also give namespace="),
}

FIRST_LAB: dict[str, tuple[str, str]] = {
    "unknown-backend": ("from nphelpers import Lab\nLab(backend='quantum')", 'unknown backend "quantum"'),
    "bad-home-namespace": ("from nphelpers import Lab\nLab(backend='simulated', namespace='Lesson 2')",
                           "namespace 'Lesson 2'"),
    "kind-without-kubeconfig": ("from nphelpers import Lab\nLab(backend='kind')", "no kubeconfig found"),
}


@contextlib.contextmanager
def shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    try:
        yield sh
    finally:
        InteractiveShell.clear_instance()


def run_mistake(sh: Any, cell: str, capfd: pytest.CaptureFixture[str]) -> tuple[str, str]:
    capfd.readouterr()
    sh.run_cell(cell)
    captured = capfd.readouterr()
    return captured.out, captured.err


def assert_one_line(out: str, err: str, needle: str) -> None:
    assert "Traceback" not in out + err, out + err
    errors = [line for line in (out + err).splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.strip() == errors[0], (out, err)
    assert needle in errors[0], errors[0]


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_a_mistake_is_one_line(case: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                               tmp_path: Any) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    cell, needle = MISTAKES[case]
    with shell() as sh:
        sh.run_cell(SETUP)
        before = sh.user_ns["lab"].state()
        out, err = run_mistake(sh, cell, capfd)
        after = sh.user_ns["lab"].state()
    assert_one_line(out, err, needle)
    if "cleanup" not in cell:  # nothing happened: no kubectl line printed, nothing changed
        assert "$ kubectl" not in out, out
        assert after.pods == before.pods and after.services.keys() == before.services.keys()


@pytest.mark.parametrize("case", sorted(FIRST_LAB))
def test_the_first_lab_failing_is_one_line(case: str, capfd: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("NPHELPERS_BACKEND", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    cell, needle = FIRST_LAB[case]
    with shell() as sh:
        out, err = run_mistake(sh, cell, capfd)
    assert_one_line(out, err, needle)


def test_an_error_line_stays_short_whatever_the_input(capfd: pytest.CaptureFixture[str]) -> None:
    with shell() as sh:
        sh.run_cell(SETUP)
        out, err = run_mistake(sh, "lab.label('test-blocked', 'k' * 100000 + '=v\\n')", capfd)
    assert_one_line(out, err, "invalid label")
    assert len(err) < 500


def test_mistakes_are_nphelpers_errors_and_value_errors() -> None:
    lab = Lab(backend="simulated", out=False)
    for call in (lambda: lab.matrix(port="abc"), lambda: lab.wget("x"), lambda: lab.label("x", "a=b,c")):
        with pytest.raises(UsageError) as info:
            call()
        assert isinstance(info.value, NphelpersError) and isinstance(info.value, ValueError)


# -- silently wrong answers: the obvious spellings mean what they say -------------------------
def lesson() -> Lab:
    lab = Lab(backend="simulated", namespace="lesson-02", out=False)
    deploy_lesson_02(lab)
    return lab


def test_a_port_given_as_a_string_is_the_same_port() -> None:
    lab = lesson()
    by_int, by_str = lab.matrix(port=80), lab.matrix(port="80")
    assert by_str.port == 80 and (by_str.allowed == by_int.allowed).all()
    assert by_str.is_allowed("lesson-02/test-allowed", "lesson-02/apiserver")
    assert lab.verdict("test-allowed", "apiserver", port=" 80 ").allowed


def test_a_lowercase_protocol_is_the_protocol() -> None:
    lab = lesson()
    tcp = lab.matrix(protocol="tcp")
    assert tcp.protocol == "TCP" and (tcp.allowed == lab.matrix().allowed).all()
    assert lab.verdict("test-allowed", "apiserver", protocol="Tcp").allowed


def test_expose_stores_a_numeric_target_port() -> None:
    lab = lesson()
    lab.expose("test-allowed", "80")
    port = lab.state().services["lesson-02/test-allowed"].ports[0]
    assert (port.port, port.target_port) == (80, 80)
    lab.expose("apiserver", "8080", target_port="80", name="api-8080")
    assert lab.state().services["lesson-02/api-8080"].ports[0].target_port == 80


def test_output_goes_to_the_stream_current_when_printing() -> None:
    lab = Lab(backend="simulated", namespace="lesson-02", out=None)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        lab.run("web", labels="app=web")
    assert captured.getvalue().startswith("$ kubectl run web")
    silent = Lab(backend="simulated", out=False)
    with contextlib.redirect_stdout(captured):
        silent.run("quiet-one")
    assert "quiet-one" not in captured.getvalue()
