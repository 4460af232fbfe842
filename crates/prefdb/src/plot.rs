//! Figures from query results, as self-contained SVG: a forest plot of a leaderboard, a
//! win-rate heatmap, a reliability diagram, and the bar and line charts of `prefdb report`.
//!
//! The SVG is written here rather than by a plotting library: these are a handful of
//! rectangles, lines and text, and writing them directly needs no font files (the text is
//! SVG text in the viewer's sans-serif font, sized by an estimate), adds nothing to the
//! build, and keeps every element where a test can count it. Each figure carries a `<title>`
//! and `<desc>` for screen readers, axis labels, 12px or larger text, and colours from the
//! Okabe–Ito palette, which stays distinct under the common colour-vision deficiencies.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use std::collections::HashMap;
use std::fmt::Write;

/// Okabe–Ito: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
];
const INK: &str = "#222222";
const GRID: &str = "#DDDDDD";
const FONT: f64 = 13.0;

/// What a result can be drawn as, by its column names.
pub const DRAWABLE: &str = "a forest plot (columns item, rating, ci_lower, ci_upper: a leaderboard), a win-rate heatmap (item_a, item_b, win_rate: win_matrix) or a reliability diagram (mean_prob, frac_positive, count: reliability_bins)";

/// The figure for a query's result, chosen by its columns.
pub fn plot(batches: &[RecordBatch], title: Option<&str>) -> Result<String, String> {
    let table = Table::new(batches);
    if table.has(&["item", "rating", "ci_lower", "ci_upper"]) {
        forest(&table.forest()?, title.unwrap_or("Leaderboard"), "rating")
    } else if table.has(&["item_a", "item_b", "win_rate"]) {
        heatmap(
            &table.win_rates()?,
            title.unwrap_or("Win rate of the row item against the column item"),
        )
    } else if table.has(&["mean_prob", "frac_positive", "count"]) {
        reliability(&table.bins()?, title)
    } else {
        let columns = table.names().join(", ");
        Err(format!(
            "cannot draw a result with columns {columns}; prefdb draws {DRAWABLE}"
        ))
    }
}

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub label: String,
    pub value: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// The rank range ("1–3"), shown to the right.
    pub note: Option<String>,
}

/// A win rate of `row` against `column`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub row: String,
    pub column: String,
    pub value: f64,
}

/// A reliability bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub mean_prob: f64,
    pub frac_positive: f64,
    pub count: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// One series of a line chart: points (x, y, lower, upper).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, Option<f64>, Option<f64>)>,
}

/// The columns of a result by name, read as text or numbers.
struct Table<'a> {
    batches: &'a [RecordBatch],
}

impl<'a> Table<'a> {
    fn new(batches: &'a [RecordBatch]) -> Self {
        Self { batches }
    }

