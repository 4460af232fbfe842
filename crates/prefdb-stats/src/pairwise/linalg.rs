//! Dense symmetric positive-definite systems by Cholesky factorisation, for the small
//! Newton systems and information matrices of the pairwise models.

/// Factor `a` (row-major, `k × k`, symmetric positive definite) in place: its lower
/// triangle becomes `L` with `a = L Lᵀ`. False when `a` is not positive definite.
pub(crate) fn cholesky(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut diag = a[j * k + j];
        for p in 0..j {
            diag -= a[j * k + p] * a[j * k + p];
        }
        if diag.is_nan() || diag <= 0.0 {
            return false;
        }
        let diag = diag.sqrt();
        a[j * k + j] = diag;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for p in 0..j {
                v -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = v / diag;
        }
    }
    true
}

/// Solve `L Lᵀ x = b` in place, `l` from [`cholesky`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i * k + p] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= l[p * k + i] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
}

/// `a⁻¹ b` for symmetric positive-definite `a` (row-major); `None` when `a` is not.
pub(crate) fn solve_spd(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    if !cholesky(&mut a, k) {
        return None;
    }
    cholesky_solve(&a, k, &mut b);
    Some(b)
}

/// Turn the covariance of `(s, β)` into that of `(s − mean(s), β)`: `P C P` with
/// `P = diag(I − J/n, I)`, where `n` is the number of strengths, which come first.
///
/// Ratings are reported relative to their mean, and only differences of strengths are
/// identified by the data. With a prior the information along the constant direction comes
/// from the prior alone, so the plain inverse carries a common-mode variance of `1/(λ n)` in
/// every strength: about 1.7 on LLMFAO with the default λ = 0.01, which would swamp the
/// intervals. With prior 0 the information is pinned along that direction before inverting;
/// centring removes the pin too, leaving the pseudo-inverse.
pub(crate) fn centre_strengths(cov: &mut [Vec<f64>], n: usize) {
    if n == 0 {
        return;
    }
    let m = cov.len();
    for j in 0..m {
        let mean = (0..n).map(|i| cov[i][j]).sum::<f64>() / n as f64;
        for row in cov.iter_mut().take(n) {
            row[j] -= mean;
        }
    }
    for row in cov.iter_mut() {
        let mean = row[..n].iter().sum::<f64>() / n as f64;
        for v in &mut row[..n] {
            *v -= mean;
        }
    }
}

/// The inverse of symmetric positive-definite `a` (row-major, `k × k`) as rows; `None` when
/// `a` is not positive definite.
pub(crate) fn invert_spd(mut a: Vec<f64>, k: usize) -> Option<Vec<Vec<f64>>> {
    if !cholesky(&mut a, k) {
        return None;
    }
    Some(
        (0..k)
            .map(|col| {
                let mut e = vec![0.0; k];
                e[col] = 1.0;
                cholesky_solve(&a, k, &mut e);
                e
            })
            .collect(),
    )
}

/// Sparse `L D Lᵀ` factorisations of `σI + Σ_e c_e (u_a − u_b)(u_a − u_b)ᵀ`: a weighted graph
/// Laplacian plus a shift, for one fixed graph and any positive edge weights. These are the
/// Newton systems of Bradley–Terry, and on the small sparse comparison graphs of a grouped
/// query (a prompt's hundred votes) a direct solve is exact and far cheaper than conjugate
/// gradients, which need many steps on the long paths of such graphs.
///
/// [`GraphLdl::analyse`] orders the items by minimum degree (Tinney & Walker 1967; George &
/// Liu, *Computer Solution of Large Sparse Positive Definite Systems*, 1981, ch. 5), then
/// records the pattern of `L` and, for every pair of entries of a column, the entry their
/// product updates. Each [`GraphLdl::factor`] is then one pass over that schedule with no
/// searching. A tree fills in not at all, and a tree with a few extra edges hardly at all.
#[derive(Debug, Default)]
pub(crate) struct GraphLdl {
    n: usize,
    /// Elimination position of each item.
    rank: Vec<u32>,
    /// Each edge's ends, as elimination positions.
    ends: Vec<(u32, u32)>,
    /// Where each edge's weight enters `L`'s strict lower triangle.
    edge_slot: Vec<u32>,
    /// Column `j` of `L` holds rows `rows[col_start[j]..col_start[j + 1]]`, increasing;
    /// `cols` gives each entry's column.
    col_start: Vec<u32>,
    rows: Vec<u32>,
    cols: Vec<u32>,
    /// For each column, for each pair `p < q` of its entries, the entry `(rows[q], rows[p])`.
    updates: Vec<u32>,
    l: Vec<f64>,
    /// The inverse pivots, after [`GraphLdl::factor`]; 0 for a grounded last item.
    d: Vec<f64>,
    // Scratch for the analysis and the solve, kept to reuse their allocations.
    adjacency: Vec<u64>,
    degree: Vec<u32>,
    queue: Vec<u32>,
    work: Vec<f64>,
}

