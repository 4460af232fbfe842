//! Invariants of the pairwise kernels, stated as properties.

use prefdb_stats::pairwise::{fit_bradley_terry, BtOptions, PairCounts, PairOutcomes};
use proptest::prelude::*;

/// Rows (a, b, a_wins, b_wins, ties) among `n` items.
fn rows(n: u32) -> impl Strategy<Value = Vec<(u32, u32, f64, f64, f64)>> {
    prop::collection::vec((0..n, 0..n, 0.0..5.0f64, 0.0..5.0f64, 0.0..2.0f64), 1..60)
}

fn tally(rows: &[(u32, u32, f64, f64, f64)]) -> PairCounts {
    let mut c = PairCounts::new();
    for &(a, b, x, y, t) in rows {
        c.add(a, b, x, y, t);
    }
    c
}

fn sorted(pairs: &[PairOutcomes]) -> Vec<PairOutcomes> {
    let mut v = pairs.to_vec();
    v.sort_by_key(|p| (p.a, p.b));
    v
}

proptest! {
    /// Splitting the rows anywhere and merging the two partial states gives the same counts.
    #[test]
    fn merge_is_split_invariant(rows in rows(6), split in 0usize..60) {
        let split = split.min(rows.len());
        let whole = tally(&rows);
        let mut left = tally(&rows[..split]);
        let right = tally(&rows[split..]);
        let identity: Vec<u32> = (0..6).collect();
        left.merge(right.pairs(), &identity);
        let (a, b) = (sorted(whole.pairs()), sorted(left.pairs()));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!((x.a, x.b), (y.a, y.b));
            prop_assert!((x.a_wins - y.a_wins).abs() < 1e-9);
            prop_assert!((x.b_wins - y.b_wins).abs() < 1e-9);
            prop_assert!((x.ties - y.ties).abs() < 1e-9);
        }
    }

    /// Renaming items permutes the strengths and changes nothing else.
    #[test]
    fn fit_is_relabelling_invariant(rows in rows(5), shift in 1u32..5) {
        let n = 5usize;
        let relabel = |i: u32| (i + shift) % n as u32;
        let renamed: Vec<_> = rows.iter().map(|&(a, b, x, y, t)| (relabel(a), relabel(b), x, y, t)).collect();
        let opts = BtOptions::default();
        let fit = fit_bradley_terry(n, tally(&rows).pairs(), &opts).unwrap();
        let fit2 = fit_bradley_terry(n, tally(&renamed).pairs(), &opts).unwrap();
        for i in 0..n as u32 {
            let d = fit.strengths[i as usize] - fit2.strengths[relabel(i) as usize];
            prop_assert!(d.abs() < 1e-8, "item {}: {}", i, d);
        }
    }

    /// Swapping the sides of every comparison negates the strengths.
    #[test]
    fn fit_is_antisymmetric(rows in rows(5)) {
        let swapped: Vec<_> = rows.iter().map(|&(a, b, x, y, t)| (b, a, x, y, t)).collect();
        let opts = BtOptions::default();
        let fit = fit_bradley_terry(5, tally(&rows).pairs(), &opts).unwrap();
        let mirror = fit_bradley_terry(5, tally(&swapped).pairs(), &opts).unwrap();
        for (s, m) in fit.strengths.iter().zip(&mirror.strengths) {
            prop_assert!((s + m).abs() < 1e-8);
        }
    }

    /// With the default prior every fit exists, is finite and has mean zero, whatever the
    /// data: undefeated items, winless items and disconnected groups included.
    #[test]
    fn fit_is_finite_and_centred(rows in rows(7)) {
        let fit = fit_bradley_terry(7, tally(&rows).pairs(), &BtOptions::default()).unwrap();
        prop_assert!(fit.strengths.iter().all(|s| s.is_finite()));
        prop_assert!(fit.strengths.iter().sum::<f64>().abs() < 1e-9);
    }
}

mod agreement {
    use prefdb_stats::agreement::{krippendorff_alpha, Level};
    use proptest::prelude::*;

