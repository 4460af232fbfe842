//! The declarations of the ranking functions: the pairwise family (`bt_rank`, `newman_rank`,
//! `win_matrix`, `avg_win_rate`, `intransitivity`) and the other leaderboards (`elo_rank`,
//! `pl_rank`, `bt_rank_controlled`, `openskill_rank`), which share their options and their
//! leaderboard entry.

use crate::leaderboard::LEADERBOARD_FIELDS;
use crate::options;
use crate::pairwise::anchor::ANCHOR;
use crate::spec::ArgType::{Any, Item, Number, Outcome, Weight};
use crate::spec::FieldType::{Float, Int, List};
use crate::spec::{
    valid, Arg, Doc, FieldType, FunctionSpec, Mapping, OptionSpec, OptionType, OutField, Output,
    RowOrder, Section, CONFIDENCE, SEED,
};

const ITEM_A: Arg = Arg::required("item_a", Item, "The first item; item_a and item_b must both be strings or both integers. In the two-argument form each row is a win of item_a (the winner) over item_b (the loser).");
const ITEM_B: Arg = Arg::required(
    "item_b",
    Item,
    "The second item, of the same kind as item_a. In the two-argument form, the loser.",
);
const OUTCOME_MEANING: &str = "Text 'a' | 'b' | 'tie' (also 'model_a', 'model_b', 'tie (bothbad)', 'both_bad', 'left', 'right'; case-insensitive; arena-rank's outcome map: model_a = 1, model_b = 0, tie and both_bad = 0.5), or a number in [0, 1]: the score of item_a, 1 = a wins, 0 = b wins, exactly 0.5 = tie, other fractions = soft preferences split between the two sides.";
const OUTCOME: Arg = Arg::optional("outcome", Outcome, OUTCOME_MEANING);
const WEIGHT: Arg = Arg::optional(
    "weight",
    Weight,
    "Row weight (survey weights, or counts of pre-aggregated votes).",
);
const PAIR_ARGS: &[Arg] = &[ITEM_A, ITEM_B, OUTCOME, WEIGHT];

const NULLS: &str = "A row with a NULL item, outcome or weight is skipped, as are rows that \
compare an item with itself and rows of weight 0; skipped rows do not make an item appear. An \
unknown outcome text, a numeric outcome outside [0, 1], a weight that is negative or not finite, \
and weights that add up past the largest representable number are errors.";
const NO_ROWS: &str = "With no rows left the result is NULL.";

const SCALE: OptionSpec = OptionSpec {
    key: "scale",
    ty: OptionType::Number {
        valid: valid::positive,
        what: "a number > 0",
    },
    default: Some("400"),
    meaning: "Rating points for a factor of 10 in the odds: rating = base + scale * s / ln(10).",
};

const BASE: OptionSpec = OptionSpec {
    key: "base",
    ty: OptionType::Number {
        valid: valid::finite,
        what: "a finite number",
    },
    default: Some("1000"),
    meaning: "The rating at s = 0; the strengths have mean 0, so the ratings are centred on base.",
};

const TIES: OptionSpec = OptionSpec {
    key: "ties",
    ty: OptionType::Choice(&["half", "ignore", "davidson", "rao_kupper"]),
    default: Some("half"),
    meaning: "half: a tie is half a win for each side; ignore: ties are left out of the fit but still counted; davidson or rao_kupper: ties are modelled with a fitted tie parameter, reported as tie_param (dense Newton steps, up to 1000 items).",
};

const PRIOR: OptionSpec = OptionSpec {
    key: "prior",
    ty: OptionType::Number {
        valid: valid::non_negative,
        what: "a number >= 0",
    },
    default: Some("0.01"),
    meaning: "Precision of the Gaussian prior s_i ~ N(0, 1/prior). 0.01 is sd 10 on s, about 1737 rating points: it moves well-measured items by far less than their sampling error and keeps undefeated, winless and disconnected items finite. 0 is the pure maximum-likelihood fit, an error where it does not exist.",
};

const MAX_ITER: OptionSpec = OptionSpec {
    key: "max_iter",
    ty: OptionType::Integer {
        min: 1,
        max: options::MAX_ITER as u64,
    },
    default: Some("100"),
    meaning: "The most Newton steps.",
};

const TOL: OptionSpec = OptionSpec {
    key: "tol",
    ty: OptionType::Number {
        valid: valid::positive,
        what: "a number > 0",
    },
    default: Some("1e-10"),
    meaning: "Convergence: the fit stops when no s changes by more than tol in a Newton step.",
};

const SE: OptionSpec = OptionSpec {
    key: "se",
    ty: OptionType::Choice(&["none", "fisher", "sandwich"]),
    default: Some("none"),
    meaning: "fisher: analytic intervals and rank ranges from the observed Fisher information (an items × items inverse, up to 5000 items); sandwich: robust intervals from the sandwich covariance H^-1 G H^-1, arena-rank's default (up to 2000 items); none: no analytic intervals. Not with bootstrap.",
};

