"""The reader pool: a worker that crashes, hangs or hogs memory costs one file, not the run."""

from __future__ import annotations

import os
import signal
import time

import pytest
from hostile_rows import ACTIVITY_HEADER, activity
from reader_hooks import misbehaving_process_file

from orchestration.lib.workers import Failure, FilePool, Job


@pytest.fixture
def pool():
    with FilePool(2, timeout_s=3, memory_bytes=1 << 30, target=misbehaving_process_file) as p:
        yield p


def test_a_worker_that_aborts_costs_only_its_file(landing, run_ingest, pool):
    for i in range(3):
        landing.csv("buji", f"活动_{i}.csv", [ACTIVITY_HEADER, activity(f"H{i}")])
    landing.csv("buji", "活动_ABORT.csv", [ACTIVITY_HEADER, activity("HX")])
    landing.csv("longgang", "活动.csv", [ACTIVITY_HEADER, activity("L1")])

    report, con = run_ingest(landing, pool=pool)

    by_file = {f.source_file: f for f in report.files}
    crashed = by_file["2021/buji/活动_ABORT.csv"]
    assert (crashed.status, crashed.reason_code) == ("rejected", "reader_crashed")
    assert "SIGABRT" in crashed.reason
    assert crashed.sha256  # the file is still identified by its content
    others = [f for name, f in by_file.items() if "ABORT" not in name]
    assert [f.status for f in others] == ["loaded"] * 4
    ids = {r[0] for r in con.execute("select activity_no from raw.worker_activities").fetchall()}
    assert ids == {"H0", "H1", "H2", "L1"}

    # the pool goes on: the dead worker is replaced as soon as two files are read at once
    # (whether the crash came early, with files still pending, or last)
    (landing.root / "2021/buji/活动_ABORT.csv").unlink()
    again, _con = run_ingest(landing, pool=pool)
    assert {f.status for f in again.files} == {"loaded"}
    assert pool.workers_started >= 3


def test_a_file_that_hangs_times_out_and_its_worker_is_replaced(landing, run_ingest, pool):
    landing.csv("buji", "活动_HANG.csv", [ACTIVITY_HEADER, activity("HX")])
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("H1")])

    started = time.monotonic()
    report, _con = run_ingest(landing, pool=pool)

    assert time.monotonic() - started < 30
    by_file = {f.source_file: f for f in report.files}
    assert by_file["2021/buji/活动_HANG.csv"].reason_code == "timeout"
    assert "GONGHUI_FILE_TIMEOUT_SECONDS" in by_file["2021/buji/活动_HANG.csv"].reason
    assert by_file["2021/buji/活动.csv"].status == "loaded"


def test_a_worker_over_its_memory_limit_is_killed_too_large(landing, run_ingest):
    pool = FilePool(2, timeout_s=60, memory_bytes=1 << 30, target=misbehaving_process_file)
    landing.csv("buji", "活动_HOG.csv", [ACTIVITY_HEADER, activity("HX")])
    landing.csv("buji", "活动.csv", [ACTIVITY_HEADER, activity("H1")])

    with pool:
        report, _con = run_ingest(landing, pool=pool)

    by_file = {f.source_file: f for f in report.files}
    assert by_file["2021/buji/活动_HOG.csv"].reason_code == "too_large"
    assert "GONGHUI_MAX_WORKER_MEMORY_GB" in by_file["2021/buji/活动_HOG.csv"].reason
    assert by_file["2021/buji/活动.csv"].status == "loaded"


def _square(x: int) -> int:
    return x * x


def test_the_pool_returns_every_result_and_reuses_its_workers():
    with FilePool(2) as pool:
        out = dict(
            (job.key, result)
            for job, result in pool.run([Job(i, (i,), {}) for i in range(20)], _square)
        )
        assert out == {i: i * i for i in range(20)}
        assert pool.workers_started == 2


def test_a_killed_worker_is_reported_with_its_signal():
    with FilePool(1) as pool:
        [(_job, result)] = list(pool.run([Job("x", (signal.SIGKILL,), {})], _kill_self))
    assert isinstance(result, Failure)
    assert result.code == "reader_crashed" and "SIGKILL" in result.reason


def _kill_self(sig: int) -> None:
    import os

    os.kill(os.getpid(), sig)


def _timed(seconds: float) -> tuple[float, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def test_jobs_run_together_only_while_their_memory_estimates_fit_the_budget():
    # weights in "GiB": one file larger than the budget, two that fill it, small ones
    weights = {"huge": 5, "half-a": 2, "half-b": 2, **{f"small{i}": 1 for i in range(6)}}
    jobs = [Job(key, (0.3,), {}, weight=w) for key, w in weights.items()]
    with FilePool(2, memory_budget=3) as pool:
        spans = {job.key: result for job, result in pool.run(jobs, _timed)}
    assert set(spans) == set(weights), "every job ran"

    def overlap(a: str, b: str) -> bool:
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    together = [(a, b) for a in spans for b in spans if a < b and overlap(a, b)]
    assert all(weights[a] + weights[b] <= 3 for a, b in together), together
    assert not any("huge" in pair for pair in together), "a job over the budget runs alone"
    assert not overlap("half-a", "half-b")
    # the budget does not serialise what fits: jobs that fit run on every worker
    assert pool.max_running == 2
    with FilePool(2, memory_budget=3) as pool:
        list(pool.run([Job(i, (0.3,), {}, weight=1) for i in range(4)], _timed))
    assert pool.max_running == 2 and pool.max_running_weight == 2


_HELD: list[bytearray] = []


def _hold_memory(mib: int) -> int:
    """Keep ``mib`` MiB resident in the worker (as a reader's allocator keeps freed pages)."""
    block = bytearray(mib << 20)
    block[::4096] = b"x" * len(block[::4096])
    _HELD.append(block)
    return os.getpid()


def test_a_worker_that_grew_past_the_recycle_size_is_replaced_after_its_job():
    with FilePool(1, recycle_bytes=150 << 20) as pool:
        pids = [r for _job, r in pool.run([Job(i, (200,), {}) for i in range(3)], _hold_memory)]
    assert len(set(pids)) == 3 and pool.workers_started == 3
    with FilePool(1) as pool:  # without a recycle size the worker is kept
        pids = [r for _job, r in pool.run([Job(i, (200,), {}) for i in range(3)], _hold_memory)]
    assert len(set(pids)) == 1 and pool.workers_started == 1


def test_ingestion_weighs_each_file_so_a_full_budget_reads_them_one_at_a_time(landing, run_ingest):
    for i in range(4):
        landing.csv("buji", f"活动_{i}.csv", [ACTIVITY_HEADER, activity(f"H{i}")])
    with FilePool(2, memory_budget=1) as pool:  # 1 byte: no two files fit together
        report, _con = run_ingest(landing, pool=pool)
    assert [f.status for f in report.files] == ["loaded"] * 4
    assert pool.max_running == 1
    with FilePool(2, memory_budget=1 << 30) as pool:  # room for both: two at a time
        report, _con = run_ingest(landing, pool=pool)
    assert [f.status for f in report.files] == ["loaded"] * 4
    assert pool.max_running == 2