/// Items beyond which [`GraphLdl::analyse`] declines: its elimination graph is a dense bit
/// matrix.
pub(crate) const GRAPH_LDL_MAX_ITEMS: usize = 256;

const NOT_YET: u32 = u32::MAX;

impl GraphLdl {
    /// Analyse the graph of `edges` (ends in `0..n`, no self-loops) for factorisation. False
    /// when `n` exceeds [`GRAPH_LDL_MAX_ITEMS`] or a factorisation would take more than
    /// `budget` multiply-adds: then conjugate gradients are the cheaper solver.
    pub(crate) fn analyse(
        &mut self,
        n: usize,
        edges: impl ExactSizeIterator<Item = (usize, usize)> + Clone,
        budget: usize,
    ) -> bool {
        if n > GRAPH_LDL_MAX_ITEMS {
            return false;
        }
        self.n = n;
        let words = n.div_ceil(64);
        self.adjacency.clear();
        self.adjacency.resize(n * words, 0);
        self.degree.clear();
        self.degree.resize(n, 0);
        for (a, b) in edges.clone() {
            let bit = 1 << (b % 64);
            if self.adjacency[a * words + b / 64] & bit == 0 {
                self.adjacency[a * words + b / 64] |= bit;
                self.adjacency[b * words + a / 64] |= 1 << (a % 64);
                self.degree[a] += 1;
                self.degree[b] += 1;
            }
        }
        // Each elimination appends its column of L (the item's neighbours then, as item
        // ids until every rank is known) to `rows`.
        self.rank.clear();
        self.rank.resize(n, NOT_YET);
        // Sparse graphs fill in little: room for twice the edges saves regrowing.
        let entries = 2 * edges.len() + n;
        self.rows.clear();
        self.rows.reserve(entries);
        self.cols.clear();
        self.cols.reserve(entries);
        self.updates.clear();
        self.updates.reserve(entries);
        self.col_start.clear();
        self.col_start.reserve(n + 1);
        self.col_start.push(0);
        self.eliminate_low_degree(words);
        if !self.eliminate_by_minimum_degree(words, budget) {
            return false;
        }
        self.record_pattern();
        self.ends.clear();
        self.ends.reserve(edges.len());
        self.edge_slot.clear();
        self.edge_slot.reserve(edges.len());
        for (a, b) in edges {
            let (ra, rb) = (self.rank[a], self.rank[b]);
            self.ends.push((ra, rb));
            let (row, column) = (ra.max(rb), ra.min(rb) as usize);
            let entries = self.col_start[column] as usize..self.col_start[column + 1] as usize;
            let offset = self.rows[entries.clone()].partition_point(|&r| r < row);
            self.edge_slot.push((entries.start + offset) as u32);
        }
        self.l.clear();
        self.l.resize(self.rows.len(), 0.0);
        self.d.clear();
        self.d.resize(n, 0.0);
        true
    }

    /// Give `v` the next elimination position, with `neighbours` as its column of L.
    fn eliminate(&mut self, v: usize, neighbours: impl Iterator<Item = usize>) {
        let j = self.col_start.len() - 1;
        self.rank[v] = j as u32;
        self.rows.extend(neighbours.map(|u| u as u32));
        self.cols.resize(self.rows.len(), j as u32);
        self.col_start.push(self.rows.len() as u32);
    }

