//! Weng–Lin online Bayesian ratings with the Plackett–Luce model (Weng & Lin 2011,
//! algorithm 4), as the `openskill` Python package computes them for one-player teams.
//!
//! Every item has a skill belief N(μ, σ²), starting at N(μ₀, σ₀²). A match ranks K items
//! (ties allowed). First each σ grows by the dynamics τ: σ² ← σ² + τ². Then, with
//! `c = sqrt(Σ (σ_i² + β²))`, `e_i = exp(μ_i / c)`, and for each position q the sum
//! `S_q = Σ_{i ranked at q or worse} e_i` and the number `A_q` of items tied at q:
//!
//! ```text
//! Ω_i = σ_i²/c · Σ_{q ranked at or above i} ([q = i] − e_i/S_q) / A_q
//! Δ_i = γ_i σ_i²/c² · Σ_{q ranked at or above i} (e_i/S_q)(1 − e_i/S_q) / A_q,  γ_i = σ_i/c
//! μ_i ← μ_i + Ω_i,   σ_i ← σ_i · sqrt(max(1 − Δ_i, κ))
//! ```
//!
//! Tied items are updated individually by these formulas. (openskill 6.2 contains a step
//! meant to average the μ changes of tied teams, but it compares each rating with itself
//! and so changes nothing; we match what it computes.) The leaderboard value is the
//! conservative `μ − zσ` (openskill's `ordinal`, z = 3).

/// Model parameters; the defaults are openskill's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WengLinOptions {
    pub mu: f64,
    pub sigma: f64,
    pub beta: f64,
    pub kappa: f64,
    pub tau: f64,
}

impl Default for WengLinOptions {
    fn default() -> Self {
        Self {
            mu: 25.0,
            sigma: 25.0 / 3.0,
            beta: 25.0 / 6.0,
            kappa: 0.0001,
            tau: 25.0 / 300.0,
        }
    }
}

/// A skill belief.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skill {
    pub mu: f64,
    pub sigma: f64,
}

/// Update `skills` for one match: `entries` are (item id, rank) with rank 0 the best and
/// equal ranks tied. Items must be distinct.
pub fn weng_lin_update(skills: &mut [Skill], entries: &[(u32, u32)], o: &WengLinOptions) {
    let mut entries = entries.to_vec();
    entries.sort_by_key(|&(_, rank)| rank);
    let k = entries.len();
    let sigma2: Vec<f64> = entries
        .iter()
        .map(|&(i, _)| {
            let s = skills[i as usize].sigma;
            s * s + o.tau * o.tau
        })
        .collect();
    let c = sigma2
        .iter()
        .map(|s2| s2 + o.beta * o.beta)
        .sum::<f64>()
        .sqrt();
    let e: Vec<f64> = entries
        .iter()
        .map(|&(i, _)| (skills[i as usize].mu / c).exp())
        .collect();
    let rank = |x: usize| entries[x].1;
    let sum_q: Vec<f64> = (0..k)
        .map(|q| (0..k).filter(|&i| rank(i) >= rank(q)).map(|i| e[i]).sum())
        .collect();
    let a: Vec<f64> = (0..k)
        .map(|q| (0..k).filter(|&i| rank(i) == rank(q)).count() as f64)
        .collect();
    let updated: Vec<Skill> = (0..k)
        .map(|i| {
            let (mut omega, mut delta) = (0.0, 0.0);
            for q in (0..k).filter(|&q| rank(q) <= rank(i)) {
                let p = e[i] / sum_q[q];
                delta += p * (1.0 - p) / a[q];
                omega += if q == i { 1.0 - p } else { -p } / a[q];
            }
            let s2 = sigma2[i];
            let gamma = s2.sqrt() / c;
            omega *= s2 / c;
            delta *= s2 / (c * c) * gamma;
            let id = entries[i].0 as usize;
            Skill {
                mu: skills[id].mu + omega,
                sigma: s2.sqrt() * (1.0 - delta).max(o.kappa).sqrt(),
            }
        })
        .collect();
    for (x, s) in entries.iter().zip(updated) {
        skills[x.0 as usize] = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// openskill 6.2: PlackettLuce().rate([[a], [b]], ranks=[1, 2]) from the default rating:
    /// a = (27.635389493140497, 8.06590141354368), b = (22.364610506859503, same σ).
    #[test]
    fn one_duel_matches_openskill() {
        let o = WengLinOptions::default();
        let mut s = vec![
            Skill {
                mu: o.mu,
                sigma: o.sigma,
            };
            2
        ];
        weng_lin_update(&mut s, &[(0, 0), (1, 1)], &o);
        assert!((s[0].mu - 27.635389493140497).abs() < 1e-12, "{:?}", s[0]);
        assert!((s[1].mu - 22.364610506859503).abs() < 1e-12);
        assert!((s[0].sigma - 8.06590141354368).abs() < 1e-12);
    }
}