    /// Units as per-category counts over 4 categories.
    fn units() -> impl Strategy<Value = Vec<Vec<(usize, f64)>>> {
        prop::collection::vec(prop::collection::vec(0u8..3, 4), 2..40).prop_map(|units| {
            units
                .into_iter()
                .map(|counts| {
                    counts
                        .into_iter()
                        .enumerate()
                        .filter(|(_, n)| *n > 0)
                        .map(|(c, n)| (c, f64::from(n)))
                        .collect()
                })
                .collect()
        })
    }

    proptest! {
        /// Nominal alpha does not depend on which names the categories have.
        #[test]
        fn nominal_alpha_is_relabelling_invariant(units in units(), shift in 1usize..4) {
            let values = [1.0, 2.0, 3.0, 4.0];
            let relabelled: Vec<Vec<(usize, f64)>> = units
                .iter()
                .map(|u| u.iter().map(|&(c, n)| ((c + shift) % 4, n)).collect())
                .collect();
            let a = krippendorff_alpha(&values, &units, Level::Nominal);
            let b = krippendorff_alpha(&values, &relabelled, Level::Nominal);
            match (a, b) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-12),
                (a, b) => prop_assert_eq!(a, b),
            }
        }

        /// The order of units does not matter, and a split into two halves whose counts are
        /// added gives the same alpha (counts are the mergeable state).
        #[test]
        fn alpha_ignores_unit_order(units in units()) {
            let values = [1.0, 2.0, 3.0, 4.0];
            let mut reversed = units.clone();
            reversed.reverse();
            for level in [Level::Nominal, Level::Ordinal, Level::Interval, Level::Ratio] {
                let a = krippendorff_alpha(&values, &units, level);
                let b = krippendorff_alpha(&values, &reversed, level);
                match (a, b) {
                    (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-12),
                    (a, b) => prop_assert_eq!(a, b),
                }
            }
        }
    }
}

mod kappa_family {
    use prefdb_stats::agreement::{
        agreement_weights, cohen_kappa, fleiss_kappa, gwet_ac, percent_agreement, Weighting,
    };
    use proptest::prelude::*;

    /// Complete long-form data: `units × raters` labels in 0..4.
    fn table() -> impl Strategy<Value = Vec<Vec<usize>>> {
        (2usize..6).prop_flat_map(|raters| {
            prop::collection::vec(prop::collection::vec(0usize..4, raters), 2..40)
        })
    }

    fn counts(table: &[Vec<usize>]) -> Vec<Vec<f64>> {
        table
            .iter()
            .map(|labels| {
                let mut c = vec![0.0; 4];
                labels.iter().for_each(|&l| c[l] += 1.0);
                c
            })
            .collect()
    }

    fn same(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
            (a, b) => a == b,
        }
    }

    proptest! {
        /// Permuting raters (within each unit) and items changes nothing.
        #[test]
        fn invariant_under_permuting_raters_and_items(table in table(), rotate in 0usize..5) {
            let mut permuted: Vec<Vec<usize>> = table
                .iter()
                .map(|labels| {
                    let mut l = labels.clone();
                    let r = rotate % l.len();
                    l.rotate_left(r);
                    l
                })
                .collect();
            permuted.reverse();
            let (a, b) = (counts(&table), counts(&permuted));
            let w = agreement_weights(&[0.0, 1.0, 2.0, 3.0], Weighting::Quadratic);
            prop_assert!(same(percent_agreement(&a), percent_agreement(&b)));
            prop_assert!(same(fleiss_kappa(&a).unwrap(), fleiss_kappa(&b).unwrap()));
            prop_assert!(same(gwet_ac(&a, &w), gwet_ac(&b, &w)));
        }

        /// When every rater gives each item the same label, and at least two labels occur,
        /// every coefficient is 1.
        #[test]
        fn perfect_agreement_is_one(labels in prop::collection::vec(0usize..4, 2..30), raters in 2usize..5) {
            prop_assume!(labels.iter().any(|&l| l != labels[0]));
            let table: Vec<Vec<usize>> = labels.iter().map(|&l| vec![l; raters]).collect();
            let c = counts(&table);
            let w = agreement_weights(&[0.0, 1.0, 2.0, 3.0], Weighting::Identity);
            prop_assert!(same(percent_agreement(&c), Some(1.0)));
            prop_assert!(same(fleiss_kappa(&c).unwrap(), Some(1.0)));
            prop_assert!(same(gwet_ac(&c, &w), Some(1.0)));
            let mut confusion = vec![vec![0.0; 4]; 4];
            labels.iter().for_each(|&l| confusion[l][l] += 1.0);
            prop_assert!(same(cohen_kappa(&confusion, Weighting::Quadratic), Some(1.0)));
        }
    }
}

