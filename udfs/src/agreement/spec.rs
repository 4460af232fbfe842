//! The declarations of the inter-rater agreement functions.
//!
//! Long form, one row per rating: `percent_agreement`, `fleiss_kappa` (no rater column),
//! `krippendorff_alpha`, `gwet_ac1`, `gwet_ac2`, `icc` and `krippendorff_alpha_ci`. Wide
//! form, one row per item and one column per rater: `cohen_kappa`, `scott_pi` and
//! `cohen_kappa_ci`. The `_ci` functions are separate because a SQL result type cannot
//! change with an option value.

use crate::options::MAX_BOOTSTRAP;
use crate::spec::ArgType::{Item, Value};
use crate::spec::FieldType::Float;
use crate::spec::StateSize;
use crate::spec::{
    Arg, Doc, FunctionSpec, OptionSpec, OptionType, OutField, Output, Section, CONFIDENCE, SEED,
};

const NULLS_RATINGS: &str = "A row with a NULL item, rater or label is skipped (a missing \
rating, not a category). Labels may be numbers or text; categories are ordered by value \
(text lexicographically). A NaN or infinite rating is an error, and so are integer labels \
beyond ±2^53 (cast them to text), since as numbers two of them could read as one category. \
A rater who gives one item two different values is an error; the same value twice counts once.";

const NULLS_WIDE: &str = "Rows where either label is NULL are skipped. Labels may be numbers \
or text, both columns of one kind (a planning error otherwise); categories are ordered by value \
(text lexicographically). A NaN or infinite label is an error, and so are integer labels \
beyond ±2^53 (cast them to text), since as numbers two of them could read as one category.";

const ITEM: Arg = Arg::required("item", Item, "The rated unit.");
const RATER: Arg = Arg::required("rater", Item, "Who rated it.");
const LABEL: Arg = Arg::required("label", Value, "The rating: a number or a text label.");
const VALUE: Arg = Arg::required("value", Value, "The rating: a number or a text label.");
const LABEL_1: Arg = Arg::required(
    "label_1",
    Value,
    "The first rater's label for the row's item: a number or text, the same kind as label_2.",
);
const LABEL_2: Arg = Arg::required(
    "label_2",
    Value,
    "The second rater's label for the row's item: a number or text, the same kind as label_1.",
);

const LEVEL: OptionSpec = OptionSpec {
    key: "level",
    ty: OptionType::Choice(&["nominal", "ordinal", "interval", "ratio"]),
    default: Some("nominal"),
    meaning: "The measurement level, which sets the squared difference d2 between values: nominal, 0 for equal values and 1 otherwise; ordinal, from the counts of values between them; interval, (c - k)^2; ratio, ((c - k)/(c + k))^2. Text labels allow nominal and ordinal only.",
};

/// Cohen's weights are disagreement weights; `none` is the unweighted kappa.
const COHEN_WEIGHTS: OptionSpec = OptionSpec {
    key: "weights",
    ty: OptionType::Choice(&["none", "linear", "quadratic"]),
    default: Some("none"),
    meaning: "Disagreement weights over category positions in value order: none, [i != j] (unweighted kappa); linear, |i - j|; quadratic, (i - j)^2.",
};

/// Gwet's AC2 is the weighted coefficient: identity weights are `gwet_ac1`.
const GWET_WEIGHTS: OptionSpec = OptionSpec {
    key: "weights",
    ty: OptionType::Choice(&["linear", "quadratic"]),
    default: Some("quadratic"),
    meaning: "Agreement weights over category values (ranks for text labels), as irrCAC: linear, 1 - |x_k - x_l| / (x_max - x_min); quadratic, 1 - (x_k - x_l)^2 / (x_max - x_min)^2.",
};

const FORM: OptionSpec = OptionSpec {
    key: "form",
    ty: OptionType::Choice(&["icc1", "icc2", "icc3", "icc1k", "icc2k", "icc3k"]),
    default: Some("icc2"),
    meaning: "The Shrout–Fleiss form, case-insensitive: ICC1, one-way random effects; ICC2, two-way random effects, absolute agreement; ICC3, two-way mixed effects, consistency; ICC1k, ICC2k and ICC3k, the same for the average of the k raters.",
};

const BOOTSTRAP: OptionSpec = OptionSpec {
    key: "bootstrap",
    ty: OptionType::Integer {
        min: 1,
        max: MAX_BOOTSTRAP as u64,
    },
    default: Some("1000"),
    meaning: "Number of bootstrap replicates. Replicates × distinct values² may be at most 2,000,000,000; more is an error.",
};

