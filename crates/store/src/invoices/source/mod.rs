//! The files an invoice import reads, one invoice at a time so that memory
//! does not grow with the file.
//!
//! JSON lines: one invoice per line,
//! `{"customer": 1, "number": "2026-0001", "issued_on": "2026-02-01",
//!   "due_on": "2026-03-03", "delivery": "post", "lines": [{"description":
//!   "Webhosting M", "quantity": 12, "unit_price_cents": 595, "vat_rate": 21}],
//!   "payments": [{"paid_on": "2026-02-10", "amount_cents": 8639}]}`
//! (`due_on` defaults to 30 days after `issued_on`, `delivery` to `post`,
//! `payments` to none).
//!
//! CSV: a header row naming the columns in [`CSV_COLUMNS`], then one row per
//! invoice line; consecutive rows with the same `number` are one invoice. A
//! row may carry a payment (`paid_on`, `amount_cents`) besides or instead of
//! a line. The invoice's own columns (`customer`, `issued_on`, `due_on`,
//! `delivery`) may be left empty on its later rows, but not differ.

use std::io::BufRead;

use custodian_domain::model::{Delivery, InvoiceLine, InvoiceTotals, check_invoice, parse_date, parse_vat_rate};
use custodian_domain::validate::Invalid;
use serde_json::{Map, Value};
use time::Date;

use super::import::ImportProblem;
use super::payments::Payment;

/// One invoice as read from a file, valid as far as the file alone can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInvoice {
    /// Where the invoice starts in the file (1-based).
    pub line: u64,
    pub customer_id: i64,
    pub number: String,
    pub issued_on: Date,
    pub due_on: Date,
    pub delivery: Delivery,
    pub lines: Vec<InvoiceLine>,
    pub payments: Vec<Payment>,
}

/// An invoice of the file that cannot be imported, with every problem found.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub line: u64,
    pub number: Option<String>,
    pub problems: Vec<ImportProblem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Csv,
    JsonLines,
}

impl SourceFormat {
    /// The format a file name's extension says: `.csv`, `.jsonl` or `.ndjson`.
    pub fn of_path(path: &std::path::Path) -> Option<SourceFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(SourceFormat::Csv),
            "jsonl" | "ndjson" => Some(SourceFormat::JsonLines),
            _ => None,
        }
    }
}

/// The columns a CSV file may have; the first three and the line's four are required.
pub const CSV_COLUMNS: &[&str] = &[
    "customer",
    "number",
    "issued_on",
    "due_on",
    "delivery",
    "description",
    "quantity",
    "unit_price_cents",
    "vat_rate",
    "paid_on",
    "amount_cents",
];

pub type Item = Result<ImportInvoice, Rejected>;

/// The invoices of `reader`, in file order.
pub fn read_source<R: BufRead + Send + 'static>(
    format: SourceFormat,
    reader: R,
) -> Box<dyn Iterator<Item = Item> + Send> {
    match format {
        SourceFormat::JsonLines => Box::new(JsonLines { reader, line: 0, failed: false }),
        SourceFormat::Csv => {
            Box::new(CsvInvoices { rows: CsvRows { reader, line: 0 }, header: None, pending: None, done: false })
        }
    }
}

fn problem(line: u64, field: impl Into<String>, rule: &'static str, nl: &str, en: &str) -> ImportProblem {
    ImportProblem { line, field: field.into(), error: Invalid::new("import", rule, nl, en) }
}

fn unreadable(line: u64) -> Rejected {
    Rejected {
        line,
        number: None,
        problems: vec![problem(
            line,
            "file",
            "unreadable",
            "Het bestand is hier niet te lezen (geen UTF-8?).",
            "The file cannot be read here (not UTF-8?).",
        )],
    }
}

/// An invoice being assembled, with the problems found so far.
struct Draft {
    line: u64,
    number: Option<String>,
    customer_id: Option<i64>,
    issued_on: Option<Date>,
    due_on: Option<Date>,
    delivery: Delivery,
    lines: Vec<InvoiceLine>,
    /// Each with its line and the prefix of its fields' names (`payments[0].` in JSON).
    payments: Vec<(u64, String, Payment)>,
    problems: Vec<ImportProblem>,
}

impl Draft {
    fn new(line: u64) -> Draft {
        Draft {
            line,
            number: None,
            customer_id: None,
            issued_on: None,
            due_on: None,
            delivery: Delivery::Post,
            lines: vec![],
            payments: vec![],
            problems: vec![],
        }
    }

    fn keep<T>(&mut self, line: u64, field: &str, r: Result<T, Invalid>) -> Option<T> {
        r.map_err(|error| self.problems.push(ImportProblem { line, field: field.to_string(), error })).ok()
    }