    fn names(&self) -> Vec<String> {
        self.batches
            .first()
            .map(|b| {
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has(&self, names: &[&str]) -> bool {
        let have = self.names();
        names.iter().all(|n| have.iter().any(|h| h == n))
    }

    fn index(&self, name: &str) -> Result<usize, String> {
        self.batches
            .first()
            .and_then(|b| b.schema().index_of(name).ok())
            .ok_or_else(|| format!("no column {name}"))
    }

    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, String> {
        column_numbers(self.batches, self.index(name)?)
    }

    fn texts(&self, name: &str) -> Result<Vec<Option<String>>, String> {
        column_texts(self.batches, self.index(name)?)
    }

    fn forest(&self) -> Result<Vec<ForestRow>, String> {
        let items = self.texts("item")?;
        let rating = self.numbers("rating")?;
        let lower = self.numbers("ci_lower")?;
        let upper = self.numbers("ci_upper")?;
        let ranks = if self.has(&["rank_lower", "rank_upper"]) {
            Some((self.numbers("rank_lower")?, self.numbers("rank_upper")?))
        } else {
            None
        };
        let mut rows = Vec::new();
        for i in 0..items.len() {
            let (Some(label), Some(value)) = (&items[i], rating[i]) else {
                continue;
            };
            let note = ranks.as_ref().and_then(|(lo, hi)| match (lo[i], hi[i]) {
                (Some(a), Some(b)) if a == b => Some(format!("{a}")),
                (Some(a), Some(b)) => Some(format!("{a}–{b}")),
                _ => None,
            });
            rows.push(ForestRow {
                label: label.clone(),
                value,
                lower: lower[i],
                upper: upper[i],
                note,
            });
        }
        if rows.is_empty() {
            return Err("nothing to draw: no row has an item and a rating".into());
        }
        Ok(rows)
    }

    fn win_rates(&self) -> Result<Vec<Cell>, String> {
        let a = self.texts("item_a")?;
        let b = self.texts("item_b")?;
        let rate = self.numbers("win_rate")?;
        let cells: Vec<Cell> = (0..a.len())
            .filter_map(|i| match (&a[i], &b[i], rate[i]) {
                (Some(r), Some(c), Some(v)) => Some(Cell {
                    row: r.clone(),
                    column: c.clone(),
                    value: v,
                }),
                _ => None,
            })
            .collect();
        if cells.is_empty() {
            return Err("nothing to draw: no row has item_a, item_b and a win_rate".into());
        }
        Ok(cells)
    }

    fn bins(&self) -> Result<Vec<Bin>, String> {
        let p = self.numbers("mean_prob")?;
        let f = self.numbers("frac_positive")?;
        let n = self.numbers("count")?;
        let (lower, upper) = if self.has(&["lower", "upper"]) {
            (self.numbers("lower")?, self.numbers("upper")?)
        } else {
            (vec![None; p.len()], vec![None; p.len()])
        };
        let bins: Vec<Bin> = (0..p.len())
            .filter_map(|i| match (p[i], f[i], n[i]) {
                (Some(mean_prob), Some(frac_positive), Some(count)) if count > 0.0 => Some(Bin {
                    mean_prob,
                    frac_positive,
                    count,
                    lower: lower[i],
                    upper: upper[i],
                }),
                _ => None,
            })
            .collect();
        if bins.is_empty() {
            return Err("nothing to draw: no bin has rows".into());
        }
        Ok(bins)
    }
}

/// Column `i` of every batch cast to `to` and read row by row (NULL as `None`); `what` says
/// why a cast failed.
fn column<T>(
    batches: &[RecordBatch],
    i: usize,
    to: &DataType,
    what: &str,
    read: impl Fn(&dyn Array, usize) -> T,
) -> Result<Vec<Option<T>>, String> {
    let mut out = Vec::new();
    for b in batches {
        let col = cast(b.column(i), to)
            .map_err(|e| format!("column {} {what}: {e}", b.schema().field(i).name()))?;
        out.extend((0..col.len()).map(|r| col.is_valid(r).then(|| read(col.as_ref(), r))));
    }
    Ok(out)
}

/// Column `i` of every batch as numbers (NULL as `None`).
pub fn column_numbers(batches: &[RecordBatch], i: usize) -> Result<Vec<Option<f64>>, String> {
    column(batches, i, &DataType::Float64, "is not numeric", |a, r| {
        a.as_primitive::<Float64Type>().value(r)
    })
}

/// Column `i` of every batch as text (NULL as `None`).
pub fn column_texts(batches: &[RecordBatch], i: usize) -> Result<Vec<Option<String>>, String> {
    column(
        batches,
        i,
        &DataType::Utf8,
        "cannot be shown as text",
        |a, r| a.as_string::<i32>().value(r).to_string(),
    )
}

/// Text escaped for XML and HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A width estimate for `text` at `size` px in a sans-serif font.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

/// A number with the digits a tick label needs.
fn tick_label(v: f64, step: f64) -> String {
    let digits = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let s = format!("{v:.digits$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// About `n` round tick values covering [lo, hi], and the step.
pub fn ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let raw = (hi - lo) / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    if out.last().is_some_and(|&l| l < hi) {
        out.push(v);
    }
    (out, step)
}

/// An SVG document being written.
struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    fn new(width: f64, height: f64) -> Self {
        Self {
            width,
            height,
            body: String::new(),
        }
    }

    fn text(&mut self, x: f64, y: f64, text: &str, anchor: &str, size: f64, extra: &str) {
        let _ = write!(
            self.body,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="{size}" fill="{INK}"{extra}>{}</text>"##,
            escape(text)
        );
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64, class: &str) {
        let _ = write!(
            self.body,
            r##"<line class="{class}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}"/>"##
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, class: &str, tip: &str) {
        let _ = write!(
            self.body,
            r##"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect>"##,
            w.max(0.0),
            h.max(0.0),
            escape(tip)
        );
    }

    fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, class: &str, tip: &str) {
        let _ = write!(
            self.body,
            r##"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}"><title>{}</title></circle>"##,
            escape(tip)
        );
    }

    fn finish(mut self, title: &str, description: &str) -> String {
        // Room for the title, drawn bold at FONT + 3 from x = 12.
        self.width = self.width.max(24.0 + text_width(title, FONT + 3.0) * 1.08);
        let id = title
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>();
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-labelledby="t-{id} d-{id}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif"><title id="t-{id}">{t}</title><desc id="d-{id}">{d}</desc><rect width="100%" height="100%" fill="#FFFFFF"/>{body}</svg>"##,
            w = self.width,
            h = self.height,
            t = escape(title),
            d = escape(description),
            body = self.body
        )
    }
}

/// A horizontal value axis from `x0` to `x1` at height `y`, with gridlines up to `top`.
#[allow(clippy::too_many_arguments)]
fn x_axis(
    svg: &mut Svg,
    lo: f64,
    hi: f64,
    x0: f64,
    x1: f64,
    y: f64,
    top: f64,
    label: &str,
) -> impl Fn(f64) -> f64 {
    let (ticks, step) = ticks(lo, hi, 6);
    let (lo, hi) = (ticks[0], *ticks.last().expect("at least one tick"));
    let scale = move |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    for &t in &ticks {
        let x = scale(t);
        svg.line(x, top, x, y, GRID, 1.0, "grid");
        svg.text(x, y + 16.0, &tick_label(t, step), "middle", FONT - 1.0, "");
    }
    svg.line(x0, y, x1, y, INK, 1.0, "axis");
    svg.text(
        (x0 + x1) / 2.0,
        y + 36.0,
        label,
        "middle",
        FONT,
        r##" class="axis-label""##,
    );
    scale
}

/// A forest plot: one row per entry, a dot at the value and a whisker over its interval.
pub fn forest(rows: &[ForestRow], title: &str, axis: &str) -> Result<String, String> {
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.label, FONT))
        .fold(40.0, f64::max)
        .min(320.0);
    let notes = rows.iter().any(|r| r.note.is_some());
    let note_w = if notes { 80.0 } else { 0.0 };
    let row_h = 22.0;
    let (top, left) = (56.0, label_w + 24.0);
    let plot_w = 520.0;
    let width = left + plot_w + note_w + 24.0;
    let height = top + row_h * rows.len() as f64 + 60.0;
    let values = rows
        .iter()
        .flat_map(|r| [Some(r.value), r.lower, r.upper])
        .flatten()
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return Err("nothing to draw: no finite rating".into());
    }
    let mut svg = Svg::new(width, height);
    svg.text(
        12.0,
        24.0,
        title,
        "start",
        FONT + 3.0,
        r##" font-weight="bold" class="figure-title""##,
    );
    let bottom = top + row_h * rows.len() as f64;
    let x = x_axis(
        &mut svg,
        lo,
        hi,
        left,
        left + plot_w,
        bottom + 4.0,
        top - 6.0,
        axis,
    );
    if notes {
        svg.text(
            left + plot_w + 12.0,
            top - 12.0,
            "rank range",
            "start",
            FONT - 1.0,
            "",
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        svg.text(
            left - 10.0,
            y + 4.5,
            &r.label,
            "end",
            FONT,
            r##" class="item-label""##,
        );
        if let (Some(a), Some(b)) = (r.lower, r.upper) {
            if a.is_finite() && b.is_finite() {
                let tip = format!("{}: {} [{}, {}]", r.label, r.value, a, b);
                let _ = write!(
                    svg.body,
                    r##"<g class="whisker"><title>{}</title>"##,
                    escape(&tip)
                );
                svg.line(x(a), y, x(b), y, PALETTE[0], 2.0, "whisker-line");
                svg.line(x(a), y - 5.0, x(a), y + 5.0, PALETTE[0], 2.0, "whisker-cap");
                svg.line(x(b), y - 5.0, x(b), y + 5.0, PALETTE[0], 2.0, "whisker-cap");
                svg.body.push_str("</g>");
            }
        }
        svg.circle(
            x(r.value),
            y,
            4.5,
            PALETTE[3],
            "point",
            &format!("{}: {}", r.label, r.value),
        );
        if let Some(note) = &r.note {
            svg.text(
                left + plot_w + 12.0,
                y + 4.5,
                note,
                "start",
                FONT,
                r##" class="rank-range""##,
            );
        }
    }
    let intervals = rows.iter().filter(|r| r.lower.is_some()).count();
    Ok(svg.finish(
        title,
        &format!(
            "Forest plot of {} items: the dot is the {axis}, the whisker its interval ({intervals} items have one).",
            rows.len()
        ),
    ))
}