    /// Eliminate items of degree at most 2 while there are any: such an elimination joins at
    /// most two neighbours (one new entry of L) and raises no degree. Trees and the paths
    /// of a sparse graph go this way, which in the graphs this solver is for is most items.
    /// First in, first out: consecutive columns then mostly belong to different branches, so
    /// the factorisation and the solves are not one long chain of dependent divisions.
    fn eliminate_low_degree(&mut self, words: usize) {
        self.queue.clear();
        // Each item enters once at the start or once on falling to degree 2.
        self.queue.reserve(2 * self.n + 1);
        self.queue
            .extend((0..self.n as u32).filter(|&i| self.degree[i as usize] <= 2));
        let mut next = 0;
        while let Some(&v) = self.queue.get(next) {
            next += 1;
            let v = v as usize;
            if self.rank[v] != NOT_YET {
                continue;
            }
            let (u, w) = {
                let mut ends = bits(&self.adjacency[v * words..(v + 1) * words]);
                (ends.next(), ends.next())
            };
            self.eliminate(v, u.into_iter().chain(w));
            for (x, y) in [(u, w), (w, u)] {
                let Some(x) = x else { continue };
                let x_row = x * words;
                self.adjacency[x_row + v / 64] &= !(1 << (v % 64));
                match y {
                    Some(y) if self.adjacency[x_row + y / 64] & (1 << (y % 64)) == 0 => {
                        self.adjacency[x_row + y / 64] |= 1 << (y % 64);
                    }
                    _ => {
                        // Items already at degree 2 or less are queued.
                        self.degree[x] -= 1;
                        if self.degree[x] == 2 {
                            self.queue.push(x as u32);
                        }
                    }
                }
            }
        }
    }

    /// Eliminate the rest in order of least degree, joining each item's neighbours into a
    /// clique. Keys `degree · 2¹⁶ + item` make each choice a plain minimum with the lowest id
    /// among equals, so the order is a function of the graph alone. False past `budget`.
    fn eliminate_by_minimum_degree(&mut self, words: usize, budget: usize) -> bool {
        let key = |degree: u32, i: usize| (degree << 16) | i as u32;
        // The items left, by key, and where each item's key is.
        self.queue.clear();
        self.queue.extend(
            (0..self.n)
                .filter(|&i| self.rank[i] == NOT_YET)
                .map(|i| key(self.degree[i], i)),
        );
        for (at, &k) in self.queue.iter().enumerate() {
            self.degree[(k & 0xffff) as usize] = at as u32;
        }
        let at = &mut self.degree;
        let mut cost = 0usize;
        let mut clique = [0u64; GRAPH_LDL_MAX_ITEMS / 64];
        while let Some(&least) = self.queue.iter().min() {
            let (v, degree) = ((least & 0xffff) as usize, (least >> 16) as usize);
            let (position, last) = (at[v] as usize, self.queue.len() - 1);
            self.queue.swap(position, last);
            at[(self.queue[position] & 0xffff) as usize] = position as u32;
            self.queue.pop();
            cost += degree * (degree + 1) / 2;
            if cost > budget {
                return false;
            }
            let clique = &mut clique[..words];
            clique.copy_from_slice(&self.adjacency[v * words..(v + 1) * words]);
            // `eliminate`, with `at` borrowed.
            let j = self.col_start.len() - 1;
            self.rank[v] = j as u32;
            self.rows.extend(bits(clique).map(|u| u as u32));
            self.cols.resize(self.rows.len(), j as u32);
            self.col_start.push(self.rows.len() as u32);
            for u in bits(clique) {
                // u loses v and gains the clique members it lacked: count those one by one,
                // as they are few.
                let row = &mut self.adjacency[u * words..(u + 1) * words];
                let mut gained = 0u32;
                for (w, (r, c)) in row.iter_mut().zip(clique.iter()).enumerate() {
                    let mut new = c & !*r;
                    if w == u / 64 {
                        new &= !(1 << (u % 64));
                    }
                    *r |= new;
                    while new != 0 {
                        new &= new - 1;
                        gained += 1;
                    }
                }
                row[v / 64] &= !(1 << (v % 64));
                let k = &mut self.queue[at[u] as usize];
                *k = *k + (gained << 16) - (1 << 16);
            }
        }
        true
    }

