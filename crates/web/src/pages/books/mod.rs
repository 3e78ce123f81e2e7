//! The bookkeeper's workspace (and the owner's): invoices of every customer by
//! where they stand, one invoice with its payments, recording a payment,
//! crediting an invoice, and the import from billing software (`import.rs`).
//! Staff never get here: invoices are not theirs to see (A4).

mod import;
mod post;

pub(crate) use import::{import, import_form};
pub(crate) use post::{mark_posted, print_queue};

use askama::Template;
use axum::extract::{Form, Path, Query, State as AxState};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_domain::Lang;
use custodian_domain::model::{InvoiceState, parse_date};
use custodian_domain::policy::{self, Action, Resource};
use custodian_store::{AccessPurpose, InvoiceRecord, NewCreditNote, Standing};

use crate::State;
use crate::extract::Staff;
use crate::pages::{FormFields, actionable, page, store_error, who};
use crate::view::{self, FieldView, Page, euros};

/// Invoices per page of the list.
const PER_PAGE: u32 = 50;

/// Whether the viewer's role may record payments, credit and import (the
/// forms are shown only to them; the routes refuse anyone else).
fn writes_invoices(viewer: &Staff) -> bool {
    policy::allows(viewer.principal(), Resource::Invoices, Action::Write)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

pub(crate) fn standing_label(s: Standing, lang: Lang) -> &'static str {
    match s {
        Standing::Open => lang.pick("Open", "Open"),
        Standing::Overdue => lang.pick("Te laat", "Overdue"),
        Standing::Paid => lang.pick("Betaald", "Paid"),
        Standing::Credited => lang.pick("Gecrediteerd", "Credited"),
        Standing::CreditNotes => lang.pick("Creditnota's", "Credit notes"),
        Standing::All => lang.pick("Alle", "All"),
    }
}

pub(crate) fn state_label(s: InvoiceState, lang: Lang) -> &'static str {
    match s {
        InvoiceState::Open => lang.pick("open", "open"),
        InvoiceState::Overdue => lang.pick("te laat", "overdue"),
        InvoiceState::Paid => lang.pick("betaald", "paid"),
        InvoiceState::Credited => lang.pick("gecrediteerd", "credited"),
        InvoiceState::CreditNote => lang.pick("creditnota", "credit note"),
    }
}

/// One invoice in a list, as shown.
struct Row {
    id: i64,
    number: String,
    customer: i64,
    issued: String,
    due: String,
    total: String,
    outstanding: String,
    state: &'static str,
    delivery: &'static str,
}

impl Row {
    fn of(i: &InvoiceRecord, lang: Lang) -> Row {
        Row {
            id: i.id,
            number: i.number.clone(),
            customer: i.customer_id,
            issued: i.issued_on.clone(),
            due: i.due_on.clone(),
            total: euros(i.total_cents, lang),
            outstanding: euros(i.outstanding_cents.max(0), lang),
            state: state_label(i.state, lang),
            delivery: who::delivery_label(&i.delivery, lang),
        }
    }
}

/// A tab of the list: where it links, its label, how many, and whether it is shown.
struct Tab {
    value: &'static str,
    label: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "books/list.html")]
struct ListPage {
    page: Page,
    tabs: Vec<Tab>,
    standing: &'static str,
    rows: Vec<Row>,
    next: Option<i64>,
    /// The owner and the bookkeeper may write invoices; the import is linked for them.
    can_import: bool,
    /// Invoices waiting in the print queue.
    waiting: usize,
}

#[derive(serde::Deserialize)]
pub(crate) struct ListQuery {
    standing: Option<String>,
    before: Option<i64>,
}

/// The invoices of every customer that stand as asked (open by default), newest first.
pub(crate) async fn list(AxState(state): AxState<State>, viewer: Staff, Query(q): Query<ListQuery>) -> Response {
    let lang = viewer.lang;
    let standing = q.standing.as_deref().and_then(Standing::parse).unwrap_or(Standing::Open);
    let access = viewer.access(AccessPurpose::Billing);
    let counts = match state.store.count_invoices(&access).await {
        Ok(c) => c,
        Err(e) => return store_error(&viewer, e),
    };
    let listed = match state.store.list_invoices(&access, standing, q.before, PER_PAGE).await {
        Ok(l) => l,
        Err(e) => return store_error(&viewer, e),
    };
    let waiting = match state.store.print_queue(&access).await {
        Ok(q) => q.len(),
        Err(e) => return store_error(&viewer, e),
    };
    let tabs = counts
        .iter()
        .map(|c| {
            let amount = match c.outstanding_cents {
                0 => String::new(),
                cents => format!(", {}", euros(cents, lang)),
            };
            Tab {
                value: c.standing.as_str(),
                label: format!("{} ({}{amount})", standing_label(c.standing, lang), c.count),
                current: c.standing == standing,
            }
        })
        .collect();
    view::render(ListPage {
        page: page(&state, &viewer, lang.pick("Facturen", "Invoices")),
        tabs,
        standing: standing.as_str(),
        rows: listed.invoices.iter().map(|i| Row::of(i, lang)).collect(),
        next: listed.next,
        waiting,
        can_import: writes_invoices(&viewer),
    })
}

