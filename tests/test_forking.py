"""Loads and outputs shared with forked workers give exactly what one process gives.

Every test compares with the one-process answer (objects, notes, the error message, the
output's bytes), and counts the workers started, so that a shared path that silently fell
back to one process cannot pass as shared.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nphelpers import forking, jsonout, manifests
from nphelpers.cli import main
from nphelpers.cluster import ClusterState
from nphelpers.errors import ManifestError
from nphelpers.matrix import reachability

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked processes")

ROOT = Path(__file__).resolve().parent.parent


def _pod(name: str, app: str, ns: str = "shop") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {app}\n"
            "spec:\n  containers:\n  - name: c\n    image: nginx\n    ports:\n    - containerPort: 80\n")


_POLICY = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: only-web\n  namespace: shop\n"
           "spec:\n  podSelector:\n    matchLabels:\n      app: db\n  ingress:\n  - from:\n    - podSelector:\n"
           "        matchLabels:\n          app: web\n")
_CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Forking allowed whatever else runs in the test process; counts the workers started."""
    started: list[int] = []
    real = forking.Worker

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object) -> None:
            started.append(1)
            super().__init__(*args)

    monkeypatch.setattr(forking, "can_fork", lambda: True)
    monkeypatch.setattr(forking, "Worker", Counted)
    return started


def _directory(tmp_path: Path, count: int = 80) -> Path:
    for i in range(count):
        parts = [_pod(f"web-{i}", "web" if i % 3 else "db")]
        if i % 10 == 7:
            parts.append(_CONFIG.replace("settings", f"settings-{i}"))  # a note, in both halves
        if i == 41:
            parts.append("")  # an empty document is counted
            parts.append(_POLICY)
        (tmp_path / f"{i:03d}.yaml").write_text("---\n".join(parts))
    return tmp_path


def _big_file(tmp_path: Path, count: int = 400) -> Path:
    docs = []
    for i in range(count):
        docs.append(_pod(f"p-{i}", "web" if i % 2 else "db"))
        if i % 50 == 49:
            docs.append(_CONFIG.replace("settings", f"s-{i}"))
    docs.append(_POLICY)
    path = tmp_path / "cluster.yaml"
    path.write_text("---\n".join(docs))
    return path


def test_a_directory_shared_by_file_loads_the_same(tmp_path: Path, workers: list[int]) -> None:
    directory = _directory(tmp_path)
    one = manifests.load_paths([directory])
    shared = manifests.load_paths([directory], jobs=2)
    assert workers == [1]
    assert shared == one
    assert len(one.notes) == 8 and "007.yaml: document 2: skipped kind ConfigMap" in one.notes[0]


