//! The audit browser (owner): the chain check, then the trail filtered by
//! actor, customer, action, purpose and period, a page at a time or as CSV.
//! Looking is recorded like any other access.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_domain::Lang;
use custodian_domain::model::parse_date;
use custodian_store::{AccessPurpose, AuditFilter, Entry};

use crate::State;
use crate::extract::Staff;
use crate::pages::{FormFields, action_label, page, purpose_label, store_error, who};
use crate::view::{self, Page, when};

/// Entries per page on screen.
const PAGE: u32 = 100;
/// The most entries one CSV export holds; a longer trail is exported by period.
const CSV_MAX: usize = 100_000;

/// The filter as typed, with a message per field that did not parse.
#[derive(Default)]
struct Asked {
    purpose: String,
    actor: String,
    customer: String,
    action: String,
    from: String,
    until: String,
    errors: Vec<(&'static str, String)>,
}

impl Asked {
    fn error(&self, field: &str) -> &str {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str()).unwrap_or("")
    }

    /// The query string that asks for the same filter.
    fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("purpose", &self.purpose),
                ("actor", &self.actor),
                ("customer", &self.customer),
                ("action", &self.action),
                ("from", &self.from),
                ("until", &self.until),
            ])
            .finish()
    }
}

/// Reads the filter; `None` for the purpose while none was chosen yet.
fn read(q: &FormFields, lang: Lang, purposes: &[AccessPurpose]) -> (Asked, Option<AccessPurpose>, AuditFilter) {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut asked = Asked {
        purpose: get("purpose"),
        actor: get("actor"),
        customer: get("customer"),
        action: get("action"),
        from: get("from"),
        until: get("until"),
        errors: vec![],
    };
    let mut filter = AuditFilter::default();
    let purpose = match asked.purpose.as_str() {
        "" => None,
        p => match AccessPurpose::parse(p).filter(|p| purposes.contains(p)) {
            Some(p) => Some(p),
            None => {
                asked.errors.push((
                    "purpose",
                    lang.pick("Kies een reden uit de lijst.", "Choose a reason from the list.").into(),
                ));
                None
            }
        },
    };
    if !asked.actor.is_empty() {
        let (kind, id) = match asked.actor.split_once(':') {
            Some((k, i)) => (k, Some(i)),
            None => (asked.actor.as_str(), None),
        };
        let known = ["staff", "customer", "operator", "job", "api"].contains(&kind);
        let id_ok = id.is_none_or(|i| {
            !i.is_empty() && i.len() <= 64 && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if known && id_ok {
            filter.actor = Some((kind.to_string(), id.map(str::to_string)));
        } else {
            asked.errors.push(("actor", lang.pick("Kies wie uit de lijst.", "Choose who from the list.").into()));
        }
    }
    if !asked.customer.is_empty() {
        match asked.customer.parse::<i64>() {
            Ok(n) if n > 0 => filter.customer = Some(n),
            _ => asked.errors.push((
                "customer",
                lang.pick("Een klantnummer bestaat uit cijfers.", "A customer number consists of digits.").into(),
            )),
        }
    }
    if !asked.action.is_empty() {
        let fine =
            asked.action.len() <= 64 && asked.action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
        if fine {
            filter.action = Some(asked.action.clone());
        } else {
            asked.errors.push((
                "action",
                lang.pick("Kies een handeling uit de lijst.", "Choose an action from the list.").into(),
            ));
        }
    }
    // Days as they are in Amsterdam; "until" includes its whole day.
    let mut days = |field: &'static str, text: &str, next: bool| -> Option<i64> {
        if text.is_empty() {
            return None;
        }
        let day = parse_date(text).ok().and_then(|d| if next { d.next_day() } else { Some(d) });
        match day {
            Some(d) => Some(crate::amsterdam::midnight(d).unix_timestamp() * 1_000_000),
            None => {
                asked.errors.push((field, lang.pick("Een datum als 2026-03-31.", "A date like 2026-03-31.").into()));
                None
            }
        }
    };
    let (from_text, until_text) = (asked.from.clone(), asked.until.clone());
    filter.from = days("from", &from_text, false);
    filter.until = days("until", &until_text, true);
    if let (Some(f), Some(u)) = (filter.from, filter.until)
        && u <= f
    {
        asked.errors.push((
            "until",
            lang.pick("De einddatum ligt voor de begindatum.", "The end date is before the start date.").into(),
        ));
    }
    (asked, purpose, filter)
}

/// One entry as people read it.
struct Row {
    seq: i64,
    at: String,
    who: String,
    what: String,
    about: String,
    fields: String,
    purpose: String,
    source: String,
}

fn subject_label(kind: &str, id: &str, lang: Lang) -> String {
    match kind {
        "customer" => format!("{} {id}", lang.pick("klant", "customer")),
        "customers" => lang.pick("klantenbestand", "customer records").into(),
        "audit_log" => lang.pick("auditlog", "audit trail").into(),
        "account" => format!("{} #{id}", lang.pick("account", "account")),
        "api_token" => format!("{} #{id}", lang.pick("API-sleutel", "API key")),
        "registry_op" => format!("{} #{id}", lang.pick("registeropdracht", "registry operation")),
        "outbox" => format!("{} #{id}", lang.pick("bericht", "message")),
        "retention" => lang.pick("bewaartermijnen", "retention").into(),
        "keyring" => lang.pick("sleutels", "keys").into(),
        other => format!("{other} {id}"),
    }
}

fn row(e: &Entry, names: &HashMap<i64, String>, lang: Lang) -> Row {
    let fields = who::fields_label(&e.fields, lang);
    Row {
        seq: e.seq,
        at: when(e.at),
        who: who::company_actor_label(&e.actor_kind, &e.actor_id, names, lang),
        what: action_label(&e.action, lang).into(),
        about: subject_label(&e.subject_kind, &e.subject_id, lang),
        fields,
        purpose: AccessPurpose::parse(&e.purpose)
            .map(|p| purpose_label(p, lang).to_string())
            .unwrap_or_else(|| e.purpose.clone()),
        source: e.source.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct Audit {
    page: Page,
    intact: bool,
    check: String,
    asked: Asked,
    purposes: Vec<(&'static str, &'static str)>,
    actors: Vec<(String, String)>,
    actions: Vec<(String, String)>,
    rows: Option<Vec<Row>>,
    older: Option<String>,
    csv: String,
}

pub(crate) async fn browse(AxState(state): AxState<State>, viewer: Staff, Query(q): Query<FormFields>) -> Response {
    let lang = viewer.lang;
    let allowed = custodian_domain::policy::purposes(viewer.principal()).to_vec();
    let (asked, purpose, filter) = read(&q, lang, &allowed);
    let (intact, check) = match state.store.audit_verify().await {
        Ok(v) => match &v.problem {
            None => (
                true,
                format!(
                    "{} {} {}",
                    lang.pick("De keten is intact:", "The chain is intact:"),
                    v.entries,
                    lang.pick("regels.", "entries.")
                ),
            ),
            Some(p) => (
                false,
                format!("{} {p}", lang.pick("Het auditlog is aangetast:", "The audit trail was tampered with:")),
            ),
        },
        Err(e) => return view::server_error(lang, &e),
    };
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let lookup = purpose.unwrap_or(AccessPurpose::Administration);
    let people = match state.store.all_staff_names(&viewer.access(lookup)).await {
        Ok(people) => people,
        Err(e) => return store_error(&viewer, e),
    };
    let names: HashMap<i64, String> = people.iter().cloned().collect();
    let (rows, older) = match purpose.filter(|_| asked.errors.is_empty()) {
        Some(purpose) => match state.store.audit_browse(&viewer.access(purpose), &filter, before, PAGE).await {
            Ok(found) => {
                let rows = found.entries.iter().map(|e| row(e, &names, lang)).collect();
                (Some(rows), found.next_before.map(|b| format!("/staff/audit?{}&before={b}", asked.query())))
            }
            Err(e) => return store_error(&viewer, e),
        },
        None => (None, None),
    };
    let actions = match state.store.audit_actions(&viewer.access(lookup)).await {
        Ok(actions) => actions
            .into_iter()
            .map(|a| {
                let label = action_label(&a, lang).to_string();
                (a, label)
            })
            .collect(),
        Err(e) => return store_error(&viewer, e),
    };
    let mut actors = vec![
        ("customer".to_string(), lang.pick("klanten", "customers").to_string()),
        ("staff".to_string(), lang.pick("alle medewerkers", "all staff").to_string()),
    ];
    actors.extend(
        people
            .iter()
            .map(|(id, _)| (format!("staff:{id}"), who::company_actor_label("staff", &id.to_string(), &names, lang))),
    );
    actors.push(("operator".into(), who::company_actor_label("operator", "", &names, lang)));
    actors.push(("job".into(), lang.pick("automatische taken", "scheduled tasks").into()));
    actors.push(("api".into(), lang.pick("API-sleutels", "API keys").into()));
    let purposes = allowed.iter().map(|p| (p.as_str(), purpose_label(*p, lang))).collect();
    let csv = format!("/staff/audit.csv?{}", asked.query());
    let status = if asked.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut resp = view::render(Audit {
        page: page(&state, &viewer, lang.pick("Auditlog", "Audit trail")),
        intact,
        check,
        asked,
        purposes,
        actors,
        actions,
        rows,
        older,
        csv,
    });
    *resp.status_mut() = status;
    resp
}

/// The filtered trail as CSV (UTF-8, comma-separated, one header row).
pub(crate) async fn export(AxState(state): AxState<State>, viewer: Staff, Query(q): Query<FormFields>) -> Response {
    let lang = viewer.lang;
    let allowed = custodian_domain::policy::purposes(viewer.principal()).to_vec();
    let (asked, purpose, filter) = read(&q, lang, &allowed);
    let Some(purpose) = purpose.filter(|_| asked.errors.is_empty()) else {
        let reason = asked.errors.first().map(|(_, m)| m.clone()).unwrap_or_else(|| {
            lang.pick(
                "Kies eerst waarom u het auditlog inziet.",
                "First choose why you are looking at the audit trail.",
            )
            .into()
        });
        let mut r = view::message(lang, lang.pick("Auditlog", "Audit trail"), &reason);
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    };
    let access = viewer.access(purpose);
    let names: HashMap<i64, String> = match state.store.all_staff_names(&access).await {
        Ok(people) => people.into_iter().collect(),
        Err(e) => return store_error(&viewer, e),
    };
    let mut out = String::from("seq,time,who,actor_kind,actor_id,action,what,about,fields,purpose,source\r\n");
    let (mut before, mut count) = (None, 0usize);
    loop {
        let found = match state.store.audit_browse(&access, &filter, before, 1000).await {
            Ok(f) => f,
            Err(e) => return store_error(&viewer, e),
        };
        count += found.entries.len();
        if count > CSV_MAX {
            let text = format!(
                "{} {CSV_MAX}. {}",
                lang.pick("Deze selectie bevat meer regels dan", "This selection holds more entries than"),
                lang.pick("Kies een kortere periode.", "Choose a shorter period.")
            );
            let mut r = view::message(lang, lang.pick("Auditlog", "Audit trail"), &text);
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
        for e in &found.entries {
            let r = row(e, &names, lang);
            let cells = [
                e.seq.to_string(),
                r.at,
                r.who,
                e.actor_kind.clone(),
                e.actor_id.clone(),
                e.action.clone(),
                r.what,
                r.about,
                r.fields,
                r.purpose,
                r.source,
            ];
            out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        match found.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
    resp
}

/// A CSV cell: quoted when needed, and never read as a formula by a spreadsheet.
fn csv_cell(text: &str) -> String {
    let text = match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }

    #[test]
    fn the_filter_reads_what_was_typed_and_names_what_was_not() {
        let q: FormFields = [
            ("purpose", "security_incident"),
            ("actor", "staff:7"),
            ("customer", "12"),
            ("action", "customer."),
            ("from", "2026-12-01"),
            ("until", "2026-12-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (asked, purpose, filter) = read(&q, Lang::En, &[AccessPurpose::SecurityIncident]);
        assert!(asked.errors.is_empty());
        assert_eq!(purpose, Some(AccessPurpose::SecurityIncident));
        assert_eq!(filter.actor, Some(("staff".into(), Some("7".into()))));
        assert_eq!(filter.customer, Some(12));
        assert_eq!(filter.action.as_deref(), Some("customer."));
        // 2026-12-01 00:00 in Amsterdam (23:00 UTC the day before), and the whole of that day.
        assert_eq!(filter.from, Some(1_796_079_600_000_000));
        assert_eq!(filter.until, Some(1_796_166_000_000_000));

        let bad: FormFields = [("purpose", "billing"), ("actor", "root"), ("customer", "x"), ("from", "1-2-2026")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (asked, purpose, _) = read(&bad, Lang::Nl, &[AccessPurpose::SecurityIncident]);
        assert_eq!(purpose, None);
        for field in ["purpose", "actor", "customer", "from"] {
            assert!(!asked.error(field).is_empty(), "{field}");
        }
    }
}
