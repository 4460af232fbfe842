#!/usr/bin/env python3
"""Reference Plackett-Luce strengths for pl_rank.

Draws K-wise rankings (K = 2..6 of 15 items, some repeated with weights, and a second set
with tied positions) from a Plackett-Luce model with a fixed seed, writes them to
tests/fixtures/pl_rankings.csv (ranking_id, item, position, weight, kind), and writes
centred natural-log strengths to tests/fixtures/pl_ref.tsv:

  ilsr         choix.ilsr_rankings (I-LSR, Maystre & Grossglauser 2015), alpha=0, on the
               untied rankings with each weighted ranking repeated `weight` times
  opt          choix.opt_rankings (a different solver): cross-check of ilsr
  prior        SciPy BFGS on log L - 0.005 * sum(s^2) (pl_rank's default prior=0.01)
  breslow      SciPy BFGS, prior 0, on the tied rankings with Breslow's tie convention:
               each item of a tied group is chosen from the group and everything below

Usage: python tests/oracle/plackett_luce.py [--check]
"""
import sys
from pathlib import Path

import choix
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "pl_rankings.csv"
OUT = ROOT / "tests" / "fixtures" / "pl_ref.tsv"
N = 15


def draw(rng, strengths, k):
    items = rng.choice(N, size=k, replace=False)
    order = []
    remaining = list(items)
    while remaining:
        w = np.exp(strengths[remaining])
        pick = rng.choice(len(remaining), p=w / w.sum())
        order.append(remaining.pop(pick))
    return order


def make_data():
    rng = np.random.default_rng(7)
    strengths = rng.normal(0, 1, N)
    rows = []
    rid = 0
    for _ in range(1500):
        order = draw(rng, strengths, int(rng.integers(2, 7)))
        weight = int(rng.choice([1, 1, 1, 2, 3]))
        rows += [(f"r{rid}", f"item{i:02d}", pos + 1, weight, "plain") for pos, i in enumerate(order)]
        rid += 1
    for _ in range(800):
        order = draw(rng, strengths, int(rng.integers(3, 7)))
        # Merge some neighbours into ties: equal positions.
        position, positions = 1, []
        for idx in range(len(order)):
            if idx > 0 and rng.random() >= 0.3:
                position = idx + 1
            positions.append(position if idx > 0 else 1)
        rows += [(f"t{rid}", f"item{i:02d}", p, 1, "tied") for i, p in zip(order, positions)]
        rid += 1
    return pd.DataFrame(rows, columns=["ranking_id", "item", "position", "weight", "kind"])


def groups_of(df):
    out = []
    for _, g in df.groupby("ranking_id", sort=False):
        g = g.sort_values("position")
        groups = [list(x.item_idx) for _, x in g.groupby("position", sort=True)]
        out.append((groups, float(g.weight.iloc[0])))
    return out


def neg_loglik(s, rankings, prior):
    f = 0.5 * prior * (s ** 2).sum()
    for groups, w in rankings:
        risk = []
        for group in reversed(groups):
            risk = risk + group
            if len(risk) > 1:
                lse = np.log(np.exp(s[risk]).sum())
                f -= w * (s[group].sum() - len(group) * lse)
    return f


def scipy_fit(rankings, prior):
    if prior > 0:
        f = lambda x: neg_loglik(x, rankings, prior)
        x0 = np.zeros(N)
    else:
        f = lambda x: neg_loglik(np.concatenate([[0.0], x]), rankings, 0.0)
        x0 = np.zeros(N - 1)
    r = minimize(f, x0, method="BFGS", jac="3-point", options={"gtol": 1e-10, "maxiter": 10000})
    s = r.x if prior > 0 else np.concatenate([[0.0], r.x])
    return s - s.mean()


def main():
    df = pd.read_csv(DATA) if "--check" in sys.argv else make_data()
    df["item_idx"] = df.item.str[4:].astype(int)
    plain = df[df.kind == "plain"]
    plain_rankings = groups_of(plain)
    choix_data = []
    for groups, w in plain_rankings:
        choix_data += [[g[0] for g in groups]] * int(w)
    table = pd.DataFrame(index=[f"item{i:02d}" for i in range(N)])
    ilsr = choix.ilsr_rankings(N, choix_data, alpha=0.0, tol=1e-14, max_iter=100000)
    table["ilsr"] = ilsr - ilsr.mean()
    opt = choix.opt_rankings(N, choix_data, alpha=0.0, tol=1e-12)
    table["opt"] = opt - opt.mean()
    gap = (table.ilsr - table.opt).abs().max()
    assert gap < 1e-6, f"choix solvers disagree by {gap}"
    table["prior"] = scipy_fit(plain_rankings, 0.01)
    table["breslow"] = scipy_fit(groups_of(df[df.kind == "tied"]), 0.0)
    table.index.name = "item"
    if write_or_check(table, OUT, 1e-6, f"choix ilsr vs opt {gap:.1e}"):
        return
    df.drop(columns="item_idx").to_csv(DATA, index=False, lineterminator="\n")
    print(f"wrote {DATA.name} ({df.ranking_id.nunique()} rankings)")


if __name__ == "__main__":
    main()