    fn customer(&mut self, line: u64, field: &str, raw: &str) {
        let parsed = raw.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Invalid::new(
                "import",
                "customer",
                "Een klantnummer is een positief geheel getal.",
                "A customer number is a positive whole number.",
            )
        });
        self.customer_id = self.keep(line, field, parsed);
    }

    fn finish(mut self) -> Item {
        let missing =
            |field: &str| problem(self.line, field, "required", "Dit veld ontbreekt.", "This field is missing.");
        if self.number.is_none() {
            self.problems.push(missing("number"));
        }
        if self.customer_id.is_none() && !self.problems.iter().any(|p| p.field == "customer") {
            self.problems.push(missing("customer"));
        }
        if self.issued_on.is_none() && !self.problems.iter().any(|p| p.field == "issued_on") {
            self.problems.push(missing("issued_on"));
        }
        let (Some(number), Some(customer_id), Some(issued_on)) =
            (self.number.clone(), self.customer_id, self.issued_on)
        else {
            return Err(Rejected { line: self.line, number: self.number, problems: self.problems });
        };
        let due_on = self.due_on.unwrap_or(issued_on + time::Duration::days(30));
        // Lines refused one by one are not also "no lines at all".
        let lines_refused = self.lines.is_empty() && !self.problems.is_empty();
        if let Err(errors) = check_invoice(&number, issued_on, due_on, &self.lines) {
            for e in errors.0.into_iter().filter(|e| !(lines_refused && e.field == "lines")) {
                self.problems.push(ImportProblem { line: self.line, field: e.field, error: e.error });
            }
        }
        let total = InvoiceTotals::of(&self.lines).total_cents;
        let lines_fine = self.problems.is_empty();
        let mut paid = 0;
        for (line, prefix, p) in &self.payments {
            paid += p.amount_cents;
            if p.paid_on < issued_on {
                self.problems.push(problem(
                    *line,
                    format!("{prefix}paid_on"),
                    "before_issue",
                    "De betaaldatum ligt voor de factuurdatum.",
                    "The payment date is before the invoice date.",
                ));
            }
        }
        // Against a total that is known only when every line was read.
        if lines_fine && paid > total.max(0) {
            let (line, prefix) = self.payments.last().map(|(l, p, _)| (*l, p.as_str())).unwrap_or((self.line, ""));
            self.problems.push(problem(
                line,
                format!("{prefix}amount_cents"),
                "more_than_total",
                "De betalingen zijn samen hoger dan het factuurtotaal.",
                "The payments add up to more than the invoice total.",
            ));
        }
        if !self.problems.is_empty() {
            return Err(Rejected { line: self.line, number: Some(number), problems: self.problems });
        }
        Ok(ImportInvoice {
            line: self.line,
            customer_id,
            number,
            issued_on,
            due_on,
            delivery: self.delivery,
            lines: self.lines,
            payments: self.payments.into_iter().map(|(_, _, p)| p).collect(),
        })
    }
}

fn amount(raw: &str) -> Result<i64, Invalid> {
    raw.trim().parse::<i64>().ok().filter(|a| (1..=10_000_000_000).contains(a)).ok_or_else(|| {
        Invalid::new(
            "import",
            "amount",
            "Een bedrag is een geheel aantal centen groter dan nul.",
            "An amount is a whole number of cents above zero.",
        )
    })
}

fn whole(raw: &str) -> Result<i64, Invalid> {
    raw.trim().parse::<i64>().map_err(|_| {
        Invalid::new("import", "whole_number", "Hier hoort een geheel getal.", "A whole number belongs here.")
    })
}

fn vat(raw: &str) -> Result<i64, Invalid> {
    parse_vat_rate(raw).ok_or_else(|| {
        Invalid::new(
            "import",
            "vat_rate",
            "Het btw-percentage ligt tussen 0 en 100, met hoogstens twee decimalen (21, 9, 10,5).",
            "The VAT percentage lies between 0 and 100, with at most two decimals (21, 9, 10.5).",
        )
    })
}

/// Which part of a line [`InvoiceLine::new`] refused.
fn line_field(quantity: i64, error: &Invalid) -> &'static str {
    match error.kind {
        "text" => "description",
        _ if !(1..=1_000_000).contains(&quantity) => "quantity",
        _ => "unit_price_cents",
    }
}

mod csv;
mod jsonl;

#[cfg(test)]
use csv::split_record;
use csv::{CsvInvoices, CsvRows};
use jsonl::JsonLines;
pub use jsonl::{invoice_from_json, json_lines};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_keep_quoted_commas_quotes_and_line_breaks() {
        assert_eq!(split_record(r#"a,"b,c","say ""hi""",,d"#), vec!["a", "b,c", r#"say "hi""#, "", "d"]);
        let text = "customer,number,issued_on,description,quantity,unit_price_cents,vat_rate\n\
                    1,A-1,2026-02-01,\"Hosting,\nline two\",1,100,21\n\
                    1,A-1,,Domain,2,50,21\n\
                    2,A-2,2026-02-02,Mail,1,10,9\n";
        let items: Vec<Item> = read_source(SourceFormat::Csv, std::io::Cursor::new(text.to_string())).collect();
        assert_eq!(items.len(), 2);
        let first = items[0].as_ref().unwrap();
        assert_eq!((first.line, first.number.as_str(), first.lines.len()), (2, "A-1", 2));
        assert_eq!(first.lines[0].description.as_str(), "Hosting, line two");
        assert_eq!(items[1].as_ref().unwrap().line, 5);
    }

    #[test]
    fn json_problems_name_the_field() {
        let text = r#"{"customer": 1, "number": "A-1", "issued_on": "2026-02-31", "lines": [{"description": "x", "quantity": 0, "unit_price_cents": 1, "vat_rate": 21}], "colour": 1}"#;
        let items: Vec<Item> = read_source(SourceFormat::JsonLines, std::io::Cursor::new(text.to_string())).collect();
        let Err(rejected) = &items[0] else { panic!("accepted") };
        let mut fields: Vec<&str> = rejected.problems.iter().map(|p| p.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, vec!["colour", "issued_on", "lines[0].quantity"]);
    }
}
