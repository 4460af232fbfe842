//! Criterion benchmark of the Bradley–Terry kernel on merged pair counts.
//!
//! The fit runs once per group on the merged state, so its cost depends on the number of
//! items and compared pairs, never on the number of votes.

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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_bradley_terry");
    group.sample_size(20);
    for (name, n, per_item) in [
        ("dense", 50, None),
        ("dense", 200, None),
        ("sparse_k20", 2000, Some(20)),
    ] {
        let counts = counts(n, per_item);
        let opts = BtOptions::default();
        group.bench_with_input(BenchmarkId::new(name, n), &counts, |b, counts| {
            b.iter(|| fit_bradley_terry(n, counts.pairs(), &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
