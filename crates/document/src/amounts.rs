//! Totals by the domain's rules: `InvoiceTotals::of` from `custodian_domain` is
//! what the stored invoice shows, so the documents call it rather than repeat
//! the rounding (VAT per rate over the summed lines, half away from zero).

use std::collections::BTreeMap;

use custodian_domain::model::{InvoiceLine, InvoiceTotals, Text};

use crate::Line;

/// The lines at one VAT rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateGroup {
    pub rate_bp: i64,
    pub net_cents: i64,
    pub vat_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amounts {
    /// By rate, highest first (21 %, 9 %, 0 %), as invoices usually list them.
    pub groups: Vec<RateGroup>,
    pub net_cents: i64,
    pub vat_cents: i64,
    pub total_cents: i64,
}

impl Amounts {
    /// Expects lines that passed `Invoice::validate` (no overflow then).
    pub fn of(lines: &[Line]) -> Amounts {
        let mut by_rate: BTreeMap<i64, Vec<InvoiceLine>> = BTreeMap::new();
        for l in lines {
            by_rate.entry(l.vat_rate_bp).or_default().push(domain_line(l));
        }
        // One rate at a time through the domain's function gives the VAT per
        // rate with exactly its rounding; the sum over all is its total.
        let groups: Vec<RateGroup> = by_rate
            .iter()
            .rev()
            .map(|(&rate_bp, group)| {
                let t = InvoiceTotals::of(group);
                RateGroup { rate_bp, net_cents: t.net_cents, vat_cents: t.vat_cents }
            })
            .collect();
        let all: Vec<InvoiceLine> = by_rate.into_values().flatten().collect();
        let t = InvoiceTotals::of(&all);
        Amounts { groups, net_cents: t.net_cents, vat_cents: t.vat_cents, total_cents: t.total_cents }
    }
}

/// The amounts only: the description plays no part in the totals, and a
/// placeholder keeps long descriptions from tripping `Text`'s length limit.
fn domain_line(l: &Line) -> InvoiceLine {
    InvoiceLine {
        description: Text::parse("-").expect("a one-character text is valid"),
        quantity: l.quantity,
        unit_price_cents: l.unit_price_cents,
        vat_rate_bp: l.vat_rate_bp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(q: i64, p: i64, r: i64) -> Line {
        Line { description: "x".into(), quantity: q, unit_price_cents: p, vat_rate_bp: r }
    }

    #[test]
    fn vat_is_rounded_per_rate_over_the_summed_lines() {
        // 21 % of 0.05 + 0.05 = 0.021 → 0.02 (per line it would be 0.01 + 0.01).
        // 9 % of 0.50 = 0.045 → 0.05 (half away from zero).
        let a = Amounts::of(&[line(1, 5, 2100), line(1, 5, 2100), line(1, 50, 900)]);
        assert_eq!(
            a.groups,
            vec![
                RateGroup { rate_bp: 2100, net_cents: 10, vat_cents: 2 },
                RateGroup { rate_bp: 900, net_cents: 50, vat_cents: 5 }
            ]
        );
        assert_eq!((a.net_cents, a.vat_cents, a.total_cents), (60, 7, 67));
        let credit = Amounts::of(&[line(1, -50, 900)]);
        assert_eq!((credit.net_cents, credit.vat_cents, credit.total_cents), (-50, -5, -55));
    }
}
