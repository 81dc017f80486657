"""The lesson widgets driven without a browser: their plain methods and rendered properties."""

from __future__ import annotations

import io

import matplotlib
import pytest

matplotlib.use("Agg")  # no display in CI; set before plotting imports pyplot

ipywidgets = pytest.importorskip("ipywidgets")

from nphelpers import kubectl  # noqa: E402
from nphelpers.backends.simulated import SimulatedCluster  # noqa: E402
from nphelpers.lab import Lab  # noqa: E402
from nphelpers.lessons import api_allow_yaml, deploy_lesson_02  # noqa: E402
from nphelpers.widgets import LabelToggles, PolicyEditor  # noqa: E402

NS = "lesson-02"
API_ALLOW = api_allow_yaml()
API = f"{NS}/apiserver"
BLOCKED = f"{NS}/test-blocked"
ALLOWED = f"{NS}/test-allowed"
NGINX_TITLE = "<title>Welcome to nginx!</title>"


def lesson_lab(policy: bool = True, backend: str | SimulatedCluster = "simulated") -> Lab:
    """Lesson 2: an nginx apiserver behind a Service, two clients, and (optionally) api-allow."""
    lab = Lab(backend=backend, namespace=NS, out=False)
    deploy_lesson_02(lab, policy=policy)
    return lab


@pytest.fixture
def lab() -> Lab:
    return lesson_lab()


@pytest.fixture
def toggles(lab: Lab) -> LabelToggles:
    return LabelToggles(lab)


def probe_of(toggles: LabelToggles, source: str) -> object:
    return next(r for r in toggles.probe_results if r.source == source)


# -- LabelToggles ---------------------------------------------------------------------
def test_initial_render(toggles: LabelToggles) -> None:
    assert toggles.matrix.pods == [API, ALLOWED, BLOCKED]
    assert toggles.previous_matrix is None
    assert not toggles.matrix.is_allowed(BLOCKED, API)
    assert toggles.matrix.is_allowed(ALLOWED, API)
    # Clients are the pods not behind the apiserver Service, probed at once on the simulator.
    assert toggles.clients == [ALLOWED, BLOCKED]
    assert [(r.source, r.outcome) for r in toggles.probe_results] == [(ALLOWED, "allowed"), (BLOCKED, "blocked")]
    assert b"<svg" in toggles.image and toggles._w_image.format == "svg+xml"  # SVG by default: fastest
    assert toggles.error is None and toggles.last_command == ""
    # The default pair is the interesting one: the blocked client -> the server.
    assert toggles.explanation.startswith(f"{BLOCKED} -> {API} on 80/TCP: BLOCKED")


def test_toggle_app_bookstore_flips_probe_and_exactly_one_cell(lab: Lab, toggles: LabelToggles) -> None:
    blocked = probe_of(toggles, BLOCKED)
    assert blocked.outcome == "blocked" and blocked.output == kubectl.WGET_TIMEOUT  # type: ignore[attr-defined]

    toggles.toggle("test-blocked", "app", "bookstore", True)

    assert lab.state().pods[BLOCKED].labels["app"] == "bookstore"
    probe = probe_of(toggles, BLOCKED)
    assert probe.outcome == "allowed" and NGINX_TITLE in probe.output  # type: ignore[attr-defined]
    assert toggles.matrix.is_allowed(BLOCKED, API)
    assert toggles.previous_matrix is not None and not toggles.previous_matrix.is_allowed(BLOCKED, API)
    assert toggles.changes == [(BLOCKED, API, False, True)]  # the diff marks exactly that cell
    assert toggles.last_command == "kubectl label pod test-blocked app=bookstore --overwrite -n lesson-02"
    assert toggles.last_output == "pod/test-blocked labeled"
    assert toggles.error is None

    # ...and back: untick removes the key, as `kubectl label pod X app-` does.
    toggles.toggle("test-blocked", "app", "bookstore", False)
    assert "app" not in lab.state().pods[BLOCKED].labels
    assert toggles.last_command == "kubectl label pod test-blocked app- -n lesson-02"
    assert probe_of(toggles, BLOCKED).outcome == "blocked"  # type: ignore[attr-defined]
    assert toggles.changes == [(BLOCKED, API, True, False)]


def test_widgets_follow_the_state(toggles: LabelToggles) -> None:
    box = toggles._w_checks[(BLOCKED, "app", "bookstore")]
    assert box.value is False
    toggles.set_label("test-blocked", "app=bookstore")  # the free text box ticks the checkbox too
    assert box.value is True
    assert "app=bookstore" in toggles._w_current[BLOCKED].value
    assert "managed-by" not in toggles._w_current[BLOCKED].value
    assert "kubectl label pod test-blocked app=bookstore --overwrite" in toggles._w_command.value
    assert toggles._w_image.value == toggles.image
    # Clicking the checkbox in the browser sets its value: the handler does the same as toggle().
    box.value = False
    assert "app" not in toggles.lab.state().pods[BLOCKED].labels
    assert toggles.last_command == "kubectl label pod test-blocked app- -n lesson-02"