mod noisy_bt {
    use prefdb_stats::noisy_bt::{noisy_bt, start, CrowdComparisons, NoisyBtOptions};
    use proptest::prelude::*;

    /// (worker, item_a, item_b, score) rows over 4 items and 3 workers.
    fn rows() -> impl Strategy<Value = Vec<(u32, u32, u32, f64)>> {
        prop::collection::vec(
            (
                0u32..3,
                0u32..4,
                0u32..4,
                prop::sample::select(vec![0.0, 0.5, 1.0, 0.25]),
            ),
            6..40,
        )
    }

    fn comparisons(rows: &[(u32, u32, u32, f64)]) -> CrowdComparisons {
        CrowdComparisons {
            items: 4,
            workers: 3,
            worker: rows.iter().map(|r| r.0).collect(),
            a: rows.iter().map(|r| r.1).collect(),
            b: rows.iter().map(|r| r.2).collect(),
            wins_a: rows.iter().map(|r| r.3).collect(),
            wins_b: rows.iter().map(|r| 1.0 - r.3).collect(),
        }
    }

    /// The objective as the model states it, row by row, written without the kernel's
    /// shortcuts: x = [x0, s0..s3, q0..q2, g0..g2].
    fn slow_objective(rows: &[(u32, u32, u32, f64)], o: &NoisyBtOptions, x: &[f64]) -> f64 {
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut f = 0.0;
        for &(w, a, b, y) in rows {
            let (s_a, s_b) = (x[1 + a as usize], x[1 + b as usize]);
            let (q, g) = (x[5 + w as usize], x[8 + w as usize]);
            let p_a = sig(g) * sig(s_a - s_b) + (1.0 - sig(g)) * sig(q);
            if y > 0.0 {
                f -= y * p_a.ln();
            }
            if y < 1.0 {
                f -= (1.0 - y) * (1.0 - p_a).ln();
            }
        }
        for k in 1..5 {
            f -= o.regularization * (sig(x[k] - x[0]).ln() + sig(x[0] - x[k]).ln());
        }
        for v in &x[5..11] {
            f -= o.worker_prior * (sig(*v).ln() + sig(-*v).ln());
        }
        f
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The fit is a stationary point of the slow objective (central differences), no
        /// worse than crowd-kit's start, and does not depend on row order.
        #[test]
        fn fit_is_a_stationary_point_of_the_model(rows in rows(), rho in prop::sample::select(vec![1e-5, 0.1, 1.0])) {
            let o = NoisyBtOptions { regularization: rho, ..NoisyBtOptions::default() };
            let fit = noisy_bt(&comparisons(&rows), &o).unwrap();
            let sig_inv = |p: f64| (p / (1.0 - p)).ln();
            // Rebuild x with x0 = 0 (f depends only on s - x0).
            let mut x = vec![0.0];
            x.extend(&fit.rating);
            x.extend(fit.bias.iter().map(|&p| sig_inv(p)));
            x.extend(fit.skill.iter().map(|&p| sig_inv(p)));
            let f = slow_objective(&rows, &o, &x);
            prop_assert!(f <= slow_objective(&rows, &o, &start(4, 3, 0)) + 1e-9);
            prop_assert!((f - fit.loss).abs() < 1e-9 * f.abs().max(1.0), "{f} vs {}", fit.loss);
            for k in 0..x.len() {
                let h = 1e-6;
                let (mut up, mut down) = (x.clone(), x.clone());
                up[k] += h;
                down[k] -= h;
                let slope = (slow_objective(&rows, &o, &up) - slow_objective(&rows, &o, &down)) / (2.0 * h);
                prop_assert!(slope.abs() < 1e-5, "coordinate {k}: slope {slope}, fit {fit:?}");
            }
            let mut reversed = rows.clone();
            reversed.reverse();
            let again = noisy_bt(&comparisons(&reversed), &o).unwrap();
            for (p, q) in fit.rating.iter().zip(&again.rating) {
                prop_assert!((p - q).abs() < 1e-6, "{p} vs {q}");
            }
        }
    }
}