#[derive(Template)]
#[template(path = "books/invoice.html")]
struct InvoicePage {
    page: Page,
    invoice: Row,
    credit_for: Option<(Option<i64>, String)>,
    net: String,
    vat: String,
    paid: String,
    credited: String,
    billing: Vec<FieldView>,
    /// Description, quantity, unit price, VAT rate, amount.
    lines: Vec<(String, i64, String, String, String)>,
    payments: Vec<(String, String)>,
    payable: bool,
    creditable: bool,
    can_write: bool,
    today: String,
    error: String,
    amount: String,
    paid_on: String,
}

/// One invoice with its billing snapshot, lines and payments (audited), and
/// the forms to record a payment and to credit it.
pub(crate) async fn invoice(AxState(state): AxState<State>, viewer: Staff, Path(id): Path<i64>) -> Response {
    show(&state, &viewer, id, Entered::default()).await
}

/// What was typed into the payment form, shown again with the error.
#[derive(Default)]
struct Entered {
    error: String,
    amount: String,
    paid_on: String,
}

async fn show(state: &State, viewer: &Staff, id: i64, entered: Entered) -> Response {
    let lang = viewer.lang;
    let access = viewer.access(AccessPurpose::Billing);
    let invoice = match state.store.read_invoice(&access, id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(state, viewer),
        Err(e) => return store_error(viewer, e),
    };
    let credit_for = match &invoice.credit_for {
        Some(number) => {
            let credited = state.store.invoice_id(&access, number).await.ok().flatten();
            Some((credited, number.clone()))
        }
        None => None,
    };
    let lines = invoice
        .lines
        .iter()
        .map(|l| {
            (
                l.description.clone(),
                l.quantity,
                euros(l.unit_price_cents, lang),
                vat_rate(l.vat_rate_bp),
                euros(l.quantity * l.unit_price_cents, lang),
            )
        })
        .collect();
    let payments = invoice.payments.iter().map(|p| (p.paid_on.clone(), euros(p.amount_cents, lang))).collect();
    let due = invoice.outstanding_cents > 0 && invoice.credit_for.is_none();
    let can_write = writes_invoices(viewer);
    let title = match invoice.credit_for {
        Some(_) => format!("{} {}", lang.pick("Creditnota", "Credit note"), invoice.number),
        None => format!("{} {}", lang.pick("Factuur", "Invoice"), invoice.number),
    };
    let mut r = view::render(InvoicePage {
        page: page(state, viewer, &title),
        credit_for,
        net: euros(invoice.net_cents, lang),
        vat: euros(invoice.vat_cents, lang),
        paid: euros(invoice.paid_cents, lang),
        credited: euros(invoice.credited_cents, lang),
        billing: view::shown_fields("invoices", lang, &invoice.billing),
        lines,
        payments,
        payable: due,
        creditable: invoice.credit_for.is_none() && invoice.state != InvoiceState::Credited,
        can_write,
        today: custodian_domain::model::format_date(today()),
        amount: match entered.amount.is_empty() {
            true => plain_euros(invoice.outstanding_cents.max(0), lang),
            false => entered.amount,
        },
        paid_on: entered.paid_on,
        error: entered.error.clone(),
        invoice: Row::of(&invoice, lang),
    });
    if !entered.error.is_empty() {
        *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

fn not_found(state: &State, viewer: &Staff) -> Response {
    let lang = viewer.lang;
    let mut r = crate::pages::message(
        state,
        viewer,
        lang.pick("Niet gevonden", "Not found"),
        lang.pick("Deze factuur bestaat niet (meer).", "This invoice does not exist (any more)."),
        Some(("/books", lang.pick("Naar de facturen", "To the invoices"))),
    );
    *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
    r
}

/// A VAT rate in basis points as people write it: `21%`, `9%`, `5.5%`.
pub(crate) fn vat_rate(bp: i64) -> String {
    match bp % 100 {
        0 => format!("{}%", bp / 100),
        frac => format!("{}.{}%", bp / 100, format!("{frac:02}").trim_end_matches('0')),
    }
}

/// Cents as the amount field shows them: `59,50` (Dutch) or `59.50` (English).
fn plain_euros(cents: i64, lang: Lang) -> String {
    let sep = lang.pick(",", ".");
    format!("{}{sep}{:02}", cents / 100, cents % 100)
}

/// Reads an amount in euros as typed: `59,50`, `59.50`, `€ 1.234,56`,
/// `1,234.56`, `60`. The last `,` or `.` followed by one or two digits is the
/// decimal separator; other separators group thousands. `None` when it is
/// not an amount.
pub(crate) fn parse_euros(s: &str) -> Option<i64> {
    let s: String = s.chars().filter(|c| !c.is_whitespace() && *c != '€').collect();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') {
        return None;
    }
    let (whole, cents) = match s.rfind([',', '.']) {
        Some(at) if (2..=3).contains(&(s.len() - at)) => {
            let frac = &s[at + 1..];
            let cents: i64 = frac.parse().ok()?;
            (&s[..at], if frac.len() == 1 { cents * 10 } else { cents })
        }
        _ => (s.as_str(), 0),
    };
    // Thousands separators must group three digits each.
    let groups: Vec<&str> = whole.split([',', '.']).collect();
    if groups[0].is_empty() || groups.iter().skip(1).any(|g| g.len() != 3) {
        return None;
    }
    let digits: String = groups.concat();
    let euros: i64 = digits.parse().ok()?;
    euros.checked_mul(100)?.checked_add(cents)
}

/// Records a payment on the invoice: the amount (all that is due by default) and the day.
pub(crate) async fn record_payment(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let amount = form.get("amount").cloned().unwrap_or_default();
    let paid_on = form.get("paid_on").cloned().unwrap_or_default();
    let retry = |error: &str| Entered { error: error.to_string(), amount: amount.clone(), paid_on: paid_on.clone() };
    let Some(cents) = parse_euros(&amount).filter(|c| *c > 0) else {
        let error = lang.pick(
            "Vul het betaalde bedrag in euro's in, bijvoorbeeld 59,50.",
            "Enter the amount paid in euros, for example 59.50.",
        );
        return show(&state, &viewer, id, retry(error)).await;
    };
    let Ok(day) = parse_date(paid_on.trim()) else {
        let error = lang.pick("Vul de betaaldatum in als JJJJ-MM-DD.", "Enter the date of payment as YYYY-MM-DD.");
        return show(&state, &viewer, id, retry(error)).await;
    };
    let access = viewer.access(AccessPurpose::Billing);
    let Some(number) = number_of(&state, &viewer, id).await else { return not_found(&state, &viewer) };
    match state.store.record_payment(&access, &number, cents, day).await {
        Ok(_) => Redirect::to(&format!("/books/invoices/{id}")).into_response(),
        Err(e) => match actionable(&e, lang) {
            Some(error) => show(&state, &viewer, id, retry(&error)).await,
            None => store_error(&viewer, e),
        },
    }
}

/// Credits the whole invoice with a credit note dated today, after a ticked confirmation.
pub(crate) async fn credit(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    if form.get("confirm").map(String::as_str) != Some("yes") {
        let error = lang.pick(
            "Vink aan dat de hele factuur gecrediteerd moet worden.",
            "Tick that the whole invoice is to be credited.",
        );
        return show(&state, &viewer, id, Entered { error: error.into(), ..Entered::default() }).await;
    }
    let access = viewer.access(AccessPurpose::Billing);
    let Some(number) = number_of(&state, &viewer, id).await else { return not_found(&state, &viewer) };
    let new = NewCreditNote { number: None, issued_on: today(), lines: None };
    match state.store.credit_invoice(&access, &number, new).await {
        Ok(note) => {
            state.delivery.now();
            Redirect::to(&format!("/books/invoices/{}", note.id)).into_response()
        }
        Err(e) => match actionable(&e, lang) {
            Some(error) => show(&state, &viewer, id, Entered { error, ..Entered::default() }).await,
            None => store_error(&viewer, e),
        },
    }
}

/// The number of invoice `id`, read from its headers (nothing decrypted).
async fn number_of(state: &State, viewer: &Staff, id: i64) -> Option<String> {
    let access = viewer.access(AccessPurpose::Billing);
    state.store.invoice_number(&access, id).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_type_them() {
        assert_eq!(parse_euros("59,50"), Some(5950));
        assert_eq!(parse_euros("59.50"), Some(5950));
        assert_eq!(parse_euros("€ 1.234,56"), Some(123_456));
        assert_eq!(parse_euros("1,234.56"), Some(123_456));
        assert_eq!(parse_euros("60"), Some(6000));
        assert_eq!(parse_euros("60,5"), Some(6050));
        assert_eq!(parse_euros("1.234"), Some(123_400));
        assert_eq!(parse_euros("12.34.5"), None);
        assert_eq!(parse_euros("abc"), None);
        assert_eq!(parse_euros(""), None);
        assert_eq!(parse_euros("-5"), None);
        assert_eq!(parse_euros("99999999999999999999"), None);
    }

    #[test]
    fn vat_rates_as_people_write_them() {
        assert_eq!(vat_rate(2100), "21%");
        assert_eq!(vat_rate(900), "9%");
        assert_eq!(vat_rate(0), "0%");
        assert_eq!(vat_rate(550), "5.5%");
        assert_eq!(vat_rate(1225), "12.25%");
    }
}
