//! Statistics over samples and the plain-text tables the bench prints.

use std::time::Duration;

/// Summary statistics of a set of latencies.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub count: usize,
    pub mean: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Stats {
    /// Sorts `samples` and summarises them (nearest-rank percentiles).
    pub fn of(samples: &mut [Duration]) -> Stats {
        samples.sort_unstable();
        let count = samples.len();
        if count == 0 {
            return Stats {
                count,
                mean: Duration::ZERO,
                p50: Duration::ZERO,
                p99: Duration::ZERO,
                max: Duration::ZERO,
            };
        }
        let total: Duration = samples.iter().sum();
        let rank = |p: f64| samples[((p * count as f64).ceil() as usize).clamp(1, count) - 1];
        Stats {
            count,
            mean: total / u32::try_from(count).unwrap_or(u32::MAX),
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples[count - 1],
        }
    }
}

/// A duration in milliseconds with microsecond resolution, e.g. `0.042 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A rate, e.g. `123,456 /s`.
pub fn per_sec(rate: f64) -> String {
    format!("{} /s", thousands(rate.round() as u64))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = {
        let head = match digits.len() % 3 {
            0 => 3,
            r => r,
        };
        let (first, rest) = digits.split_at(head.min(digits.len()));
        std::iter::once(first).chain(rest.as_bytes().chunks(3).map(|c| std::str::from_utf8(c).unwrap_or(""))).collect()
    };
    groups.join(",")
}

/// A size in bytes as `12.3 MB (11.7 MiB)`.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB ({:.1} MiB)", bytes as f64 / 1e6, bytes as f64 / (1024.0 * 1024.0))
}

pub fn ratio(measured: f64, baseline: f64) -> String {
    if baseline > 0.0 { format!("{:.2}x", measured / baseline) } else { "-".into() }
}

pub fn verdict(pass: bool) -> String {
    if pass { "PASS".into() } else { "MISS".into() }
}

/// A plain-text table: a title, a header row and left-aligned columns.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
            notes: vec![],
        }
    }

    /// The usual measurement table: measure, measured, baseline, ratio, target, result.
    pub fn measurement(title: impl Into<String>) -> Table {
        Table::new(title, &["measure", "measured", "baseline", "ratio", "target", "result"])
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// A row of a measurement table judged on its own figure (no baseline).
    pub fn judged(&mut self, measure: impl Into<String>, measured: String, target: &str, pass: bool) {
        self.row([measure.into(), measured, String::new(), String::new(), target.into(), verdict(pass)]);
    }

    /// A line printed under the table.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from("  ");
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(w - cell.chars().count()));
                }
            }
            let mut s = s.trim_end().to_string();
            s.push('\n');
            s
        };
        let mut out = format!("{}\n", self.title);
        out.push_str(&line(&self.header));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        for note in &self.notes {
            out.push_str(&format!("  * {note}\n"));
        }
        out
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// One line of the final summary.
pub struct Outcome {
    pub target: String,
    pub engine: String,
    pub measured: String,
    pub criterion: String,
    pub pass: bool,
}

impl Outcome {
    pub fn new(target: &str, engine: &str, measured: String, criterion: &str, pass: bool) -> Outcome {
        Outcome { target: target.into(), engine: engine.into(), measured, criterion: criterion.into(), pass }
    }
}

pub fn summary(outcomes: &[Outcome]) -> Table {
    let mut t = Table::new("SUMMARY", &["target", "engine", "measured", "criterion", "result"]);
    for o in outcomes {
        t.row([o.target.clone(), o.engine.clone(), o.measured.clone(), o.criterion.clone(), verdict(o.pass)]);
    }
    let missed = outcomes.iter().filter(|o| !o.pass).count();
    t.note(format!("{} of {} criteria met", outcomes.len() - missed, outcomes.len()));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let st = Stats::of(&mut s);
        assert_eq!(st.p50, Duration::from_millis(50));
        assert_eq!(st.p99, Duration::from_millis(99));
        assert_eq!(st.max, Duration::from_millis(100));
        assert_eq!(st.mean, Duration::from_micros(50_500));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new("T", &["a", "bbb"]);
        t.row(["xxxx", "y"]);
        let r = t.render();
        assert!(r.contains("  a     bbb\n"), "{r}");
        assert!(r.contains("  xxxx  y\n"), "{r}");
    }
}
