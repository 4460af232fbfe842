//! Release-mode timing of the Bradley–Terry kernel on the shapes that matter:
//!
//! - `prompt groups`: one `GROUP BY prompt` group of 100 votes among 100 models (about 90
//!   models appear, about 100 distinct pairs, often several connected components);
//! - the large cases of `benches/bt_kernel.rs`: dense 50 and 200 items, sparse 2000 items
//!   with 20 random opponents each.
//!
//! `cargo run --release --manifest-path crates/prefdb-stats/Cargo.toml --example bt_fit_timing`
//! (add `-- --groups-only` for more rounds of the prompt groups alone). Each figure is the
//! best of several passes, in microseconds per fit.

use prefdb_stats::pairwise::{fit_bradley_terry, BtOptions, PairCounts};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

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

/// The pair counts of `benches/bt_kernel.rs`.
fn bench_counts(n: usize, per_item: Option<usize>) -> PairCounts {
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

/// Mean microseconds per fit over `problems`, best of `rounds` passes, and the mean number of
/// Newton iterations.
fn time(problems: &[(usize, PairCounts)], rounds: usize) -> (f64, f64) {
    let opts = BtOptions::default();
    let mut best = f64::INFINITY;
    let mut iterations = 0usize;
    for _ in 0..rounds {
        iterations = 0;
        let start = Instant::now();
        for (n, counts) in problems {
            let fit = fit_bradley_terry(*n, counts.pairs(), &opts).unwrap();
            iterations += fit.iterations;
            std::hint::black_box(&fit);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    (
        best * 1e6 / problems.len() as f64,
        iterations as f64 / problems.len() as f64,
    )
}

fn main() {
    let mut rng = StdRng::seed_from_u64(7);
    let groups: Vec<_> = (0..2000)
        .map(|_| prompt_group(&mut rng, 100, 100))
        .collect();
    let items = groups.iter().map(|g| g.0).sum::<usize>() as f64 / groups.len() as f64;
    let pairs = groups.iter().map(|g| g.1.len()).sum::<usize>() as f64 / groups.len() as f64;
    let groups_only = std::env::args().any(|a| a == "--groups-only");
    let rounds = if groups_only { 50 } else { 5 };
    let (us, it) = time(&groups, rounds);
    println!(
        "prompt groups ({items:.1} items, {pairs:.1} pairs): {us:9.2} µs/fit, {it:.1} iterations"
    );
    if groups_only {
        return;
    }
    for (name, n, per_item, rounds) in [
        ("dense", 50, None, 20),
        ("dense", 200, None, 5),
        ("sparse_k20", 2000, Some(20), 5),
    ] {
        let problems = vec![(n, bench_counts(n, per_item))];
        let (us, it) = time(&problems, rounds);
        println!("{name} {n}: {us:12.2} µs/fit, {it:.1} iterations");
    }
}
