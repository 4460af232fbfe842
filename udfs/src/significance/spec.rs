//! The declarations of the significance tests: `paired_test` and `mcnemar`.

use crate::spec::ArgType::{Item, Label, Number};
use crate::spec::FieldType::{Float, Int};
use crate::spec::{
    Arg, Doc, FunctionSpec, OptionSpec, OptionType, OutField, Output, Section, CONFIDENCE, SEED,
};

/// The most resampled values a permutation or bootstrap test computes: resamples × pairs.
pub(crate) const MAX_RESAMPLED_VALUES: u64 = 2_000_000_000;

pub(crate) static PAIRED_TEST_FIELDS: &[OutField] = &[
    OutField::new("n", Int, "Pairs with both scores."),
    OutField::new("mean_diff", Float, "The mean of score_a - score_b."),
    OutField::new("ci_lower", Float, "Lower end of the interval for the mean difference (method=t: Student's t interval; method=bootstrap: percentile interval); NULL for wilcoxon and permutation."),
    OutField::new("ci_upper", Float, "Upper end of that interval."),
    OutField::new("statistic", Float, "t: the t statistic; wilcoxon: the smaller of the positive and negative rank sums; permutation and bootstrap: the mean difference."),
    OutField::new("p_value", Float, "Two-sided p-value for no difference."),
];