/// `reweight` and `min_pair_count`: LMArena's inverse-propensity weights per pair.
pub(crate) const REWEIGHT: OptionSpec = OptionSpec {
    key: "reweight",
    ty: OptionType::Choice(&["none", "pair"]),
    default: Some("none"),
    meaning: "pair: every vote of a pair counts 1 / max(n_pair, min_pair_count), n_pair the pair's (weighted) number of votes, as arena-rank's reweighted=True: each pair of items weighs about the same however often it was sampled. Composes with the weight column. Use it with prior=0, since the prior acts on the reweighted counts.",
};

pub(crate) const MIN_PAIR_COUNT: OptionSpec = OptionSpec {
    key: "min_pair_count",
    ty: OptionType::Number {
        valid: valid::positive,
        what: "a number > 0",
    },
    default: Some("50"),
    meaning: "With reweight=pair, the floor of n_pair, so that a rarely compared pair does not get an outsized weight (arena-rank's min_pair_count).",
};

const BOOTSTRAP: OptionSpec = OptionSpec {
    key: "bootstrap",
    ty: OptionType::Integer {
        min: 0,
        max: options::MAX_BOOTSTRAP as u64,
    },
    default: Some("0"),
    meaning: "Replicates for percentile intervals and rank ranges; 0: none, otherwise at least 2, and replicates × items at most 50000000. Not with se=fisher.",
};

/// The options of the Bradley–Terry-style leaderboards (`newman_rank` changes `prior`'s
/// default; `bt_rank` adds `ties` after `base`).
const RANKING_OPTIONS: &[OptionSpec] = &[
    SCALE, BASE, PRIOR, MAX_ITER, TOL, SE, CONFIDENCE, BOOTSTRAP, SEED, ANCHOR,
];

pub(crate) static BT_RANK: FunctionSpec = FunctionSpec {
    name: "bt_rank",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options: &[
        SCALE,
        BASE,
        TIES,
        PRIOR,
        MAX_ITER,
        TOL,
        SE,
        CONFIDENCE,
        BOOTSTRAP,
        SEED,
        REWEIGHT,
        MIN_PAIR_COUNT,
        ANCHOR,
    ],
    output: Output::List(LEADERBOARD_FIELDS),
    doc: Doc {
        summary: "Bradley–Terry leaderboard: ratings fitted by maximum likelihood to pairwise outcomes, on the Elo-like scale of Chatbot Arena.",
        method: "Fits P(i beats j) = 1 / (1 + exp(-(s_i - s_j))) by maximum likelihood with a Gaussian prior s_i ~ N(0, 1/prior) (Bradley & Terry 1952; Newton's method with a line search), and reports rating = base + scale * s / ln(10), the Elo-like scale of Chatbot Arena. The prior fixes the mean of s at 0; with prior=0 the mean is fixed explicitly and the pure MLE is returned. The list is ordered by rating descending, with competition ranks (1224) for equal ratings; wins, losses, ties and battles are weighted counts. \
With se=fisher, ci_lower and ci_upper are rating ± z * se * scale / ln(10), se from the observed Fisher information: the covariance of the centred strengths, C H^-1 C with H the negative Hessian at the fit and C = I - J/n, since ratings are relative to their mean (this leaves out the common-mode variance that only the prior determines, and with prior=0 it is the pseudo-inverse; checked against a statsmodels binomial GLM and, with the prior, a numpy computation), and rank_lower / rank_upper are the best and worst ranks those intervals allow (1 + the items whose lower bound is above this upper bound; the items whose upper bound reaches this lower bound). \
With bootstrap=B, ci_lower and ci_upper are percentile intervals from B refits on resampled pair counts: a multinomial draw over the (pair, outcome) cells, which has the same distribution as Chatbot Arena's resampling of rows but costs B × pairs, not B × rows; weights count as frequency weights. The intervals are the same for a seed whatever the partitioning. Without se=fisher or bootstrap, ci_lower, ci_upper, rank_lower and rank_upper are NULL. \
With ties=davidson (Davidson 1970: P(tie) = nu sqrt(pi_i pi_j) / (pi_i + pi_j + nu sqrt(pi_i pi_j))) or ties=rao_kupper (Rao & Kupper 1967: P(i beats j) = pi_i / (pi_i + theta pi_j)), ties are outcomes of the model: the strengths and the tie parameter (nu >= 0 or theta >= 1) are fitted jointly by maximum likelihood (Newton on the concave log-likelihood, same prior on s; checked against SciPy), and tie_param reports the parameter on every row (NULL for half and ignore). With a tie model, se=fisher inverts the joint information of the strengths and the tie parameter, so the strengths' standard errors allow for the parameter's uncertainty (checked against a numerical Hessian of an independent likelihood), and bootstrap=B refits the strengths and the tie parameter on every replicate. \
With se=sandwich, ci_lower and ci_upper come from the robust covariance H^-1 G H^-1 (Huber 1967, White 1982; arena-rank's default): H is the negative Hessian at the fit, as for se=fisher, and G sums the outer products of the votes' scores; all votes of one (pair, outcome) cell share their score, so G is summed from the merged pair table, with no pass over the rows. The covariance is centred and the rank range read as for se=fisher. It is the exact sandwich: arena-rank adds 1e-5 (times the number of votes when unweighted) to H's diagonal for numerical stability, which widens nothing by more than a few percent for items with few votes; on LLMFAO arena-rank's standard errors are within 0.4% of prefdb's, which equal an independent numpy computation at a tight fit. Defined for every ties mode: half (a tie's score is 1/2 - p), ignore (ties are left out), davidson and rao_kupper (jointly in the strengths and the tie parameter). The weight column counts votes (a row of weight f adds f times its score's outer product); a fractional outcome x enters G as the fractional win and loss the fit sees, which overstates G by x(1 - x) per vote (conservative). \
With reweight=pair, the fit weighs every vote of a pair by rho = 1 / max(n_pair, min_pair_count). Each interval method allows for it: se=sandwich squares rho in G (importance weights); se=fisher reports the model-based covariance of the reweighted fit, H^-1 (sum over pairs of rho times the pair's information) H^-1; bootstrap=B resamples the votes and keeps each pair's rho from the data, as arena-rank's bootstrap does. wins, losses, ties and battles stay vote counts. anchor=ITEM:RATING shifts every rating so that ITEM has RATING; intervals then describe differences from the anchor. \
The table below maps arena-rank 0.1.1's BradleyTerry to options: bt_rank(model_a, model_b, winner, 'prior=0, se=sandwich, reweight=pair') is its reweighted leaderboard with sandwich intervals.",
        nulls: NULLS,
        degenerate: "With no rows left the result is NULL. With prior=0 the maximum-likelihood ratings may not exist: an item that never lost or never won, or a comparison graph that is not strongly connected, is an error that suggests a prior. With a prior > 0 undefeated, winless and disconnected items stay finite; each disconnected group of items is centred on base and is not comparable with the others. With a tie model and no ties, tie_param is 0 or 1 (the boundary, where the fit is plain Bradley–Terry); with no decisive outcome it is infinite, reported as NULL, every item sits at base, and the se=fisher intervals are NULL.",
        example: "SELECT r.rank, r.item, round(r.rating, 1) AS rating\n\
FROM (SELECT unnest(bt_rank(model_a, model_b, winner)) AS r FROM votes);",
    },
    mapping: Some(Mapping {
        reference: "arena-rank 0.1.1, BradleyTerry",
        rows: &[
            ("the L-BFGS fit without a penalty", "prior=0"),
            ("compute_ratings_and_cis(ci_method='sandwich')", "se=sandwich (the exact sandwich, without its 1e-5 Hessian ridge)"),
            ("ci_method='bootstrap', num_bootstrap=B, seed", "bootstrap=B, seed (prefdb's own generator)"),
            ("significance_level=a", "confidence=1-a"),
            ("PairDataset.from_pandas(reweighted=True)", "reweight=pair"),
            ("min_pair_count=M", "min_pair_count=M"),
            ("scale=400", "scale=400"),
            ("init_rating=1000", "base=1000"),
            ("base=10", "fixed: rating = base + scale * s / ln(10)"),
            ("default_outcome_map: model_a 1, model_b 0, tie 0.5, both_bad 0.5", "the outcome column: 'model_a', 'model_b', 'tie', 'both_bad' (and the other spellings)"),
        ],
    }),
    ..FunctionSpec::PLAIN
};