/// A colour on the diverging blue – white – vermillion scale for v in [0, 1].
fn diverging(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let (from, to, t) = if v < 0.5 {
        ((0x00, 0x72, 0xB2), (0xF7, 0xF7, 0xF7), v / 0.5)
    } else {
        ((0xF7, 0xF7, 0xF7), (0xD5, 0x5E, 0x00), (v - 0.5) / 0.5)
    };
    let mix = |a: i32, b: i32| (a as f64 + (b - a) as f64 * t).round() as i32;
    format!(
        "#{:02X}{:02X}{:02X}",
        mix(from.0, to.0),
        mix(from.1, to.1),
        mix(from.2, to.2)
    )
}

/// Items ordered by their mean win rate over the cells where they are the row, highest
/// first, ties by name.
pub fn order_by_mean(cells: &[Cell]) -> Vec<String> {
    let mut sums: HashMap<&str, (f64, f64)> = HashMap::new();
    for c in cells {
        let e = sums.entry(&c.row).or_default();
        e.0 += c.value;
        e.1 += 1.0;
        sums.entry(&c.column).or_default();
    }
    let mut items: Vec<(&str, f64)> = sums
        .into_iter()
        .map(|(k, (s, n))| (k, if n > 0.0 { s / n } else { f64::NEG_INFINITY }))
        .collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    items.into_iter().map(|(k, _)| k.to_string()).collect()
}

