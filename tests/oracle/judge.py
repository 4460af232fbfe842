#!/usr/bin/env python3
"""Reference values for the judge diagnostics and rank aggregation.

There is no package for these statistics, so this script computes them from their
published definitions with pandas and plain loops, written independently of the Rust
kernels (different algorithms: pivots, average ranks and brute-force triad enumeration
instead of sorting runs and bitsets):

  position_consistency          Wang et al. 2023 (LLMs are not Fair Evaluators)
  score_comparison_inconsistency TrustJudge (conflict and mismatch rates)
  wb_reward                     WildBench's five-level reward with the K-character rule
  intransitivity                majority tournament; 3-cycles and weak-order violations
                                by enumerating every triad (LLMFAO, overall and per prompt)
  rank_aggregate                mean / Borda (average ranks) / Copeland

Writes tests/fixtures/judge_data.csv, tests/fixtures/rank_data.csv and
tests/fixtures/judge_ref.tsv (function, field, group, value).

Usage: python tests/oracle/judge.py [--check]   (--check recomputes and compares)
"""
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
LLMFAO = ROOT / ".." / "shared" / "data" / "llmfao.csv"


def judge_data(rng) -> pd.DataFrame:
    rows = []
    for judge, bias, noise in [("fair", 0.0, 0.2), ("first_lover", 0.35, 0.3), ("noisy", 0.1, 0.6)]:
        for pair in range(300):
            quality = rng.normal()  # > 0: response x is better
            orders = ["ab", "ba"] if rng.random() < 0.85 else [rng.choice(["ab", "ba"])]
            for order in orders:
                # Position of x in this order: first for 'ab'.
                signal = quality if order == "ab" else -quality
                z = signal + bias + noise * rng.normal()
                verdict = "first" if z > 0.3 else "second" if z < -0.3 else "tie"
                score_x = round(5 + 2 * quality + rng.normal(), 0)
                score_y = round(5 + rng.normal(), 0)
                score_a, score_b = (score_x, score_y) if order == "ab" else (score_y, score_x)
                rows.append((judge, pair, order, verdict, score_a, score_b))
    df = pd.DataFrame(rows, columns=["judge", "pair_id", "ord", "verdict", "score_a", "score_b"])
    n = len(df)
    df["model"] = rng.choice(["m1", "m2", "m3", "m4"], size=n)
    df["outcome5"] = rng.choice(["A++", "A+", "A=B", "B+", "B++"], size=n, p=[0.15, 0.3, 0.2, 0.2, 0.15])
    df["len_a"] = rng.integers(100, 3000, size=n)
    df["len_b"] = rng.integers(100, 3000, size=n)
    return df


def rank_data(rng) -> pd.DataFrame:
    rows = []
    for task in range(12):
        for system in range(9):
            if rng.random() < 0.1:
                continue  # missing cell
            # Coarse scores so that ties occur within tasks.
            rows.append((f"sys{system}", f"task{task:02d}", round(0.05 * system + rng.normal(0, 0.15), 1)))
    return pd.DataFrame(rows, columns=["system", "task", "score"])


def position(df):
    out = {}
    for judge, g in df.groupby("judge"):
        decisive = g[g.verdict != "tie"]
        first_rate = (decisive.verdict == "first").mean()
        wide = g.pivot(index="pair_id", columns="ord", values="verdict").dropna()
        swap = {"first": "second", "second": "first", "tie": "tie"}
        consistent = (wide["ab"] == wide["ba"].map(swap)).mean()
        out[judge] = {"consistency": consistent, "first_position_rate": first_rate,
                      "pairs": len(wide), "verdicts": len(g)}
    return out


def score_comparison(df):
    out = {}
    for judge, g in df.groupby("judge"):
        by_score = np.sign(g.score_a - g.score_b)
        by_verdict = g.verdict.map({"first": 1, "second": -1, "tie": 0})
        conflicts = ((by_score * by_verdict) < 0).sum()
        mismatches = (by_score != by_verdict).sum()
        out[judge] = {"conflict_rate": conflicts / len(g), "mismatch_rate": mismatches / len(g),
                      "pairs": len(g)}
    return out


def wb_reward(df, k):
    base = df.outcome5.map({"A++": 1.0, "A+": 0.5, "A=B": 0.0, "B+": -0.5, "B++": -1.0})
    slight_a_long = (df.outcome5 == "A+") & (df.len_a - df.len_b > k)
    slight_b_long = (df.outcome5 == "B+") & (df.len_b - df.len_a > k)
    reward = base.where(~(slight_a_long | slight_b_long), 0.0)
    return reward.groupby(df.model).mean().to_dict()


