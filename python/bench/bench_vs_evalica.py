"""Bradley–Terry leaderboard from an in-memory pandas frame: prefdb against evalica and arena-rank.

A benchmark, not a test. It makes a synthetic arena frame (model_a, model_b, winner; N rows,
100 models with Bradley–Terry strengths, about 10% ties; deterministic for a seed), then
times each tool's whole fit from that frame, as a user would run it:

- prefdb: ``prefdb.sql(<bt_rank leaderboard>, votes=df).to_pandas()``. This includes
  registering the frame (pandas -> Arrow), planning, the aggregate and the Newton fit.
- evalica 0.4.2: the frame's columns turned into evalica's input (items factorised to
  integer codes, outcome texts to ``evalica.Winner`` values as uint8, the array type its
  Rust solver accepts without copying), then ``evalica.bradley_terry``. This is the fastest
  vectorised route found; passing the string Series straight in (``evalica-series``, off by
  default) was about 15 times slower at 10M rows, as evalica then indexes the items in Python.
- arena-rank 0.1.1: ``PairDataset.from_pandas(df)``, then ``BradleyTerry(...).fit``, as in
  its README (without the confidence intervals of ``compute_ratings_and_cis``, since the
  prefdb query computes none either). arena-rank builds a new jitted L-BFGS closure on
  every fit, so every fit pays JAX's compile time: that is the library's cost per call,
  and it is counted.

The same model is fitted by all: plain maximum likelihood (no prior: prefdb ``prior=0``;
evalica and arena-rank have none), a tie as half a win for each side (prefdb
``ties=half``, evalica ``win_weight=1, tie_weight=0.5``, arena-rank's outcome 0.5), and
the convergence tolerance at evalica's default (prefdb ``tol=1e-6``; evalica
``tolerance=1e-6``; arena-rank keeps its ``gtol=ftol=1e-9``). The script checks that the
fitted ratings agree (max difference in rating points after centring, and Spearman's rho),
so the times compare the same answer.

Each tool runs in its own Python process (the same interpreter), which makes the frame
anew, runs one untimed warm-up fit (imports, lazy initialisation; reported as ``cold``),
then ``--repeat`` timed fits; min and median are reported, with the peak memory the fits
added above the frame (Linux: VmHWM after resetting it; elsewhere ru_maxrss, the
process's whole peak).

Run (one command; the venv setup is in requirements.txt beside this file):

    ~/.cache/prefdb/bench-venv/bin/python python/bench/bench_vs_evalica.py
    ~/.cache/prefdb/bench-venv/bin/python python/bench/bench_vs_evalica.py --rows 200_000 --repeat 1
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from typing import Callable

import numpy as np
import pandas as pd

TOOLS = ("prefdb", "evalica", "arena-rank", "evalica-series")
DEFAULT_TOOLS = ("prefdb", "evalica", "arena-rank")

# rating = BASE + SCALE * s / ln(10): prefdb's defaults, and arena-rank's init_rating and
# scale; the fitted strengths s are compared on this scale.
BASE, SCALE = 1000.0, 400.0

# bt_rank with the others' model: no prior, a tie is half a win each, evalica's tolerance.
PREFDB_OPTIONS = "prior=0, ties=half, tol=1e-6"
PREFDB_QUERY = (
    "SELECT * FROM leaderboard("
    f"'SELECT bt_rank(model_a, model_b, winner, ''{PREFDB_OPTIONS}'') FROM votes')"
)

# Outcome texts as arena data spells them; bt_rank reads these (docs/functions.md), and
# arena-rank's default outcome map gives them 1.0, 0.0 and 0.5.
OUTCOMES = ("model_a", "model_b", "tie")

# Spread of the true strengths (natural-log scale): sd 0.8 is about 140 rating points,
# a top-to-bottom range near 800 over 100 models, wider than today's arena but of its kind.
STRENGTH_SD = 0.8

RESULT_PREFIX = "RESULT "

# The goal: prefdb's leaderboard at least this many times faster than evalica's.
TARGET_SPEEDUP = 20.0


# --- the frame ---------------------------------------------------------------------------


def make_arena_frame(
    rows: int, models: int, tie_rate: float, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """A synthetic arena frame and the true strengths behind it.

    Each row pairs two distinct models drawn uniformly; with probability ``tie_rate`` it is
    a tie, otherwise model_a wins with the Bradley–Terry probability 1 / (1 + exp(s_b - s_a)).
    """
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}" for i in range(models)])
    strengths = rng.normal(0.0, STRENGTH_SD, models)
    a = rng.integers(0, models, rows)
    b = (a + rng.integers(1, models, rows)) % models
    a_wins = rng.random(rows) < 1.0 / (1.0 + np.exp(strengths[b] - strengths[a]))
    tie = rng.random(rows) < tie_rate
    outcome = np.where(tie, 2, np.where(a_wins, 0, 1)).astype(np.int8)
    frame = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            # Built from categorical codes so the column is ordinary text without a 10M-row
            # array of Python strings; it ends up the frame's default string dtype.
            "winner": pd.Categorical.from_codes(outcome, categories=list(OUTCOMES)).astype(str),
        }
    )
    return frame, pd.Series(strengths, index=names)


# --- one fit per tool, from the frame to strengths s indexed by model --------------------


def fit_prefdb(frame: pd.DataFrame) -> pd.Series:
    import prefdb

    board = prefdb.sql(PREFDB_QUERY, votes=frame).to_pandas()
    return pd.Series(
        (board["rating"].to_numpy() - BASE) * math.log(10) / SCALE, index=board["item"]
    )


def evalica_winners() -> dict:
    """The frame's outcome texts as evalica.Winner values (an IntEnum: Draw 0, X 1, Y 2)."""
    from evalica import Winner

    return {"model_a": Winner.X, "model_b": Winner.Y, "tie": Winner.Draw}


