//! CSV: one row per invoice line, consecutive rows of one number one invoice.

use super::*;

/// RFC 4180 records: fields separated by commas, quoted with `"` (a quoted
/// field may hold commas, doubled quotes and line breaks).
pub(super) struct CsvRows<R> {
    pub(super) reader: R,
    pub(super) line: u64,
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

pub(super) fn split_record(record: &str) -> Vec<String> {
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

pub(super) struct CsvInvoices<R> {
    pub(super) rows: CsvRows<R>,
    /// Where each known column is in a row.
    pub(super) header: Option<Vec<Option<usize>>>,
    /// The first row of the next invoice, read while ending the previous.
    pub(super) pending: Option<(u64, Vec<String>)>,
    pub(super) done: bool,
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
        if self.header.is_none()
            && let Err(rejected) = self.read_header()
        {
            self.done = true;
            return Some(Err(rejected));
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
