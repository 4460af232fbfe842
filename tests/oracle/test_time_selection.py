#!/usr/bin/env python3
"""Reference values for test-time selection: majority vote and best-of-n at every k.

Writes, from a fixed seed:

  tests/fixtures/selection_data.csv  problem,sample,answer,is_correct,reward
  tests/fixtures/selection_ref.tsv   index "problem|k", maj_at_k, best_of_n_at_k

The data holds 40 problems with n samples each (n from 1 to 12, including n=1, n=2 and
several n=12). Answers are short strings per problem ('A'..'E' and numeric-looking strings
such as '42'); exactly one answer string per problem is the correct one, and is_correct is
1 for every sample with that answer and 0 otherwise (some problems have no correct sample,
some have only correct ones). Rewards are floats with deliberate exact ties (many rounded
to 1 decimal), including ties at the top.

For every problem and every k from 1 to n (that problem's sample count), both columns are
computed by BRUTE FORCE over all C(n, k) subsets of the sample indices
(itertools.combinations), averaged with exact fractions (fractions.Fraction), then written
as floats:

  maj_at_k        in a subset, count each answer; the top answers are those with the maximum
                  count; the subset's score is (number of top answers that are correct) /
                  (number of top answers). Average over subsets.
  best_of_n_at_k  in a subset, the top samples are those with the maximum reward; the
                  subset's score is (number of top samples that are correct) / (number of
                  top samples). Average over subsets.

Usage: ~/.cache/prefdb/bench-venv/bin/python tests/oracle/test_time_selection.py [--check]
"""
import itertools
import sys
from collections import Counter
from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "selection_data.csv"
REF = ROOT / "tests" / "fixtures" / "selection_ref.tsv"
ANSWERS = ["A", "B", "C", "D", "E", "42", "7", "-1", "3.5", "100"]
PROBLEMS = 40


def problem_plan(rng):
    """(n, kind, rewards) per problem. kind: 'none' (no correct sample), 'all' (every sample
    correct) or 'mixed'. rewards: 'coarse' (1 decimal), 'fine' (3 decimals), 'top_tie'
    (coarse, with the maximum shared by a correct and an incorrect sample) or 'constant'."""
    plan = [
        (1, "all", "coarse"),
        (1, "none", "fine"),
        (2, "all", "coarse"),
        (2, "none", "top_tie"),
        (2, "mixed", "top_tie"),  # one correct, one incorrect, equal rewards
        (2, "mixed", "fine"),
        (12, "all", "top_tie"),
        (12, "none", "coarse"),
        (12, "split", "top_tie"),  # answers 4/4/4: three-way majority ties
        (12, "mixed", "constant"),  # every reward equal
        (12, "mixed", "coarse"),
        (12, "mixed", "top_tie"),
        (12, "mixed", "fine"),
        (12, "mixed", "top_tie"),
    ]
    while len(plan) < PROBLEMS:
        n = int(rng.integers(3, 12))
        kind = str(rng.choice(["none", "all", "mixed"], p=[0.15, 0.1, 0.75]))
        reward = str(rng.choice(["coarse", "fine", "top_tie"], p=[0.4, 0.25, 0.35]))
        plan.append((n, kind, reward))
    return plan


def problem_samples(rng, n, kind, reward_kind):
    """Answers, correctness and rewards of one problem's n samples."""
    pool = list(rng.choice(ANSWERS, size=int(rng.integers(2, 6)), replace=False))
    correct = pool[0]
    if kind == "all":
        answers = [correct] * n
    elif kind == "none":
        wrong = pool[1:]
        answers = [wrong[int(i)] for i in rng.integers(0, len(wrong), n)]
    elif kind == "split":
        answers = [pool[i % 3] if len(pool) >= 3 else ANSWERS[i % 3] for i in range(n)]
        correct = answers[0]
        answers = [answers[int(i)] for i in rng.permutation(n)]
    else:
        # Skewed draw: the correct answer is likeliest but not dominant.
        p = np.array([2.0] + [1.0 + rng.random() for _ in pool[1:]])
        while True:
            answers = [pool[int(i)] for i in rng.choice(len(pool), size=n, p=p / p.sum())]
            if correct in answers and any(a != correct for a in answers):
                break
    is_correct = [int(a == correct) for a in answers]

    if reward_kind == "constant":
        rewards = [0.5] * n
    elif reward_kind == "fine":
        rewards = [round(float(x), 3) for x in rng.normal(0.2 * np.array(is_correct), 1.0)]
    else:
        rewards = [round(float(x), 1) for x in rng.uniform(0, 1, n) + 0.2 * np.array(is_correct)]
        if reward_kind == "top_tie" and n >= 2:
            top = max(rewards) + 0.1 if rng.random() < 0.5 else max(rewards)
            top = round(top, 1)
            right = [i for i in range(n) if is_correct[i]]
            wrong = [i for i in range(n) if not is_correct[i]]
            if right and wrong:
                picks = [int(rng.choice(right)), int(rng.choice(wrong))]
            else:
                picks = [int(i) for i in rng.choice(n, size=2, replace=False)]
            for i in picks:
                rewards[i] = top
    return answers, is_correct, rewards


