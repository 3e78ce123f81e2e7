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

// --- JSON lines ---

struct JsonLines<R> {
    reader: R,
    line: u64,
    failed: bool,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let mut buf = String::new();
        while !self.failed {
            buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut buf) {
                Ok(0) => return None,
                Ok(_) if buf.trim().is_empty() => continue,
                Ok(_) => return Some(json_invoice(self.line, &buf)),
                Err(_) => {
                    // Nothing after an unreadable stretch can be trusted.
                    self.failed = true;
                    return Some(Err(unreadable(self.line)));
                }
            }
        }
        None
    }
}

const JSON_KEYS: &[&str] = &["customer", "number", "issued_on", "due_on", "delivery", "lines", "payments"];

fn json_invoice(line: u64, text: &str) -> Item {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => invoice_from_json(line, &object),
        Ok(_) | Err(_) => Err(Rejected {
            line,
            number: None,
            problems: vec![problem(
                line,
                "line",
                "json",
                "Deze regel is geen JSON-object.",
                "This line is not a JSON object.",
            )],
        }),
    }
}

/// A JSON value as the text it stands for (a string, or a number as written).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn not_text() -> Invalid {
    Invalid::new("import", "type", "Hier hoort tekst of een getal.", "Text or a number belongs here.")
}

/// One invoice in the JSON form the import reads (see the module's comment);
/// `line` is where it is in its file (1 for a request body).
pub fn invoice_from_json(line: u64, object: &Map<String, Value>) -> Item {
    let mut d = Draft::new(line);
    for key in object.keys().filter(|k| !JSON_KEYS.contains(&k.as_str())) {
        d.problems.push(problem(line, key.clone(), "unknown_field", "Onbekend veld.", "Unknown field."));
    }
    match object.get("customer").map(|v| scalar(v).ok_or_else(not_text)) {
        Some(Ok(raw)) => d.customer(line, "customer", &raw),
        Some(Err(e)) => d.problems.push(ImportProblem { line, field: "customer".into(), error: e }),
        None => {}
    }
    if let Some(v) = object.get("number") {
        d.number = d.keep(line, "number", scalar(v).map(|s| s.trim().to_string()).ok_or_else(not_text));
    }
    let date = |v: &Value| scalar(v).ok_or_else(not_text).and_then(|s| parse_date(&s));
    if let Some(v) = object.get("issued_on") {
        d.issued_on = d.keep(line, "issued_on", date(v));
    }
    if let Some(v) = object.get("due_on") {
        d.due_on = d.keep(line, "due_on", date(v));
    }
    if let Some(v) = object.get("delivery") {
        let delivery = scalar(v).ok_or_else(not_text).and_then(|s| Delivery::parse(&s));
        if let Some(delivery) = d.keep(line, "delivery", delivery) {
            d.delivery = delivery;
        }
    }
    d.lines = json_lines(&mut d.problems, line, object.get("lines"));
    for (i, item) in json_objects(&mut d.problems, line, "payments", object.get("payments")).iter().enumerate() {
        let on = item.get("paid_on").and_then(scalar).ok_or_else(not_text).and_then(|s| parse_date(&s));
        let on = d.keep(line, &format!("payments[{i}].paid_on"), on);
        let cents = item.get("amount_cents").and_then(scalar).ok_or_else(not_text).and_then(|s| amount(&s));
        let cents = d.keep(line, &format!("payments[{i}].amount_cents"), cents);
        if let (Some(paid_on), Some(amount_cents)) = (on, cents) {
            d.payments.push((line, format!("payments[{i}]."), Payment { paid_on, amount_cents }));
        }
    }
    d.finish()
}

/// The objects of the list `value` (named `key`); anything else is a problem.
fn json_objects(
    problems: &mut Vec<ImportProblem>,
    line: u64,
    key: &str,
    value: Option<&Value>,
) -> Vec<Map<String, Value>> {
    match value {
        None => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::Object(o) => Some(o.clone()),
                _ => {
                    problems.push(problem(
                        line,
                        format!("{key}[{i}]"),
                        "type",
                        "Hier hoort een object.",
                        "An object belongs here.",
                    ));
                    None
                }
            })
            .collect(),
        Some(_) => {
            problems.push(problem(line, key, "type", "Hier hoort een lijst.", "A list belongs here."));
            vec![]
        }
    }
}

