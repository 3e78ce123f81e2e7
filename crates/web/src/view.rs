//! Templates and the small helpers handlers use to answer.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use custodian_domain::Lang;
use custodian_domain::inventory;
use custodian_domain::model::{FieldErrors, Fields};
use custodian_domain::policy::{Action, Principal};

/// What every page's layout needs.
pub(crate) struct Page {
    pub lang: Lang,
    pub title: String,
    pub company: String,
    /// Empty on public pages: then there is no session and no logout form.
    pub csrf: String,
    pub nav: Nav,
    /// The request's path; empty on pages made without a request.
    pub path: String,
    /// The language was chosen in the URL: links and forms keep `?lang=`.
    pub lang_in_url: bool,
    /// How people reach the company: the footer, and "call us" sentences.
    pub contact: crate::CompanyContact,
}

#[derive(PartialEq, Eq)]
pub(crate) enum Nav {
    Public,
    Customer,
    Staff,
    /// The bookkeeper: customers' billing identity and the invoices.
    Bookkeeper,
    /// Staff pages plus the owner's own (audit trail, API tokens, invoices).
    Owner,
}

impl Page {
    /// The text in the page's language. Only literals (`'static`) are taken:
    /// they are HTML-safe by the check in this file's tests, so templates
    /// write them as they are instead of escaping them character by character.
    pub fn t(&self, nl: &'static str, en: &'static str) -> Literal {
        Literal(self.lang.pick(nl, en))
    }

    pub fn nav_is_customer(&self) -> bool {
        self.nav == Nav::Customer
    }

    /// Any of the company's people: owner, staff or bookkeeper.
    pub fn nav_is_staff(&self) -> bool {
        matches!(self.nav, Nav::Staff | Nav::Bookkeeper | Nav::Owner)
    }

    /// Those who keep customers' records: the owner and staff.
    pub fn nav_keeps_records(&self) -> bool {
        matches!(self.nav, Nav::Staff | Nav::Owner)
    }

    /// Those who keep the books: the owner and the bookkeeper.
    pub fn nav_keeps_books(&self) -> bool {
        matches!(self.nav, Nav::Bookkeeper | Nav::Owner)
    }

    pub fn nav_is_owner(&self) -> bool {
        self.nav == Nav::Owner
    }

    /// Whether `href` is the page being shown, or the section it is in
    /// (`aria-current="page"` in the menu).
    pub fn is_current(&self, href: &str) -> bool {
        match href {
            // The customers' section holds each customer's pages and the new-customer form;
            // the books hold every invoice page.
            "/staff" => self.path == "/staff" || self.path.starts_with("/staff/customers"),
            "/books" => self.path.starts_with("/books"),
            _ => self.path == href,
        }
    }

    /// What public links and forms append so a language chosen in the URL
    /// stays chosen without a cookie: `?lang=en`, or nothing.
    pub fn q(&self) -> String {
        match self.lang_in_url {
            true => format!("?lang={}", self.lang.code()),
            false => String::new(),
        }
    }

    /// The language the header's switch offers: its code and its own name.
    pub fn other_lang(&self) -> (&'static str, &'static str) {
        match self.lang {
            Lang::Nl => ("en", "English"),
            Lang::En => ("nl", "Nederlands"),
        }
    }

    /// The page's own path, for the language switch to come back to.
    pub fn here(&self) -> &str {
        if self.path.is_empty() { "/" } else { &self.path }
    }

    /// The phone number for a `tel:` link: digits and a leading plus only.
    pub fn tel(&self) -> String {
        self.contact.phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()
    }

    /// "Call or write us" with the configured phone and e-mail, when there are any.
    pub fn reach_us(&self) -> String {
        let c = &self.contact;
        match (c.phone.is_empty(), c.email.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{} {}.", self.t("Bel ons op", "Call us on"), c.phone),
            (true, false) => format!("{} {}.", self.t("Mail ons op", "E-mail us at"), c.email),
            (false, false) => format!(
                "{} {} {} {}.",
                self.t("Bel ons op", "Call us on"),
                c.phone,
                self.t("of mail naar", "or e-mail"),
                c.email
            ),
        }
    }
}

/// Text written in a template, never data: see [`Page::t`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Literal(&'static str);

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl askama::filters::HtmlSafe for Literal {}

