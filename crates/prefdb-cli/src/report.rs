//! `prefdb report arena|agreement|calibration`: one self-contained HTML file of figures, each
//! with the SQL that produced it. The figures are `prefdb::plot`'s SVG, inlined; the page
//! loads nothing (no scripts, fonts, styles or images from anywhere).

use arrow::array::RecordBatch;
use clap::{Args, FromArgMatches, ValueEnum};
use datafusion::prelude::SessionContext;
use prefdb::plot::{self, escape, Bin, Cell, ForestRow, Series};
use std::collections::HashMap;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Leaderboard with intervals, win rates, battles, rating over time, ranks per category.
    Arena,
    /// Agreement per aspect with bootstrap intervals; the confusion matrix of two raters.
    Agreement,
    /// Reliability diagram and score histograms per label.
    Calibration,
}

/// The column names a report reads, by role: the `report` command's options, whose defaults
/// are the names `prefdb gen arena` and the demo use, and plain names for the other kinds.
#[derive(Args, Clone, Debug)]
pub struct Columns {
    /// arena: the first model's column.
    #[arg(long = "model-a", default_value = "model_a", value_name = "COLUMN")]
    pub model_a: String,
    /// arena: the second model's column.
    #[arg(long = "model-b", default_value = "model_b", value_name = "COLUMN")]
    pub model_b: String,
    /// arena: the outcome column ('model_a', 'model_b', 'tie', ... or item_a's score).
    #[arg(long, default_value = "winner", value_name = "COLUMN")]
    pub winner: String,
    /// arena: ranks per category (skipped when the table has no such column).
    #[arg(long, default_value = "category", value_name = "COLUMN")]
    pub category: String,
    /// arena: rating over time (skipped when the table has no such column).
    #[arg(long, default_value = "ts", value_name = "COLUMN")]
    pub time: String,
    /// agreement: the rated item's column.
    #[arg(long, default_value = "item", value_name = "COLUMN")]
    pub item: String,
    /// agreement: the rater's column.
    #[arg(long, default_value = "rater", value_name = "COLUMN")]
    pub rater: String,
    /// agreement: the label's column.
    #[arg(long, default_value = "value", value_name = "COLUMN")]
    pub value: String,
    /// agreement: one coefficient per value of this column (skipped when absent).
    #[arg(long, default_value = "aspect", value_name = "COLUMN")]
    pub aspect: String,
    /// calibration: the predicted probability's column.
    #[arg(long, default_value = "score", value_name = "COLUMN")]
    pub score: String,
    /// calibration: the 0/1 outcome's column.
    #[arg(long, default_value = "label", value_name = "COLUMN")]
    pub label: String,
}

impl Default for Columns {
    /// The options' defaults, from their one declaration above.
    fn default() -> Self {
        let command = Columns::augment_args(clap::Command::new("report"));
        let matches = command.get_matches_from(["report"]);
        Columns::from_arg_matches(&matches).expect("the defaults parse")
    }
}

/// Words that are not plain column names in SQL.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "by",
    "case",
    "date",
    "default",
    "else",
    "end",
    "from",
    "group",
    "in",
    "is",
    "join",
    "left",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "rank",
    "right",
    "select",
    "table",
    "then",
    "time",
    "timestamp",
    "user",
    "value",
    "values",
    "when",
    "where",
];

/// A column or table name as SQL: bare when it is a plain lower-case name, which keeps the
/// printed SQL readable; quoted otherwise.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One section of the page.
struct Section {
    heading: String,
    body: String,
    sql: Vec<String>,
}

pub struct Report<'a> {
    ctx: &'a SessionContext,
    table: String,
    columns: Columns,
    sections: Vec<Section>,
    notes: Vec<String>,
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, String> {
    let df = ctx.sql(sql).await.map_err(|e| prefdb::user_message(&e))?;
    df.collect().await.map_err(|e| prefdb::user_message(&e))
}

fn texts(batches: &[RecordBatch], i: usize) -> Result<Vec<Option<String>>, String> {
    plot::column_texts(batches, i)
}

fn numbers(batches: &[RecordBatch], i: usize) -> Result<Vec<Option<f64>>, String> {
    plot::column_numbers(batches, i)
}