/// Invoice lines from a JSON list of `{"description", "quantity",
/// "unit_price_cents", "vat_rate"}`; problems are named `lines[i].field`.
pub fn json_lines(problems: &mut Vec<ImportProblem>, line: u64, value: Option<&Value>) -> Vec<InvoiceLine> {
    let mut lines = vec![];
    for (i, item) in json_objects(problems, line, "lines", value).iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        let mut get = |name: &str, parse: fn(&str) -> Result<i64, Invalid>| -> Option<i64> {
            let parsed = item.get(name).and_then(scalar).map(|raw| parse(&raw)).unwrap_or_else(|| {
                Err(Invalid::new("import", "required", "Dit veld ontbreekt.", "This field is missing."))
            });
            parsed.map_err(|error| problems.push(ImportProblem { line, field: field(name), error })).ok()
        };
        let quantity = get("quantity", whole);
        let price = get("unit_price_cents", whole);
        let rate = get("vat_rate", vat);
        let Some(description) = item.get("description").and_then(scalar) else {
            problems.push(problem(
                line,
                field("description"),
                "required",
                "Dit veld ontbreekt.",
                "This field is missing.",
            ));
            continue;
        };
        if let (Some(q), Some(p), Some(r)) = (quantity, price, rate) {
            match InvoiceLine::new(&description, q, p, r) {
                Ok(l) => lines.push(l),
                Err(error) => problems.push(ImportProblem { line, field: field(line_field(q, &error)), error }),
            }
        }
    }
    lines
}

// --- CSV ---

/// RFC 4180 records: fields separated by commas, quoted with `"` (a quoted
/// field may hold commas, doubled quotes and line breaks).
struct CsvRows<R> {
    reader: R,
    line: u64,
}

impl<R: BufRead> CsvRows<R> {
    /// The next non-empty record and the line it starts on; `Err(line)` when
    /// the file cannot be read there.
    fn next_row(&mut self) -> Option<Result<(u64, Vec<String>), u64>> {
        let mut buf = String::new();
        loop {
            buf.clear();
            self.line += 1;
            let start = self.line;
            match self.reader.read_line(&mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(_) => return Some(Err(start)),
            }
            if start == 1 {
                buf = buf.trim_start_matches('\u{feff}').to_string();
            }
            // A quoted field may go on over the next lines.
            while buf.matches('"').count() % 2 == 1 {
                self.line += 1;
                match self.reader.read_line(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => return Some(Err(self.line)),
                }
            }
            let record = buf.trim_end_matches(['\n', '\r']);
            if record.trim().is_empty() {
                continue;
            }
            return Some(Ok((start, split_record(record))));
        }
    }
}

