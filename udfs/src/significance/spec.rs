//! The declarations of the significance tests: `paired_test` and `mcnemar`.

use crate::spec::ArgType::{Label, Number};
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

pub(crate) static SPECS: [&FunctionSpec; 2] = [&PAIRED_TEST, &MCNEMAR];