pub(crate) static PAIRED_TEST: FunctionSpec = FunctionSpec {
    name: "paired_test",
    section: Section::Significance,
    args: &[
        Arg::required("score_a", Number, "System A's score on an item (a metric, a rating, 1/0 correctness)."),
        Arg::required("score_b", Number, "System B's score on the same item."),
    ],
    options: &[
        OptionSpec {
            key: "method",
            ty: OptionType::Choice(&["t", "wilcoxon", "permutation", "bootstrap"]),
            default: Some("t"),
            meaning: "t: Student's paired t-test (SciPy ttest_rel); wilcoxon: Wilcoxon's signed-rank test (SciPy wilcoxon's defaults); permutation: the sign-flip permutation test of the mean difference (SciPy permutation_test, permutation_type='samples'); bootstrap: the percentile bootstrap of the mean difference.",
        },
        OptionSpec {
            key: "resamples",
            ty: OptionType::Integer {
                min: 1,
                max: 1_000_000,
            },
            default: Some("10000"),
            meaning: "Random sign assignments (permutation, exact over all 2^n when 2^n <= resamples) or bootstrap resamples; resamples × pairs at most 2000000000.",
        },
        SEED,
        CONFIDENCE,
    ],
    output: Output::Struct(PAIRED_TEST_FIELDS),
    doc: Doc {
        summary: "Is system A better than system B on the same items? A paired test of the score differences.",
        method: "Each row is one item scored for both systems; d = score_a - score_b. method=t: t = mean(d) / (sd(d) / sqrt(n)) on n - 1 degrees of freedom, two-sided, with the t interval at the chosen confidence (SciPy ttest_rel and its confidence_interval). method=wilcoxon: zero differences are dropped, the others ranked by |d| with midranks; the statistic is min(W+, W-). Without zeros or ties among at most 50 differences the p-value is exact (the signed-rank distribution, by counting subsets); otherwise it is the normal approximation with the tie correction of the variance and no continuity correction. This is SciPy's wilcoxon with its defaults. method=permutation: the mean difference against its distribution when each pair's sign is flipped at random, exact over all 2^n assignments when 2^n <= resamples, otherwise resamples random assignments with p = (count + 1) / (resamples + 1) per tail. The two-sided p-value is twice the smaller tail, as SciPy's permutation_test. method=bootstrap: resamples resamples of the pairs; the interval is their percentiles, and the p-value twice the smaller share of resampled means on either side of 0. The differences are sorted before resampling, so a seed gives the same result on any partitioning. Checked against SciPy (ttest_rel, wilcoxon, permutation_test; the bootstrap within Monte-Carlo error). Memory: every difference is kept (8 bytes per pair).",
        nulls: "A row where either score is NULL is skipped. NaN and infinite scores are errors.",
        degenerate: "NULL for no rows. With one pair, or differences that are all equal, the t statistic and p-value are NULL (no spread); with all differences 0, wilcoxon's statistic and p-value are NULL.",
        example: "SELECT r['mean_diff'], r['p_value']\n\
FROM (SELECT paired_test(score_new, score_old, 'method=wilcoxon') AS r FROM eval_scores);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static MCNEMAR_FIELDS: &[OutField] = &[
    OutField::new("n", Int, "Pairs with both outcomes."),
    OutField::new("b", Int, "Pairs where only A is correct."),
    OutField::new("c", Int, "Pairs where only B is correct."),
    OutField::new("statistic", Float, "Exact: min(b, c); otherwise the chi-square statistic (|b - c| - k)^2 / (b + c), k = 1 with the continuity correction, else 0."),
    OutField::new("p_value", Float, "Two-sided p-value for equal error rates; NULL when b + c = 0."),
];

pub(crate) static MCNEMAR: FunctionSpec = FunctionSpec {
    name: "mcnemar",
    section: Section::Significance,
    args: &[
        Arg::required("correct_a", Label, "Whether system A got the item right."),
        Arg::required("correct_b", Label, "Whether system B got the same item right."),
    ],
    options: &[
        OptionSpec {
            key: "exact",
            ty: OptionType::Choice(&["true", "false"]),
            default: Some("true"),
            meaning: "true: the exact binomial test on the discordant pairs; false: the chi-square approximation.",
        },
        OptionSpec {
            key: "correction",
            ty: OptionType::Choice(&["true", "false"]),
            default: Some("true"),
            meaning: "With exact=false, whether to apply the continuity correction.",
        },
    ],
    output: Output::Struct(MCNEMAR_FIELDS),
    doc: Doc {
        summary: "McNemar's test: do two systems have the same accuracy on the same items?",
        method: "Only the discordant pairs count: b where only A is right, c where only B is. Exact (the default): the two-sided binomial test, p = min(1, 2 P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2). Otherwise the chi-square statistic on one degree of freedom, with or without the continuity correction; as statsmodels, the corrected statistic with b = c is 1 / (b + c). Checked against statsmodels' mcnemar (exact, and chi-square with and without the correction).",
        nulls: "A row where either outcome is NULL is skipped. An outcome that is not a boolean or 0/1 is an error.",
        degenerate: "NULL for no rows. With no discordant pair (b + c = 0) the statistic and p-value are NULL.",
        example: "SELECT task, mcnemar(a_correct, b_correct) FROM graded GROUP BY task;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SEPARABILITY: FunctionSpec = FunctionSpec {
    name: "separability",
    section: Section::Significance,
    args: &[
        Arg::required("ci_lower", Number, "Lower end of an item's interval, e.g. a leaderboard's ci_lower."),
        Arg::required("ci_upper", Number, "Upper end of the same interval."),
    ],
    output: Output::Number,
    doc: Doc {
        summary: "How well a benchmark separates its models: the share of model pairs whose confidence intervals do not overlap (arena-hard-auto's separability with confidence).",
        method: "One row per item. Over the n (n - 1) / 2 pairs, two intervals overlap when min(upper_i, upper_j) - max(lower_i, lower_j) > 0, so intervals that only touch are separated, as in arena-hard-auto (Li et al. 2024, From Crowdsourced Data to High-Quality Benchmarks; its notebook benchmark_statistics.ipynb, which also drops pairs with identical intervals; prefdb counts every pair). Checked against that notebook's code on generated data. Up to 10000 rows.",
        nulls: "A row with a NULL bound is skipped. A bound that is not finite, or a lower bound above its upper bound, is an error.",
        degenerate: "NULL with fewer than two rows.",
        example: "SELECT separability(ci_lower, ci_upper) FROM leaderboard('SELECT bt_rank(model_a, model_b, winner, ''bootstrap=200'') FROM votes');",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static BENCHMARK_AGREEMENT_FIELDS: &[OutField] = &[
    OutField::new("pairs", Int, "Pairs of items: n (n - 1) / 2."),
    OutField::new("separability_a", Float, "The benchmark's separability (see separability)."),
    OutField::new("separability_b", Float, "The reference's separability."),
    OutField::new("agreement_with_confidence", Float, "Over the pairs whose reference intervals do not overlap: 1 when the benchmark's intervals order them the same way, 1/2 when the benchmark's intervals overlap, 0 when they order them the other way; averaged. NULL when the reference separates no pair."),
    OutField::new("brier", Float, "Pair-rank Brier score: the mean over all pairs (i before j in item order) of (p - label)^2, p = Phi((rating_a_j - rating_a_i) / sqrt(sd_i^2 + sd_j^2)) with sd = (upper_a - lower_a) / (2 z), label = 1 when rating_b_j > rating_b_i strictly."),
];

pub(crate) static BENCHMARK_AGREEMENT: FunctionSpec = FunctionSpec {
    name: "benchmark_agreement",
    section: Section::Significance,
    args: &[
        Arg::required("item", Item, "The model (one row each)."),
        Arg::required("rating_a", Number, "Its score on the benchmark being judged."),
        Arg::required("lower_a", Number, "Lower end of that score's interval."),
        Arg::required("upper_a", Number, "Upper end."),
        Arg::required("rating_b", Number, "Its rating on the reference (e.g. Chatbot Arena)."),
        Arg::required("lower_b", Number, "Lower end of that rating's interval."),
        Arg::required("upper_b", Number, "Upper end."),
    ],
    options: &[OptionSpec {
        meaning: "Coverage of the benchmark's intervals, which turns their width into a standard deviation for the Brier score: sd = (upper - lower) / (2 z).",
        ..CONFIDENCE
    }],
    output: Output::Struct(BENCHMARK_AGREEMENT_FIELDS),
    doc: Doc {
        summary: "Does a benchmark rank models as a reference leaderboard does? arena-hard-auto's agreement with confidence, pair-rank Brier score and both separabilities.",
        method: "One row per model with both leaderboards joined (e.g. a benchmark's bt_rank against the Arena's). Definitions from arena-hard-auto (Li et al. 2024; its notebook benchmark_statistics.ipynb at commit bd52a78): intervals overlap when min of the uppers - max of the lowers > 0; agreement with confidence averages, over the pairs the reference separates, 1 for the same order, 1/2 when the benchmark's intervals overlap and 0 for the opposite order, orders compared as (lower, upper) tuples; the Brier score orients every pair by item value, as the notebook does by model name, and reads the benchmark's probability from a normal approximation. The notebook takes the mean and variance of each model's bootstrap samples; from a leaderboard prefdb takes the rating and the interval's width. Checked against the notebook's own code on generated data. Up to 10000 rows.",
        nulls: "A row with a NULL argument is skipped. A value that is not finite, a lower bound above its upper bound, and an item that appears twice are errors.",
        degenerate: "NULL for no rows. With one row, pairs is 0 and the other fields NULL.",
        example: "SELECT benchmark_agreement(b.item, b.rating, b.ci_lower, b.ci_upper, a.rating, a.ci_lower, a.ci_upper)\n\
FROM bench_board b JOIN arena_board a USING (item);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SPECS: [&FunctionSpec; 4] =
    [&PAIRED_TEST, &MCNEMAR, &SEPARABILITY, &BENCHMARK_AGREEMENT];
