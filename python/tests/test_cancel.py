"""Ctrl-C (KeyboardInterrupt) stops a running query, the session goes on answering, and
queries run with the GIL released."""

from __future__ import annotations

import _thread
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import prefdb

# Each runs far longer than the tests wait: the bootstrap about 45 s in the debug build here,
# the sum minutes.
LONG_QUERIES = {
    "bootstrap": """SELECT bt_rank("left", "right", winner, 'bootstrap=20000') FROM votes""",
    "range_sum": "SELECT sum(value) FROM range(100000000000)",
}
# A nested-loop join that keeps every worker thread of the engine busy inside long polls.
BUSY_CROSS_JOIN = (
    "SELECT count(*) FROM range(1000000) AS a CROSS JOIN range(1000000) AS b "
    "WHERE a.value + b.value = 7"
)
# The bootstrap of the example: minutes of work.
FULL_BOOTSTRAP = """SELECT bt_rank("left", "right", winner, 'bootstrap=100000') FROM votes"""

INTERRUPT_AFTER = 0.5
#: Seconds from the start of a query to its KeyboardInterrupt.
STOPPED_WITHIN = 3.0
#: How long a child process may take to start, load LLMFAO and be interrupted.
CHILD_TIMEOUT = 10.0


@pytest.fixture
def votes_session(llmfao_path: Path) -> prefdb.Session:
    return prefdb.connect({"votes": llmfao_path})


def seconds_until_interrupted(session: prefdb.Session, query: str) -> float:
    """Run ``query`` with Ctrl-C pressed ``INTERRUPT_AFTER`` seconds in, and return the
    seconds until it raised KeyboardInterrupt."""
    timer = threading.Timer(INTERRUPT_AFTER, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        try:
            session.sql(query)
        finally:
            timer.cancel()
        # A late interrupt is raised here rather than in pytest's own code.
        for _ in range(50):
            time.sleep(0.01)
    except KeyboardInterrupt:
        return time.monotonic() - start
    pytest.fail(f"the query ran to its end in {time.monotonic() - start:.1f} s, uninterrupted")


@pytest.mark.parametrize("name", LONG_QUERIES)
def test_ctrl_c_stops_a_long_query(votes_session: prefdb.Session, name: str) -> None:
    elapsed = seconds_until_interrupted(votes_session, LONG_QUERIES[name])
    assert INTERRUPT_AFTER <= elapsed < STOPPED_WITHIN
    # The work stops too, not only the wait for it: the process goes idle.
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.3, "the stopped query is still computing"
    start = time.monotonic()
    assert votes_session.sql("SELECT count(*) FROM votes").fetchall() == [(8931,)]
    assert time.monotonic() - start < 2.0


def test_queries_release_the_gil(votes_session: prefdb.Session) -> None:
    count = 0
    stop = threading.Event()

    def count_in_python() -> None:
        nonlocal count
        while not stop.is_set():
            count += 1

    counter = threading.Thread(target=count_in_python)
    counter.start()
    try:
        time.sleep(0.05)
        before, start = count, time.monotonic()
        result = votes_session.sql(
            """SELECT bt_rank("left", "right", winner, 'bootstrap=400') AS r FROM votes"""
        )
        elapsed, during = time.monotonic() - start, count - before
    finally:
        stop.set()
        counter.join()
    assert len(result) == 1
    assert elapsed > 0.3, "the query is too short to tell"
    # Holding the GIL for the whole query would leave the counter where it was.
    assert during > 10_000, f"the counter advanced {during} times in {elapsed:.2f} s"


CHILD = r"""
import _thread, os, sys, threading, time
query, votes, one_cpu = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if one_cpu:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
import prefdb
session = prefdb.connect({"votes": votes})
timer = threading.Timer(float(sys.argv[4]), _thread.interrupt_main)
start = time.monotonic()
timer.start()
try:
    session.sql(query)
    print("finished", time.monotonic() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic() - start, flush=True)
"""


def seconds_until_interrupted_in_child(
    query: str, votes: Path, cwd: Path, *, one_cpu: bool
) -> float | None:
    """``seconds_until_interrupted`` in a fresh Python process (optionally pinned to one
    CPU, so that the engine has one worker thread), or None if it was not interrupted
    within ``CHILD_TIMEOUT``. The child is killed at the timeout."""
    cpus = "1" if one_cpu else "0"
    args = [sys.executable, "-c", CHILD, query, str(votes), cpus, str(INTERRUPT_AFTER)]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=CHILD_TIMEOUT, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return None
    assert done.returncode == 0, done.stderr
    outcome, seconds = done.stdout.split()
    assert outcome == "interrupted", done.stdout
    return float(seconds)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_ctrl_c_stops_a_bootstrap_on_one_cpu(llmfao_path: Path, tmp_path: Path) -> None:
    elapsed = seconds_until_interrupted_in_child(
        FULL_BOOTSTRAP, llmfao_path, tmp_path, one_cpu=True
    )
    assert elapsed is not None, f"not interrupted within {CHILD_TIMEOUT} s"
    assert elapsed < STOPPED_WITHIN


def test_ctrl_c_stops_a_join_that_busies_every_worker(llmfao_path: Path, tmp_path: Path) -> None:
    elapsed = seconds_until_interrupted_in_child(
        BUSY_CROSS_JOIN, llmfao_path, tmp_path, one_cpu=False
    )
    assert elapsed is not None, f"not interrupted within {CHILD_TIMEOUT} s"
    assert elapsed < STOPPED_WITHIN