def test_one_big_file_shared_by_document_numbers_notes_on(tmp_path: Path, workers: list[int],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MIN_SHARED_BYTES", 1000)
    path = _big_file(tmp_path)
    one = manifests.load_paths([path])
    shared = manifests.load_paths([path], jobs=3)
    assert workers == [1, 1]
    assert shared == one
    assert one.notes[-1].startswith(f"{path}: document 408: skipped kind ConfigMap")  # numbered across pieces


@pytest.mark.parametrize("mistake", ["duplicate", "yaml", "invalid", "limit"])
def test_a_mistake_in_any_part_is_reported_as_one_process_reports_it(
        tmp_path: Path, workers: list[int], monkeypatch: pytest.MonkeyPatch, mistake: str) -> None:
    directory = _directory(tmp_path)
    if mistake == "duplicate":  # the same pod in the first and the last file: no part sees both
        (directory / "079.yaml").write_text(_pod("web-1", "web"))
    elif mistake == "yaml":
        (directory / "070.yaml").write_text("kind: Pod\nmetadata: [unclosed\n")
    elif mistake == "invalid":
        (directory / "065.yaml").write_text(_pod("Bad_Name", "web"))
    else:  # each part within the limit, the whole load beyond it
        monkeypatch.setattr(manifests, "MAX_PODS", 60)
    with pytest.raises(ManifestError) as one:
        manifests.load_paths([directory])
    with pytest.raises(ManifestError) as shared:
        manifests.load_paths([directory], jobs=2)
    assert workers == [1]
    assert str(shared.value) == str(one.value)


def test_a_failed_worker_means_one_process_does_it_all(tmp_path: Path, workers: list[int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _directory(tmp_path)
    parent = os.getpid()
    real = manifests._load_part

    def dies_in_a_worker(*args: object) -> object:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(manifests, "_load_part", dies_in_a_worker)
    assert manifests.load_paths([directory], jobs=2) == manifests.load_paths([directory])
    assert workers == [1]


def test_no_fork_while_another_thread_runs(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forking.can_fork()
        assert manifests.load_paths([directory], jobs=2) == manifests.load_paths([directory])
    finally:
        stop.set()
        thread.join()


def test_small_loads_stay_in_one_process(tmp_path: Path, workers: list[int]) -> None:
    for i in range(3):
        (tmp_path / f"{i}.yaml").write_text(_pod(f"p{i}", "web"))
    manifests.load_paths([tmp_path], jobs=4)
    manifests.load_paths([tmp_path / "0.yaml"], jobs=4)
    assert workers == []


def test_jobs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPHELPERS_JOBS", "1")
    assert forking.default_jobs() == 1
    monkeypatch.setenv("NPHELPERS_JOBS", "64")
    assert forking.default_jobs() == forking.MAX_JOBS
    monkeypatch.setenv("NPHELPERS_JOBS", "lots")
    assert 1 <= forking.default_jobs() <= forking.MAX_JOBS


# -- the JSON output -----------------------------------------------------------------------
def _matrix(tmp_path: Path):  # type: ignore[no-untyped-def]
    result = manifests.load_paths([_directory(tmp_path)])
    state = ClusterState.from_objects(result.objects)
    return reachability(state, 80, "TCP", pods=sorted(state.pods))


def _one_process_bytes(matrix) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    jsonout.write_json(matrix, out, jobs=1)
    return out.getvalue()


def test_row_sizes_are_the_rows_lengths(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    rows = list(matrix.json_rows(0, len(matrix.pods)))
    assert [len(r) for r in rows] == matrix.json_row_sizes()
    assert any(b"web-1" in r for r in rows)


@pytest.mark.parametrize("jobs", [2, 3])
def test_a_file_written_in_parts_holds_the_same_bytes(tmp_path: Path, workers: list[int],
                                                        monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    monkeypatch.setattr(jsonout, "MIN_SHARED_BYTES", 0)
    matrix = _matrix(tmp_path)
    expected = _one_process_bytes(matrix)
    path = tmp_path / "out.json"
    with path.open("wb") as out:
        out.write(b"before\n")  # written at its position, not at the file's start
        jsonout.write_json(matrix, out, jobs=jobs)
        out.write(b"after\n")
    assert workers == [1] * (jobs - 1)
    assert path.read_bytes() == b"before\n" + expected + b"after\n"


def test_append_mode_and_streams_are_written_from_start_to_end(tmp_path: Path, workers: list[int],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonout, "MIN_SHARED_BYTES", 0)
    matrix = _matrix(tmp_path)
    expected = _one_process_bytes(matrix)
    path = tmp_path / "out.json"
    path.write_bytes(b"kept\n")
    with path.open("ab") as out:  # pwrite would land at the end: not shared
        jsonout.write_json(matrix, out, jobs=2)
    stream = io.BytesIO()
    jsonout.write_json(matrix, stream, jobs=2)
    assert workers == []
    assert path.read_bytes() == b"kept\n" + expected
    assert stream.getvalue() == expected


def test_cli_output_is_the_same_with_any_job_count(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    directory = _directory(tmp_path / "in")  # not below the outputs
    outputs = []
    for jobs in ("1", "2"):
        target = tmp_path / f"out-{jobs}.json"
        env = {**os.environ, "NPHELPERS_JOBS": jobs}
        with target.open("wb") as out:
            subprocess.run([sys.executable, "-m", "nphelpers", "matrix", "-f", str(directory), "-o", "json"],
                           stdout=out, check=True, env=env, cwd=ROOT)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].endswith(b"]]}\n")


def test_bad_job_count_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["matrix", "-f", str(ROOT / "examples" / "api-allow"), "-j", "0"])
    assert exc.value.code == 2
    assert "invalid job count 0: expected a number from 1 to 4" in capsys.readouterr().err