/// A win-rate heatmap, items in mean-win-rate order; empty cells (no battles) grey.
pub fn heatmap(cells: &[Cell], title: &str) -> Result<String, String> {
    heatmap_ordered(cells, &order_by_mean(cells), title)
}

/// A win-rate heatmap with rows and columns in `order`.
pub fn heatmap_ordered(cells: &[Cell], order: &[String], title: &str) -> Result<String, String> {
    grid(cells, order, title, Scale::Diverging)
}

/// A heatmap of shares in [0, 1] (each row's distribution, such as a confusion matrix
/// normalised by row), rows and columns in `order`.
pub fn heatmap_shares(cells: &[Cell], order: &[String], title: &str) -> Result<String, String> {
    grid(cells, order, title, Scale::Sequential)
}

#[derive(Clone, Copy, PartialEq)]
enum Scale {
    /// Win rates: blue below 0.5, vermillion above.
    Diverging,
    /// Shares: light to blue.
    Sequential,
}

impl Scale {
    fn colour(self, v: f64) -> String {
        match self {
            Scale::Diverging => diverging(v),
            Scale::Sequential => sequential(v),
        }
    }

    /// Whether white text reads better than dark on v's colour.
    fn light_text(self, v: f64) -> bool {
        match self {
            Scale::Diverging => (v - 0.5).abs() > 0.3,
            Scale::Sequential => v > 0.6,
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Scale::Diverging => "win rate",
            Scale::Sequential => "share of row",
        }
    }
}

/// A colour from light grey to blue for v in [0, 1].
fn sequential(v: f64) -> String {
    let t = v.clamp(0.0, 1.0);
    let mix = |a: i32, b: i32| (a as f64 + (b - a) as f64 * t).round() as i32;
    format!(
        "#{:02X}{:02X}{:02X}",
        mix(0xF7, 0x00),
        mix(0xF7, 0x72),
        mix(0xF7, 0xB2)
    )
}

