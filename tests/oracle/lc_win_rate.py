#!/usr/bin/env python3
"""Reference AlpacaEval 2.0 length-controlled win rates from alpaca_eval 0.6.6's own
`alpaca_eval.metrics.glm_winrate.get_length_controlled_winrate`, called once per model on
that model's annotations against the baseline, as `alpaca_eval.main.evaluate` does.

  tests/fixtures/lc_win_rate_data.csv  index, generator_1 (baseline), generator_2 (model),
                                       preference (1 baseline wins .. 2 model wins, 0 or 1.5
                                       draw, empty = no annotation), len_1, len_2 (output
                                       lengths in characters), instruction_difficulty, gamed
  tests/fixtures/lc_win_rate_ref.tsv   model; for each GLM (v1 = length_controlled_v1, the
                                       leaderboard default; noreg; minimal): win rate fields of
                                       get_winrate, length_controlled_winrate, lc_standard_error,
                                       the fitted coefficients and the C chosen by CV; and
                                       tight_*: the same fit at that C with liblinear's
                                       tolerance at 1e-12 (the exact optimum)

The model (alpaca_eval/metrics/glm_winrate.py, GLM_INFO / _get_featurized_data /
fit_LogisticRegressionCV / get_length_controlled_winrate), for one model m vs baseline b:

  rows i = annotations of m vs b, one per instruction x_i (preferences p_i in [1, 2]);
  y_i   = p_i - 1, with a draw coded 0 mapped to 1.5 first (so y_i = 0.5); y in [0, 1] is a
          soft label (probability that m wins).
  d_i   = (len(output_1_i) - len(output_2_i)) / sd(len_1 - len_2)
          i.e. BASELINE length minus MODEL length (characters, str.len()), divided by the
          sample standard deviation (ddof=1, NOT centred) over all rows of this model,
          including rows whose preference is missing.
  g_x   = instruction_difficulty of instruction x: NOT fitted here; read from the
          precomputed Hugging Face file tatsu-lab/alpaca_eval df_gamed.csv (the first
          occurrence of each `index`).
  formula (patsy, no intercept):  np.tanh(std_delta_len) + instruction_difficulty
                                  + not_gamed_baseline.astype(float) - 1
          P(m beats b on row i) = sigmoid(theta_m * 1 + phi * tanh(d_i) + psi * g_x)
          where theta_m is the coefficient of not_gamed_baseline (1 on every real row).
  fit   = sklearn LogisticRegressionCV(penalty="l1", solver="liblinear",
          fit_intercept=False, random_state=123, Cs=10 (default: C in logspace(-4, 4, 10)),
          cv=GroupKFold(5), scoring = weighted soft-label log loss, refit=True). Soft
          labels are handled by duplicating every row: once with y=1 and sample weight
          w_i*y_i, once with y=0 and weight w_i*(1-y_i); both copies share a CV group.
  v1 regularization (regularize_to_baseline_lambda = 0.2): the training set is the rows of
          df_gamed.csv (annotations of two "gamed" versions of the baseline - verbose and
          concise gpt4_1106_preview - against the baseline, with their own precomputed
          std_delta_len, preference in [0, 1], and not_gamed_baseline = 0) stacked with the
          model's rows (not_gamed_baseline = 1). Sample weights: 1 for the model's rows,
          0.2/2 = 0.1 for gamed rows. So phi and psi are shrunk toward what the gamed
          baselines show, and theta_m is fitted only by the model's rows.
          noreg: only the model's rows, weights 1. minimal: noreg without instruction_difficulty.
  rows with missing preference are dropped from the fit (but not from the prediction).
  LC win rate = 100 * mean_i sigmoid(theta_m + psi * g_{x_i})   (d = 0, over ALL rows of m
          incl. those with missing preference); lc_standard_error = 100 * sem of those.
  If generator_2 == generator_1 (the baseline itself) the rate is 50 by construction.

Synthetic stand-ins (the real df_gamed.csv cannot be downloaded here and covers AlpacaEval's
805 instructions): instruction_difficulty is drawn per instruction, and the gamed rows
(generator_2 = gamed_concise / gamed_verbose, gamed = 1 in the data CSV) are turned into a
df_gamed.csv by this script, std_delta_len standardized per gamed model exactly like a real
model's; glm_winrate.hf_hub_download is patched to return that file. The first gamed
model's rows are written in index order 0..N-1, so the label lookup
`instruction_difficulty[g]` in _get_featurized_data finds instruction g.

pip: python3 -m venv ~/.cache/prefdb/alpaca-venv &&
     ~/.cache/prefdb/alpaca-venv/bin/pip install alpaca_eval==0.6.6
     (resolved here with scikit-learn 1.9.1, pandas 3.1.1, numpy 2.4.6, patsy 1.0.3)

Usage: ~/.cache/prefdb/alpaca-venv/bin/python tests/oracle/lc_win_rate.py [--check]
"""
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture import write_or_check  # noqa: E402