def fit_evalica(frame: pd.DataFrame) -> pd.Series:
    import evalica

    n = len(frame)
    items, models = pd.factorize(pd.concat([frame["model_a"], frame["model_b"]], ignore_index=True))
    outcome_ids, outcome_texts = pd.factorize(frame["winner"])
    to_winner = evalica_winners()
    # uint8 is the one integer array evalica's Rust solver takes as it is.
    winner_of_text = np.array([to_winner[text] for text in outcome_texts], dtype=np.uint8)
    result = evalica.bradley_terry(
        items[:n],
        items[n:],
        winner_of_text[outcome_ids],
        index=pd.RangeIndex(len(models)),
        win_weight=1.0,
        tie_weight=0.5,
        tolerance=1e-6,
    )
    scores = result.scores
    return pd.Series(np.log(scores.to_numpy()), index=models[scores.index.to_numpy()])


def fit_evalica_series(frame: pd.DataFrame) -> pd.Series:
    """evalica as its README shows it: the columns in as they are, outcomes as Winner."""
    import evalica

    result = evalica.bradley_terry(
        frame["model_a"], frame["model_b"], frame["winner"].map(evalica_winners()),
        win_weight=1.0, tie_weight=0.5, tolerance=1e-6,
    )
    return pd.Series(np.log(result.scores.to_numpy()), index=result.scores.index)


def fit_arena_rank(frame: pd.DataFrame) -> pd.Series:
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    dataset = PairDataset.from_pandas(frame)
    model = BradleyTerry(n_competitors=len(dataset.competitors), scale=SCALE, init_rating=BASE)
    model.fit(dataset)
    # np.asarray waits for JAX's asynchronous result, so the time covers the whole fit.
    return pd.Series(np.asarray(model.params["ratings"]), index=dataset.competitors)


FITS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "prefdb": fit_prefdb,
    "evalica": fit_evalica,
    "evalica-series": fit_evalica_series,
    "arena-rank": fit_arena_rank,
}

# The import that loads each tool; done before the warm-up so no fit pays for it.
IMPORTS = {
    "prefdb": ("prefdb",),
    "evalica": ("evalica",),
    "evalica-series": ("evalica",),
    "arena-rank": ("arena_rank.models.bradley_terry", "arena_rank.utils.data_utils"),
}


# --- memory ------------------------------------------------------------------------------


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux), so a later VmHWM covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    peak = _proc_status_kib("VmHWM")
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        if sys.platform == "darwin":
            peak //= 1024  # bytes there
    return peak / 1024