impl<'a> Report<'a> {
    pub fn new(ctx: &'a SessionContext, table: &str, columns: Columns) -> Self {
        Self {
            ctx,
            table: table.to_string(),
            columns,
            sections: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The table's column names, to check the roles against.
    async fn table_columns(&self) -> Result<Vec<String>, String> {
        let df = self
            .ctx
            .table(self.table.as_str())
            .await
            .map_err(|e| prefdb::user_message(&e))?;
        Ok(df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }

    async fn require(&self, roles: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let have = self.table_columns().await?;
        for (role, name) in roles {
            if !have.iter().any(|h| h == name) {
                return Err(format!(
                    "table {} has no column {name} for --{role}; its columns are {} (name the right one with --{role} COLUMN)",
                    self.table,
                    have.join(", ")
                ));
            }
        }
        Ok(have)
    }

    fn figure(&mut self, heading: &str, svg: Result<String, String>, sql: &[&str]) {
        let body = match svg {
            Ok(svg) => format!("<figure>{svg}</figure>"),
            Err(e) => format!("<p class=\"missing\">Not drawn: {}</p>", escape(&e)),
        };
        self.sections.push(Section {
            heading: heading.to_string(),
            body,
            sql: sql.iter().map(|s| s.to_string()).collect(),
        });
    }

    pub async fn arena(&mut self) -> Result<(), String> {
        let c = self.columns.clone();
        let have = self
            .require(&[
                ("model-a", &c.model_a),
                ("model-b", &c.model_b),
                ("winner", &c.winner),
            ])
            .await?;
        let t = ident(&self.table);
        let (a, b, w) = (ident(&c.model_a), ident(&c.model_b), ident(&c.winner));
        let call = format!("SELECT bt_rank({a}, {b}, {w}, 'se=sandwich') FROM {t}");
        let leaderboard_sql = format!(
            "SELECT rank, item, rating, ci_lower, ci_upper, rank_lower, rank_upper, battles FROM leaderboard({}) ORDER BY rank, item",
            literal(&call)
        );
        let board = run(self.ctx, &leaderboard_sql).await?;
        let items = texts(&board, 1)?;
        let rating = numbers(&board, 2)?;
        let (lower, upper) = (numbers(&board, 3)?, numbers(&board, 4)?);
        let (rank_lo, rank_hi) = (numbers(&board, 5)?, numbers(&board, 6)?);
        let battles = numbers(&board, 7)?;
        let mut rows = Vec::new();
        let mut order = Vec::new();
        let mut counts = Vec::new();
        for i in 0..items.len() {
            let (Some(item), Some(r)) = (&items[i], rating[i]) else {
                continue;
            };
            let note = match (rank_lo[i], rank_hi[i]) {
                (Some(x), Some(y)) if x == y => Some(format!("{x}")),
                (Some(x), Some(y)) => Some(format!("{x}–{y}")),
                _ => None,
            };
            rows.push(ForestRow {
                label: item.clone(),
                value: r,
                lower: lower[i],
                upper: upper[i],
                note,
            });
            order.push(item.clone());
            counts.push((item.clone(), battles[i].unwrap_or(0.0)));
        }
        if rows.is_empty() {
            return Err(format!("table {} has no votes to rank", self.table));
        }
        self.figure(
            "Leaderboard",
            plot::forest(
                &rows,
                "Bradley–Terry rating with 95% sandwich intervals and rank ranges",
                "rating (Elo scale)",
            ),
            &[&leaderboard_sql],
        );

        // Win rates among the top models, in rating order.
        const HEATMAP_ITEMS: usize = 40;
        let shown: Vec<String> = order.iter().take(HEATMAP_ITEMS).cloned().collect();
        let matrix_sql = format!(
            "SELECT item_a, item_b, win_rate FROM leaderboard({})",
            literal(&format!("SELECT win_matrix({a}, {b}, {w}) FROM {t}"))
        );
        let matrix = run(self.ctx, &matrix_sql).await?;
        let (ra, rb, rate) = (texts(&matrix, 0)?, texts(&matrix, 1)?, numbers(&matrix, 2)?);
        let keep: std::collections::HashSet<&String> = shown.iter().collect();
        let cells: Vec<Cell> = (0..ra.len())
            .filter_map(|i| match (&ra[i], &rb[i], rate[i]) {
                (Some(r), Some(col), Some(v)) if keep.contains(r) && keep.contains(col) => {
                    Some(Cell {
                        row: r.clone(),
                        column: col.clone(),
                        value: v,
                    })
                }
                _ => None,
            })
            .collect();
        let title = if order.len() > HEATMAP_ITEMS {
            format!("Win rate of the row model against the column model (top {HEATMAP_ITEMS} of {} by rating)", order.len())
        } else {
            "Win rate of the row model against the column model, by rating".to_string()
        };
        self.figure(
            "Head to head",
            plot::heatmap_ordered(&cells, &shown, &title),
            &[&matrix_sql],
        );
        self.figure(
            "Battles per model",
            plot::bars(
                &counts,
                "Battles per model, in rating order",
                "battles (weighted)",
            ),
            &[&leaderboard_sql],
        );

        if have.contains(&c.time) {
            self.over_time(&order).await?;
        } else {
            self.notes.push(format!(
                "No rating over time: table {} has no column {} (name one with --time).",
                self.table, c.time
            ));
        }
        if have.contains(&c.category) {
            self.per_category(&order).await?;
        } else {
            self.notes.push(format!(
                "No ranks per category: table {} has no column {} (name one with --category).",
                self.table, c.category
            ));
        }
        Ok(())
    }

    /// `bt_rank` per time bin for the top models, with sandwich intervals.
    async fn over_time(&mut self, order: &[String]) -> Result<(), String> {
        let c = self.columns.clone();
        let t = ident(&self.table);
        let time = ident(&c.time);
        let span_sql = format!(
            "SELECT CAST(min({time}) AS TIMESTAMP), CAST(max({time}) AS TIMESTAMP) FROM {t}"
        );
        let span = run(self.ctx, &span_sql).await?;
        let ends = texts(&span, 0)?
            .into_iter()
            .chain(texts(&span, 1)?)
            .collect::<Vec<_>>();
        let days_sql = format!(
            "SELECT CAST(date_part('epoch', CAST(max({time}) AS TIMESTAMP) - CAST(min({time}) AS TIMESTAMP)) AS DOUBLE) / 86400 FROM {t}"
        );
        let days = numbers(&run(self.ctx, &days_sql).await?, 0)?
            .first()
            .copied()
            .flatten()
            .unwrap_or(0.0);
        let unit = if days <= 60.0 {
            "day"
        } else if days <= 730.0 {
            "week"
        } else {
            "month"
        };
        const LINES: usize = 7;
        let top: Vec<String> = order.iter().take(LINES).cloned().collect();
        let (a, b, w) = (ident(&c.model_a), ident(&c.model_b), ident(&c.winner));
        let call = format!(
            "SELECT date_trunc({}, CAST({time} AS TIMESTAMP)) AS period, bt_rank({a}, {b}, {w}, 'se=sandwich') FROM {t} GROUP BY 1",
            literal(unit)
        );
        let sql = format!(
            "SELECT CAST(date_part('epoch', period) AS DOUBLE) / 86400 AS day, item, rating, ci_lower, ci_upper FROM leaderboard({}) WHERE item IN ({}) ORDER BY period, item",
            literal(&call),
            top.iter().map(|m| literal(m)).collect::<Vec<_>>().join(", ")
        );
        let result = run(self.ctx, &sql).await?;
        let (day, item) = (numbers(&result, 0)?, texts(&result, 1)?);
        let (rating, lo, hi) = (
            numbers(&result, 2)?,
            numbers(&result, 3)?,
            numbers(&result, 4)?,
        );
        let first_day = day.iter().flatten().fold(f64::INFINITY, |m, &d| m.min(d));
        let mut by_item: HashMap<String, Vec<(f64, f64, Option<f64>, Option<f64>)>> =
            HashMap::new();
        for i in 0..day.len() {
            if let (Some(d), Some(m), Some(r)) = (day[i], &item[i], rating[i]) {
                by_item
                    .entry(m.clone())
                    .or_default()
                    .push((d - first_day, r, lo[i], hi[i]));
            }
        }
        let series: Vec<Series> = top
            .iter()
            .filter_map(|m| {
                by_item.remove(m).map(|points| Series {
                    name: m.clone(),
                    points,
                })
            })
            .collect();
        // The first day, without the time of day.
        let from: String = ends
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect();
        self.figure(
            "Rating over time",
            plot::lines(
                &series,
                &format!(
                    "Rating per {unit} of the top {} models, with 95% intervals",
                    series.len()
                ),
                &format!("days since {from}"),
                "rating (Elo scale)",
            ),
            &[&sql],
        );
        Ok(())
    }

    /// Each model's rank in each category, side by side.
    async fn per_category(&mut self, order: &[String]) -> Result<(), String> {
        let c = self.columns.clone();
        let t = ident(&self.table);
        let (a, b, w, cat) = (
            ident(&c.model_a),
            ident(&c.model_b),
            ident(&c.winner),
            ident(&c.category),
        );
        let call = format!("SELECT {cat} AS category, bt_rank({a}, {b}, {w}) FROM {t} GROUP BY 1");
        let sql = format!(
            "SELECT category, item, rank FROM leaderboard({}) ORDER BY category, rank",
            literal(&call)
        );
        let result = run(self.ctx, &sql).await?;
        let (category, item, rank) = (texts(&result, 0)?, texts(&result, 1)?, numbers(&result, 2)?);
        let mut categories: Vec<String> = category.iter().flatten().cloned().collect();
        categories.dedup();
        categories.sort();
        categories.dedup();
        const COLUMNS: usize = 12;
        let shown: Vec<&String> = categories.iter().take(COLUMNS).collect();
        let mut ranks: HashMap<(&str, &str), f64> = HashMap::new();
        for i in 0..item.len() {
            if let (Some(cg), Some(m), Some(r)) = (&category[i], &item[i], rank[i]) {
                ranks.insert((cg.as_str(), m.as_str()), r);
            }
        }
        let n = order.len().max(1) as f64;
        let mut html = String::from(
            "<table class=\"ranks\"><caption>Rank of each model per category (1 = best); overall order by rating. Darker cells rank higher.</caption><thead><tr><th scope=\"col\">model</th><th scope=\"col\">overall</th>",
        );
        for cg in &shown {
            let _ = write!(html, "<th scope=\"col\">{}</th>", escape(cg));
        }
        html.push_str("</tr></thead><tbody>");
        for (i, m) in order.iter().enumerate() {
            let _ = write!(
                html,
                "<tr><th scope=\"row\">{}</th><td>{}</td>",
                escape(m),
                i + 1
            );
            for cg in &shown {
                match ranks.get(&(cg.as_str(), m.as_str())) {
                    Some(&r) => {
                        // Blue, stronger for better ranks.
                        let alpha = 0.08 + 0.5 * (1.0 - (r - 1.0) / n);
                        let _ = write!(
                            html,
                            "<td style=\"background: rgba(0, 114, 178, {alpha:.2})\">{r}</td>"
                        );
                    }
                    None => html.push_str("<td>–</td>"),
                }
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        if categories.len() > COLUMNS {
            let _ = write!(
                html,
                "<p>The first {COLUMNS} of {} categories, in name order.</p>",
                categories.len()
            );
        }
        self.sections.push(Section {
            heading: "Ranks per category".into(),
            body: html,
            sql: vec![sql],
        });
        Ok(())
    }

    pub async fn agreement(&mut self) -> Result<(), String> {
        let c = self.columns.clone();
        let have = self
            .require(&[("item", &c.item), ("rater", &c.rater), ("value", &c.value)])
            .await?;
        let t = ident(&self.table);
        let (item, rater, value) = (ident(&c.item), ident(&c.rater), ident(&c.value));
        let grouped = have.contains(&c.aspect);
        let (select, group) = if grouped {
            (
                format!("CAST({} AS VARCHAR)", ident(&c.aspect)),
                " GROUP BY 1".to_string(),
            )
        } else {
            ("'all'".to_string(), String::new())
        };
        let sql = format!(
            "SELECT {select} AS aspect, krippendorff_alpha_ci({item}, {rater}, {value}, 'level=nominal, bootstrap=1000, seed=1') AS alpha FROM {t}{group} ORDER BY 1"
        );
        let flat = format!(
            "SELECT aspect, alpha['value'] AS value, alpha['ci_lower'] AS ci_lower, alpha['ci_upper'] AS ci_upper FROM ({sql})"
        );
        let result = run(self.ctx, &flat).await?;
        let (aspects, v, lo, hi) = (
            texts(&result, 0)?,
            numbers(&result, 1)?,
            numbers(&result, 2)?,
            numbers(&result, 3)?,
        );
        let rows: Vec<ForestRow> = (0..aspects.len())
            .filter_map(|i| {
                Some(ForestRow {
                    label: aspects[i].clone()?,
                    value: v[i]?,
                    lower: lo[i],
                    upper: hi[i],
                    note: None,
                })
            })
            .collect();
        self.figure(
            "Agreement per aspect",
            if rows.is_empty() {
                Err("no aspect has pairable ratings".into())
            } else {
                plot::forest(
                    &rows,
                    "Krippendorff's alpha (nominal) with 95% bootstrap intervals",
                    "alpha",
                )
            },
            &[&flat],
        );
        if !grouped {
            self.notes.push(format!(
                "One coefficient over all rows: table {} has no column {} (name one with --aspect).",
                self.table, c.aspect
            ));
        }
        // The confusion matrix of the two raters who share the most items.
        let pair_sql = format!(
            "SELECT x.{rater} AS rater_a, y.{rater} AS rater_b, count(*) AS shared FROM {t} x JOIN {t} y ON x.{item} = y.{item} AND CAST(x.{rater} AS VARCHAR) < CAST(y.{rater} AS VARCHAR) GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 1"
        );
        let pair = run(self.ctx, &pair_sql).await?;
        let (ra, rb) = (texts(&pair, 0)?, texts(&pair, 1)?);
        if let (Some(Some(ra)), Some(Some(rb))) = (ra.first(), rb.first()) {
            let confusion_sql = format!(
                "SELECT CAST(x.{value} AS VARCHAR) AS value_a, CAST(y.{value} AS VARCHAR) AS value_b, count(*) AS n FROM {t} x JOIN {t} y ON x.{item} = y.{item} WHERE CAST(x.{rater} AS VARCHAR) = {} AND CAST(y.{rater} AS VARCHAR) = {} GROUP BY 1, 2",
                literal(ra),
                literal(rb)
            );
            let result = run(self.ctx, &confusion_sql).await?;
            let (va, vb, n) = (texts(&result, 0)?, texts(&result, 1)?, numbers(&result, 2)?);
            let mut totals: HashMap<String, f64> = HashMap::new();
            for i in 0..va.len() {
                if let (Some(a), Some(x)) = (&va[i], n[i]) {
                    *totals.entry(a.clone()).or_default() += x;
                }
            }
            let mut labels: Vec<String> = va.iter().chain(vb.iter()).flatten().cloned().collect();
            labels.sort();
            labels.dedup();
            let cells: Vec<Cell> = (0..va.len())
                .filter_map(|i| {
                    let (a, b, x) = (va[i].clone()?, vb[i].clone()?, n[i]?);
                    let share = x / totals[&a];
                    Some(Cell {
                        row: a,
                        column: b,
                        value: share,
                    })
                })
                .collect();
            self.figure(
                "Two raters",
                plot::heatmap_shares(
                    &cells,
                    &labels,
                    &format!("Labels of rater {ra} (rows) against rater {rb} (columns): share of each row"),
                ),
                &[&pair_sql, &confusion_sql],
            );
        }
        Ok(())
    }

    pub async fn calibration(&mut self) -> Result<(), String> {
        let c = self.columns.clone();
        self.require(&[("score", &c.score), ("label", &c.label)])
            .await?;
        let t = ident(&self.table);
        let (score, label) = (ident(&c.score), ident(&c.label));
        let bins_sql = format!(
            "SELECT * FROM leaderboard({})",
            literal(&format!(
                "SELECT reliability_bins({score}, {label}) FROM {t}"
            ))
        );
        let ece_sql = format!("SELECT ece({score}, {label}) FROM {t}");
        let bins = run(self.ctx, &bins_sql).await?;
        let ece = numbers(&run(self.ctx, &ece_sql).await?, 0)?
            .first()
            .copied()
            .flatten();
        let schema = bins.first().map(|b| b.schema());
        let col = |name: &str| schema.as_ref().and_then(|s| s.index_of(name).ok());
        let parsed: Result<Vec<Bin>, String> = (|| {
            let (Some(ip), Some(ifr), Some(ic), Some(il), Some(iu)) = (
                col("mean_prob"),
                col("frac_positive"),
                col("count"),
                col("lower"),
                col("upper"),
            ) else {
                return Err("no bins".to_string());
            };
            let (p, f, n) = (
                numbers(&bins, ip)?,
                numbers(&bins, ifr)?,
                numbers(&bins, ic)?,
            );
            let (lo, hi) = (numbers(&bins, il)?, numbers(&bins, iu)?);
            Ok((0..p.len())
                .filter_map(|i| {
                    Some(Bin {
                        mean_prob: p[i]?,
                        frac_positive: f[i]?,
                        count: n[i].filter(|&x| x > 0.0)?,
                        lower: lo[i],
                        upper: hi[i],
                    })
                })
                .collect())
        })();
        let n_bins: usize = bins.iter().map(|b| b.num_rows()).sum();
        let title =
            ece.map(|e| format!("Reliability diagram (ECE = {e:.4}, {n_bins} uniform bins)"));
        self.figure(
            "Reliability",
            parsed.and_then(|b| {
                if b.is_empty() {
                    Err("no bin has rows".into())
                } else {
                    plot::reliability(&b, title.as_deref())
                }
            }),
            &[&bins_sql, &ece_sql],
        );
        let hist_sql = format!(
            "SELECT CAST({label} AS VARCHAR) AS label, least(floor({score} * 20), 19) / 20 AS bin, count(*) AS n FROM {t} WHERE {score} IS NOT NULL AND {label} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        );
        let hist = run(self.ctx, &hist_sql).await?;
        let (labels, bin, n) = (texts(&hist, 0)?, numbers(&hist, 1)?, numbers(&hist, 2)?);
        let mut by_label: Vec<Series> = Vec::new();
        for i in 0..labels.len() {
            let (Some(l), Some(x), Some(y)) = (&labels[i], bin[i], n[i]) else {
                continue;
            };
            match by_label.iter_mut().find(|s| &s.name == l) {
                Some(s) => s.points.push((x + 0.025, y, None, None)),
                None => by_label.push(Series {
                    name: l.clone(),
                    points: vec![(x + 0.025, y, None, None)],
                }),
            }
        }
        for s in &mut by_label {
            s.name = format!("label {}", s.name);
        }
        self.figure(
            "Scores per label",
            plot::lines(
                &by_label,
                "Rows per score bin (width 0.05), one line per label",
                "score",
                "rows",
            ),
            &[&hist_sql],
        );
        Ok(())
    }

    /// The page.
    pub fn html(&self, kind: Kind) -> String {
        let title = match kind {
            Kind::Arena => "Arena report",
            Kind::Agreement => "Agreement report",
            Kind::Calibration => "Calibration report",
        };
        let mut page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}: {table}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1><p>Table <code>{table}</code>, drawn by prefdb {version}. Each figure is followed by the SQL that produced it.</p>",
            table = escape(&self.table),
            version = env!("CARGO_PKG_VERSION"),
        );
        for s in &self.sections {
            let _ = write!(page, "<section><h2>{}</h2>{}", escape(&s.heading), s.body);
            for q in &s.sql {
                let _ = write!(page, "<pre><code>{};</code></pre>", escape(q));
            }
            page.push_str("</section>");
        }
        if !self.notes.is_empty() {
            page.push_str("<section><h2>Notes</h2><ul>");
            for n in &self.notes {
                let _ = write!(page, "<li>{}</li>", escape(n));
            }
            page.push_str("</ul></section>");
        }
        page.push_str("</main></body></html>\n");
        page
    }
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;color:#222;background:#fff;margin:0}main{max-width:1100px;margin:0 auto;padding:16px 24px}h1{font-size:26px}h2{font-size:20px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}figure{margin:8px 0;overflow-x:auto}pre{background:#f6f6f6;padding:8px 12px;overflow-x:auto;font-size:13px;white-space:pre-wrap}table.ranks{border-collapse:collapse;font-size:14px}table.ranks th,table.ranks td{border:1px solid #ddd;padding:3px 8px;text-align:right}table.ranks th[scope=row]{text-align:left}caption{text-align:left;padding:4px 0;font-size:14px}.missing{color:#8a3b00}";