fn grid(cells: &[Cell], order: &[String], title: &str, scale: Scale) -> Result<String, String> {
    let n = order.len();
    if n == 0 {
        return Err("nothing to draw: no items".into());
    }
    if n > 200 {
        return Err(format!(
            "a heatmap of {n} items is unreadable; filter to at most 200"
        ));
    }
    let index: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let label_w = order
        .iter()
        .map(|s| text_width(s, FONT - 1.0))
        .fold(40.0, f64::max)
        .min(260.0);
    let cell = if n <= 12 {
        44.0
    } else if n <= 30 {
        26.0
    } else {
        14.0
    };
    let (left, top) = (label_w + 20.0, label_w + 56.0);
    let width = left + cell * n as f64 + 110.0;
    let height = top + cell * n as f64 + 30.0;
    let mut svg = Svg::new(width, height);
    svg.text(
        12.0,
        24.0,
        title,
        "start",
        FONT + 3.0,
        r##" font-weight="bold" class="figure-title""##,
    );
    for (i, name) in order.iter().enumerate() {
        let y = top + cell * (i as f64 + 0.5);
        svg.text(
            left - 8.0,
            y + 4.0,
            name,
            "end",
            FONT - 1.0,
            r##" class="row-label""##,
        );
        let x = left + cell * (i as f64 + 0.5);
        let _ = write!(
            svg.body,
            r##"<text class="column-label" x="{x:.1}" y="{:.1}" font-size="{}" fill="{INK}" transform="rotate(-60 {x:.1} {:.1})">{}</text>"##,
            top - 8.0,
            FONT - 1.0,
            top - 8.0,
            escape(name)
        );
        for j in 0..n {
            svg.rect(
                left + cell * j as f64,
                top + cell * i as f64,
                cell - 1.0,
                cell - 1.0,
                "#EEEEEE",
                "empty",
                &format!("{name} vs {}: no data", order[j]),
            );
        }
    }
    let mut drawn = 0;
    for c in cells {
        let (Some(&i), Some(&j)) = (index.get(c.row.as_str()), index.get(c.column.as_str())) else {
            continue;
        };
        let (x, y) = (left + cell * j as f64, top + cell * i as f64);
        svg.rect(
            x,
            y,
            cell - 1.0,
            cell - 1.0,
            &scale.colour(c.value),
            "cell",
            &format!(
                "{} vs {}: {} {:.3}",
                c.row,
                c.column,
                scale.legend(),
                c.value
            ),
        );
        if cell >= 26.0 {
            let ink = if scale.light_text(c.value) {
                "#FFFFFF"
            } else {
                INK
            };
            let _ = write!(
                svg.body,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="{ink}">{:.2}</text>"##,
                x + cell / 2.0,
                y + cell / 2.0 + 4.0,
                c.value
            );
        }
        drawn += 1;
    }
    // Legend: the scale from 0 to 1.
    let (lx, ly, lh) = (left + cell * n as f64 + 24.0, top, 160.0);
    for k in 0..32 {
        let v = 1.0 - k as f64 / 31.0;
        svg.rect(
            lx,
            ly + lh * k as f64 / 32.0,
            16.0,
            lh / 32.0 + 0.5,
            &scale.colour(v),
            "legend",
            &format!("{v:.2}"),
        );
    }
    svg.text(lx + 22.0, ly + 10.0, "1.0", "start", FONT - 1.0, "");
    svg.text(
        lx + 22.0,
        ly + lh / 2.0 + 4.0,
        "0.5",
        "start",
        FONT - 1.0,
        "",
    );
    svg.text(lx + 22.0, ly + lh, "0.0", "start", FONT - 1.0, "");
    svg.text(
        lx,
        ly + lh + 22.0,
        scale.legend(),
        "start",
        FONT,
        r##" class="axis-label""##,
    );
    Ok(svg.finish(
        title,
        &format!("Heatmap of {} among {n} items, {drawn} cells with data; rows are the item, columns its counterpart.", scale.legend()),
    ))
}

/// Expected calibration error of reliability bins: Σ count |mean_prob − frac_positive| / Σ count.
pub fn ece(bins: &[Bin]) -> f64 {
    let total: f64 = bins.iter().map(|b| b.count).sum();
    bins.iter()
        .map(|b| b.count * (b.mean_prob - b.frac_positive).abs())
        .sum::<f64>()
        / total
}