# --- one tool's process ------------------------------------------------------------------


def run_worker(args: argparse.Namespace) -> None:
    frame, _ = make_arena_frame(args.rows, args.models, args.tie_rate, args.seed)
    fit = FITS[args.worker]
    for module in IMPORTS[args.worker]:
        __import__(module)

    gc.collect()
    started = time.perf_counter()
    fit(frame)
    cold = time.perf_counter() - started

    gc.collect()
    rss_before = (_proc_status_kib("VmRSS") or 0) / 1024
    peak_is_scoped = reset_peak_rss()
    seconds = []
    for _ in range(args.repeat):
        gc.collect()
        started = time.perf_counter()
        strengths = fit(frame)
        seconds.append(time.perf_counter() - started)
    peak = peak_rss_mib()

    report = {
        "tool": args.worker,
        "cold": cold,
        "seconds": seconds,
        "frame_rss_mib": rss_before,
        "peak_rss_mib": peak,
        "peak_is_scoped": peak_is_scoped,
        "outcomes": frame["winner"].value_counts().sort_index().to_dict(),
        "strengths": {str(k): float(v) for k, v in strengths.items()},
    }
    print(RESULT_PREFIX + json.dumps(report), flush=True)


def run_tool(tool: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, os.path.abspath(__file__), "--worker", tool,
        "--rows", str(args.rows), "--repeat", str(args.repeat), "--seed", str(args.seed),
        "--models", str(args.models), "--tie-rate", str(args.tie_rate),
    ]
    print(f"running {tool} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        sys.exit(f"{tool}: the benchmark process failed (exit {done.returncode}); its error is above")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


# --- the report --------------------------------------------------------------------------


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def prefdb_build() -> str:
    """'debug' or 'release', guessed from the extension's ELF sections (Linux only).

    The workspace's dev profile keeps line tables for prefdb's crates; the release profile
    has debug = false, so a release extension carries no .debug_* section.
    """
    try:
        import prefdb._prefdb as extension

        with open(extension.__file__, "rb") as so:
            data = so.read()
    except (ImportError, OSError):
        return "unknown"
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # 64-bit little-endian
        return "unknown"
    section_offset = int.from_bytes(data[0x28:0x30], "little")
    entry_size = int.from_bytes(data[0x3A:0x3C], "little")
    count = int.from_bytes(data[0x3C:0x3E], "little")
    names_index = int.from_bytes(data[0x3E:0x40], "little")
    names_header = section_offset + names_index * entry_size
    names_start = int.from_bytes(data[names_header + 0x18:names_header + 0x20], "little")
    for i in range(count):
        header = section_offset + i * entry_size
        name_at = names_start + int.from_bytes(data[header:header + 4], "little")
        if data[name_at:data.index(b"\0", name_at)].startswith(b".debug_"):
            return "debug (has .debug_* sections: not for published figures)"
    return "release (no .debug_* sections)"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_header(args: argparse.Namespace) -> None:
    import prefdb

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs "
          f"({usable} usable), {memory:.1f} GiB, {platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}; prefdb {prefdb.__version__} "
          f"(DataFusion {prefdb.DATAFUSION_VERSION}, {prefdb_build()}); "
          + ", ".join(f"{name} {version(name)}" for name in
                      ("evalica", "arena-rank", "jax", "jaxlib", "pandas", "pyarrow", "numpy")))
    blas = {name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ}
    if blas:
        print(f"note: {blas} is set (it can slow numpy; JAX and prefdb do not use OpenBLAS)")
    print(f"frame: {args.rows:,} rows, {args.models} models, tie rate {args.tie_rate}, seed {args.seed}; "
          f"{args.repeat} timed fits per tool after one warm-up")
    print(f"prefdb: {PREFDB_QUERY}")
    print()


def centred(strengths: pd.Series) -> pd.Series:
    return (strengths - strengths.mean()).sort_index()


