//! The declarations of the calibration and scorer-quality functions.

use crate::options::MAX_BINS;
use crate::spec::ArgType::{Label, Ordered, Probability};
use crate::spec::FieldType::{Float, Int};
use crate::spec::{Arg, Doc, FunctionSpec, OptionSpec, OptionType, OutField, Output, Section};

const NULLS: &str = "A row where either argument is NULL is skipped. NaN, infinities and values \
outside an argument's range are errors that name the function and show the value.";
const NO_ROWS: &str = "The result is NULL for no rows.";

const PROB: Arg = Arg::required(
    "prob",
    Probability,
    "The predicted probability of the positive class.",
);
const LABEL: Arg = Arg::required(
    "label",
    Label,
    "The outcome: true or 1 for the positive class.",
);

fn eps_range(v: f64) -> bool {
    v > 0.0 && v < 0.5
}

const EPS: OptionSpec = OptionSpec {
    key: "eps",
    ty: OptionType::Number {
        valid: eps_range,
        what: "a number in (0, 0.5)",
    },
    default: Some("1e-15"),
    meaning: "Probabilities are clipped to [eps, 1 - eps], so a confident mistake costs -ln(eps) rather than infinity.",
};

const BIN_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "bins",
        ty: OptionType::Integer {
            min: 1,
            max: MAX_BINS as u64,
        },
        default: Some("15"),
        meaning: "Number of bins.",
    },
    OptionSpec {
        key: "strategy",
        ty: OptionType::Choice(&["uniform", "quantile"]),
        default: Some("uniform"),
        meaning: "uniform: bins of equal width; quantile: bins of equal counts (adaptive ECE).",
    },
    OptionSpec {
        key: "norm",
        ty: OptionType::Choice(&["l1", "l2", "max"]),
        default: Some("l1"),
        meaning: "How bin gaps combine: l1, the count-weighted mean gap; l2, the root of the weighted mean squared gap; max, the largest gap (maximum calibration error).",
    },
];

const BINS_RULE: &str = "Bins are (lower, upper], the first also holding its lower edge, so \
prob = 0 falls in the first bin and prob = 1 in the last (scikit-learn's calibration_curve rule).";