def test_removing_role_api_unselects_the_server(lab: Lab, toggles: LabelToggles) -> None:
    toggles.toggle("apiserver", "role", "api", False)
    assert toggles.last_command == "kubectl label pod apiserver role- -n lesson-02"
    assert toggles.matrix.allowed.all()  # api-allow selects nobody now: everything is allowed
    assert toggles.changes == [(BLOCKED, API, False, True)]
    # The Service selects role=api too: it lost its endpoint, so wget is refused, not timed out.
    assert [r.outcome for r in toggles.probe_results] == ["refused", "refused"]
    toggles.select("test-blocked", "apiserver")
    assert "ALLOWED" in toggles.explanation.splitlines()[0]
    assert "no policy selects" in toggles.explanation


def test_remove_label_free_text(lab: Lab, toggles: LabelToggles) -> None:
    toggles.remove_label("apiserver", "role")
    assert "role" not in lab.state().pods[API].labels
    assert toggles.last_command == "kubectl label pod apiserver role- -n lesson-02"
    toggles.set_label("apiserver", "role=api")
    toggles.set_label("apiserver", "role-")  # key- removes, as on the kubectl command line
    assert "role" not in lab.state().pods[API].labels


def test_select_updates_explanation(toggles: LabelToggles) -> None:
    toggles.select("test-allowed", "apiserver")
    assert toggles.explanation.startswith(f"{ALLOWED} -> {API} on 80/TCP: ALLOWED")
    assert "ingress rule 1 of lesson-02/api-allow admits" in toggles.explanation
    assert (toggles._w_from.value, toggles._w_to.value) == (ALLOWED, API)
    toggles.select("test-blocked", "apiserver")
    assert "BLOCKED" in toggles.explanation.splitlines()[0]
    # The dropdowns drive select() too.
    toggles._w_from.value = ALLOWED
    assert toggles.source == ALLOWED and "ALLOWED" in toggles.explanation.splitlines()[0]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("app=book store", 'invalid value "book store"'),
        ("bad key!=x", 'invalid value "bad key!"'),
        ("app", "is not key=value"),
        ("", "type a label"),
        ("=bookstore", "name part must be non-empty"),
    ],
)
def test_bad_free_text_changes_nothing(lab: Lab, toggles: LabelToggles, text: str, fragment: str) -> None:
    before = lab.state().pods[BLOCKED].labels
    matrix = toggles.matrix
    toggles.set_label("test-blocked", text)
    assert toggles.error is not None and fragment in toggles.error
    assert "\n" not in toggles.error
    assert lab.state().pods[BLOCKED].labels == before
    assert toggles.matrix is matrix and toggles.last_command == ""
    assert "error:" in toggles._w_error.value
    # The next good change clears the error.
    toggles.set_label("test-blocked", "tier=web")
    assert toggles.error is None and toggles._w_error.value == ""


def test_unknown_pod_is_an_inline_error(toggles: LabelToggles) -> None:
    toggles.toggle("nope", "app", "bookstore", True)
    assert toggles.error is not None and "nope" in toggles.error
    toggles.select("nope", "apiserver")
    assert toggles.error is not None and "nope" in toggles.error


def test_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    lab = lesson_lab()
    lab._out = io.StringIO()
    toggles = LabelToggles(lab)
    toggles.toggle("test-blocked", "app", "bookstore", True)
    PolicyEditor(lab, API_ALLOW).apply()
    assert lab._out.getvalue() == ""  # type: ignore[attr-defined]
    assert capsys.readouterr().out == ""


def test_kind_backend_probes_on_demand() -> None:
    # On kind probes take seconds: they wait for the "probe now" button; the prediction stays instant.
    lab = lesson_lab(backend=SimulatedCluster(name="kind"))  # answers like kind, instantly
    toggles = LabelToggles(lab)
    assert not toggles.auto_probe and toggles.probe_results == []
    assert "probe now" in toggles._w_probes.value
    toggles.toggle("test-blocked", "app", "bookstore", True)
    assert toggles.probe_results == [] and toggles.matrix.is_allowed(BLOCKED, API)
    button = next(w for w in _walk(toggles.view()) if isinstance(w, ipywidgets.Button)
                  and w.description == "probe now")
    button.click()
    assert [r.outcome for r in toggles.probe_results] == ["allowed", "allowed"]
    toggles.toggle("test-blocked", "app", "bookstore", False)
    assert toggles.probes_stale and "old results" in toggles._w_probes.value
    assert toggles.probe()[1].outcome == "blocked" and not toggles.probes_stale


