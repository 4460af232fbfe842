#!/usr/bin/env python3
"""Time LMArena's arena-rank computing a Bradley-Terry leaderboard with sandwich intervals.

arena-rank (the package behind LMArena's leaderboard) aggregates the battles into unique
(model_a, model_b, outcome) rows (PairDataset.from_pandas), fits Bradley-Terry by L-BFGS in
JAX (float64, CPU backend) and takes the intervals from the sandwich covariance
H^-1 G H^-1 (BradleyTerry.compute_ratings_and_cis, ci_method="sandwich"). This script times
that on an arena file from benches/bt_bootstrap.rs, for reweighted=False and for
reweighted=True (LMArena's inverse pair-count weights), phase by phase:

  load      pd.read_parquet of model_a, model_b, winner (page cache warm after the first read)
  dataset   PairDataset.from_pandas(df, reweighted=...)
  fit       BradleyTerry(n_competitors=...).fit(dataset)
  sandwich  compute_ratings_and_cis(dataset, ci_method="sandwich") on the fitted model

compute_ratings_and_cis fits first when the model is not fitted; calling fit first only adds
a wait for JAX between the two, so fit + sandwich is that call. Each phase ends with JAX's
results ready (block_until_ready, or numpy for the intervals). Per variant, one warm-up run
on the same data comes first (JAX compiles on first call; reported as cold), then RUNS timed
runs, each re-reading the file; medians are reported. arena-rank jits a new L-BFGS closure
on every fit, so every fit compiles again: that is counted, as it is the library's cost.
A winner arena-rank's default outcome map does not know (here 'tie (bothbad)') counts 0.5.

Usage: python benches/python/arena_rank_sandwich.py target/tmp/bench-data/arena-10000000.parquet [RUNS]
Needs: pip install arena-rank==0.1.1 jax==0.8.1 jaxlib==0.8.1 optax==0.2.8 pandas==3.1.1 pyarrow==26.0.1 numpy==2.3.3
"""
import os
import resource
import statistics
import sys
import time

import jax
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from arena_rank.models.bradley_terry import BradleyTerry  # sets jax_enable_x64
from arena_rank.utils.data_utils import PairDataset, default_outcome_map

KNOWN = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
PHASES = ("load", "dataset", "fit", "sandwich")


def check_winners(path):
    counts = pc.value_counts(pq.read_table(path, columns=["winner"])["winner"]).to_pylist()
    for c in sorted(counts, key=lambda c: c["values"]):
        value, mapped = c["values"], default_outcome_map(c["values"])
        print(f"winner {value!r}: {c['counts']} rows, arena-rank outcome {mapped}")
        if KNOWN.get(value) != mapped:
            sys.exit(f"unexpected winner {value!r} (outcome {mapped})")


def run(path, reweighted):
    t = {}
    started = time.perf_counter()
    df = pd.read_parquet(path, columns=["model_a", "model_b", "winner"])
    t["load"] = time.perf_counter() - started

    started = time.perf_counter()
    dataset = PairDataset.from_pandas(df, reweighted=reweighted)
    jax.block_until_ready((dataset.pairs, dataset.outcomes, dataset.counts, dataset.weights, dataset.opt_weights))
    t["dataset"] = time.perf_counter() - started
    del df

    started = time.perf_counter()
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    model.fit(dataset)
    jax.block_until_ready(model.params)
    t["fit"] = time.perf_counter() - started

    started = time.perf_counter()
    result = model.compute_ratings_and_cis(dataset, ci_method="sandwich")
    result = {k: v if k == "competitors" else np.asarray(v) for k, v in result.items()}
    t["sandwich"] = time.perf_counter() - started
    return t, result, dataset.n_pairs


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    cores = len(os.sched_getaffinity(0))
    print(f"file {path}")
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}, "
          f"x64 {jax.config.jax_enable_x64}, cores available {cores}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    check_winners(path)

    table = {}
    for reweighted in (False, True):
        name = f"reweighted={reweighted}"
        cold, result, n_pairs = run(path, reweighted)  # warm-up: JAX compiles here
        timed = [run(path, reweighted)[0] for _ in range(runs)]
        table[name] = (cold, timed)
        order = np.argsort(-result["ratings"])
        half = (result["rating_upper"] - result["rating_lower"]) / 2
        print(f"{name}: {len(result['competitors'])} models, {n_pairs} unique (a, b, outcome) rows; "
              f"top: " + ", ".join(f"{result['competitors'][i]} {result['ratings'][i]:.1f} "
                                   f"+/-{half[i]:.2f}" for i in order[:3])
              + f"; mean 95% half-width {half.mean():.3f}")

    def totals(t):
        t = dict(t)
        t["fit + sandwich"] = t["fit"] + t["sandwich"]
        t["end to end, no load"] = t["dataset"] + t["fit + sandwich"]
        t["end to end, with load"] = t["load"] + t["end to end, no load"]
        return t

    rows = PHASES + ("fit + sandwich", "end to end, no load", "end to end, with load")
    print(f"\nseconds; median of {runs} runs after 1 warm-up run per variant on the same data "
          f"(cold = that warm-up run, JAX compiling; reweighted=True runs after reweighted=False "
          f"in the same process)")
    header = f"{'phase':<24}" + "".join(f"{n + ' ' + k:>24}" for n in table for k in ("cold", "median"))
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row:<24}"
        for cold, timed in table.values():
            line += f"{totals(cold)[row]:>24.3f}"
            line += f"{statistics.median(totals(t)[row] for t in timed):>24.3f}"
        print(line)
    for n, (_, timed) in table.items():
        spread = [totals(t)["end to end, no load"] for t in timed]
        print(f"{n}: end to end (no load) per run: " + ", ".join(f"{s:.3f}" for s in spread))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