    /// Turn the columns' item ids into elimination positions, increasing, and record the
    /// update schedule.
    fn record_pattern(&mut self) {
        let n = self.n;
        let (rows, col_start) = (&mut self.rows[..], &self.col_start[..]);
        for r in rows.iter_mut() {
            *r = self.rank[*r as usize];
        }
        for j in 0..n {
            let column = &mut rows[col_start[j] as usize..col_start[j + 1] as usize];
            // Columns are short (most have one or two entries): insertion sort.
            for i in 1..column.len() {
                let mut k = i;
                while k > 0 && column[k - 1] > column[k] {
                    column.swap(k - 1, k);
                    k -= 1;
                }
            }
        }
        let slot_of = &mut self.queue;
        // The entries `(rows[q], rows[p])` for `q > p` of a column all lie in column
        // `rows[p]` (its item was joined to the others when this one was eliminated):
        // index that column's rows, then look them up.
        self.updates.clear();
        slot_of.clear();
        slot_of.resize(n, 0);
        for j in 0..n {
            let (start, end) = (col_start[j] as usize, col_start[j + 1] as usize);
            // The last entry pairs with none.
            for p in start..end.saturating_sub(1) {
                let target = rows[p] as usize;
                for slot in col_start[target] as usize..col_start[target + 1] as usize {
                    slot_of[rows[slot] as usize] = slot as u32;
                }
                for &row in &rows[p + 1..end] {
                    self.updates.push(slot_of[row as usize]);
                }
            }
        }
    }

    /// Factor `shift · I + Σ_e weights[e] (u_a − u_b)(u_a − u_b)ᵀ` for the analysed graph.
    /// With `ground_last` the last item's pivot is left out, and [`GraphLdl::solve`] returns
    /// the solution with that item's coordinate zero: for a connected graph with no (or only
    /// a negligible) shift the matrix is singular (or nearly) along the constant vector, and
    /// for a right-hand side summing to zero this is the solution up to a constant. False
    /// when a pivot is not positive (weights that underflowed, say).
    pub(crate) fn factor(&mut self, shift: f64, weights: &[f64], ground_last: bool) -> bool {
        // Plain slices, so that stores into `l` and `d` do not make the compiler reload
        // every vector's address.
        let (d, l) = (&mut self.d[..], &mut self.l[..]);
        let (rows, col_start, updates) = (&self.rows[..], &self.col_start[..], &self.updates[..]);
        d.fill(shift);
        l.fill(0.0);
        for ((&(a, b), &slot), &w) in self.ends.iter().zip(&self.edge_slot).zip(weights) {
            d[a as usize] += w;
            d[b as usize] += w;
            l[slot as usize] -= w;
        }
        let mut update = 0;
        let last = self.n.saturating_sub(1);
        for j in 0..self.n {
            if ground_last && j == last {
                d[j] = 0.0;
                break;
            }
            let pivot = d[j];
            if !(pivot > 0.0 && pivot.is_finite()) {
                return false;
            }
            // Kept inverted: the solve then multiplies.
            let inverse = 1.0 / pivot;
            d[j] = inverse;
            let (start, end) = (col_start[j] as usize, col_start[j + 1] as usize);
            for p in start..end {
                let scaled = l[p] * inverse;
                d[rows[p] as usize] -= l[p] * scaled;
                for q in p + 1..end {
                    l[updates[update] as usize] -= l[q] * scaled;
                    update += 1;
                }
                l[p] = scaled;
            }
        }
        true
    }