/// A reliability diagram: frac_positive against mean_prob per bin, the diagonal of perfect
/// calibration, and the bin counts as bars below; the ECE of the bins in the title.
pub fn reliability(bins: &[Bin], title: Option<&str>) -> Result<String, String> {
    let title = match title {
        Some(t) => t.to_string(),
        None => format!("Reliability diagram (ECE = {:.4})", ece(bins)),
    };
    let (left, top, side, bar_h) = (70.0, 50.0, 380.0, 90.0);
    let width = left + side + 40.0;
    let height = top + side + 60.0 + bar_h + 40.0;
    let mut svg = Svg::new(width, height);
    svg.text(
        12.0,
        24.0,
        &title,
        "start",
        FONT + 3.0,
        r##" font-weight="bold" class="figure-title""##,
    );
    let x = |v: f64| left + v * side;
    let y = |v: f64| top + (1.0 - v) * side;
    for k in 0..=5 {
        let v = k as f64 / 5.0;
        svg.line(x(v), top, x(v), top + side, GRID, 1.0, "grid");
        svg.line(left, y(v), left + side, y(v), GRID, 1.0, "grid");
        svg.text(
            x(v),
            top + side + 16.0,
            &format!("{v:.1}"),
            "middle",
            FONT - 1.0,
            "",
        );
        svg.text(
            left - 8.0,
            y(v) + 4.0,
            &format!("{v:.1}"),
            "end",
            FONT - 1.0,
            "",
        );
    }
    svg.line(left, top + side, left + side, top + side, INK, 1.0, "axis");
    svg.line(left, top, left, top + side, INK, 1.0, "axis");
    let _ = write!(
        svg.body,
        r##"<line class="diagonal" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#777777" stroke-dasharray="5 4"/>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    svg.text(
        left + side / 2.0,
        top + side + 38.0,
        "mean predicted probability",
        "middle",
        FONT,
        r##" class="axis-label""##,
    );
    let (cx, cy) = (18.0, top + side / 2.0);
    let _ = write!(
        svg.body,
        r##"<text class="axis-label" x="{cx}" y="{cy}" text-anchor="middle" font-size="{FONT}" fill="{INK}" transform="rotate(-90 {cx} {cy})">fraction positive</text>"##
    );
    let mut points = String::new();
    for b in bins {
        let _ = write!(points, "{:.1},{:.1} ", x(b.mean_prob), y(b.frac_positive));
    }
    let _ = write!(
        svg.body,
        r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"##,
        points.trim_end(),
        PALETTE[0]
    );
    for b in bins {
        svg.circle(
            x(b.mean_prob),
            y(b.frac_positive),
            4.5,
            PALETTE[0],
            "bin",
            &format!(
                "mean_prob {:.3}, frac_positive {:.3}, {} rows",
                b.mean_prob, b.frac_positive, b.count
            ),
        );
    }
    // Bin counts below, on [0, 1] like the x axis.
    let base = top + side + 60.0 + bar_h;
    let most = bins.iter().map(|b| b.count).fold(0.0, f64::max);
    for b in bins {
        let (lo, hi) = match (b.lower, b.upper) {
            (Some(l), Some(u)) if u > l => (l, u),
            _ => (b.mean_prob - 0.02, b.mean_prob + 0.02),
        };
        let h = bar_h * b.count / most;
        svg.rect(
            x(lo.max(0.0)),
            base - h,
            (x(hi.min(1.0)) - x(lo.max(0.0)) - 1.0).max(1.0),
            h,
            PALETTE[1],
            "count-bar",
            &format!("{} rows", b.count),
        );
    }
    svg.line(left, base, left + side, base, INK, 1.0, "axis");
    svg.text(
        left - 8.0,
        base - bar_h + 4.0,
        &format!("{most}"),
        "end",
        FONT - 1.0,
        "",
    );
    svg.text(left - 8.0, base + 4.0, "0", "end", FONT - 1.0, "");
    svg.text(
        left + side / 2.0,
        base + 20.0,
        "rows per bin",
        "middle",
        FONT,
        r##" class="axis-label""##,
    );
    Ok(svg.finish(
        &title,
        &format!("Reliability diagram of {} bins: observed fraction positive against mean predicted probability; the dashed diagonal is perfect calibration; bars are the rows per bin.", bins.len()),
    ))
}