def _walk(widget: object) -> list[object]:
    """Every widget inside a container, depth first."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _walk(child)
    return found


def test_no_target_service_no_probes() -> None:
    lab = lesson_lab()
    toggles = LabelToggles(lab, target="nothing-here")
    assert toggles.clients == [] and toggles.probe_results == []
    toggles.toggle("test-blocked", "app", "bookstore", True)
    assert toggles.matrix.is_allowed(BLOCKED, API)


def test_buttons_call_the_methods(lab: Lab, toggles: LabelToggles) -> None:
    text, add, remove = toggles._w_text[BLOCKED]
    text.value = "app=bookstore"
    add.click()
    assert lab.state().pods[BLOCKED].labels["app"] == "bookstore"
    assert probe_of(toggles, BLOCKED).outcome == "allowed"  # type: ignore[attr-defined]
    text.value = "app"
    remove.click()
    assert "app" not in lab.state().pods[BLOCKED].labels


def test_backend_failure_keeps_checkbox_honest(lab: Lab, toggles: LabelToggles) -> None:
    lab.delete("pod", "test-blocked")  # gone behind the widget's back
    box = toggles._w_checks[(BLOCKED, "app", "bookstore")]
    box.value = True  # the student clicks
    assert toggles.error is not None and "test-blocked" in toggles.error
    assert box.value is False
    toggles.refresh()  # the widget copes with the pod being gone
    assert toggles.matrix.pods == [API, ALLOWED]
    assert [r.source for r in toggles.probe_results] == [ALLOWED]
    assert box.disabled and "deleted" in toggles._w_current[BLOCKED].value


def test_png_images(lab: Lab) -> None:
    toggles = LabelToggles(lab, image_format="png")
    toggles.toggle("test-blocked", "app", "bookstore", True)
    assert toggles.image.startswith(b"\x89PNG")
    assert toggles._w_image.format == "png" and toggles._w_image.value == toggles.image
    editor = PolicyEditor(lab, API_ALLOW, image_format="png")
    editor.apply()
    assert editor.image.startswith(b"\x89PNG")


def test_view_is_a_box(toggles: LabelToggles) -> None:
    view = toggles.view()
    assert isinstance(view, ipywidgets.Box)
    assert view is toggles.view()  # built once
    assert isinstance(toggles.lab.widget(), ipywidgets.Box)


# -- PolicyEditor ---------------------------------------------------------------------
def test_editor_rejects_bad_policy_inline() -> None:
    lab = lesson_lab(policy=False)
    bad = API_ALLOW.replace("matchLabels:\n      app: bookstore\n      role: api",
                            "matchExpressions:\n    - {key: app, operator: Equals, values: [bookstore]}")
    editor = PolicyEditor(lab, bad)
    error = editor.validate()
    assert error is not None and error == editor.message == editor.error
    assert error.startswith("editor: document 1: spec.podSelector.matchExpressions[0].operator")
    assert "Equals" in error and "\n" not in error
    assert "color:#b00020" in editor._w_message.value
    assert editor.apply() == []
    assert lab.state().policies == {}


def test_editor_rejects_broken_yaml() -> None:
    editor = PolicyEditor(lesson_lab(policy=False), "kind: [NetworkPolicy\n")
    error = editor.validate()
    assert error is not None and error.startswith("editor") and "\n" not in error
    editor.text = ""
    assert "nothing to apply" in (editor.validate() or "")


def test_editor_applies_good_policy() -> None:
    lab = lesson_lab(policy=False)
    editor = PolicyEditor(lab, API_ALLOW)
    assert editor._w_image.layout.display == "none"  # no picture before the first apply
    assert editor.validate() is None
    assert editor.message == "valid: networkpolicy.networking.k8s.io/api-allow"
    lines = editor.apply()
    assert lines == ["networkpolicy.networking.k8s.io/api-allow created"]
    assert editor.lines == lines and "api-allow created" in editor.message
    policy = lab.state().policies[f"{NS}/api-allow"]
    assert policy.manifest is not None  # applied through the lab: in its namespace, with its label
    assert policy.manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nphelpers"
    assert editor.matrix is not None and not editor.matrix.is_allowed(BLOCKED, API)
    assert editor.previous_matrix is not None and editor.previous_matrix.is_allowed(BLOCKED, API)
    assert b"<svg" in editor.image and editor._w_image.value == editor.image
    assert editor._w_image.layout.display is None  # hidden until there is a picture
    assert lab.backend.wget(BLOCKED, "http://apiserver", 2).outcome == "blocked"
    assert editor.apply() == ["networkpolicy.networking.k8s.io/api-allow unchanged"]


def test_editor_view_is_a_box() -> None:
    lab = lesson_lab(policy=False)
    assert isinstance(PolicyEditor(lab, API_ALLOW).view(), ipywidgets.Box)
    assert isinstance(lab.policy_editor(API_ALLOW), ipywidgets.Box)
