#!/usr/bin/env python3
"""Time crowd-kit's DawidSkene and GLAD on the crowd file benches/crowd_end_to_end.rs writes.

The labels are already in pandas: the Parquet file (task, worker, label; int64) is read once
with pd.read_parquet, and that read is reported on its own. Then, per method, only
`.fit_predict(df)` is timed, with crowd-kit's default settings (DawidSkene(): n_iter=100,
tol=1e-5; GLAD(): n_iter=100, tol=1e-5, m_step_max_iter=25, m_step_tol=1e-2). Each figure is
the median of RUNS timed runs (default 3), every run on the same DataFrame, which is never
modified. Without an explicit RUNS, a method whose first run takes more than 60 s is run
only once (GLAD on 1M labels does).

Per method the script also reports:
  peak RSS    ru_maxrss of a process forked after the read, which runs that method's runs and
              nothing else; it counts the DataFrame and the interpreter (the read's own peak
              is printed first), not the other method
  iterations  EM iterations, len(loss_history_) after the last run (crowd-kit stops when
              the loss improves by less than tol, or after n_iter)
  agreement   the share of tasks whose label equals the majority vote, a sanity figure
              (crowd-kit's MajorityVote, untimed; ties go to the lowest label under pandas 2,
              as in prefdb)
The SQL side of the same comparison is `cargo bench --bench crowd_end_to_end`.

Usage: ~/.cache/prefdb/crowd-venv/bin/python benches/python/crowd_kit_baseline.py target/tmp/bench-data/crowd-1m.parquet [RUNS [METHODS]]
METHODS is a comma-separated subset of DawidSkene,GLAD (both by default; GLAD's one run takes
about 20 minutes).
Needs: pip install crowd-kit==1.4.2 pandas==2.3.3 scikit-learn==1.6.1 pyarrow
"""
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
from crowdkit.aggregation import GLAD, DawidSkene, MajorityVote

SLOW = 60.0  # seconds: without an explicit RUNS, a slower first run is the only run


from child import in_child, peak_rss_gib  # noqa: E402  (benches/python/child.py)


def main():
    path = sys.argv[1]
    explicit = len(sys.argv) > 2
    runs = int(sys.argv[2]) if explicit else 3
    print(f"file {path}")
    print(f"crowd-kit 1.4.2, pandas {pd.__version__}, numpy {np.__version__}, "
          f"cores available {len(os.sched_getaffinity(0))}")

    started = time.perf_counter()
    df = pd.read_parquet(path, columns=["task", "worker", "label"])
    read = time.perf_counter() - started
    for column in df.columns:
        if df[column].dtype != np.int64:
            sys.exit(f"column {column} is {df[column].dtype}, expected int64")
    labels = sorted(df["label"].unique())
    print(f"read {len(df)} labels ({df['task'].nunique()} tasks, {df['worker'].nunique()} workers, "
          f"labels {labels[0]}..{labels[-1]}) with pandas: {read:.3f} s (one read, not in the "
          f"timings below); peak RSS after the read {peak_rss_gib():.2f} GiB")

    majority = MajorityVote().fit_predict(df)

    methods = [("DawidSkene", DawidSkene), ("GLAD", GLAD)]
    if len(sys.argv) > 3:
        chosen = sys.argv[3].split(",")
        unknown = set(chosen) - {name for name, _ in methods}
        if unknown:
            sys.exit(f"unknown methods {sorted(unknown)}; choose from DawidSkene, GLAD")
        methods = [(name, make) for name, make in methods if name in chosen]
    for name, make in methods:
        def work():
            times = []
            for _ in range(runs):
                model = make()
                started = time.perf_counter()
                result = model.fit_predict(df)
                times.append(time.perf_counter() - started)
                if not explicit and times[0] > SLOW:
                    break
            agree = float((result == majority.reindex(result.index)).mean())
            return times, len(model.loss_history_), agree, len(result), peak_rss_gib()

        times, iterations, agree, tasks, rss = in_child(work)
        note = f" (first run over {SLOW:.0f} s)" if len(times) < runs else ""
        print(f"{name}: median {statistics.median(times):.3f} s over {len(times)} run{'s' if len(times) > 1 else ''}{note}; "
              f"{iterations} EM iterations; {tasks} tasks; agrees with the majority vote on "
              f"{100 * agree:.2f}% of tasks; peak RSS {rss:.2f} GiB; runs "
              + ", ".join(f"{t:.3f}" for t in times))


if __name__ == "__main__":
    main()
