//! The declarations of the judge diagnostics (`position_consistency`,
//! `score_comparison_inconsistency`), the judge-based reward `wb_reward`, and
//! `rank_aggregate`, which is filed with the leaderboards it returns.

use crate::leaderboard::LEADERBOARD_FIELDS;
use crate::spec::ArgType::{Item, Number, Outcome};
use crate::spec::FieldType::{Float, Int};
use crate::spec::{
    valid, Arg, Doc, FieldType, FunctionSpec, OptionSpec, OptionType, OutField, Output, Section,
    CONFIDENCE,
};

const VERDICT: Arg = Arg::required(
    "verdict",
    Outcome,
    "The chosen position, or a tie: 'a' | 'first' | 'left' | 'model_a' (the first response), 'b' | 'second' | 'right' | 'model_b', 'tie' | 'tie (bothbad)' | 'both_bad' (case-insensitive), or 1 / 0 / 0.5.",
);

pub(crate) static POSITION_FIELDS: &[OutField] = &[
    OutField::new("consistency", Float, "Share of pairs judged in both orders whose two verdicts name the same response (or are both ties)."),
    OutField::new("first_position_rate", Float, "Share of decisive verdicts, over all rows, that chose the response shown first; 0.5 means no position bias."),
    OutField::new("pairs", Int, "Pairs judged in both orders."),
    OutField::new("verdicts", Int, "Rows counted."),
];