import alpaca_eval.metrics.glm_winrate as glm  # noqa: E402

warnings.simplefilter("ignore", FutureWarning)  # sklearn 1.9 deprecations of penalty= etc.
logging.disable(logging.INFO)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "lc_win_rate_data.csv"
REF = ROOT / "tests" / "fixtures" / "lc_win_rate_ref.tsv"
BASELINE = "baseline"
N = 60
# model: (ability, log-length shift vs baseline, length bias of the judge)
MODELS = {"model_a": (0.3, 0.0, 0.0), "model_b": (-0.4, 0.5, 0.0), "model_c": (0.1, -0.3, 0.0)}
GAMED = {"gamed_concise": (0.0, -0.7, 0.0), "gamed_verbose": (0.0, 0.7, 0.0)}
LENGTH_EFFECT = 0.8  # judge prefers the longer output
GLMS = {"v1": "length_controlled_v1", "noreg": "length_controlled_noreg", "minimal": "length_controlled_minimal"}


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(20240605)
    difficulty = np.round(rng.normal(0.0, 0.8, N), 6)
    base_len = np.round(np.exp(rng.normal(7.0, 0.5, N))).astype(int)
    rows = []
    for gamed, models in ((0, MODELS), (1, GAMED)):
        for name, (ability, shift, _) in models.items():
            len_2 = np.round(np.exp(np.log(base_len) + shift + rng.normal(0.0, 0.3, N))).astype(int)
            x = (ability - 0.5 * difficulty
                 + LENGTH_EFFECT * np.tanh((len_2 - base_len) / 800.0)
                 + rng.normal(0.0, 0.8, N))
            pref = np.round(1.0 + 1.0 / (1.0 + np.exp(-2.0 * x)), 6)
            if gamed == 0:
                # a few hard verdicts and a draw coded 0 (alpaca_eval maps it to 1.5)
                pref[rng.choice(N, 6, replace=False)] = rng.choice([1.0, 2.0], 6)
                pref[rng.integers(N)] = 0.0
            for i in range(N):
                rows.append(dict(index=i, generator_1=BASELINE, generator_2=name, preference=pref[i],
                                 len_1=base_len[i], len_2=len_2[i], instruction_difficulty=difficulty[i],
                                 gamed=gamed))
    df = pd.DataFrame(rows)
    # one missing annotation: dropped from win_rate and from the fit, kept in the LC average
    df.loc[(df.generator_2 == "model_b") & (df["index"] == 7), "preference"] = np.nan
    return df


def df_gamed_csv(data: pd.DataFrame, path: Path) -> None:
    """The df_gamed.csv stand-in: model, index, preference in [0,1], std_delta_len,
    instruction_difficulty, not_gamed_baseline=False."""
    parts = []
    for name in GAMED:
        g = data[data.generator_2 == name].sort_values("index")
        delta = g.len_1 - g.len_2
        parts.append(pd.DataFrame(dict(
            model=name, index=g["index"].values,
            preference=g.preference.astype(float).replace({0.0: 1.5}).values - 1,
            std_delta_len=(delta / delta.std()).values,
            instruction_difficulty=g.instruction_difficulty.values,
            not_gamed_baseline=False)))
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)