    /// `x` with `A x = b` for the last [`GraphLdl::factor`]ed `A`, both indexed by item.
    pub(crate) fn solve(&mut self, b: &[f64], x: &mut [f64]) {
        let y = &mut self.work;
        y.clear();
        y.resize(self.n, 0.0);
        for (&r, &v) in self.rank.iter().zip(b) {
            y[r as usize] = v;
        }
        // Entries are in column order, so each `y[col]` is final before it is used, going
        // forward through `L` and backward through `Lᵀ`.
        for ((&row, &col), &l) in self.rows.iter().zip(&self.cols).zip(&self.l) {
            y[row as usize] -= l * y[col as usize];
        }
        for (v, d) in y.iter_mut().zip(&self.d) {
            *v *= d;
        }
        for ((&row, &col), &l) in self.rows.iter().zip(&self.cols).zip(&self.l).rev() {
            y[col as usize] -= l * y[row as usize];
        }
        for (&r, v) in self.rank.iter().zip(x.iter_mut()) {
            *v = y[r as usize];
        }
    }
}

/// Dense Cholesky factorisations of the same shifted graph Laplacians as [`GraphLdl`], for the
/// graphs it declines because they fill in: a comparison graph where most pairs met (a
/// leaderboard per day or per category among a hundred models). Forming the matrix costs one
/// pass over the edges and factoring it `k³/6` multiply-adds, in rows contiguous in memory, so
/// at a hundred items one factorisation costs less than the conjugate-gradient steps of one
/// Newton system.
#[derive(Debug, Default)]
pub(crate) struct DenseLaplacian {
    /// The order of the factored matrix: the items, less a grounded last one.
    k: usize,
    /// `L` in the lower triangle, row-major `k × k`.
    l: Vec<f64>,
    /// The column being eliminated, contiguous.
    column: Vec<f64>,
}

/// Items beyond which the dense factorisation is not used: its matrix takes `8 n²` bytes.
pub(crate) const DENSE_MAX_ITEMS: usize = 512;

impl DenseLaplacian {
    /// Factor `shift · I + Σ_e weights[e] (u_a − u_b)(u_a − u_b)ᵀ` over items `0..n`, edges
    /// `ends` (no self-loops). With `ground_last` the last item's row and column are left
    /// out, as in [`GraphLdl::factor`], and [`DenseLaplacian::solve`] returns that item's
    /// coordinate as zero. False when the matrix is not positive definite.
    pub(crate) fn factor(
        &mut self,
        n: usize,
        shift: f64,
        ends: impl Iterator<Item = (usize, usize)>,
        weights: &[f64],
        ground_last: bool,
    ) -> bool {
        let k = if ground_last { n.saturating_sub(1) } else { n };
        self.k = k;
        let a = &mut self.l;
        a.clear();
        a.resize(k * k, 0.0);
        for i in 0..k {
            a[i * k + i] = shift;
        }
        for ((x, y), &w) in ends.zip(weights) {
            let (hi, lo) = (x.max(y), x.min(y));
            if lo < k {
                a[lo * k + lo] += w;
            }
            if hi < k {
                a[hi * k + hi] += w;
                a[hi * k + lo] -= w;
            }
        }
        eliminate(a, k, &mut self.column)
    }

    /// `x` with `A x = b` for the last factored `A`, both indexed by item.
    pub(crate) fn solve(&self, b: &[f64], x: &mut [f64]) {
        let (k, l) = (self.k, &self.l[..]);
        x.fill(0.0);
        let y = &mut x[..k];
        y.copy_from_slice(&b[..k]);
        // L y = b, then Lᵀ x = y: each solved entry is taken out of the earlier ones along
        // its row of L, so both passes read rows.
        for i in 0..k {
            let row = &l[i * k..i * k + i + 1];
            y[i] = (y[i] - dot(&row[..i], &y[..i])) / row[i];
        }
        for i in (0..k).rev() {
            let row = &l[i * k..i * k + i + 1];
            y[i] /= row[i];
            let xi = y[i];
            for (v, r) in y[..i].iter_mut().zip(&row[..i]) {
                *v -= r * xi;
            }
        }
    }
}

/// Cholesky factorisation in place of the `k × k` row-major matrix `a` (lower triangle), in
/// 256-bit vector registers where the processor has them. Both paths do the same IEEE
/// operations in the same order (Rust never fuses a multiply and an add on its own), so
/// the factor is the same bit for bit on every x86-64 processor.
fn eliminate(a: &mut [f64], k: usize, column: &mut Vec<f64>) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the processor has AVX, as just checked.
        return unsafe { eliminate_avx(a, k, column) };
    }
    eliminate_portable(a, k, column)
}

