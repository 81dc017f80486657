"""Predict, then reveal: the scored prediction (for nbval) and the widget, driven without a browser."""

from __future__ import annotations

import io

import pytest

from nphelpers.errors import ManifestError, UsageError
from nphelpers.lab import Lab
from nphelpers.lessons import api_allow_yaml, deploy_lesson_02
from nphelpers.predict import PredictionResult, PredictWidget, score

NS = "lesson-02"
DENY_ALL = ("kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: deny-all}\n"
            "spec: {podSelector: {}}\n")


def lesson(policy: bool = True) -> tuple[Lab, io.StringIO]:
    out = io.StringIO()
    lab = Lab(backend="simulated", namespace=NS, out=out)
    deploy_lesson_02(lab, policy=policy)
    out.seek(0)
    out.truncate()
    return lab, out


def test_a_right_prediction_scores_full_marks() -> None:
    lab, out = lesson()
    result = lab.predict(blocked=[("test-blocked", "apiserver")])
    assert isinstance(result, PredictionResult) and result
    assert (result.right, result.total, result.surprises) == (6, 6, ())
    assert out.getvalue() == ("Your prediction on 80/TCP: 6 of 6 connections right.\n"
                              "No surprises: the cluster does what you expected.\n")


def test_surprises_are_listed_both_ways() -> None:
    lab, out = lesson()
    result = lab.predict(blocked=[("test-allowed", "apiserver")])
    assert not result
    assert out.getvalue() == (
        "Your prediction on 80/TCP: 4 of 6 connections right.\n"
        "Surprises:\n"
        "  test-allowed → apiserver: you expected blocked, it is allowed\n"
        "  test-blocked → apiserver: you expected allowed, it is blocked\n"
    )
    assert [(s.source, s.expected, s.actual) for s in result.surprises] == [
        (f"{NS}/test-allowed", "blocked", "allowed"), (f"{NS}/test-blocked", "allowed", "blocked")]


def test_one_pair_and_patterns() -> None:
    lab, _ = lesson()
    assert lab.predict(blocked=("test-blocked", "apiserver"))  # one pair on its own
    everyone = lab.predict(blocked=[("*", "apiserver")])  # "nobody reaches the API"
    assert [s.describe(NS) for s in everyone.surprises] == [
        "test-allowed → apiserver: you expected blocked, it is allowed"]


def test_predict_after_a_policy_changes_nothing() -> None:
    lab, out = lesson(policy=False)
    result = lab.predict(blocked=[("*", "*")], after=DENY_ALL)
    assert result and result.total == 6
    assert lab.state().policies == {}  # judged on a copy
    assert lab.predict(blocked=[]).right == 6  # and now, without it, everything is open


def test_predict_after_api_allow_file(tmp_path) -> None:
    path = tmp_path / "api-allow.yaml"
    path.write_text(api_allow_yaml())
    lab, _ = lesson(policy=False)
    assert lab.predict(blocked=[("test-blocked", "apiserver")], after=path)
    assert not lab.state().policies


@pytest.mark.parametrize(("blocked", "message"), [
    ([("nobody", "apiserver")], "no connection nobody → apiserver in the matrix (its pods: apiserver, test-allowed, "
                                "test-blocked)"),
    ([("apiserver", "apiserver")], "apiserver → apiserver: a pod always reaches itself"),
    (["apiserver"], "a prediction is a (source, destination) pair of pod names, not 'apiserver'"),
])
def test_bad_predictions_are_one_line_errors(blocked, message) -> None:
    lab, out = lesson()
    with pytest.raises(UsageError) as caught:
        lab.predict(blocked=blocked)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert out.getvalue() == ""


def test_bad_yaml_after_is_one_line() -> None:
    lab, _ = lesson()
    with pytest.raises(ManifestError, match=r"^<answer>: document 1: invalid YAML"):
        lab.predict(blocked=[], after="kind: NetworkPolicy\nspec: [")


def test_score_uses_the_given_matrix_only() -> None:
    lab, _ = lesson()
    matrix = lab.matrix()
    assert score(matrix, [(f"{NS}/test-blocked", f"{NS}/apiserver")], NS).right == 6


# -- the widget ----------------------------------------------------------------------------
ipywidgets = pytest.importorskip("ipywidgets")


def test_widget_marks_and_reveals() -> None:
    lab, out = lesson()
    widget = lab.predict()
    assert isinstance(widget, PredictWidget)
    box = widget.view()
    assert isinstance(box, ipywidgets.VBox)
    toggles = widget._toggles
    assert len(toggles) == 6  # 3 pods, the diagonal shown as "self"
    toggles[(f"{NS}/test-allowed", f"{NS}/apiserver")].value = True  # a click
    widget.mark("test-blocked", "apiserver")
    assert toggles[(f"{NS}/test-blocked", f"{NS}/apiserver")].value is True  # the grid follows mark()
    widget.mark("test-allowed", "apiserver", blocked=False)
    assert widget.marked == {(f"{NS}/test-blocked", f"{NS}/apiserver")}
    widget._button.click()
    assert widget.result is not None and widget.result
    assert "6 of 6 connections right" in widget._output.value
    assert all(t.disabled and t.button_style == "success" for t in toggles.values())
    with pytest.raises(UsageError, match="already revealed"):
        widget.mark("test-allowed", "apiserver")
    assert out.getvalue() == ""  # the widget shows its result itself


def test_widget_shows_surprises_in_red() -> None:
    lab, _ = lesson()
    widget = lab.predict()
    widget.view()
    widget.mark("test-allowed", "apiserver")
    result = widget.reveal()
    assert result.right == 4
    styles = {pair: t.button_style for pair, t in widget._toggles.items()}
    assert styles[(f"{NS}/test-allowed", f"{NS}/apiserver")] == "danger"
    assert styles[(f"{NS}/test-blocked", f"{NS}/apiserver")] == "danger"
    assert styles[(f"{NS}/apiserver", f"{NS}/test-allowed")] == "success"
    assert "test-blocked → apiserver: you expected allowed, it is blocked" in widget._output.value


def test_widget_reveals_the_truth_at_reveal_time_without_a_view() -> None:
    lab, _ = lesson(policy=False)
    widget = lab.predict()
    widget.mark("test-blocked", "apiserver")
    lab.apply(api_allow_yaml())  # predict first, act, then reveal
    assert widget.reveal()


def test_widget_refuses_unknown_pairs() -> None:
    lab, _ = lesson()
    widget = lab.predict()
    with pytest.raises(UsageError, match="no connection apiserver → apiserver"):
        widget.mark("apiserver", "apiserver")