fn split_record(record: &str) -> Vec<String> {
    let mut fields = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

struct CsvInvoices<R> {
    rows: CsvRows<R>,
    /// Where each known column is in a row.
    header: Option<Vec<Option<usize>>>,
    /// The first row of the next invoice, read while ending the previous.
    pending: Option<(u64, Vec<String>)>,
    done: bool,
}

impl<R: BufRead> CsvInvoices<R> {
    fn read_header(&mut self) -> Result<(), Rejected> {
        let (line, names) = match self.rows.next_row() {
            None => {
                return Err(Rejected {
                    line: 1,
                    number: None,
                    problems: vec![problem(1, "header", "empty", "Het bestand is leeg.", "The file is empty.")],
                });
            }
            Some(Err(line)) => return Err(unreadable(line)),
            Some(Ok(row)) => row,
        };
        let names: Vec<String> = names.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
        let mut problems = vec![];
        for n in names.iter().filter(|n| !CSV_COLUMNS.contains(&n.as_str())) {
            problems.push(problem(line, n.clone(), "unknown_column", "Onbekende kolom.", "Unknown column."));
        }
        let index: Vec<Option<usize>> = CSV_COLUMNS.iter().map(|c| names.iter().position(|n| n == c)).collect();
        for (c, i) in CSV_COLUMNS.iter().zip(&index) {
            let required = matches!(
                *c,
                "customer" | "number" | "issued_on" | "description" | "quantity" | "unit_price_cents" | "vat_rate"
            );
            if required && i.is_none() {
                problems.push(problem(line, *c, "missing_column", "Deze kolom ontbreekt.", "This column is missing."));
            }
        }
        if !problems.is_empty() {
            return Err(Rejected { line, number: None, problems });
        }
        self.header = Some(index);
        Ok(())
    }

    fn cell<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        let at = CSV_COLUMNS.iter().position(|c| *c == column);
        let index = self.header.as_ref().and_then(|h| at.and_then(|a| h[a]));
        index.and_then(|i| row.get(i)).map(|s| s.trim()).unwrap_or("")
    }

    /// Adds `row` (at `line`) to the invoice in `d`.
    fn add_row(&self, d: &mut Draft, first: &mut Vec<(usize, u64, String)>, line: u64, row: &[String]) {
        let names = self.header.as_ref().map(|h| h.iter().filter(|i| i.is_some()).count()).unwrap_or(0);
        if row.len() != names {
            d.problems.push(problem(
                line,
                "row",
                "columns",
                &format!("Deze rij heeft {} velden; de kopregel noemt er {names}.", row.len()),
                &format!("This row has {} fields; the header names {names}.", row.len()),
            ));
            return;
        }
        // The invoice's own columns: set by its first row, the same or empty after.
        for (slot, column) in ["customer", "issued_on", "due_on", "delivery"].iter().enumerate() {
            let value = self.cell(row, column);
            if value.is_empty() {
                continue;
            }
            if let Some((_, at, before)) = first.iter().find(|(s, _, _)| *s == slot) {
                if before != value {
                    let at = *at;
                    d.problems.push(problem(
                        line,
                        *column,
                        "differs",
                        &format!("Anders dan op regel {at} van dezelfde factuur."),
                        &format!("Differs from line {at} of the same invoice."),
                    ));
                }
                continue;
            }
            first.push((slot, line, value.to_string()));
            match *column {
                "customer" => d.customer(line, column, value),
                "issued_on" => d.issued_on = d.keep(line, column, parse_date(value)),
                "due_on" => d.due_on = d.keep(line, column, parse_date(value)),
                _ => {
                    if let Some(delivery) = d.keep(line, column, Delivery::parse(value)) {
                        d.delivery = delivery;
                    }
                }
            }
        }
        let line_cells: Vec<&str> =
            ["description", "quantity", "unit_price_cents", "vat_rate"].iter().map(|c| self.cell(row, c)).collect();
        if line_cells.iter().any(|c| !c.is_empty()) {
            let quantity = d.keep(line, "quantity", whole(line_cells[1]));
            let price = d.keep(line, "unit_price_cents", whole(line_cells[2]));
            let rate = d.keep(line, "vat_rate", vat(line_cells[3]));
            if let (Some(q), Some(p), Some(r)) = (quantity, price, rate) {
                match InvoiceLine::new(line_cells[0], q, p, r) {
                    Ok(l) => d.lines.push(l),
                    Err(error) => {
                        d.problems.push(ImportProblem { line, field: line_field(q, &error).to_string(), error })
                    }
                }
            }
        }
        let (on, cents) = (self.cell(row, "paid_on"), self.cell(row, "amount_cents"));
        if !on.is_empty() || !cents.is_empty() {
            let paid_on = d.keep(line, "paid_on", parse_date(on));
            let amount_cents = d.keep(line, "amount_cents", amount(cents));
            if let (Some(paid_on), Some(amount_cents)) = (paid_on, amount_cents) {
                d.payments.push((line, String::new(), Payment { paid_on, amount_cents }));
            }
        }
    }
}

impl<R: BufRead> Iterator for CsvInvoices<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if self.header.is_none() {
            if let Err(rejected) = self.read_header() {
                self.done = true;
                return Some(Err(rejected));
            }
        }
        let (line, row) = match self.pending.take() {
            Some(row) => row,
            None => match self.rows.next_row()? {
                Ok(row) => row,
                Err(at) => {
                    self.done = true;
                    return Some(Err(unreadable(at)));
                }
            },
        };
        let number = self.cell(&row, "number").to_string();
        let mut d = Draft::new(line);
        d.number = (!number.is_empty()).then(|| number.clone());
        let mut first = vec![];
        self.add_row(&mut d, &mut first, line, &row);
        // An empty number starts no group: the row stands alone.
        while !number.is_empty() {
            match self.rows.next_row() {
                None => break,
                Some(Err(at)) => {
                    self.done = true;
                    d.problems.extend(unreadable(at).problems);
                    break;
                }
                Some(Ok((next_line, next))) => {
                    if self.cell(&next, "number") != number {
                        self.pending = Some((next_line, next));
                        break;
                    }
                    self.add_row(&mut d, &mut first, next_line, &next);
                }
            }
        }
        Some(d.finish())
    }
}

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
