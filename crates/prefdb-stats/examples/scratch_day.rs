use prefdb_stats::pairwise::{fit_bradley_terry, BtOptions, PairOutcomes};
use std::time::Instant;
fn main() {
    let n = 100u32;
    let mut pairs = Vec::new();
    let mut x = 12345u64;
    let mut rnd = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 1000) as f64 / 1000.0 };
    for a in 0..n { for b in a+1..n {
        let d = (a as f64 - b as f64) / 30.0;
        let p = 1.0 / (1.0 + (-d).exp());
        let k = 5.0 + (rnd() * 2.0).floor();
        let aw = (k * p * 0.8).round(); let t = (k*0.2).round(); let bw = (k - aw - t).max(0.0);
        pairs.push(PairOutcomes { a, b, a_wins: aw, b_wins: bw, ties: t });
    }}
    let opts = BtOptions::default();
    let fit = fit_bradley_terry(n as usize, &pairs, &opts).unwrap();
    println!("iterations {}", fit.iterations);
    let t = Instant::now();
    for _ in 0..200 { std::hint::black_box(fit_bradley_terry(n as usize, &pairs, &opts).unwrap()); }
    println!("{:.1} us per fit", t.elapsed().as_secs_f64() / 200.0 * 1e6);
}