def triads(left, right, winner):
    wins = {}
    for a, b, w in zip(left, right, winner):
        if a == b:
            continue
        if w == "tie":
            continue
        x, y = (a, b) if w == "left" else (b, a)
        wins[(x, y)] = wins.get((x, y), 0) + 1
    compared = set()
    for a, b in zip(left, right):
        if a != b:
            compared.add(frozenset((a, b)))
    def rel(a, b):
        if frozenset((a, b)) not in compared:
            return None
        d = wins.get((a, b), 0) - wins.get((b, a), 0)
        return (d > 0) - (d < 0)
    items = sorted(set(left) | set(right))
    counts = dict(triads=0, cycles=0, tie_between=0, equivalence_contradictions=0)
    for triad in itertools.combinations(items, 3):
        pairs = list(itertools.combinations(triad, 2))
        r = {p: rel(*p) for p in pairs}
        if None in r.values():
            continue
        counts["triads"] += 1
        tied = [p for p in pairs if r[p] == 0]
        if not tied:
            # Transitive iff some item beats both others.
            if not any(all(rel(x, y) == 1 for y in triad if y != x) for x in triad):
                counts["cycles"] += 1
        elif len(tied) == 1:
            x, y = tied[0]
            (z,) = [t for t in triad if t not in tied[0]]
            if rel(x, z) != rel(y, z):
                counts["tie_between"] += 1
        elif len(tied) == 2:
            counts["equivalence_contradictions"] += 1
    counts["weak_violations"] = counts["cycles"] + counts["tie_between"] + counts["equivalence_contradictions"]
    t = counts["triads"]
    counts["cycle_share"] = counts["cycles"] / t if t else float("nan")
    counts["weak_violation_share"] = counts["weak_violations"] / t if t else float("nan")
    return counts


def rank_rules(df):
    out = {}
    wide = df.pivot(index="system", columns="task", values="score")
    out["mean"] = wide.mean(axis=1).to_dict()
    ranks = wide.rank(axis=0, method="average", ascending=True)
    out["borda"] = (ranks - 1).sum(axis=1).to_dict()
    cope = {s: 0.0 for s in wide.index}
    for a, b in itertools.combinations(wide.index, 2):
        both = wide.loc[[a, b]].dropna(axis=1)
        if both.shape[1] == 0:
            continue
        wa = (both.loc[a] > both.loc[b]).sum()
        wb = (both.loc[b] > both.loc[a]).sum()
        if wa > wb:
            cope[a] += 1
        elif wb > wa:
            cope[b] += 1
        else:
            cope[a] += 0.5
            cope[b] += 0.5
    out["copeland"] = cope
    return out


def main() -> None:
    check = "--check" in sys.argv
    rng = np.random.default_rng(20261122)
    jd = judge_data(rng)
    rd = rank_data(rng)
    if check:
        jd = pd.read_csv(FIX / "judge_data.csv")
        rd = pd.read_csv(FIX / "rank_data.csv")
    rows = []
    for judge, fields in position(jd).items():
        rows += [("position_consistency", f, judge, v) for f, v in fields.items()]
    for judge, fields in score_comparison(jd).items():
        rows += [("score_comparison_inconsistency", f, judge, v) for f, v in fields.items()]
    for k in [500, 100]:
        rows += [(f"wb_reward_k{k}", "reward", m, v) for m, v in wb_reward(jd, k).items()]
    llm = pd.read_csv(LLMFAO)
    for f, v in triads(llm["left"], llm["right"], llm["winner"]).items():
        rows.append(("intransitivity", f, "all", v))
    for prompt, g in llm.groupby("prompt"):
        for f, v in triads(g["left"], g["right"], g["winner"]).items():
            rows.append(("intransitivity", f, f"prompt{prompt}", v))
    for method, values in rank_rules(rd).items():
        rows += [(f"rank_aggregate_{method}", "rating", s, v) for s, v in values.items()]
    ref = pd.DataFrame(rows, columns=["function", "field", "group", "value"])
    text = ref.to_csv(sep="\t", index=False, float_format="%.15g", lineterminator="\n")
    if check:
        old = pd.read_csv(FIX / "judge_ref.tsv", sep="\t", keep_default_na=False)
        new = pd.read_csv(pd.io.common.StringIO(text), sep="\t", keep_default_na=False)
        assert (old.iloc[:, :3] == new.iloc[:, :3]).all().all(), "fixture keys differ"
        a = pd.to_numeric(old.value, errors="coerce")
        b = pd.to_numeric(new.value, errors="coerce")
        assert ((a - b).abs().fillna(0) < 1e-12).all(), "fixture values differ"
        print("tests/fixtures/judge_ref.tsv confirmed")
        return
    jd.to_csv(FIX / "judge_data.csv", index=False, lineterminator="\n")
    rd.to_csv(FIX / "rank_data.csv", index=False, lineterminator="\n")
    (FIX / "judge_ref.tsv").write_text(text)
    print(f"wrote judge_data.csv ({len(jd)} rows), rank_data.csv ({len(rd)} rows), judge_ref.tsv ({len(ref)} values)")


if __name__ == "__main__":
    main()