pub(crate) static BRIER_SCORE: FunctionSpec = FunctionSpec {
    name: "brier_score",
    section: Section::Calibration,
    args: &[PROB, LABEL],
    output: Output::Number,
    doc: Doc {
        summary: "Mean squared error of probabilities against binary outcomes.",
        method: "Mean of (prob - label)^2 (Brier 1950; reference: scikit-learn brier_score_loss).",
        nulls: NULLS,
        degenerate: NO_ROWS,
        example: "SELECT brier_score(confidence, is_correct) FROM judge_outputs;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static LOG_LOSS: FunctionSpec = FunctionSpec {
    name: "log_loss",
    section: Section::Calibration,
    args: &[PROB, LABEL],
    options: &[EPS],
    output: Output::Number,
    doc: Doc {
        summary: "Mean negative log-likelihood of binary outcomes (cross-entropy).",
        method: "Mean of -(label ln p + (1 - label) ln(1 - p)) with p clipped to [eps, 1 - eps] (reference: scikit-learn log_loss).",
        nulls: NULLS,
        degenerate: NO_ROWS,
        example: "SELECT log_loss(prob, label, 'eps=1e-7') FROM predictions;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static ECE: FunctionSpec = FunctionSpec {
    name: "ece",
    section: Section::Calibration,
    args: &[PROB, LABEL],
    options: BIN_OPTIONS,
    output: Output::Number,
    doc: Doc {
        summary: "Expected calibration error: how far predicted probabilities are from observed frequencies, over bins.",
        method: "Sum over bins of (n_b / N) |mean_prob_b - frac_positive_b| with norm=l1; the square root of the weighted mean squared gap with norm=l2; the largest gap with norm=max. For the top-label ECE of a multiclass model pass (confidence of the predicted class, prediction is correct).",
        nulls: NULLS,
        degenerate: "The result is NULL for no rows. Bins are (lower, upper], the first also holding its lower edge (scikit-learn's calibration_curve rule); empty bins do not count.",
        example: "SELECT ece(max_prob, predicted = gold, 'bins=10, strategy=quantile') FROM eval;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static BIN_FIELDS: &[OutField] = &[
    OutField::new("bin", Int, "Bin number, from 0."),
    OutField::new("lower", Float, "Lower edge of the bin."),
    OutField::new("upper", Float, "Upper edge of the bin."),
    OutField::new("count", Int, "Rows in the bin."),
    OutField::new(
        "mean_prob",
        Float,
        "Mean predicted probability in the bin (scikit-learn calibration_curve's prob_pred).",
    ),
    OutField::new(
        "frac_positive",
        Float,
        "Share of positive labels in the bin (calibration_curve's prob_true).",
    ),
    OutField::new("gap", Float, "mean_prob - frac_positive."),
];

pub(crate) static RELIABILITY_BINS: FunctionSpec = FunctionSpec {
    name: "reliability_bins",
    section: Section::Calibration,
    args: &[PROB, LABEL],
    options: BIN_OPTIONS,
    output: Output::List(BIN_FIELDS),
    doc: Doc {
        summary: "The reliability diagram: one entry per non-empty bin, with the bins and options of ece.",
        method: BINS_RULE,
        nulls: NULLS,
        degenerate: "The result is NULL for no rows.",
        example: "SELECT * FROM leaderboard('SELECT reliability_bins(prob, label, ''bins=10'') FROM predictions');",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static AUROC: FunctionSpec = FunctionSpec {
    name: "auroc",
    section: Section::Calibration,
    args: &[
        Arg::required("score", Ordered, "The score; only its order matters (integers are compared exactly)."),
        LABEL,
    ],
    output: Output::Number,
    doc: Doc {
        summary: "Area under the ROC curve: the probability that a random positive scores above a random negative.",
        method: "The Mann-Whitney U statistic with midranks, so that tied scores count half (reference: scikit-learn roc_auc_score).",
        nulls: NULLS,
        degenerate: "The result is NULL for no rows, and an error unless both classes occur.",
        example: "SELECT auroc(reward, is_preferred) FROM scored;",
    },
    ..FunctionSpec::PLAIN
};

const X: Arg = Arg::required("x", Ordered, "First variable; only its order matters.");
const Y: Arg = Arg::required("y", Ordered, "Second variable; only its order matters.");

pub(crate) static TEST_FIELDS: &[OutField] = &[
    OutField::new("statistic", Float, "The coefficient."),
    OutField::new("p_value", Float, "Two-sided p-value of no association."),
];

pub(crate) static SPEARMAN: FunctionSpec = FunctionSpec {
    name: "spearman",
    section: Section::Calibration,
    args: &[X, Y],
    output: Output::Number,
    doc: Doc {
        summary: "Spearman's rank correlation.",
        method: "Pearson's r of the midranks (reference: SciPy spearmanr). Pearson's r itself is DataFusion's corr(x, y).",
        nulls: NULLS,
        degenerate: "NULL for fewer than 3 pairs or a constant column.",
        example: "SELECT spearman(a.rating, b.rating) FROM judge AS a JOIN human AS b USING (item);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SPEARMAN_TEST: FunctionSpec = FunctionSpec {
    name: "spearman_test",
    section: Section::Calibration,
    args: &[X, Y],
    output: Output::Struct(TEST_FIELDS),
    doc: Doc {
        summary: "Spearman's rho with its two-sided p-value.",
        method: "The p-value comes from t = rho sqrt((n - 2) / (1 - rho^2)) on n - 2 degrees of freedom (reference: SciPy spearmanr).",
        nulls: NULLS,
        degenerate: "Both fields are NULL for fewer than 3 pairs or a constant column.",
        example: "SELECT spearman_test(x, y)['p_value'] FROM t;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static KENDALL_TAU: FunctionSpec = FunctionSpec {
    name: "kendall_tau",
    section: Section::Calibration,
    args: &[X, Y],
    output: Output::Number,
    doc: Doc {
        summary: "Kendall's tau-b rank correlation, corrected for ties.",
        method: "Computed in O(n log n) by Knight's algorithm (reference: SciPy kendalltau).",
        nulls: NULLS,
        degenerate: "NULL for fewer than 2 pairs or a constant column.",
        example: "SELECT kendall_tau(judge_rank, human_rank) FROM ranks;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static KENDALL_TAU_TEST: FunctionSpec = FunctionSpec {
    name: "kendall_tau_test",
    section: Section::Calibration,
    args: &[X, Y],
    output: Output::Struct(TEST_FIELDS),
    doc: Doc {
        summary: "Kendall's tau-b with its two-sided p-value.",
        method: "The p-value comes from the tie-corrected normal approximation (reference: SciPy kendalltau, method='asymptotic').",
        nulls: NULLS,
        degenerate: "Both fields are NULL for fewer than 2 pairs or a constant column.",
        example: "SELECT kendall_tau_test(x, y) FROM t;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static PAIRWISE_ACCURACY: FunctionSpec = FunctionSpec {
    name: "pairwise_accuracy",
    section: Section::Calibration,
    args: &[
        Arg::required("score_chosen", Ordered, "Score of the preferred response."),
        Arg::required("score_rejected", Ordered, "Score of the other response."),
    ],
    output: Output::Number,
    doc: Doc {
        summary: "Share of pairs where the chosen response scores higher than the rejected one, ties counting half.",
        method: "RewardBench-style accuracy of a reward model, or the ranking accuracy of log-likelihoods.",
        nulls: NULLS,
        degenerate: NO_ROWS,
        example: "SELECT pairwise_accuracy(reward_chosen, reward_rejected) FROM preference_pairs;",
    },
    ..FunctionSpec::PLAIN
};

/// The declarations in documentation order.
pub(crate) static SPECS: [&FunctionSpec; 10] = [
    &BRIER_SCORE,
    &LOG_LOSS,
    &ECE,
    &RELIABILITY_BINS,
    &AUROC,
    &SPEARMAN,
    &SPEARMAN_TEST,
    &KENDALL_TAU,
    &KENDALL_TAU_TEST,
    &PAIRWISE_ACCURACY,
];
