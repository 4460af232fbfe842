#!/usr/bin/env python3
"""Reference agreement statistics from scikit-learn, statsmodels and irrCAC.

Datasets of varied shape (2 to 10 raters, 2 to 7 categories, missing ratings, 12,000 units):

  tests/fixtures/agreement_data.csv  dataset,unit,rater,value (long form; missing rows left out)
  tests/fixtures/agreement_ref.tsv   dataset, statistic, value (17 significant digits)

Statistics:
  percent_agreement            irrCAC CAC(...).gwet() pa (identity weights)
  gwet_ac1                     irrCAC gwet(), identity weights
  gwet_ac2_linear / _quadratic irrCAC gwet() with "linear" / "quadratic" weights
  fleiss_kappa                 statsmodels fleiss_kappa (complete datasets only)
  cohen_none/_linear/_quadratic  sklearn cohen_kappa_score on raters 0 and 1 (rows with both)
  scott_pi                     irrCAC fleiss() on raters 0 and 1 (rows with both): Fleiss'
                               kappa for two raters is Scott's pi

Usage: python tests/oracle/agreement.py [--check]
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "agreement_data.csv"
REF = ROOT / "tests" / "fixtures" / "agreement_ref.tsv"

# (raters, categories, units, missing share, agreement strength)
SHAPES = [
    (3, 4, 300, 0.0, 0.6),
    (7, 5, 2000, 0.0, 0.4),
    (2, 2, 80, 0.1, 0.3),
    (4, 3, 1000, 0.3, 0.5),
    (10, 7, 500, 0.5, 0.7),
    (5, 6, 12000, 0.2, 0.5),
]


def dataset(rng, raters, categories, units, missing, strength):
    truth = rng.integers(1, categories + 1, size=units)
    data = np.where(
        rng.random((units, raters)) < strength,
        truth[:, None],
        rng.integers(1, categories + 1, size=(units, raters)),
    ).astype(float)
    data[rng.random((units, raters)) < missing] = np.nan
    return data


def statistics(data):
    frame = pd.DataFrame(data)
    out = {}
    gwet = CAC(frame, digits=17)
    gwet.gwet()
    out["percent_agreement"] = gwet.pa
    out["gwet_ac1"] = gwet.coefficient_value
    for weights in ["linear", "quadratic"]:
        cac = CAC(frame, weights=weights, digits=17)
        cac.gwet()
        out[f"gwet_ac2_{weights}"] = cac.coefficient_value
    if not np.isnan(data).any():
        table, _ = aggregate_raters(data.astype(int))
        out["fleiss_kappa"] = fleiss_kappa(table, method="fleiss")
    both = ~np.isnan(data[:, 0]) & ~np.isnan(data[:, 1])
    a, b = data[both, 0].astype(int), data[both, 1].astype(int)
    out["cohen_none"] = cohen_kappa_score(a, b)
    out["cohen_linear"] = cohen_kappa_score(a, b, weights="linear")
    out["cohen_quadratic"] = cohen_kappa_score(a, b, weights="quadratic")
    pair = CAC(pd.DataFrame({"r0": a, "r1": b}), digits=17)
    pair.fleiss()
    out["scott_pi"] = pair.coefficient_value
    return out


def main():
    rng = np.random.default_rng(4)
    rows, refs = ["dataset,unit,rater,value"], ["dataset\tstatistic\tvalue"]
    for d, shape in enumerate(SHAPES):
        data = dataset(rng, *shape)
        for u in range(data.shape[0]):
            for r in range(data.shape[1]):
                if not np.isnan(data[u, r]):
                    rows.append(f"{d},{u},{r},{int(data[u, r])}")
        for name, value in statistics(data).items():
            refs.append(f"{d}\t{name}\t{float(value):.17g}")
    data_text, ref_text = "\n".join(rows) + "\n", "\n".join(refs) + "\n"
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "agreement_data.csv differs from a fresh run"
        parse = lambda t: {tuple(l.split("\t")[:2]): float(l.split("\t")[2]) for l in t.splitlines()[1:]}
        old, new = parse(REF.read_text()), parse(ref_text)
        worst = max(abs(old[k] - new[k]) for k in new)
        assert old.keys() == new.keys() and worst < 1e-12, f"agreement_ref.tsv differs by {worst}"
        print("agreement fixtures confirmed")
    else:
        DATA.write_text(data_text)
        REF.write_text(ref_text)
        print(f"wrote {len(rows) - 1} ratings in {len(SHAPES)} datasets and {len(refs) - 1} reference values")


if __name__ == "__main__":
    main()
