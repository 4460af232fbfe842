//! Criterion benchmark of the Bradley–Terry kernel on merged pair counts.
//!
//! The fit runs once per group on the merged state, so its cost depends on the number of
//! items and compared pairs, never on the number of votes. `prompt_groups` is the shape of
//! `bt_rank ... GROUP BY prompt`: 100 fits of 100 votes among 100 models (about 90 models
//! and 100 pairs each, often in several connected components), where the direct sparse
//! solve runs. `dense/100` is the shape of `GROUP BY day` (every pair of a hundred models
//! compared), where the dense Cholesky factorisation runs; `dense/200` (past its cost
//! rule) and `sparse_k20` run conjugate gradients.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use prefdb_stats::pairwise::{fit_bradley_terry, BtOptions, PairCounts};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Pair counts for `n` items with Gaussian strengths: every pair (dense) or `per_item`
/// random opponents per item (sparse), ~200 votes per compared pair.
fn counts(n: usize, per_item: Option<usize>) -> PairCounts {
    let mut rng = StdRng::seed_from_u64(1);
    let strengths: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 4.0 - 2.0).collect();
    let mut c = PairCounts::new();
    let mut add = |a: usize, b: usize, rng: &mut StdRng| {
        let p = 1.0 / (1.0 + (strengths[b] - strengths[a]).exp());
        let votes = 200.0;
        let ties = (votes * 0.1 * rng.random::<f64>()).round();
        let a_wins = ((votes - ties) * p).round();
        c.add(a as u32, b as u32, a_wins, votes - ties - a_wins, ties);
    };
    match per_item {
        None => {
            for a in 0..n {
                for b in (a + 1)..n {
                    add(a, b, &mut rng);
                }
            }
        }
        Some(k) => {
            for a in 0..n {
                for _ in 0..k {
                    let b = rng.random_range(0..n);
                    add(a, b, &mut rng);
                }
            }
        }
    }
    c
}

/// One prompt's votes: `votes` battles between two distinct models of `models`, a tie with
/// probability 0.1, otherwise decided by the models' strengths. Models get dense ids in
/// order of first appearance, as the engine's group state gives them.
fn prompt_group(rng: &mut StdRng, models: usize, votes: usize) -> (usize, PairCounts) {
    let strengths: Vec<f64> = (0..models)
        .map(|_| rng.random::<f64>() * 4.0 - 2.0)
        .collect();
    let mut dense = vec![u32::MAX; models];
    let mut n = 0u32;
    let mut id = |m: usize, dense: &mut Vec<u32>| {
        if dense[m] == u32::MAX {
            dense[m] = n;
            n += 1;
        }
        dense[m]
    };
    let mut counts = PairCounts::new();
    for _ in 0..votes {
        let a = rng.random_range(0..models);
        let mut b = rng.random_range(0..models - 1);
        if b >= a {
            b += 1;
        }
        let (ia, ib) = (id(a, &mut dense), id(b, &mut dense));
        let u = rng.random::<f64>();
        let p = 1.0 / (1.0 + (strengths[b] - strengths[a]).exp());
        if u < 0.1 {
            counts.add(ia, ib, 0.0, 0.0, 1.0);
        } else if rng.random::<f64>() < p {
            counts.add(ia, ib, 1.0, 0.0, 0.0);
        } else {
            counts.add(ia, ib, 0.0, 1.0, 0.0);
        }
    }
    (n as usize, counts)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_bradley_terry");
    group.sample_size(20);
    for (name, n, per_item) in [
        ("dense", 50, None),
        ("dense", 100, None),
        ("dense", 200, None),
        ("sparse_k20", 2000, Some(20)),
    ] {
        let counts = counts(n, per_item);
        let opts = BtOptions::default();
        group.bench_with_input(BenchmarkId::new(name, n), &counts, |b, counts| {
            b.iter(|| fit_bradley_terry(n, counts.pairs(), &opts).unwrap())
        });
    }
    let mut rng = StdRng::seed_from_u64(7);
    let prompts: Vec<(usize, PairCounts)> =
        (0..100).map(|_| prompt_group(&mut rng, 100, 100)).collect();
    let opts = BtOptions::default();
    group.bench_function("prompt_groups_x100", |b| {
        b.iter(|| {
            for (n, counts) in &prompts {
                std::hint::black_box(fit_bradley_terry(*n, counts.pairs(), &opts).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