pub(crate) static POSITION_CONSISTENCY: FunctionSpec = FunctionSpec {
    name: "position_consistency",
    section: Section::Judge,
    args: &[
        Arg::required("pair_id", Item, "The compared pair."),
        Arg::required("order", Item, "Which presentation: any two values per pair, e.g. 'ab' and 'ba', or a boolean swapped flag."),
        VERDICT,
    ],
    output: Output::Struct(POSITION_FIELDS),
    doc: Doc {
        summary: "Position bias of a judge: how often a verdict survives swapping the two responses.",
        method: "Each row is one judgement of pair pair_id shown in order order, and verdict is positional; a pair judged in both orders is consistent when its two verdicts name the same response or are both ties (Wang et al. 2023, Large Language Models are not Fair Evaluators).",
        nulls: "A row with a NULL argument is skipped. A verdict that is not one of the accepted words or numbers is an error, and so is a pair with two verdicts in one order or with three order values.",
        degenerate: "consistency is NULL with no pair seen in both orders, first_position_rate with no decisive verdict. With no rows left the struct is NULL.",
        example: "SELECT judge, position_consistency(pair_id, swapped, verdict) AS p FROM judgements GROUP BY judge;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SCORE_COMPARISON_FIELDS: &[OutField] = &[
    OutField::new("conflict_rate", Float, "Share of pairs where the verdict prefers the response with the strictly lower score."),
    OutField::new("mismatch_rate", Float, "Share of pairs where the verdict's direction differs from the sign of score_a - score_b in any way."),
    OutField::new("pairs", Int, "Rows counted."),
];

pub(crate) static SCORE_COMPARISON_INCONSISTENCY: FunctionSpec = FunctionSpec {
    name: "score_comparison_inconsistency",
    section: Section::Judge,
    args: &[
        Arg::required("score_a", Number, "The judge's single-answer score of the first response."),
        Arg::required("score_b", Number, "The judge's single-answer score of the second response."),
        Arg::required(
            "verdict",
            Outcome,
            "The judge's pairwise verdict on the same two responses: 'a' | 'first' | 'left' | 'model_a' (the first response), 'b' | 'second' | 'right' | 'model_b', 'tie' | 'tie (bothbad)' | 'both_bad' (case-insensitive), or 1 / 0 / 0.5.",
        ),
    ],
    output: Output::Struct(SCORE_COMPARISON_FIELDS),
    doc: Doc {
        summary: "Score-comparison inconsistency: whether a judge's pairwise verdict agrees with the scores it gave the same two responses on their own.",
        method: "A conflict is a verdict for the response with the strictly lower score; a mismatch is any difference between the verdict's direction and the sign of score_a - score_b: a conflict, a decisive verdict between equal scores, or a tie verdict between different scores (TrustJudge).",
        nulls: "A row with a NULL argument is skipped. A verdict that is not one of the accepted words or numbers is an error, and so are scores whose difference is not a finite number.",
        degenerate: "With no rows left the struct is NULL.",
        example: "SELECT score_comparison_inconsistency(score_a, score_b, verdict) FROM judgements;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static WB_REWARD: FunctionSpec = FunctionSpec {
    name: "wb_reward",
    section: Section::Judge,
    args: &[
        Arg::required(
            "outcome",
            Outcome,
            "The five-level verdict from A's side: 'A++', 'A+', 'A=B' (or 'tie'), 'B+', 'B++' (case-insensitive; also 'A>>B', 'A>B', 'B>A', 'B>>A'), or the rewards 1, 0.5, 0, -0.5, -1.",
        ),
        Arg::required("len_a", Number, "Length of response A in characters, e.g. length(response_a)."),
        Arg::required("len_b", Number, "Length of response B in characters."),
    ],
    options: &[OptionSpec {
        key: "k",
        ty: OptionType::Number {
            valid: valid::non_negative,
            what: "a number of characters >= 0",
        },
        default: Some("500"),
        meaning: "The length margin in characters (WildBench's K): a 'slightly better' win by a response more than k characters longer than the loser counts as a tie.",
    }],
    output: Output::Number,
    doc: Doc {
        summary: "WildBench's pairwise reward of response A against a reference response B, averaged over rows.",
        method: "Much better +1, slightly better +0.5, tie 0, slightly worse -0.5, much worse -1; but a 'slightly better' win by a response more than k characters longer than the loser counts as a tie (0). Use GROUP BY model for a per-model reward, as WildBench reports it; multiply by 100 for its percentage form.",
        nulls: "A row with a NULL outcome or length is skipped (the length rule could not be applied). An outcome that is not one of the five levels is an error, and so is a length that is not a finite number >= 0.",
        degenerate: "NULL with no rows left.",
        example: "SELECT model, wb_reward(verdict, length(output), length(ref_output), 'k=500') AS reward FROM wildbench GROUP BY model ORDER BY reward DESC;",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static RANK_AGGREGATE: FunctionSpec = FunctionSpec {
    name: "rank_aggregate",
    section: Section::Ranking,
    args: &[
        Arg::required("system", Item, "The ranked system."),
        Arg::required("task", Item, "The task or benchmark."),
        Arg::required("score", Number, "The system's score on the task; higher is better."),
    ],
    options: &[OptionSpec {
        key: "method",
        ty: OptionType::Choice(&["mean", "borda", "copeland"]),
        default: Some("mean"),
        meaning: "The social-choice rule: mean, the mean of a system's scores over the tasks it has; borda, per task one point for each system with a lower score and half a point for each with an equal score, summed over tasks (a missing task earns nothing); copeland, for each other system sharing at least one task, one point if this system scores higher on more shared tasks than it scores lower, half a point for an even split.",
    }],
    output: Output::List(LEADERBOARD_FIELDS),
    doc: Doc {
        summary: "One leaderboard from per-task scores by a social-choice rule.",
        method: "The rating is the system's mean score, Borda count or Copeland score (Colombo et al. 2022, What are the best systems?). Higher scores are better; pass -score for errors or losses. The leaderboard is ordered by rating descending, equal ratings sharing a rank and ordered by system; interval and win/loss fields are NULL.",
        nulls: "A row with a NULL argument is skipped. A NaN or infinite score is an error, and so is a system with two scores for one task.",
        degenerate: "NULL with no rows left.",
        example: "SELECT * FROM leaderboard('SELECT rank_aggregate(model, benchmark, accuracy, ''method=borda'') FROM results');",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static VERDICT_FLIP_FIELDS: &[OutField] = &[
    OutField::new("condition", FieldType::Item, "The perturbed condition."),
    OutField::new("pairs", Int, "Pairs judged under both the baseline and this condition."),
    OutField::new("flips", Int, "Those whose verdict differs from the baseline's."),
    OutField::new("flip_rate", Float, "flips / pairs; NULL with no pair."),
    OutField::new("ci_lower", Float, "Lower end of the Wilson interval of flip_rate at the chosen confidence."),
    OutField::new("ci_upper", Float, "Upper end of that interval."),
    OutField::new("to_a", Int, "Flips to the first response."),
    OutField::new("to_b", Int, "Flips to the second response."),
    OutField::new("to_tie", Int, "Flips to a tie."),
    OutField::new("p_value", Float, "Exact two-sided test of to_a against to_b (McNemar's exact test on the flips between the two sides): does the perturbation push verdicts one way? NULL when to_a + to_b = 0."),
];

pub(crate) static VERDICT_FLIP: FunctionSpec = FunctionSpec {
    name: "verdict_flip",
    section: Section::Judge,
    args: &[
        Arg::required("pair_id", Item, "The judged pair."),
        Arg::required("condition", Item, "How it was presented: the baseline ('original' by default) or a perturbation (a position swap, injected tokens, a flawed answer...)."),
        Arg::required(
            "verdict",
            Outcome,
            "The verdict, naming the same responses under every condition (map a swapped presentation back before calling): 'a' | 'first' | 'left' | 'model_a', 'b' | 'second' | 'right' | 'model_b', 'tie' | 'tie (bothbad)' | 'both_bad' (case-insensitive), or 1 / 0 / 0.5.",
        ),
    ],
    options: &[
        OptionSpec {
            key: "baseline",
            ty: OptionType::Text {
                valid: |t| !t.trim().is_empty(),
                what: "a condition value",
            },
            default: Some("original"),
            meaning: "The condition the others are compared with.",
        },
        CONFIDENCE,
    ],
    output: Output::List(VERDICT_FLIP_FIELDS),
    doc: Doc {
        summary: "Judge robustness: how often, and which way, a verdict changes when the prompt or the responses are perturbed (One Token to Fool LLM-as-a-Judge; Style Over Substance).",
        method: "For each condition other than the baseline, in condition order: the pairs judged under both, the share whose verdict changed with its Wilson interval, where the changed verdicts went, and an exact test of whether they went to one side more than the other. position_consistency is the special case of a position swap read positionally: it takes verdicts as shown (first/second) and counts a pair consistent when the swapped verdict names the same response; verdict_flip takes verdicts already naming the responses, so a swap condition's flip rate is 1 - position_consistency's consistency over the same pairs. Checked against statsmodels (proportion_confint's Wilson interval, mcnemar's exact test).",
        nulls: "A row with a NULL argument is skipped. A pair with two verdicts under one condition is an error, and so is data without the baseline condition; a pair without a baseline verdict counts nowhere.",
        degenerate: "NULL for no rows; an empty list when only the baseline was judged.",
        example: "SELECT * FROM leaderboard('SELECT verdict_flip(pair_id, condition, verdict) FROM judgements');",
    },
    ..FunctionSpec::PLAIN
};

/// The declarations, indexed by `JudgeFunction`'s discriminants.
pub(crate) static SPECS: [&FunctionSpec; 5] = [
    &POSITION_CONSISTENCY,
    &SCORE_COMPARISON_INCONSISTENCY,
    &WB_REWARD,
    &RANK_AGGREGATE,
    &VERDICT_FLIP,
];