def tight_coefficients(data: pd.DataFrame, sample_weight, c: float) -> dict:
    """Refit fit_LogisticRegressionCV's final model (same duplicated soft-label rows and
    weights, same C) with liblinear's tolerance at 1e-12 instead of 1e-4."""
    from sklearn.linear_model import LogisticRegression

    x = data.drop(columns=["preference"])
    p = data["preference"].to_numpy()
    w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    xx = pd.concat([x, x], axis=0)
    y = np.concatenate([np.ones(len(p)), np.zeros(len(p))]).astype(int)
    sw = np.concatenate([w * p, w * (1 - p)])
    model = LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=1e-12,
                               max_iter=1_000_000, random_state=123)
    model.fit(xx, y, sample_weight=sw)
    return dict(zip(x.columns, model.coef_[0]))


def main():
    data = make_data()
    data_text = data.to_csv(index=False, lineterminator="\n", float_format="%.6f")
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "lc_win_rate_data.csv differs from a fresh run"
    else:
        DATA.write_text(data_text)
    data = pd.read_csv(DATA)

    tmp = Path(tempfile.mkdtemp())
    df_gamed_csv(data, tmp / "df_gamed.csv")
    glm.hf_hub_download = lambda **kw: str(tmp / "df_gamed.csv")
    fitted = []
    real_fit = glm.fit_LogisticRegressionCV

    def spy_fit(*a, **kw):
        model = real_fit(*a, **kw)
        fitted.append((model, a, kw))
        return model

    glm.fit_LogisticRegressionCV = spy_fit

    out = {}
    for name in MODELS:
        rows = data[data.generator_2 == name].reset_index(drop=True)
        ann = pd.DataFrame(dict(
            index=rows["index"], generator_1=rows.generator_1, generator_2=rows.generator_2,
            preference=rows.preference, annotator="synthetic",
            output_1=["x" * n for n in rows.len_1], output_2=["x" * n for n in rows.len_2]))
        rec = {}
        for tag, glm_name in GLMS.items():
            fitted.clear()
            m = glm.get_length_controlled_winrate(ann.copy(), glm_name=glm_name, save_weights_dir=None,
                                                  is_warn_extreme_changes=False)
            model, args, kwargs = fitted[0]
            tight = tight_coefficients(args[0], kwargs.get("sample_weight"), float(model.C_[0]))
            if tag == "v1":
                for k in ("win_rate", "standard_error", "discrete_win_rate", "n_wins", "n_wins_base",
                          "n_draws", "n_total"):
                    rec[k] = float(m[k])
            rec[f"{tag}_lc_win_rate"] = float(m["length_controlled_winrate"])
            rec[f"{tag}_lc_standard_error"] = float(m["lc_standard_error"])
            coefs = dict(zip(model.feature_names_in_, model.coef_[0]))
            rec[f"{tag}_coef_model"] = coefs["not_gamed_baseline.astype(float)"]
            rec[f"{tag}_coef_tanh_len"] = coefs["np.tanh(std_delta_len)"]
            rec[f"{tag}_coef_difficulty"] = coefs.get("instruction_difficulty", 0.0)
            rec[f"{tag}_C"] = float(model.C_[0])
            # The same penalised problem at the chosen C solved to liblinear tol=1e-12: the
            # exact optimum prefdb computes, free of liblinear's default stopping error.
            theta, phi, psi = (tight.get(k, 0.0) for k in ("not_gamed_baseline.astype(float)",
                                                          "np.tanh(std_delta_len)",
                                                          "instruction_difficulty"))
            g = rows.instruction_difficulty.values if tag != "minimal" else np.zeros(len(rows))
            pred = 1.0 / (1.0 + np.exp(-(theta + psi * g)))
            rec[f"{tag}_tight_lc_win_rate"] = 100 * pred.mean()
            rec[f"{tag}_tight_coef_model"] = theta
            rec[f"{tag}_tight_coef_tanh_len"] = phi
            rec[f"{tag}_tight_coef_difficulty"] = psi
        out[name] = rec
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "model"
    write_or_check(table, REF, 1e-6,
                   summary=", ".join(f"{k} lc={v['v1_lc_win_rate']:.3f} wr={v['win_rate']:.3f}"
                                     for k, v in out.items()))


if __name__ == "__main__":
    main()