pub(crate) static INTERVAL_FIELDS: &[OutField] = &[
    OutField::new(
        "value",
        Float,
        "The coefficient, as the function without _ci returns it.",
    ),
    OutField::new(
        "ci_lower",
        Float,
        "Lower end of the percentile bootstrap interval.",
    ),
    OutField::new(
        "ci_upper",
        Float,
        "Upper end of the percentile bootstrap interval.",
    ),
];

/// The fields of `icc`'s result, as pingouin reports them.
pub(crate) static ICC_FIELDS: &[OutField] = &[
    OutField::new(
        "icc",
        Float,
        "The intraclass correlation of the chosen form.",
    ),
    OutField::new("f", Float, "F statistic of the test of no item effect."),
    OutField::new("df1", Float, "Numerator degrees of freedom of the F test."),
    OutField::new(
        "df2",
        Float,
        "Denominator degrees of freedom of the F test.",
    ),
    OutField::new("p_value", Float, "p-value of the F test."),
    OutField::new(
        "ci_lower",
        Float,
        "Lower end of the interval at the chosen confidence.",
    ),
    OutField::new(
        "ci_upper",
        Float,
        "Upper end of the interval at the chosen confidence.",
    ),
];

pub(crate) static PERCENT_AGREEMENT: FunctionSpec = FunctionSpec {
    name: "percent_agreement",
    section: Section::Agreement,
    args: &[ITEM, RATER, LABEL],
    output: Output::Number,
    doc: Doc {
        summary: "Share of agreeing rater pairs, not corrected for chance.",
        method: "Over items with at least two ratings, the mean of sum_k r_ik (r_ik - 1) / (r_i (r_i - 1)), where r_ik raters put item i in category k (irrCAC's percent agreement pa).",
        nulls: NULLS_RATINGS,
        degenerate: "NULL when no item has two ratings.",
        example: "SELECT percent_agreement(prompt_id, worker, verdict) FROM judgments;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static FLEISS_KAPPA: FunctionSpec = FunctionSpec {
    name: "fleiss_kappa",
    section: Section::Agreement,
    args: &[ITEM, LABEL],
    output: Output::Number,
    doc: Doc {
        summary: "Fleiss' kappa over long-form (item, label) rows, for items that all have the same number of ratings.",
        method: "P_i = (sum_k n_ik^2 - m) / (m (m - 1)), p_k = share of all ratings in k, kappa = (mean P_i - sum p_k^2) / (1 - sum p_k^2), where n_ik of the m ratings of item i are in category k (Fleiss 1971; reference: statsmodels fleiss_kappa).",
        nulls: "A row with a NULL item or label is skipped. Labels may be numbers or text; categories are ordered by value (text lexicographically). A NaN or infinite rating is an error, and so are integer labels beyond ±2^53 (cast them to text), since as numbers two of them could read as one category.",
        degenerate: "Every item must have the same number m of ratings; otherwise it is an error that points to krippendorff_alpha and gwet_ac1, which allow missing ratings. NULL when all ratings are one category (chance agreement 1) or there is no input.",
        example: "SELECT fleiss_kappa(item_id, label) FROM annotations;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

const ALPHA_METHOD: &str = "From the coincidence matrix o: alpha = 1 - (n - 1) * sum(o_ck * \
d2_ck) / sum(n_c * n_k * d2_ck) (Krippendorff 2011, Computing Krippendorff's Alpha-Reliability; \
references: the krippendorff Python package and evalica's alpha). d2 is 0/1 for nominal, \
(c - k)^2 for interval, ((c - k)/(c + k))^2 for ratio, and for ordinal the squared count of \
values between c and k less half of each end. Missing ratings are allowed; items with fewer \
than two ratings are not pairable and are ignored.";

const ALPHA_NULLS: &str = "A row with a NULL item, rater or value is skipped (a missing \
rating, not a category). Values may be numbers or text; categories are ordered by value \
(text lexicographically). Text values support the nominal and ordinal levels; interval and \
ratio need numbers (a planning-time error otherwise). A NaN or infinite rating is an error, and \
so are integer values beyond ±2^53 (cast them to text), since as numbers two of them could read \
as one category. A rater who gives one item two different values is an error; the same value \
twice counts once.";

pub(crate) static KRIPPENDORFF_ALPHA: FunctionSpec = FunctionSpec {
    name: "krippendorff_alpha",
    section: Section::Agreement,
    args: &[ITEM, RATER, VALUE],
    options: &[LEVEL],
    misplaced: &[(
        "bootstrap",
        "bootstrap intervals come from krippendorff_alpha_ci(...), which returns (value, ci_lower, ci_upper); krippendorff_alpha itself always returns one number",
    )],
    output: Output::Number,
    doc: Doc {
        summary: "Krippendorff's alpha for any number of raters, with missing ratings, at the nominal, ordinal, interval or ratio level.",
        method: ALPHA_METHOD,
        nulls: ALPHA_NULLS,
        degenerate: "NULL when nothing is pairable or every pairable value is the same (expected disagreement 0, where the reference packages give NaN).",
        example: "SELECT category, krippendorff_alpha(item_id, worker, label, 'level=ordinal') FROM ratings GROUP BY category;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

const GWET_DEGENERATE: &str = "NULL with fewer than two categories (where irrCAC substitutes \
pe = 1 - 1e-15) or no item with two ratings.";

pub(crate) static GWET_AC1: FunctionSpec = FunctionSpec {
    name: "gwet_ac1",
    section: Section::Agreement,
    args: &[ITEM, RATER, LABEL],
    output: Output::Number,
    doc: Doc {
        summary: "Gwet's AC1: chance-corrected agreement for any number of raters, with missing ratings.",
        method: "With identity weights w: pa = weighted percent agreement over items with at least two ratings; pi_k = mean over items of r_ik / r_i; pe = sum(w) / (q (q - 1)) * sum_k pi_k (1 - pi_k); AC1 = (pa - pe) / (1 - pe), for q categories (Gwet 2008; reference: irrCAC CAC.gwet). gwet_ac2 is the weighted coefficient.",
        nulls: NULLS_RATINGS,
        degenerate: GWET_DEGENERATE,
        example: "SELECT gwet_ac1(item_id, worker, label) FROM ratings;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static GWET_AC2: FunctionSpec = FunctionSpec {
    name: "gwet_ac2",
    section: Section::Agreement,
    args: &[ITEM, RATER, LABEL],
    options: &[GWET_WEIGHTS],
    output: Output::Number,
    doc: Doc {
        summary: "Gwet's AC2: weighted chance-corrected agreement for any number of raters, with missing ratings.",
        method: "With agreement weights w over category values, or ranks for text labels, as irrCAC (linear 1 - |x_k - x_l| / (x_max - x_min), quadratic 1 - (x_k - x_l)^2 / (x_max - x_min)^2): pa = weighted percent agreement over items with at least two ratings; pi_k = mean over items of r_ik / r_i; pe = sum(w) / (q (q - 1)) * sum_k pi_k (1 - pi_k); AC2 = (pa - pe) / (1 - pe), for q categories (Gwet 2008; reference: irrCAC CAC.gwet).",
        nulls: NULLS_RATINGS,
        degenerate: GWET_DEGENERATE,
        example: "SELECT gwet_ac2(item_id, worker, stars, 'weights=linear') FROM ratings;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

const KAPPA_METHOD: &str = "kappa = 1 - sum(w * observed) / sum(w * expected), expected = \
outer(row totals, column totals) / n, with disagreement weights w = [i != j] (none), |i - j| \
(linear) or (i - j)^2 (quadratic) over category positions in value order; the categories are \
the values that occur in complete rows (Cohen 1960, 1968; reference: scikit-learn \
cohen_kappa_score).";

pub(crate) static COHEN_KAPPA: FunctionSpec = FunctionSpec {
    name: "cohen_kappa",
    section: Section::Agreement,
    args: &[LABEL_1, LABEL_2],
    options: &[COHEN_WEIGHTS],
    misplaced: &[(
        "bootstrap",
        "bootstrap intervals come from cohen_kappa_ci(...), which returns (value, ci_lower, ci_upper); cohen_kappa itself always returns one number",
    )],
    output: Output::Number,
    doc: Doc {
        summary: "Cohen's kappa for two raters in wide form (one row per item), unweighted or weighted.",
        method: KAPPA_METHOD,
        nulls: NULLS_WIDE,
        degenerate: "NULL when only one category occurs (expected disagreement 0; scikit-learn gives NaN) or there is no complete row.",
        example: "SELECT cohen_kappa(judge_verdict, human_verdict, 'weights=quadratic') FROM paired;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SCOTT_PI: FunctionSpec = FunctionSpec {
    name: "scott_pi",
    section: Section::Agreement,
    args: &[LABEL_1, LABEL_2],
    output: Output::Number,
    doc: Doc {
        summary: "Scott's pi for two raters in wide form (one row per item).",
        method: "(P_o - P_e) / (1 - P_e), where P_e = sum p_k^2 over the pooled proportions of both raters (Scott 1955; reference: irrCAC Fleiss' kappa on two raters, which is Scott's pi).",
        nulls: NULLS_WIDE,
        degenerate: "NULL when only one category occurs or there is no complete row.",
        example: "SELECT scott_pi(rater_a, rater_b) FROM paired;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static ICC: FunctionSpec = FunctionSpec {
    name: "icc",
    section: Section::Agreement,
    args: &[
        ITEM,
        RATER,
        Arg::required("score", Value, "The numeric rating; text is a planning error."),
    ],
    options: &[FORM, CONFIDENCE],
    output: Output::Struct(ICC_FIELDS),
    doc: Doc {
        summary: "Intraclass correlation of numeric scores from a complete item x rater design, with the F test of no item effect and an interval.",
        method: "Two-way ANOVA mean squares MSB (items), MSJ (raters), MSE (error), MSW (within items); ICC1 = (MSB - MSW) / (MSB + (k - 1) MSW), ICC2 = (MSB - MSE) / (MSB + (k - 1) MSE + k (MSJ - MSE) / n), ICC3 = (MSB - MSE) / (MSB + (k - 1) MSE), and the k-rater averages ICC1k, ICC2k, ICC3k (Shrout & Fleiss 1979; McGraw & Wong 1996; reference: pingouin intraclass_corr). The interval is at the chosen confidence; ICC2's uses Satterthwaite's degrees of freedom.",
        nulls: "A row with a NULL item, rater or score is skipped (so it can make the design incomplete). Every rater must rate every item: an incomplete design is an error that points to krippendorff_alpha with level=interval. A rater who gives one item two different scores is an error; the same score twice counts once. A text score is a planning error; a NaN or infinite score is an error, and so are integer scores beyond ±2^53.",
        degenerate: "The struct is NULL with fewer than two items or two raters.",
        example: "SELECT (icc(wine, judge, score, 'form=ICC3'))['icc'] FROM tastings;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static KRIPPENDORFF_ALPHA_CI: FunctionSpec = FunctionSpec {
    name: "krippendorff_alpha_ci",
    section: Section::Agreement,
    args: &[ITEM, RATER, VALUE],
    options: &[LEVEL, BOOTSTRAP, SEED, CONFIDENCE],
    output: Output::Struct(INTERVAL_FIELDS),
    doc: Doc {
        summary: "krippendorff_alpha with a percentile bootstrap interval: a struct (value, ci_lower, ci_upper).",
        method: "The options of krippendorff_alpha plus bootstrap, seed and confidence. The unit-resampling bootstrap: each replicate draws the pairable items with replacement and recomputes alpha from their summed coincidences. Replicates where the coefficient is undefined are left out. Items and categories are put in value order before resampling, so a seed gives the same interval whatever the partitioning. A separate function because a SQL result type cannot change with an option value.",
        nulls: ALPHA_NULLS,
        degenerate: "value is NULL where krippendorff_alpha is, and then so is the interval; ci_lower and ci_upper are NULL where no replicate defines the coefficient.",
        example: "SELECT krippendorff_alpha_ci(item_id, worker, label, 'level=ordinal, bootstrap=1000, seed=7') FROM ratings;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static COHEN_KAPPA_CI: FunctionSpec = FunctionSpec {
    name: "cohen_kappa_ci",
    section: Section::Agreement,
    args: &[LABEL_1, LABEL_2],
    options: &[COHEN_WEIGHTS, BOOTSTRAP, SEED, CONFIDENCE],
    output: Output::Struct(INTERVAL_FIELDS),
    doc: Doc {
        summary: "cohen_kappa with a percentile bootstrap interval: a struct (value, ci_lower, ci_upper).",
        method: "The options of cohen_kappa plus bootstrap, seed and confidence. Each replicate resamples items (rows), a multinomial draw of the confusion matrix. Replicates where the coefficient is undefined are left out. Items and categories are put in value order before resampling, so a seed gives the same interval whatever the partitioning. A separate function because a SQL result type cannot change with an option value.",
        nulls: NULLS_WIDE,
        degenerate: "value is NULL where cohen_kappa is, and then so is the interval; ci_lower and ci_upper are NULL where no replicate defines the coefficient.",
        example: "SELECT cohen_kappa_ci(judge, human, 'bootstrap=2000') FROM paired;",
    },
    ..FunctionSpec::PLAIN
};

/// The declarations, indexed by `AgreementFunction`'s discriminants.
pub(crate) static SPECS: [&FunctionSpec; 10] = [
    &PERCENT_AGREEMENT,
    &FLEISS_KAPPA,
    &KRIPPENDORFF_ALPHA,
    &GWET_AC1,
    &GWET_AC2,
    &COHEN_KAPPA,
    &SCOTT_PI,
    &ICC,
    &KRIPPENDORFF_ALPHA_CI,
    &COHEN_KAPPA_CI,
];
