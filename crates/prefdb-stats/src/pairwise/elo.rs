//! Online (sequential) Elo, as Chatbot Arena first computed its leaderboard.
//!
//! Every item starts at `initial`. For each battle in order, with ratings `r_a` and `r_b`:
//!
//! ```text
//! e_a = 1 / (1 + base^((r_b − r_a) / scale))      (expected score of a)
//! r_a += k · (s_a − e_a)
//! r_b += k · ((1 − s_a) − (1 − e_a))
//! ```
//!
//! where `s_a` is a's score in the battle: 1 a win, 0 a loss, 0.5 a tie (FastChat's
//! `compute_online_elo`; evalica's `elo`). Fractional scores are allowed and enter the same
//! formula. The result depends on the order of the battles; that is the point of the
//! method, and the reason the SQL function requires `ORDER BY`.

/// Parameters of [`online_elo`]; the defaults are FastChat's and evalica's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EloOptions {
    /// K-factor: the largest change of a rating in one battle.
    pub k: f64,
    /// Rating difference at which the stronger item is `base` times as likely to win.
    pub scale: f64,
    /// Base of the exponent (> 1).
    pub base: f64,
    /// Starting rating of every item.
    pub initial: f64,
}

impl Default for EloOptions {
    fn default() -> Self {
        Self {
            k: 4.0,
            scale: 400.0,
            base: 10.0,
            initial: 1000.0,
        }
    }
}

/// One battle: item ids and the score of `a` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EloBattle {
    pub a: u32,
    pub b: u32,
    pub score_a: f64,
}

/// Ratings of items `0..n_items` after applying `battles` in the order given.
pub fn online_elo(
    n_items: usize,
    battles: impl IntoIterator<Item = EloBattle>,
    options: &EloOptions,
) -> Vec<f64> {
    let mut ratings = vec![options.initial; n_items];
    let ln_base = options.base.ln();
    for battle in battles {
        let (a, b) = (battle.a as usize, battle.b as usize);
        let expected_a = 1.0 / (1.0 + (ln_base * (ratings[b] - ratings[a]) / options.scale).exp());
        let delta = options.k * (battle.score_a - expected_a);
        ratings[a] += delta;
        ratings[b] -= delta;
    }
    ratings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_battle_moves_both_by_half_k() {
        let r = online_elo(
            2,
            [EloBattle {
                a: 0,
                b: 1,
                score_a: 1.0,
            }],
            &EloOptions::default(),
        );
        assert_eq!(r, vec![1002.0, 998.0]);
    }

    #[test]
    fn order_matters_and_total_is_conserved() {
        let o = EloOptions {
            k: 32.0,
            ..EloOptions::default()
        };
        let win = |a, b| EloBattle { a, b, score_a: 1.0 };
        let x = online_elo(3, [win(0, 1), win(1, 2), win(2, 0)], &o);
        let y = online_elo(3, [win(2, 0), win(1, 2), win(0, 1)], &o);
        assert_ne!(x, y);
        for r in [x, y] {
            assert!((r.iter().sum::<f64>() - 3000.0).abs() < 1e-9);
        }
    }

    #[test]
    fn tie_between_equals_changes_nothing() {
        let r = online_elo(
            2,
            [EloBattle {
                a: 0,
                b: 1,
                score_a: 0.5,
            }],
            &EloOptions::default(),
        );
        assert_eq!(r, vec![1000.0, 1000.0]);
    }

    #[test]
    fn base_and_scale_follow_the_formula() {
        // With ratings 1100 vs 1000, scale 200, base 4: e_a = 1 / (1 + 4^(-0.5)) = 2/3.
        let o = EloOptions {
            k: 30.0,
            scale: 200.0,
            base: 4.0,
            initial: 1000.0,
        };
        // Raise a to 1015 first: one win at equal ratings moves a by k/2.
        let battles = vec![EloBattle {
            a: 0,
            b: 1,
            score_a: 1.0,
        }];
        let r = online_elo(2, battles, &o);
        assert_eq!(r, vec![1015.0, 985.0]);
        let e_a = 1.0 / (1.0 + 4f64.powf(-30.0 / 200.0));
        let r2 = online_elo(
            2,
            [
                EloBattle {
                    a: 0,
                    b: 1,
                    score_a: 1.0,
                },
                EloBattle {
                    a: 0,
                    b: 1,
                    score_a: 0.0,
                },
            ],
            &o,
        );
        assert!((r2[0] - (1015.0 - 30.0 * e_a)).abs() < 1e-9);
    }
}