/// One line of a form's error summary: the message, linked to the input it is
/// about, so keyboard and screen-reader users get there in one step.
pub(crate) struct ErrorLink {
    /// The input's `id`; empty when the error is about the form as a whole.
    pub target: String,
    pub text: String,
}

impl ErrorLink {
    pub fn to(target: &str, text: impl Into<String>) -> ErrorLink {
        ErrorLink { target: target.into(), text: text.into() }
    }

    pub fn form(text: impl Into<String>) -> ErrorLink {
        ErrorLink { target: String::new(), text: text.into() }
    }
}

/// The error summary of a form built from `fields` (`fields.html`): one link
/// per field in error, in the order of the form.
pub(crate) fn error_summary(fields: &[FieldView]) -> Vec<ErrorLink> {
    fields
        .iter()
        .filter(|f| !f.error.is_empty())
        .map(|f| ErrorLink::to(&format!("f-{}", f.name), format!("{}: {}", f.label, f.error)))
        .collect()
}

/// One form field as shown: label, name, current value, error in the user's language.
pub(crate) struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: String,
    /// `text`, `email` or `tel`: the keyboard and checks a browser offers.
    pub input_type: &'static str,
    /// The `autocomplete` token, empty when none fits.
    pub autocomplete: &'static str,
    /// For fields with a fixed set of values: (value, label) pairs for a select.
    pub choices: Vec<(&'static str, &'static str)>,
}

impl FieldView {
    /// The value as shown to people: the label of a fixed choice, else as stored.
    pub fn display(&self) -> &str {
        self.choices.iter().find(|(v, _)| *v == self.value).map(|(_, l)| *l).unwrap_or(&self.value)
    }
}

/// How a browser should treat a field: input type and autofill token.
fn input_hints(column: &str) -> (&'static str, &'static str) {
    match column {
        "email" => ("email", "email"),
        "email2" => ("email", ""),
        "phone" => ("tel", "tel"),
        "phone2" => ("tel", ""),
        "company_name" => ("text", "organization"),
        "contact_name" => ("text", "name"),
        "department" => ("text", "organization-title"),
        "visit_street" => ("text", "address-line1"),
        "visit_postcode" => ("text", "postal-code"),
        "visit_city" => ("text", "address-level2"),
        "corr_street" => ("text", "billing address-line1"),
        "corr_postcode" => ("text", "billing postal-code"),
        "corr_city" => ("text", "billing address-level2"),
        _ => ("text", ""),
    }
}

/// The fixed choices of a field, labelled in `lang`; empty for free input.
fn choices(column: &str, lang: Lang) -> Vec<(&'static str, &'static str)> {
    use custodian_domain::model::Gender;
    match column {
        "gender" => Gender::ALL.iter().map(|g| (g.as_str(), g.label(lang))).collect(),
        "language" => vec![("nl", "Nederlands"), ("en", "English")],
        "email_consent" => vec![("no", lang.pick("nee", "no")), ("yes", lang.pick("ja", "yes"))],
        _ => vec![],
    }
}

/// The personal fields of `table` as form fields, in inventory order.
/// The inputs of a form on `table` for `who`: only the fields it may both read
/// and change, so a field it may not see is never sent back empty (and cleared).
pub(crate) fn field_views(
    table: &str,
    lang: Lang,
    values: &Fields,
    errors: Option<&FieldErrors>,
    who: Principal,
) -> Vec<FieldView> {
    inventory::fields_of(table)
        .filter(|f| f.allows(who, Action::Read) && f.allows(who, Action::Write))
        .map(|f| {
            let error = errors.and_then(|e| e.for_field(f.column)).map(|e| e.message(lang).to_string());
            field_view(f, lang, values.get(f.column).cloned().unwrap_or_default(), error.unwrap_or_default())
        })
        .collect()
}

/// The fields of `table` that hold a value, for pages that only show them.
pub(crate) fn shown_fields(table: &str, lang: Lang, values: &Fields) -> Vec<FieldView> {
    inventory::fields_of(table)
        .filter_map(|f| {
            let value = values.get(f.column).filter(|v| !v.is_empty())?;
            Some(field_view(f, lang, value.clone(), String::new()))
        })
        .collect()
}