def maj_score(answers, correct_answers):
    counts = Counter(answers)
    best = max(counts.values())
    top = [a for a, c in counts.items() if c == best]
    return Fraction(sum(a in correct_answers for a in top), len(top))


def best_score(rewards, is_correct):
    best = max(rewards)
    top = [c for r, c in zip(rewards, is_correct) if r == best]
    return Fraction(sum(top), len(top))


def brute_force(answers, is_correct, rewards, k):
    """Exact averages of the two subset scores over all C(n, k) subsets."""
    n = len(answers)
    correct_answers = {a for a, c in zip(answers, is_correct) if c}
    maj = best = Fraction(0)
    subsets = 0
    for subset in itertools.combinations(range(n), k):
        maj += maj_score([answers[i] for i in subset], correct_answers)
        best += best_score([rewards[i] for i in subset], [is_correct[i] for i in subset])
        subsets += 1
    assert subsets == comb(n, k)
    return maj / subsets, best / subsets


def main():
    rng = np.random.default_rng(20240611)
    rows = ["problem,sample,answer,is_correct,reward"]
    for p, (n, kind, reward_kind) in enumerate(problem_plan(rng)):
        answers, is_correct, rewards = problem_samples(rng, n, kind, reward_kind)
        for s in range(n):
            rows.append(f"p{p:02d},{s},{answers[s]},{is_correct[s]},{rewards[s]!r}")
    data_text = "\n".join(rows) + "\n"
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "selection_data.csv differs from a fresh run"
        print("tests/fixtures/selection_data.csv confirmed")
    else:
        DATA.write_text(data_text)
        print(f"wrote tests/fixtures/selection_data.csv: {len(rows) - 1} samples")

    # Compute from the CSV as a reader sees it: answers as strings, rewards parsed back.
    df = pd.read_csv(DATA, dtype={"problem": str, "answer": str})
    keys, maj_col, best_col = [], [], []
    for problem, g in df.groupby("problem", sort=True):
        g = g.sort_values("sample")
        answers, is_correct, rewards = list(g.answer), [int(c) for c in g.is_correct], [float(r) for r in g.reward]
        right = {a for a, c in zip(answers, is_correct) if c}
        assert len(right) <= 1, f"{problem}: two correct answers"
        assert all(c == int(a in right) for a, c in zip(answers, is_correct)), f"{problem}: inconsistent is_correct"
        n = len(answers)
        for k in range(1, n + 1):
            maj, best = brute_force(answers, is_correct, rewards, k)
            if k == 1:  # a single sample is its own majority and its own best
                assert maj == best == Fraction(sum(is_correct), n)
            keys.append(f"{problem}|{k}")
            maj_col.append(float(maj))
            best_col.append(float(best))
    table = pd.DataFrame({"maj_at_k": maj_col, "best_of_n_at_k": best_col}, index=keys)
    table.index.name = "problem|k"

    sizes = df.groupby("problem").size()
    correct = df.groupby("problem").is_correct.agg(["min", "max"])
    summary = (
        f"{len(table)} rows, {len(sizes)} problems, n in [{sizes.min()}, {sizes.max()}] "
        f"({(sizes == 1).sum()} with n=1, {(sizes == 2).sum()} with n=2, {(sizes == 12).sum()} with n=12), "
        f"{(correct['max'] == 0).sum()} with no correct sample, {(correct['min'] == 1).sum()} all correct"
    )
    if not write_or_check(table, REF, 1e-12, summary):
        examples = ["p00|1", "p01|1", "p04|1", "p04|2", "p08|3", "p08|12", "p09|6", "p11|1", "p11|5", "p11|12"]
        print(table.loc[examples].to_string(float_format="%.12f"))


if __name__ == "__main__":
    main()
