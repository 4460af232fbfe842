#!/usr/bin/env python3
"""Reference Weng-Lin Plackett-Luce ratings from the openskill package.

Replays the rankings of tests/fixtures/pl_rankings.csv (written by plackett_luce.py; 2,300
matches of 2 to 6 items, some with tied positions) as matches in the order of the number in
their ranking_id, through openskill's PlackettLuce model, one-item teams, ranks = positions.
Writes tests/fixtures/openskill_ref.tsv: per item, mu, sigma and ordinal (mu - 3 sigma) with
the default model, and mu_custom / sigma_custom with
mu=30, sigma=6, beta=3, kappa=0.001, tau=0.5.

Usage: python tests/oracle/openskill_matches.py [--check]   (needs openskill==6.2.0)
"""
from pathlib import Path

import pandas as pd
from openskill.models import PlackettLuce
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "pl_rankings.csv"
OUT = ROOT / "tests" / "fixtures" / "openskill_ref.tsv"


def replay(df, model):
    ratings = {}
    df = df.assign(seq=df.ranking_id.str[1:].astype(int)).sort_values(["seq", "position", "item"])
    for _, match in df.groupby("seq", sort=True):
        items = list(match["item"])
        teams = [[ratings.get(i) or model.rating()] for i in items]
        result = model.rate(teams, ranks=[int(p) for p in match["position"]])
        for i, team in zip(items, result):
            ratings[i] = team[0]
    return ratings


def main():
    df = pd.read_csv(DATA)
    default = replay(df, PlackettLuce())
    custom = replay(df, PlackettLuce(mu=30.0, sigma=6.0, beta=3.0, kappa=0.001, tau=0.5))
    items = sorted(default)
    table = pd.DataFrame(
        {
            "mu": [default[i].mu for i in items],
            "sigma": [default[i].sigma for i in items],
            "ordinal": [default[i].ordinal() for i in items],
            "mu_custom": [custom[i].mu for i in items],
            "sigma_custom": [custom[i].sigma for i in items],
        },
        index=items,
    )
    table.index.name = "item"
    write_or_check(table, OUT, 1e-9, f"{len(items)} items")


if __name__ == "__main__":
    main()
