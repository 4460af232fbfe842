#!/usr/bin/env python3
"""Reference online-Elo ratings for ../shared/data/llmfao.csv.

Writes tests/fixtures/elo_llmfao.tsv: one row per model with the ratings evalica's `elo`
computes when the votes are replayed in the order elo_rank uses for
`ORDER BY id`: by id, and within an id (several workers judged each pair) by left model,
right model and outcome score (right win 0 < tie 0.5 < left win 1).

  default   k=4, scale=400, base=10, initial=1000 (FastChat's and evalica's defaults)
  k32       k=32, scale=200, base=4, initial=1500

Each column is cross-checked against a direct transcription of FastChat's
compute_online_elo (fastchat/serve/monitor/elo_analysis.py), which evalica does not share
code with.

Usage: python tests/oracle/elo_llmfao.py [--check]   (--check compares with the committed file)
"""
from collections import defaultdict
from pathlib import Path

import evalica
import pandas as pd
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
OUT = ROOT / "tests" / "fixtures" / "elo_llmfao.tsv"
SCORE = {"left": 1.0, "right": 0.0, "tie": 0.5}
CONFIGS = {
    "default": dict(k=4.0, scale=400.0, base=10.0, initial=1000.0),
    "k32": dict(k=32.0, scale=200.0, base=4.0, initial=1500.0),
}


def fastchat_online_elo(df: pd.DataFrame, k, scale, base, initial) -> dict:
    rating = defaultdict(lambda: initial)
    for a, b, winner in zip(df["left"], df["right"], df["winner"]):
        ra, rb = rating[a], rating[b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = SCORE[winner]
        rating[a] += k * (sa - ea)
        rating[b] += k * (1 - sa - eb)
    return rating


def main() -> None:
    df = pd.read_csv(DATA)
    df["score"] = df["winner"].map(SCORE)
    df = df.sort_values(["id", "left", "right", "score"], kind="stable").reset_index(drop=True)
    winners = df["winner"].map(
        {"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw}
    )
    table = pd.DataFrame(index=sorted(set(df["left"]) | set(df["right"])))
    for name, c in CONFIGS.items():
        result = evalica.elo(
            df["left"], df["right"], winners,
            k=c["k"], scale=c["scale"], base=c["base"], initial=c["initial"],
        )
        table[name] = result.scores
        fastchat = fastchat_online_elo(df, **c)
        gap = max(abs(result.scores[m] - fastchat[m]) for m in table.index)
        assert gap < 1e-9, f"{name}: evalica and FastChat disagree by {gap}"
    table.index.name = "model"
    write_or_check(table, OUT, 1e-9, f"{len(table)} models")


if __name__ == "__main__":
    main()