/// [`eliminate_portable`] compiled for AVX: four lanes in place of SSE2's two.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn eliminate_avx(a: &mut [f64], k: usize, column: &mut Vec<f64>) -> bool {
    eliminate_portable(a, k, column)
}

/// Column by column, each updating the rows below it (right-looking): the inner loop is a
/// multiply and a subtraction along a row, with no sum carried from one element to the
/// next, so it runs in vector registers. The column is copied out first to be read along.
/// False when a pivot is not positive and finite.
#[inline(always)]
fn eliminate_portable(a: &mut [f64], k: usize, column: &mut Vec<f64>) -> bool {
    for j in 0..k {
        let pivot = a[j * k + j];
        if !(pivot > 0.0 && pivot.is_finite()) {
            return false;
        }
        let root = pivot.sqrt();
        a[j * k + j] = root;
        column.clear();
        for i in j + 1..k {
            let l = a[i * k + j] / root;
            a[i * k + j] = l;
            column.push(l);
        }
        for (i, &l_ij) in (j + 1..k).zip(column.iter()) {
            let row = &mut a[i * k + j + 1..=i * k + i];
            for (v, &l_mj) in row.iter_mut().zip(column.iter()) {
                *v -= l_ij * l_mj;
            }
        }
    }
    true
}

/// `xᵀy`, summed in four lanes so that each addition need not wait for the one before.
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let (x4, y4) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = x4
        .remainder()
        .iter()
        .zip(y4.remainder())
        .map(|(a, b)| a * b)
        .sum();
    let mut lanes = [0.0; 4];
    for (a, b) in x4.zip(y4) {
        for k in 0..4 {
            lanes[k] += a[k] * b[k];
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// The positions of the set bits of `words`, increasing.
fn bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                w * 64 + bit
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x = solve_spd(a.clone(), vec![1.0, 2.0, 3.0]).unwrap();
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((ax - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let inv = invert_spd(a.clone(), 3).unwrap();
        for i in 0..3 {
            for (j, _) in inv.iter().enumerate() {
                let v: f64 = (0..3).map(|p| a[i * 3 + p] * inv[p][j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(solve_spd(vec![1.0, 2.0, 2.0, 1.0], vec![1.0, 1.0]).is_none());
    }

    /// `shift · I + Σ_e weights[e] (u_a − u_b)(u_a − u_b)ᵀ` times `x`.
    fn laplacian_times(
        shift: f64,
        edges: &[(usize, usize)],
        weights: &[f64],
        x: &[f64],
    ) -> Vec<f64> {
        let mut out: Vec<f64> = x.iter().map(|v| shift * v).collect();
        for (&(a, b), w) in edges.iter().zip(weights) {
            let t = w * (x[a] - x[b]);
            out[a] += t;
            out[b] -= t;
        }
        out
    }

    /// Graphs of the shapes the Bradley–Terry fit meets: a path, a tree, a prompt's sparse
    /// random votes with repeated pairs and isolated items, a small clique.
    fn graphs(rng: &mut crate::rng::Xoshiro256) -> Vec<(usize, Vec<(usize, usize)>)> {
        let path = (40, (0..39).map(|i| (i, i + 1)).collect());
        let tree = (
            60,
            (1..60).map(|i| (i, rng.below(i as u64) as usize)).collect(),
        );
        let sparse = (90, {
            (0..100)
                .map(|_| {
                    let a = rng.below(90) as usize;
                    let b = (a + 1 + rng.below(89) as usize) % 90;
                    (a, b)
                })
                .collect()
        });
        let clique = (
            12,
            (0..12)
                .flat_map(|a| (a + 1..12).map(move |b| (a, b)))
                .collect(),
        );
        vec![path, tree, sparse, clique]
    }

    #[test]
    fn graph_ldl_solves_shifted_laplacians() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(3);
        for (n, edges) in graphs(&mut rng) {
            let mut ldl = GraphLdl::default();
            assert!(ldl.analyse(n, edges.iter().copied(), usize::MAX));
            for shift in [0.01, 1.0] {
                let weights: Vec<f64> = edges.iter().map(|_| 0.01 + rng.unit()).collect();
                let b: Vec<f64> = (0..n).map(|_| rng.unit() - 0.5).collect();
                assert!(ldl.factor(shift, &weights, false));
                let mut x = vec![0.0; n];
                ldl.solve(&b, &mut x);
                let ax = laplacian_times(shift, &edges, &weights, &x);
                for (i, (u, v)) in ax.iter().zip(&b).enumerate() {
                    assert!((u - v).abs() < 1e-10, "n {n} item {i}: {u} against {v}");
                }
            }
        }
    }

    #[test]
    fn graph_ldl_grounds_a_singular_laplacian() {
        // A connected graph without shift: singular along the constant vector. For `b`
        // summing to zero, the solve satisfies `A x = b` with the last item's coordinate 0.
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(4);
        for (n, mut edges) in graphs(&mut rng) {
            edges.extend((1..n).map(|i| (i - 1, i))); // connected
            let mut ldl = GraphLdl::default();
            assert!(ldl.analyse(n, edges.iter().copied(), usize::MAX));
            let weights: Vec<f64> = edges.iter().map(|_| 0.01 + rng.unit()).collect();
            let mut b: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
            let mean = b.iter().sum::<f64>() / n as f64;
            b.iter_mut().for_each(|v| *v -= mean);
            assert!(ldl.factor(0.0, &weights, true));
            let mut x = vec![0.0; n];
            ldl.solve(&b, &mut x);
            let ax = laplacian_times(0.0, &edges, &weights, &x);
            for (u, v) in ax.iter().zip(&b) {
                assert!((u - v).abs() < 1e-9, "n {n}: {u} against {v}");
            }
        }
    }

    #[test]
    fn dense_laplacian_solves_like_graph_ldl() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(5);
        for (n, mut edges) in graphs(&mut rng) {
            edges.extend((1..n).map(|i| (i - 1, i))); // connected, for the grounded solve
            let weights: Vec<f64> = edges.iter().map(|_| 0.01 + rng.unit()).collect();
            let mut b: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
            let mean = b.iter().sum::<f64>() / n as f64;
            b.iter_mut().for_each(|v| *v -= mean);
            let mut dense = DenseLaplacian::default();
            for (shift, ground) in [(0.01, false), (1.0, false), (0.0, true)] {
                assert!(dense.factor(n, shift, edges.iter().copied(), &weights, ground));
                let mut x = vec![f64::NAN; n];
                dense.solve(&b, &mut x);
                if ground {
                    assert_eq!(x[n - 1], 0.0);
                }
                let ax = laplacian_times(shift, &edges, &weights, &x);
                for (u, v) in ax.iter().zip(&b) {
                    assert!((u - v).abs() < 1e-9, "n {n} shift {shift}: {u} against {v}");
                }
            }
        }
    }

    #[test]
    fn graph_ldl_declines_what_conjugate_gradients_do_better() {
        let dense: Vec<_> = (0..60)
            .flat_map(|a| (a + 1..60).map(move |b| (a, b)))
            .collect();
        let mut ldl = GraphLdl::default();
        assert!(!ldl.analyse(60, dense.iter().copied(), 16 * (60 + dense.len())));
        let path: Vec<_> = (0..GRAPH_LDL_MAX_ITEMS).map(|i| (i, i + 1)).collect();
        assert!(!ldl.analyse(GRAPH_LDL_MAX_ITEMS + 1, path.iter().copied(), usize::MAX));
        // A tree fills in not at all: one entry of L per edge, no updates.
        assert!(ldl.analyse(
            GRAPH_LDL_MAX_ITEMS,
            path[..GRAPH_LDL_MAX_ITEMS - 1].iter().copied(),
            0
        ));
        assert_eq!(
            (ldl.rows.len(), ldl.updates.len()),
            (GRAPH_LDL_MAX_ITEMS - 1, 0)
        );
    }
}