def print_times(reports: dict[str, dict], rows: int) -> None:
    reference = reports.get("prefdb")
    print(f"{'tool':<15}{'rows':>12}{'min s':>10}{'median s':>10}{'cold s':>10}"
          f"{'peak MiB':>10}{'/prefdb (median)':>18}{'/prefdb (min)':>15}")
    for tool, report in reports.items():
        times = report["seconds"]
        best, median = min(times), statistics.median(times)
        added = report["peak_rss_mib"] - report["frame_rss_mib"]
        peak = f"+{max(added, 0):.0f}" if report["peak_is_scoped"] else f"{report['peak_rss_mib']:.0f}"
        ratios = ("", "")
        if reference and tool != "prefdb":
            ratios = (f"{median / statistics.median(reference['seconds']):.1f}x",
                      f"{best / min(reference['seconds']):.1f}x")
        print(f"{tool:<15}{rows:>12,}{best:>10.3f}{median:>10.3f}{report['cold']:>10.3f}"
              f"{peak:>10}{ratios[0]:>18}{ratios[1]:>15}")
    print("peak MiB: '+N' is the memory the fits added above the frame (VmHWM), "
          "otherwise the process's peak")
    if reference and "evalica" in reports:
        speedup = statistics.median(reports["evalica"]["seconds"]) / statistics.median(reference["seconds"])
        verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
        print(f"target: evalica/prefdb >= {TARGET_SPEEDUP:g}x end to end (medians): "
              f"{speedup:.1f}x, {verdict}")


def print_agreement(reports: dict[str, dict], truth: pd.Series) -> None:
    fitted = {tool: centred(pd.Series(report["strengths"])) for tool, report in reports.items()}
    truth = centred(truth)
    to_points = SCALE / math.log(10)
    print("\nagreement of the fitted ratings (centred, rating points = 400 * s / ln 10):")
    reference_tool = "prefdb" if "prefdb" in fitted else next(iter(fitted))
    reference = fitted[reference_tool]
    for tool, strengths in fitted.items():
        versus_truth = strengths.rank().corr(truth.reindex(strengths.index).rank())
        line = f"  {tool:<15} Spearman vs true strengths {versus_truth:.4f}"
        if tool != reference_tool:
            if set(strengths.index) != set(reference.index):
                line += f"; DIFFERENT model sets from {reference_tool}"
            else:
                aligned = strengths.reindex(reference.index)
                gap = (aligned - reference).abs().max() * to_points
                rho = aligned.rank().corr(reference.rank())
                line += f"; vs {reference_tool}: max |diff| {gap:.2g} points, Spearman {rho:.6f}"
        print(line)


def main(args: argparse.Namespace) -> None:
    print_header(args)
    reports = {tool: run_tool(tool, args) for tool in args.tools}
    counts = {json.dumps(report["outcomes"], sort_keys=True) for report in reports.values()}
    if len(counts) != 1:
        sys.exit(f"the tools' processes made different frames: {counts}")
    print(f"outcomes: {next(iter(reports.values()))['outcomes']}\n")
    print_times(reports, args.rows)
    _, truth = make_arena_frame(0, args.models, args.tie_rate, args.seed)
    print_agreement(reports, truth)


def count(text: str) -> int:
    """An integer written as Python allows, 10_000_000 included."""
    return int(text.replace("_", ""))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time a Bradley–Terry leaderboard from an in-memory pandas frame: "
        "prefdb against evalica and arena-rank.",
    )
    parser.add_argument("--rows", type=count, default=10_000_000, help="rows in the frame (default 10_000_000)")
    parser.add_argument("--repeat", type=count, default=3, help="timed fits per tool (default 3)")
    parser.add_argument("--models", type=count, default=100, help="models in the frame (default 100)")
    parser.add_argument("--tie-rate", type=float, default=0.1, help="share of ties (default 0.1)")
    parser.add_argument("--seed", type=count, default=0, help="numpy seed of the frame (default 0)")
    parser.add_argument(
        "--tools", type=lambda text: text.split(","), default=list(DEFAULT_TOOLS),
        help=f"comma-separated, from {', '.join(TOOLS)} (default {','.join(DEFAULT_TOOLS)})",
    )
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [tool for tool in args.tools if tool not in TOOLS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r} (expected one of: {', '.join(TOOLS)})")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        run_worker(arguments)
    else:
        main(arguments)