/// Horizontal bars, one per (label, value), in the given order.
pub fn bars(rows: &[(String, f64)], title: &str, axis: &str) -> Result<String, String> {
    if rows.is_empty() {
        return Err("nothing to draw".into());
    }
    let label_w = rows
        .iter()
        .map(|r| text_width(&r.0, FONT))
        .fold(40.0, f64::max)
        .min(320.0);
    let row_h = 20.0;
    let (top, left, plot_w) = (50.0, label_w + 24.0, 480.0);
    let height = top + row_h * rows.len() as f64 + 60.0;
    let mut svg = Svg::new(left + plot_w + 40.0, height);
    svg.text(
        12.0,
        24.0,
        title,
        "start",
        FONT + 3.0,
        r##" font-weight="bold" class="figure-title""##,
    );
    let hi = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let bottom = top + row_h * rows.len() as f64;
    let x = x_axis(
        &mut svg,
        0.0,
        hi,
        left,
        left + plot_w,
        bottom + 4.0,
        top - 6.0,
        axis,
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        svg.text(
            left - 10.0,
            y + row_h / 2.0 + 4.5,
            label,
            "end",
            FONT,
            r##" class="item-label""##,
        );
        svg.rect(
            x(0.0),
            y + 3.0,
            x(*v) - x(0.0),
            row_h - 6.0,
            PALETTE[0],
            "bar",
            &format!("{label}: {v}"),
        );
    }
    Ok(svg.finish(
        title,
        &format!("Bar chart of {} items by {axis}.", rows.len()),
    ))
}