pub(crate) static NEWMAN_RANK: FunctionSpec = FunctionSpec {
    name: "newman_rank",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options: &[
        SCALE,
        BASE,
        OptionSpec {
            default: Some("0"),
            meaning: "Precision of the Gaussian prior s_i ~ N(0, 1/prior). 0 is the maximum-likelihood fit, as evalica's, and an error where it does not exist; a prior > 0 (e.g. 0.01) keeps every rating finite.",
            ..PRIOR
        },
        MAX_ITER,
        TOL,
        SE,
        CONFIDENCE,
        BOOTSTRAP,
        SEED,
        REWEIGHT,
        MIN_PAIR_COUNT,
        ANCHOR,
    ],
    misplaced: &[(
        "ties",
        "ties are always modelled (Davidson's model), so there is no ties option; bt_rank has the other tie handlings",
    )],
    output: Output::List(LEADERBOARD_FIELDS),
    doc: Doc {
        summary: "Bradley–Terry leaderboard with ties in Newman's parameterisation of Davidson's model.",
        method: "Newman 2023, Efficient computation of rankings from pairwise comparisons; reference: evalica's newman. P(i beats j) = pi_i / (pi_i + pi_j + 2 v sqrt(pi_i pi_j)) and P(tie) = 2 v sqrt(pi_i pi_j) / (pi_i + pi_j + 2 v sqrt(pi_i pi_j)). This is Davidson's model with nu = 2v, so newman_rank is bt_rank(..., 'ties=davidson') with two differences: the default prior is 0 (the maximum-likelihood fit, as evalica's), and tie_param reports v. Newman's iteration and bt_rank's Newton method reach the same maximum; prefdb uses Newton, with dense steps, up to 1000 items. The output, the other options and the errors are bt_rank's; ties are always modelled, so there is no ties option.",
        nulls: NULLS,
        degenerate: "With no rows left the result is NULL. With prior=0 an item that never lost or never won is an error that suggests a prior. As for bt_rank with ties=davidson, tie_param is 0 with no ties, and with no decisive outcome it is NULL and every item sits at base.",
        example: "SELECT item, round(rating, 1) AS rating, round(tie_param, 3) AS v\n\
FROM leaderboard('SELECT newman_rank(model_a, model_b, winner) FROM votes');",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static WIN_MATRIX_FIELDS: &[OutField] = &[
    OutField::new(
        "item_a",
        FieldType::Item,
        "The item whose side the counts take.",
    ),
    OutField::new("item_b", FieldType::Item, "Its opponent."),
    OutField::new("wins", Float, "Weighted wins of item_a over item_b."),
    OutField::new("losses", Float, "Weighted wins of item_b over item_a."),
    OutField::new("ties", Float, "Weighted ties."),
    OutField::new(
        "win_rate",
        Float,
        "(wins + ties / 2) / (wins + losses + ties).",
    ),
];

pub(crate) static WIN_MATRIX: FunctionSpec = FunctionSpec {
    name: "win_matrix",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options_slot: true,
    output: Output::List(WIN_MATRIX_FIELDS),
    doc: Doc {
        summary: "Head-to-head counts: one entry per ordered pair of items that met.",
        method: "Both orientations of each pair, sorted by item_a then item_b. wins, losses and ties are weighted counts from item_a's side; win_rate = (wins + ties / 2) / (wins + losses + ties).",
        nulls: NULLS,
        degenerate: NO_ROWS,
        example: "SELECT unnest(win_matrix(model_a, model_b, winner)) AS m FROM votes;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static AVG_WIN_RATE_FIELDS: &[OutField] = &[
    OutField::new("item", FieldType::Item, "The item."),
    OutField::new(
        "score",
        Float,
        "Mean win rate over the distinct opponents the item met, ties counted as half a win.",
    ),
];

pub(crate) static AVG_WIN_RATE: FunctionSpec = FunctionSpec {
    name: "avg_win_rate",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options_slot: true,
    output: Output::List(AVG_WIN_RATE_FIELDS),
    doc: Doc {
        summary: "Each item's mean win rate over the distinct opponents it met, ties counted as half a win.",
        method: "The win rate against an opponent is (wins + ties / 2) / (wins + losses + ties), as in win_matrix (evalica's average_win_rate). Ordered by score descending, then by item.",
        nulls: NULLS,
        degenerate: NO_ROWS,
        example: "SELECT unnest(avg_win_rate(model_a, model_b, winner)) AS s FROM votes;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static INTRANSITIVITY_FIELDS: &[OutField] = &[
    OutField::new("triads", Int, "Triads whose three pairs were all compared."),
    OutField::new("cycles", Int, "Strict 3-cycles a > b > c > a."),
    OutField::new("cycle_share", Float, "cycles / triads; NULL when no triad was fully compared."),
    OutField::new("tie_between", Int, "Triads with a ~ b but a > c > b."),
    OutField::new("equivalence_contradictions", Int, "Triads with a ~ b ~ c but a > c."),
    OutField::new("weak_violations", Int, "Triads whose relations are no weak order: cycles + tie_between + equivalence_contradictions."),
    OutField::new("weak_violation_share", Float, "weak_violations / triads; NULL when no triad was fully compared."),
];

pub(crate) static INTRANSITIVITY: FunctionSpec = FunctionSpec {
    name: "intransitivity",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options_slot: true,
    output: Output::Struct(INTRANSITIVITY_FIELDS),
    doc: Doc {
        summary: "Intransitivity of the majority-preference tournament: the triads of items that no ranking, with or without ties, reproduces.",
        method: "For judge diagnostics (TrustJudge; LLMs-as-judges cycle checks). Each compared pair gets its majority relation from the weighted wins of each side (ties count for neither; equal wins make the pair a tie). Over the triads whose three pairs were all compared it counts the strict 3-cycles a > b > c > a, and the triads whose relations are no weak order (no ranking with ties reproduces them): the cycles, tie_between (a ~ b but a > c > b) and equivalence_contradictions (a ~ b ~ c but a > c; with cycles, TrustJudge's circular chains). Counted once from the merged win matrix with bitsets, O(K^3 / 64) for K items, so hundreds of items take milliseconds; up to 20000 items.",
        nulls: NULLS,
        degenerate: "With no rows left the result is NULL. Shares are NULL when no triad was fully compared.",
        example: "SELECT judge, intransitivity(model_a, model_b, verdict) AS t FROM judgements GROUP BY judge;",
    },
    ..FunctionSpec::PLAIN
};

/// The declarations of the pairwise family, in the order of `PairwiseFunction`.
pub(crate) static RANK_COMPARE_FIELDS: &[OutField] = &[
    OutField::new("item_a", FieldType::Item, "The first item of the comparison."),
    OutField::new("item_b", FieldType::Item, "The second item."),
    OutField::new("diff", Float, "rating of item_a - rating of item_b."),
    OutField::new("se", Float, "Standard error of diff, on the rating scale: from the full covariance of the fit (se=fisher, se=sandwich), or the standard deviation of the bootstrap replicates' differences; NULL when the covariance is singular."),
    OutField::new("z", Float, "diff / se; NULL when se is NULL or 0."),
    OutField::new("p_value", Float, "Two-sided normal p-value of z, for the hypothesis that the two ratings are equal."),
    OutField::new("p_better", Float, "The share of bootstrap replicates in which item_a is above item_b (equal counts half); NULL without bootstrap."),
    OutField::new("significant", FieldType::Bool, "Whether the difference is significant after Holm's correction at level 1 - confidence over the items * (items - 1) / 2 unordered pairs (both orders share the decision)."),
];

pub(crate) static RANK_COMPARE: FunctionSpec = FunctionSpec {
    name: "rank_compare",
    section: Section::Ranking,
    args: PAIR_ARGS,
    options: &[
        SCALE,
        BASE,
        TIES,
        PRIOR,
        MAX_ITER,
        TOL,
        OptionSpec {
            ty: OptionType::Choice(&["fisher", "sandwich"]),
            default: None,
            meaning: "The covariance the standard errors come from: fisher (the default without bootstrap) or sandwich, as for bt_rank. Not with bootstrap.",
            ..SE
        },
        CONFIDENCE,
        OptionSpec {
            meaning: "Replicates: with bootstrap=B the standard errors are the replicates' standard deviations of each difference and p_better is filled; 0 (the default): none. At least 2, and replicates × items at most 50000000.",
            ..BOOTSTRAP
        },
        SEED,
        REWEIGHT,
        MIN_PAIR_COUNT,
    ],
    output: Output::List(RANK_COMPARE_FIELDS),
    doc: Doc {
        summary: "Is item a really above item b? Every pair of items of a Bradley–Terry fit compared, with standard errors, p-values and Holm's correction.",
        method: "Fits bt_rank with the same arguments and options, then compares every ordered pair of items (a, b), a != b, listed by item_a then item_b value: diff = rating_a - rating_b, and se its standard error from the full covariance of the fit, sqrt(C_aa + C_bb - 2 C_ab) * scale / ln(10), not from the two marginal intervals (which ignore that the ratings are estimated together). z = diff / se, p_value = 2 (1 - Phi(|z|)). significant applies Holm's step-down procedure (Holm 1979) at level 1 - confidence to the items * (items - 1) / 2 unordered pairs, each one hypothesis; equal p-values share a decision. With bootstrap=B (bt_rank's resampling of the pair table), se is the standard deviation of the replicates' differences and p_better the share of replicates in which a is above b. Checked against statsmodels (a binomial GLM's covariance and multipletests' Holm) and a numpy sandwich on LLMFAO. Up to 1000 items: the result has items * (items - 1) entries.",
        nulls: NULLS,
        degenerate: "With no rows left the result is NULL; with one item, an empty list. When the covariance is singular (prior=0 with a tie model and only ties), se, z, p_value and significant are NULL.",
        example: "SELECT item_a, item_b, round(diff, 1) AS diff, round(p_value, 4) AS p, significant\n\
FROM leaderboard('SELECT rank_compare(model_a, model_b, winner, ''se=sandwich'') FROM votes')\n\
WHERE diff > 0 ORDER BY p;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static PAIRWISE_SPECS: [&FunctionSpec; 6] = [
    &BT_RANK,
    &NEWMAN_RANK,
    &WIN_MATRIX,
    &AVG_WIN_RATE,
    &INTRANSITIVITY,
    &RANK_COMPARE,
];

fn above_one(v: f64) -> bool {
    v.is_finite() && v > 1.0
}

pub(crate) static ELO_RANK: FunctionSpec = FunctionSpec {
    name: "elo_rank",
    section: Section::Ranking,
    args: &[ITEM_A, ITEM_B, OUTCOME],
    options: &[
        OptionSpec {
            key: "k",
            ty: OptionType::Number {
                valid: valid::positive,
                what: "a number > 0",
            },
            default: Some("4"),
            meaning: "The K-factor: a battle moves item_a by k * (s - e).",
        },
        OptionSpec {
            meaning: "The rating difference that multiplies the odds by base: e = 1 / (1 + base^((r_b - r_a) / scale)).",
            ..SCALE
        },
        OptionSpec {
            key: "base",
            ty: OptionType::Number {
                valid: above_one,
                what: "a number > 1 (the base of the exponent, 10 in FastChat and evalica)",
            },
            default: Some("10"),
            meaning: "The base of the exponent in e, as in FastChat and evalica.",
        },
        OptionSpec {
            key: "init",
            ty: OptionType::Number {
                valid: valid::finite,
                what: "a finite number",
            },
            default: Some("1000"),
            meaning: "The starting rating of every item.",
        },
    ],
    misplaced: &[(
        "initial",
        "the starting rating is the option 'init' (default 1000)",
    )],
    output: Output::List(LEADERBOARD_FIELDS),
    row_order: RowOrder::Sequence {
        model: "online Elo",
        example: "elo_rank(model_a, model_b, winner ORDER BY tstamp)",
    },
    doc: Doc {
        summary: "Online Elo ratings from battles replayed in ORDER BY order, as Chatbot Arena first computed its leaderboard.",
        method: "FastChat's compute_online_elo; evalica's elo. Every item starts at init; battles are replayed in ORDER BY order, and each moves item_a by k * (s - e) and item_b by the opposite, where s is item_a's score (1 win, 0 loss, 0.5 tie, or a fraction) and e = 1 / (1 + base^((r_b - r_a) / scale)). ORDER BY inside the call is required: without it the query fails to plan. Battles with equal ORDER BY keys are applied in order of (item_a, item_b, outcome) values, so the result never depends on how the table was read or partitioned; add a unique column such as a battle id to the ORDER BY to fix a different order. The leaderboard is ordered by rating descending (equal ratings by item), with competition ranks; ci_lower, ci_upper, rank_lower, rank_upper and tie_param are NULL; wins, losses and ties count battles (a fractional score splits one battle between wins and losses). Memory: the accumulator keeps every battle (about 20 bytes plus the ORDER BY key).",
        nulls: "A row with a NULL item or outcome is skipped, as is a row comparing an item with itself. An unknown outcome text or a numeric outcome outside [0, 1] is an error.",
        degenerate: NO_ROWS,
        example: "SELECT r.rank, r.item, round(r.rating, 1) AS rating\n\
FROM (SELECT unnest(elo_rank(model_a, model_b, winner ORDER BY tstamp)) AS r FROM votes);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static PL_RANK: FunctionSpec = FunctionSpec {
    name: "pl_rank",
    section: Section::Ranking,
    args: &[
        Arg::required("ranking_id", Item, "Which ranking the row belongs to."),
        Arg::required("item", Item, "The ranked item."),
        Arg::required("position", Number, "The item's place in the ranking, 1 = best; equal positions are ties."),
        Arg::optional("weight", Weight, "Weight of the ranking (the same on all its rows)."),
    ],
    options: RANKING_OPTIONS,
    misplaced: &[(
        "ties",
        "tied positions are handled by Breslow's convention and need no option",
    )],
    output: Output::List(LEADERBOARD_FIELDS),
    doc: Doc {
        summary: "Plackett–Luce leaderboard from rankings: K-wise votes (K-Sort Arena), ranked lists (UltraFeedback), or partial top-k lists.",
        method: "Luce 1959; Plackett 1975. Each row is one item of one ranking at a position (lower is better; only the order matters). A ranking is read as successive choices, the best item chosen from all listed items with probability e^{s_i} / sum of e^{s_j}, the next from the rest, and so on; unlisted items play no part. Tied positions follow Breslow's convention: each tied item counts as chosen from its group and everything below it. Strengths maximise the log-likelihood with the same Gaussian prior as bt_rank (Newton's method, dense Hessian; checked against choix's ilsr_rankings and opt_rankings, and SciPy for the prior and ties); rating = base + scale * s / ln(10), as bt_rank. wins, losses and ties are the implied pairwise counts (items ranked below, above, and tied within the same rankings, weighted). With se=fisher, ci_lower and ci_upper are rating ± z * se * scale / ln(10) from the observed information, for the centred strengths as bt_rank's; on rankings of two items they equal bt_rank's (tested), and rank_lower / rank_upper follow from them. With se=sandwich they come from the robust covariance H^-1 G H^-1, G the sum over rankings of weight times the outer product of the ranking's score (the gradient of its log-likelihood; weights are frequency weights), centred as se=fisher's (checked against numpy). With bootstrap=B they are percentile intervals from B refits on rankings resampled with replacement (a multinomial over the distinct rankings; weights are frequency weights), the same for a seed whatever the partitioning. Fitted by dense Newton steps, up to 1000 items.",
        nulls: "A row with a NULL ranking, item, position or weight is skipped. An item listed twice in a ranking, rows of one ranking with different weights, and a weight that is negative or not finite are errors.",
        degenerate: "A ranking of one item adds nothing but the item; NULL with no rows left. With prior=0 and an item never ranked below (or never above) the items it meets, the ratings do not exist: an error.",
        example: "SELECT * FROM leaderboard('SELECT pl_rank(vote_id, model, position) FROM ksort_votes');",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static COEFFICIENT_FIELDS: &[OutField] = &[
    OutField::new(
        "feature",
        Int,
        "The feature's 1-based position in the features array.",
    ),
    OutField::new(
        "coef",
        Float,
        "Its coefficient beta, on the log-odds scale.",
    ),
    OutField::new(
        "se",
        Float,
        "Standard error of coef, from the observed Fisher information.",
    ),
    OutField::new("z", Float, "coef / se."),
    OutField::new("p_value", Float, "Two-sided normal p-value of coef = 0."),
    OutField::new(
        "ci_lower",
        Float,
        "Lower end of coef's interval at the chosen confidence.",
    ),
    OutField::new(
        "ci_upper",
        Float,
        "Upper end of coef's interval at the chosen confidence.",
    ),
];

pub(crate) static CONTROLLED_FIELDS: &[OutField] = &[
    OutField::new("leaderboard", List(LEADERBOARD_FIELDS), "The controlled leaderboard: ratings on bt_rank's scale, ci_lower/ci_upper and rank_lower/rank_upper from the observed Fisher information."),
    OutField::new("coefficients", List(COEFFICIENT_FIELDS), "One entry per feature."),
];

pub(crate) static BT_RANK_CONTROLLED: FunctionSpec = FunctionSpec {
    name: "bt_rank_controlled",
    section: Section::Ranking,
    args: &[
        Arg::required("item_a", Item, "The first item; item_a and item_b must both be strings or both integers."),
        Arg::required("item_b", Item, "The second item, of the same kind as item_a."),
        Arg::required("outcome", Outcome, OUTCOME_MEANING),
        Arg::required("features", Any, "An array of numbers per battle: the covariates, as differences a - b."),
        Arg::optional("weight", Weight, "Row weight."),
    ],
    options: &[
        SCALE,
        BASE,
        OptionSpec {
            ty: OptionType::Choice(&["half", "ignore"]),
            meaning: "half: a tie is half a win for each side; ignore: ties are dropped.",
            ..TIES
        },
        PRIOR,
        MAX_ITER,
        TOL,
        OptionSpec {
            meaning: "Coverage of the leaderboard's and the coefficients' intervals.",
            ..CONFIDENCE
        },
        OptionSpec {
            ty: OptionType::Choice(&["fisher", "sandwich"]),
            default: Some("fisher"),
            meaning: "fisher: intervals from the observed information of the penalised likelihood; sandwich: arena-rank's robust covariance H^-1 G H^-1 (see the method).",
            ..SE
        },
        REWEIGHT,
        MIN_PAIR_COUNT,
        OptionSpec {
            key: "normalize",
            ty: OptionType::Choice(&["false", "true"]),
            default: Some("false"),
            meaning: "true: z-score each feature over the battles (weighted by the weight column, population standard deviation; a constant feature becomes 0), as arena-rank's normalize_features=True.",
        },
        OptionSpec {
            key: "coef_reg",
            ty: OptionType::Number {
                valid: valid::non_negative,
                what: "a number >= 0",
            },
            default: Some("0"),
            meaning: "A ridge on the coefficients, 0.5 * coef_reg * W * |beta|^2 with W the sum of the fit's weights: arena-rank's reg, which it applies to its mean loss (its default is 1.0).",
        },
        ANCHOR,
    ],
    output: Output::Struct(CONTROLLED_FIELDS),
    doc: Doc {
        summary: "Bradley–Terry with per-battle covariates, for style and length control (Chatbot Arena's style control; Style Over Substance).",
        method: "logit P(item_a beats item_b) = s_a - s_b + beta . features, with features the battle's feature differences (e.g. (len_a - len_b) / (len_a + len_b), or a constant 1 for a first-position effect). Fitted by maximum likelihood (Newton, dense Hessian) with the same Gaussian prior on s as bt_rank and none on beta; a tie counts as half a win for each side (ties=ignore drops ties). Checked against a statsmodels binomial GLM with the same design to 1e-6. \
arena-rank's contextual model: ContextualBradleyTerry with its defaults is bt_rank_controlled(model_a, model_b, winner, ARRAY[features], 'prior=0, normalize=true, coef_reg=1.0, reweight=pair, se=sandwich'); the table below maps each of its arguments. With se=sandwich the covariance is arena-rank's H^-1 G H^-1: H the information of the likelihood (with the prior on s, without the ridge on beta), G the sum over battles of weight * (rho * (y - p))^2 z z^T (z the battle's design row; rho its reweighting factor, squared as an importance weight; the weight column counts votes), less arena-rank's correction for the ridge, (coef_reg * W / N)^2 beta beta^T with N the number of votes. It is the exact sandwich: arena-rank adds 1e-5 to H's diagonal, which moves its standard errors by up to 0.6% on LLMFAO; prefdb equals an independent numpy computation of the exact formula. leaderboard is the controlled leaderboard list (ratings on bt_rank's scale; ci_lower/ci_upper and rank_lower/rank_upper from the observed Fisher information at the chosen confidence); coefficients has one entry per feature, feature being the 1-based position in the array and coef on the log-odds scale. Up to 1000 items and 100 features. Memory: every battle is kept (about 24 + 8 * features bytes).",
        nulls: "A row with a NULL item, outcome, weight, features array or feature is skipped, as are self-comparisons and rows of weight 0. Every features array must have the same length; a feature that is not finite, an unknown outcome text, a numeric outcome outside [0, 1] and a weight that is negative or not finite are errors.",
        degenerate: "NULL with no rows left. A constant or collinear feature (e.g. one that is always 0, or a constant with items always in the same order), or a feature that predicts every outcome, has no finite estimate: an error.",
        example: "SELECT unnest(r['coefficients']) FROM (SELECT bt_rank_controlled(model_a, model_b, winner, ARRAY[(len_a - len_b) / (len_a + len_b)]) AS r FROM votes);",
    },
    mapping: Some(Mapping {
        reference: "arena-rank 0.1.1, ContextualBradleyTerry",
        rows: &[
            ("the L-BFGS fit (no penalty on the ratings)", "prior=0"),
            ("reg=1.0 (on the mean loss)", "coef_reg=1.0"),
            ("ContextualPairDataset.from_pandas(reweighted=True)", "reweight=pair"),
            ("min_pair_count=50", "min_pair_count=50"),
            ("normalize_features=True", "normalize=true"),
            ("feature_cols", "the features array, one entry per column"),
            ("compute_ratings_and_cis(ci_method='sandwich')", "se=sandwich (the exact sandwich, without its 1e-5 Hessian ridge)"),
            ("significance_level=a", "confidence=1-a"),
            ("scale=400, init_rating=1000, base=10", "scale=400, base=1000; the base of 10 is fixed"),
            ("ci_method='bootstrap'", "not offered: the state keeps every battle, and no bootstrap is implemented for the controlled model"),
        ],
    }),
    ..FunctionSpec::PLAIN
};

const POSITIVE: OptionType = OptionType::Number {
    valid: valid::positive,
    what: "a number > 0",
};

pub(crate) static OPENSKILL_FIELDS: &[OutField] = &[
    OutField::new("rank", Int, "Competition rank by rating descending."),
    OutField::new("item", FieldType::Item, "The item."),
    OutField::new(
        "rating",
        Float,
        "mu - z * sigma, openskill's ordinal: the conservative estimate.",
    ),
    OutField::new(
        "mu",
        Float,
        "Mean of the item's skill belief after the last match.",
    ),
    OutField::new(
        "sigma",
        Float,
        "Standard deviation of the item's skill belief after the last match.",
    ),
    OutField::new(
        "matches",
        Int,
        "Matches the item played (matches with one item do not count).",
    ),
];

pub(crate) static OPENSKILL_RANK: FunctionSpec = FunctionSpec {
    name: "openskill_rank",
    section: Section::Ranking,
    args: &[
        Arg::required("match_id", Item, "The match."),
        Arg::required("item", Item, "The ranked item."),
        Arg::required("position", Number, "The item's place in the match, 1 = best; equal positions are ties."),
    ],
    options: &[
        OptionSpec {
            key: "mu",
            ty: OptionType::Number {
                valid: valid::finite,
                what: "a finite number",
            },
            default: Some("25"),
            meaning: "Starting mean skill of every item (openskill's default).",
        },
        OptionSpec {
            key: "sigma",
            ty: POSITIVE,
            default: Some("8.333333333333334"),
            meaning: "Starting standard deviation of every item's skill (openskill's default, 25/3).",
        },
        OptionSpec {
            key: "beta",
            ty: POSITIVE,
            default: Some("4.166666666666667"),
            meaning: "Performance noise: each entry adds beta^2 to the match's variance (openskill's default, 25/6).",
        },
        OptionSpec {
            key: "kappa",
            ty: POSITIVE,
            default: Some("0.0001"),
            meaning: "Floor of the factor by which a match shrinks a variance, which keeps sigma positive (openskill's default).",
        },
        OptionSpec {
            key: "tau",
            ty: OptionType::Number {
                valid: valid::non_negative,
                what: "a number >= 0",
            },
            default: Some("0.08333333333333333"),
            meaning: "Dynamics: before each match an item's sigma^2 grows by tau^2 (openskill's default, 25/300).",
        },
        OptionSpec {
            key: "z",
            ty: OptionType::Number {
                valid: valid::non_negative,
                what: "a number >= 0",
            },
            default: Some("3"),
            meaning: "Standard deviations taken off mu in the rating, mu - z * sigma.",
        },
    ],
    output: Output::List(OPENSKILL_FIELDS),
    row_order: RowOrder::Sequence {
        model: "online rating",
        example: "openskill_rank(match_id, model, position ORDER BY tstamp)",
    },
    doc: Doc {
        summary: "Online Bayesian ratings from ranked matches: Weng–Lin's Plackett–Luce update, as the openskill Python package computes it for one-item teams.",
        method: "Weng & Lin 2011; checked against openskill 6.2 to 1e-9. Each row is one item's position in one match (lower is better; equal positions tie); matches are replayed in ORDER BY order, a match taking the key of its first row. Every item starts at N(mu, sigma^2); before each match its sigma^2 grows by tau^2, then mu and sigma move by the Plackett–Luce update. ORDER BY inside the call is required (a planning error without it); rows with equal keys are ordered by match, position and item values, so the result never depends on partitioning. The list is ordered by rating = mu - z * sigma (openskill's ordinal, the conservative estimate) descending. Up to 1000 entries a match.",
        nulls: "A row with a NULL match, item or position is skipped. An item listed twice in a match is an error.",
        degenerate: "A match with one item is skipped; NULL with no rows left.",
        example: "SELECT * FROM leaderboard('SELECT openskill_rank(match_id, model, position ORDER BY tstamp) FROM ksort_votes');",
    },
    ..FunctionSpec::PLAIN
};