fn field_view(f: &inventory::Field, lang: Lang, value: String, error: String) -> FieldView {
    let (input_type, autocomplete) = input_hints(f.column);
    FieldView {
        name: f.column,
        label: f.label(lang),
        value,
        error,
        input_type,
        autocomplete,
        choices: choices(f.column, lang),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub page: Page,
    pub text: String,
    pub link: Option<(String, String)>,
}

pub(crate) fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub(crate) fn message(lang: Lang, title: &str, text: &str) -> Response {
    render(MessagePage {
        page: Page {
            lang,
            title: title.into(),
            company: String::new(),
            csrf: String::new(),
            nav: Nav::Public,
            path: String::new(),
            lang_in_url: false,
            contact: crate::CompanyContact::default(),
        },
        text: text.into(),
        link: None,
    })
}

/// A failure we did not expect: logged (the error never holds personal data)
/// and answered without details.
/// The browser's preferred language of ours (`Accept-Language`), else Dutch.
pub(crate) fn browser_language(headers: &axum::http::HeaderMap) -> Lang {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| {
            accept.split(',').map(|p| p.split(';').next().unwrap_or("").trim()).find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or("");
                Lang::parse(primary)
            })
        })
        .unwrap_or_default()
}

/// A failure a handler could not handle: whether it says the database is
/// out of reach (then the answer is 503, try again) or something else went
/// wrong (500).
pub(crate) trait Failure: std::fmt::Display {
    fn database_unavailable(&self) -> bool {
        false
    }
}

impl Failure for custodian_store::StoreError {
    fn database_unavailable(&self) -> bool {
        self.is_unavailable()
    }
}

impl Failure for custodian_store::AuthError {}
impl Failure for serde_json::Error {}
impl Failure for String {}
impl Failure for &str {}

/// Seconds a client is asked to wait while the database is out of reach.
pub(crate) const RETRY_AFTER_SECS: &str = "30";

pub(crate) fn server_error(lang: Lang, e: &dyn Failure) -> Response {
    if e.database_unavailable() {
        tracing::warn!(error = %e, "database out of reach");
        let mut resp = message(
            lang,
            lang.pick("Even niet bereikbaar", "Briefly unavailable"),
            lang.pick(
                "De gegevens zijn op dit moment niet bereikbaar. Er is niets veranderd; probeer het over een halve minuut opnieuw.",
                "The data cannot be reached right now. Nothing was changed; please try again in half a minute.",
            ),
        );
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static(RETRY_AFTER_SECS));
        return resp;
    }
    tracing::error!(error = %e, "request failed");
    let mut resp = message(
        lang,
        lang.pick("Er ging iets mis", "Something went wrong"),
        lang.pick("Probeer het later opnieuw.", "Please try again later."),
    );
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

/// Formats microseconds since the epoch as a date and time in Amsterdam.
pub(crate) fn when(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
        .ok()
        .map(crate::amsterdam::local)
        .map(|t| format!("{} {:02}:{:02}", custodian_domain::model::format_date(t.date()), t.hour(), t.minute()))
        .unwrap_or_default()
}

/// Euro cents as `€ 12,34` (Dutch) or `€12.34` (English).
pub(crate) fn euros(cents: i64, lang: Lang) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (whole, frac) = (cents.abs() / 100, cents.abs() % 100);
    match lang {
        Lang::Nl => format!("{sign}€ {whole},{frac:02}"),
        Lang::En => format!("{sign}€{whole}.{frac:02}"),
    }
}

#[cfg(test)]
mod tests {
    /// Every string literal inside a template's `{{ }}` and `{% %}` is free of
    /// the characters HTML gives a meaning: `page.t` writes them unescaped.
    #[test]
    fn template_literals_need_no_escaping() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = vec![dir];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(open) = rest.find(['{']) {
                rest = &rest[open + 1..];
                let close = match rest.chars().next() {
                    Some('{') => "}}",
                    Some('%') => "%}",
                    _ => continue,
                };
                let end = rest.find(close).unwrap_or(rest.len());
                let tag = &rest[..end];
                for (i, literal) in tag.split('"').enumerate() {
                    if i % 2 == 1 {
                        checked += 1;
                        assert!(
                            !literal.contains(['<', '>', '&']),
                            "{}: the literal \"{literal}\" needs escaping; write it as an entity-free text",
                            path.display()
                        );
                    }
                }
                rest = &rest[end..];
            }
        }
        assert!(checked > 300, "the templates' literals were found ({checked})");
    }
}