/// Lines over x with shaded intervals, one colour per series, and a legend.
pub fn lines(
    series: &[Series],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<String, String> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y, lo, hi) in all {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        for v in [Some(y), lo, hi].into_iter().flatten() {
            y_lo = y_lo.min(v);
            y_hi = y_hi.max(v);
        }
    }
    if !x_lo.is_finite() || !y_lo.is_finite() {
        return Err("nothing to draw".into());
    }
    let (left, top, w, h) = (70.0, 50.0, 560.0, 300.0);
    let legend_w = series
        .iter()
        .map(|s| text_width(&s.name, FONT))
        .fold(0.0, f64::max)
        + 40.0;
    let mut svg = Svg::new(left + w + legend_w + 20.0, top + h + 60.0);
    svg.text(
        12.0,
        24.0,
        title,
        "start",
        FONT + 3.0,
        r##" font-weight="bold" class="figure-title""##,
    );
    let x = x_axis(&mut svg, x_lo, x_hi, left, left + w, top + h, top, x_label);
    let (yt, ystep) = ticks(y_lo, y_hi, 5);
    let (ylo, yhi) = (yt[0], *yt.last().expect("a tick"));
    let y = |v: f64| top + h - (v - ylo) / (yhi - ylo) * h;
    for &t in &yt {
        svg.line(left, y(t), left + w, y(t), GRID, 1.0, "grid");
        svg.text(
            left - 8.0,
            y(t) + 4.0,
            &tick_label(t, ystep),
            "end",
            FONT - 1.0,
            "",
        );
    }
    svg.line(left, top, left, top + h, INK, 1.0, "axis");
    let (cx, cy) = (18.0, top + h / 2.0);
    let _ = write!(
        svg.body,
        r##"<text class="axis-label" x="{cx}" y="{cy}" text-anchor="middle" font-size="{FONT}" fill="{INK}" transform="rotate(-90 {cx} {cy})">{}</text>"##,
        escape(y_label)
    );
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let band: Vec<_> = s
            .points
            .iter()
            .filter_map(|&(px, _, lo, hi)| Some((px, lo?, hi?)))
            .collect();
        if band.len() >= 2 {
            let mut d = String::new();
            for (i, &(px, lo, _)) in band.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    x(px),
                    y(lo)
                );
            }
            for &(px, _, hi) in band.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", x(px), y(hi));
            }
            let _ = write!(
                svg.body,
                r##"<path class="band" d="{}Z" fill="{colour}" fill-opacity="0.15" stroke="none"/>"##,
                d
            );
        }
        let mut pts = String::new();
        for &(px, py, _, _) in &s.points {
            let _ = write!(pts, "{:.1},{:.1} ", x(px), y(py));
        }
        let _ = write!(
            svg.body,
            r##"<polyline class="series" points="{}" fill="none" stroke="{colour}" stroke-width="2"><title>{}</title></polyline>"##,
            pts.trim_end(),
            escape(&s.name)
        );
        let ly = top + 14.0 + 20.0 * k as f64;
        svg.line(
            left + w + 16.0,
            ly - 4.0,
            left + w + 36.0,
            ly - 4.0,
            colour,
            3.0,
            "legend",
        );
        svg.text(left + w + 42.0, ly, &s.name, "start", FONT, "");
    }
    Ok(svg.finish(
        title,
        &format!("Line chart of {} series over {x_label}.", series.len()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    fn leaderboard() -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("item", DataType::Utf8, false),
                Field::new("rating", DataType::Float64, false),
                Field::new("ci_lower", DataType::Float64, true),
                Field::new("ci_upper", DataType::Float64, true),
                Field::new("rank_lower", DataType::Int64, true),
                Field::new("rank_upper", DataType::Int64, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["a<b", "x", "y"])),
                Arc::new(Float64Array::from(vec![1100.0, 1000.0, 900.0])),
                Arc::new(Float64Array::from(vec![Some(1050.0), Some(960.0), None])),
                Arc::new(Float64Array::from(vec![Some(1150.0), Some(1040.0), None])),
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
                Arc::new(Int64Array::from(vec![Some(1), Some(3), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn forest_has_one_whisker_per_interval_and_labels() {
        let svg = plot(&[leaderboard()], None).unwrap();
        assert_eq!(count(&svg, r##"<g class="whisker">"##), 2);
        assert_eq!(count(&svg, r##"class="point""##), 3);
        assert_eq!(count(&svg, r##"class="item-label""##), 3);
        assert!(svg.contains("a&lt;b"), "labels are escaped");
        assert!(svg.contains(r##"class="axis-label""##) && svg.contains(">rating<"));
        assert!(svg.contains(">2–3<") || svg.contains(">2–3</text>"));
        assert!(svg.starts_with("<svg") && svg.contains("<title id="));
    }

    #[test]
    fn heatmap_has_a_cell_per_pair() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("item_a", DataType::Utf8, false),
                Field::new("item_b", DataType::Utf8, false),
                Field::new("win_rate", DataType::Float64, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "a", "c"])),
                Arc::new(StringArray::from(vec!["b", "a", "c", "a"])),
                Arc::new(Float64Array::from(vec![0.7, 0.3, 0.9, 0.1])),
            ],
        )
        .unwrap();
        let svg = plot(&[batch], None).unwrap();
        assert_eq!(count(&svg, r##"class="cell""##), 4);
        assert_eq!(count(&svg, r##"class="empty""##), 9);
        assert_eq!(count(&svg, r##"class="row-label""##), 3);
        // a has the highest mean win rate: the first row.
        let first = svg.find(r##"class="row-label""##).unwrap();
        let end = first + svg[first..].find("</text>").unwrap();
        assert!(svg[first..end].ends_with(">a"), "{}", &svg[first..end]);
    }

    #[test]
    fn reliability_reports_ece_of_its_bins() {
        let bins = vec![
            Bin {
                mean_prob: 0.2,
                frac_positive: 0.1,
                count: 10.0,
                lower: Some(0.0),
                upper: Some(0.5),
            },
            Bin {
                mean_prob: 0.8,
                frac_positive: 0.9,
                count: 30.0,
                lower: Some(0.5),
                upper: Some(1.0),
            },
        ];
        assert!((ece(&bins) - 0.1).abs() < 1e-12);
        let svg = reliability(&bins, None).unwrap();
        assert!(svg.contains("ECE = 0.1000"));
        assert_eq!(count(&svg, r##"class="bin""##), 2);
        assert_eq!(count(&svg, r##"class="count-bar""##), 2);
    }

    #[test]
    fn other_results_get_a_message() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        let err = plot(&[batch], None).unwrap_err();
        assert!(
            err.starts_with("cannot draw a result with columns n; prefdb draws a forest plot"),
            "{err}"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, step) = ticks(0.13, 0.87, 5);
        assert_eq!(step, 0.2);
        assert!(t[0] <= 0.13 && *t.last().unwrap() >= 0.87);
        let (t, _) = ticks(5.0, 5.0, 5);
        assert!(t.len() >= 2);
    }
}
