//! `anchor=ITEM:RATING`: a leaderboard shifted so that one item has a fixed rating, as
//! Chatbot Arena pins mixtral-8x7b-instruct-v0.1 at 1114.
//!
//! Ratings only identify differences, so pinning an item changes no difference: every rating
//! moves by the same amount. The intervals change meaning: they become those of each item's
//! difference from the anchor (from the covariance, `Var(s_i − s_anchor)`; from a bootstrap,
//! the percentiles of the replicates' differences), so the anchor's own interval is its
//! rating. The rank range is read from the intervals before anchoring, which describe each
//! item on its own; a shift does not change it.

use crate::items::ItemInterner;
use crate::leaderboard::Bounds;
use crate::spec::{OptionSpec, OptionType, Options};
use datafusion::common::{exec_err, Result};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::pairwise::BootstrapIntervals;
use std::sync::Arc;

/// The declaration of the option, shared by the leaderboards that take it.
pub(crate) const ANCHOR: OptionSpec = OptionSpec {
    key: "anchor",
    ty: OptionType::Text {
        valid: |text| split(text).is_some(),
        what: "ITEM:RATING (an item, a colon, a finite number)",
    },
    default: None,
    meaning: "Shift the ratings so that ITEM has exactly RATING (e.g. 'anchor=mixtral-8x7b-instruct-v0.1:1114', Chatbot Arena's convention). The text after the last colon is the rating, so item names may contain colons but not commas. The other items' intervals then describe their difference from the anchor, and the anchor's interval is its rating; the rank range is unchanged. An item that is not in the data is an error.",
};

/// The item and the rating of `ITEM:RATING`, split at the last colon.
fn split(text: &str) -> Option<(&str, f64)> {
    let (item, rating) = text.rsplit_once(':')?;
    let rating: f64 = rating.trim().parse().ok()?;
    (!item.trim().is_empty() && rating.is_finite()).then_some((item.trim(), rating))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Anchor {
    pub item: Arc<str>,
    pub rating: f64,
}

/// How the intervals were made, so that they can be made relative to the anchor.
pub(crate) enum Spread<'a> {
    /// No intervals.
    None,
    /// Normal intervals from the covariance of the centred strengths (`None`: singular).
    Covariance(Option<&'a Vec<Vec<f64>>>),
    /// Percentile intervals of bootstrap replicates.
    Draws(&'a BootstrapIntervals),
}

impl<'a> Spread<'a> {
    /// The spread of whichever interval method ran: a covariance (`Some(None)` when it was
    /// singular) or bootstrap replicates.
    pub(crate) fn of(
        cov: &'a Option<Option<Vec<Vec<f64>>>>,
        boot: &'a Option<BootstrapIntervals>,
    ) -> Self {
        match (cov, boot) {
            (Some(c), _) => Spread::Covariance(c.as_ref()),
            (_, Some(b)) => Spread::Draws(b),
            _ => Spread::None,
        }
    }
}

impl Anchor {
    /// The `anchor` option of a call, if given.
    pub(crate) fn from_options(o: &Options) -> Option<Self> {
        let (item, rating) = split(o.text("anchor")?)?;
        Some(Self {
            item: item.into(),
            rating,
        })
    }

    /// The canonical id of the anchor among `ids` (interner ids in canonical order).
    fn locate(&self, function: &str, items: &ItemInterner, ids: &[usize]) -> Result<usize> {
        let found = items.find(&self.item);
        match found.and_then(|id| ids.iter().position(|&i| i == id)) {
            Some(c) => Ok(c),
            None => exec_err!(
                "{function}: the anchor item '{}' is not among the compared items",
                self.item
            ),
        }
    }

    /// Shift `ratings` (by canonical id, with `unit` rating points per unit of strength) so
    /// that the anchor has its rating, and shift `intervals` with them; returns the
    /// intervals to report, relative to the anchor.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply(
        &self,
        function: &str,
        items: &ItemInterner,
        ids: &[usize],
        ratings: &mut [f64],
        intervals: &mut Option<Bounds>,
        spread: Spread,
        confidence: f64,
        unit: f64,
    ) -> Result<Option<Bounds>> {
        let a = self.locate(function, items, ids)?;
        let shift = self.rating - ratings[a];
        ratings.iter_mut().for_each(|r| *r += shift);
        ratings[a] = self.rating;
        if let Some((lower, upper)) = intervals {
            for b in lower.iter_mut().chain(upper.iter_mut()).flatten() {
                *b += shift;
            }
        }
        let n = ratings.len();
        Ok(match spread {
            Spread::None => None,
            Spread::Covariance(None) => Some((vec![None; n], vec![None; n])),
            Spread::Covariance(Some(cov)) => {
                let z = normal_upper_quantile((1.0 - confidence) / 2.0);
                Some(
                    (0..n)
                        .map(|i| {
                            let var = if i == a {
                                0.0
                            } else {
                                cov[i][i] + cov[a][a] - 2.0 * cov[i][a]
                            };
                            let half = z * var.max(0.0).sqrt() * unit;
                            (Some(ratings[i] - half), Some(ratings[i] + half))
                        })
                        .unzip(),
                )
            }
            Spread::Draws(boot) => {
                let (lower, upper) = boot.relative_to(a, confidence);
                let at = |d: f64| Some(self.rating + d * unit);
                Some((
                    lower.into_iter().map(at).collect(),
                    upper.into_iter().map(at).collect(),
                ))
            }
        })
    }
}
