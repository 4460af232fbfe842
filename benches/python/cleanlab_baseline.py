#!/usr/bin/env python3
"""Time cleanlab's label-issue functions on the predictions file benches/crowd_end_to_end.rs writes.

The data is already in numpy: the Parquet file (row_id, given_label int64; probs a list of
K doubles per row) is read once with pyarrow, and given_label becomes an int64 array and probs
an (N, K) float64 C-ordered array; the read and the conversion are reported on their own.
Then only the cleanlab calls are timed, each the median of RUNS runs (default 3) on the same
arrays:

  find_label_issues            cleanlab.filter.find_label_issues(labels, pred_probs), defaults
                               (filter_by="prune_by_noise_rate"; n_jobs=None, which is psutil's
                               physical cores or else multiprocessing.cpu_count(), so a
                               multiprocessing.Pool is forked per call on Linux)
  find_label_issues n_jobs=1   the same, in this process only
  get_label_quality_scores     cleanlab.rank.get_label_quality_scores(labels, pred_probs),
                               defaults (method="self_confidence", adjust_pred_probs=False)
and, as the SQL benchmark's other two lines (label_issues with 'filter_by=confident_learning'
and with 'quality=normalized_margin'):
  find_label_issues confident_learning  filter_by="confident_learning", otherwise defaults
  get_label_quality_scores normalized_margin  method="normalized_margin"

Per call the script also reports the number of rows flagged (or the mean score) and the peak
RSS: ru_maxrss of a process forked after the conversion that runs that call's runs and nothing
else, so it counts the arrays and the interpreter (the load's own peak is printed first), and,
for the default n_jobs, the largest pool worker's ru_maxrss (RUSAGE_CHILDREN) as well.
The SQL side of the same comparison is `cargo bench --bench crowd_end_to_end`.

Usage: ~/.cache/prefdb/cleanlab-venv/bin/python benches/python/cleanlab_baseline.py target/tmp/bench-data/predictions-1m.parquet [RUNS]
Needs: pip install cleanlab==2.9.0 pyarrow
"""
import multiprocessing
import os
import resource
import statistics
import sys
import time

import cleanlab
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores


from child import in_child, peak_rss_gib  # noqa: E402  (benches/python/child.py)


def default_n_jobs():
    """What find_label_issues(n_jobs=None) resolves to on Linux (cleanlab/filter.py:264-281)."""
    try:
        import psutil

        return psutil.cpu_count(logical=False) or multiprocessing.cpu_count()
    except ImportError:
        return multiprocessing.cpu_count()


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"file {path}")
    print(f"cleanlab {cleanlab.__version__}, numpy {np.__version__}, pyarrow {pa.__version__}, "
          f"cores available {len(os.sched_getaffinity(0))}, default n_jobs {default_n_jobs()}")

    started = time.perf_counter()
    table = pq.read_table(path, columns=["row_id", "given_label", "probs"])
    read = time.perf_counter() - started

    started = time.perf_counter()
    labels = table["given_label"].to_numpy()
    probs = table["probs"].combine_chunks()
    if probs.null_count or table["given_label"].null_count:
        sys.exit("null given_label or probs")
    lengths = pc.list_value_length(probs)
    k = pc.min(lengths).as_py()
    if pc.max(lengths).as_py() != k:
        sys.exit("probs lists differ in length")
    pred_probs = np.ascontiguousarray(probs.flatten().to_numpy().reshape(-1, k), dtype=np.float64)
    convert = time.perf_counter() - started
    if labels.dtype != np.int64 or labels.min() < 0 or labels.max() >= k:
        sys.exit(f"given_label must be int64 in 0..{k - 1}")
    print(f"read {len(labels)} rows x {k} classes with pyarrow: {read:.3f} s; to numpy "
          f"(labels {labels.shape} {labels.dtype}, pred_probs {pred_probs.shape} {pred_probs.dtype}): "
          f"{convert:.3f} s; load + convert {read + convert:.3f} s (once, not in the timings "
          f"below); peak RSS after the load {peak_rss_gib():.2f} GiB")
    del table, probs, lengths

    calls = [
        ("find_label_issues", lambda: find_label_issues(labels, pred_probs)),
        ("find_label_issues n_jobs=1", lambda: find_label_issues(labels, pred_probs, n_jobs=1)),
        ("get_label_quality_scores", lambda: get_label_quality_scores(labels, pred_probs)),
        ("find_label_issues confident_learning",
         lambda: find_label_issues(labels, pred_probs, filter_by="confident_learning")),
        ("get_label_quality_scores normalized_margin",
         lambda: get_label_quality_scores(labels, pred_probs, method="normalized_margin")),
    ]
    flagged = {}
    for name, call in calls:
        def work():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                result = call()
                times.append(time.perf_counter() - started)
            return times, result, peak_rss_gib(), peak_rss_gib(resource.RUSAGE_CHILDREN)

        times, result, rss, workers_rss = in_child(work)
        if result.dtype == bool:
            flagged[name] = result
            what = f"{int(result.sum())} rows flagged"
            if name != "find_label_issues" and "find_label_issues" in flagged and "n_jobs" in name:
                same = np.array_equal(result, flagged["find_label_issues"])
                what += f" ({'the same rows as' if same else 'NOT the same rows as'} the defaults)"
        else:
            what = f"mean score {result.mean():.6f}"
        workers = f", largest pool worker {workers_rss:.2f} GiB" if workers_rss else ""
        print(f"{name}: median {statistics.median(times):.3f} s over {runs} run{'s' if runs > 1 else ''}; "
              f"{what}; peak RSS {rss:.2f} GiB{workers}; runs " + ", ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
