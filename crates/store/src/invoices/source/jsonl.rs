//! JSON lines: one invoice object per line.

use super::*;

pub(super) struct JsonLines<R> {
    pub(super) reader: R,
    pub(super) line: u64,
    pub(super) failed: bool,
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

pub(super) const JSON_KEYS: &[&str] = &["customer", "number", "issued_on", "due_on", "delivery", "lines", "payments"];

pub(super) fn json_invoice(line: u64, text: &str) -> Item {
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
pub(super) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn not_text() -> Invalid {
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
pub(super) fn json_objects(
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
