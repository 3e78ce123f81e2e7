//! Requests from data subjects who may not be customers (Art. 12, 15–21): a
//! domain contact a customer entered (M11), or anyone else whose data is held.
//!
//! What is asked, how the person's identity was checked, the one-month
//! deadline and its extension, and how a request ends. No I/O: the store
//! keeps the register, the pages show it.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::Lang;
use crate::model::{FieldErrors, Fields, Form, Text, format_date};
use crate::validate::{Email, Invalid, Phone};

use crate::model::choice_enum;

choice_enum!(RequestKind, "request_kind", {
    Access => "access",
    Correction => "correction",
    Erasure => "erasure",
    Objection => "objection",
});

impl RequestKind {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RequestKind::Access => lang.pick("inzage (art. 15)", "access (Art. 15)"),
            RequestKind::Correction => lang.pick("correctie (art. 16)", "correction (Art. 16)"),
            RequestKind::Erasure => lang.pick("verwijdering (art. 17)", "erasure (Art. 17)"),
            RequestKind::Objection => lang.pick("bezwaar (art. 21)", "objection (Art. 21)"),
        }
    }
}

choice_enum!(IdentityCheck, "identity_check", {
    KnownEmail => "known_email",
    CallBack => "call_back",
    KnownAddress => "known_address",
    IdDocument => "id_document",
    InPerson => "in_person",
});

impl IdentityCheck {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            IdentityCheck::KnownEmail => lang.pick(
                "bevestigd vanaf het e-mailadres dat wij al hadden",
                "confirmed from the e-mail address we already held",
            ),
            IdentityCheck::CallBack => {
                lang.pick("teruggebeld op het nummer dat wij al hadden", "called back on the number we already held")
            }
            IdentityCheck::KnownAddress => {
                lang.pick("antwoord per post naar het adres dat wij al hadden", "answer by post to the address we held")
            }
            IdentityCheck::IdDocument => lang.pick(
                "identiteitsbewijs getoond (BSN en foto afgeschermd; geen kopie bewaard)",
                "identity document shown (citizen number and photo masked; no copy kept)",
            ),
            IdentityCheck::InPerson => lang.pick("persoonlijk bekend of langs geweest", "known in person or came by"),
        }
    }
}

choice_enum!(ExtensionReason, "extension_reason", {
    Complex => "complex",
    ManyRequests => "many_requests",
});

impl ExtensionReason {
    /// The two reasons Art. 12(3) allows.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ExtensionReason::Complex => lang.pick("het verzoek is complex", "the request is complex"),
            ExtensionReason::ManyRequests => {
                lang.pick("het aantal verzoeken is groot", "the number of requests is large")
            }
        }
    }
}

choice_enum!(Outcome, "outcome", {
    Done => "done",
    NothingHeld => "nothing_held",
    RefusedIdentity => "refused_identity",
    RefusedUnfounded => "refused_unfounded",
    RefusedObligation => "refused_obligation",
    Withdrawn => "withdrawn",
});

impl Outcome {
    pub fn label(self, kind: RequestKind, lang: Lang) -> &'static str {
        match (self, kind) {
            (Outcome::Done, RequestKind::Access) => lang.pick("gegevens verstrekt", "data provided"),
            (Outcome::Done, RequestKind::Correction) => lang.pick("gegevens gecorrigeerd", "data corrected"),
            (Outcome::Done, RequestKind::Erasure) => lang.pick("gegevens verwijderd", "data erased"),
            (Outcome::Done, RequestKind::Objection) => lang.pick("verwerking gestopt", "processing stopped"),
            (Outcome::NothingHeld, _) => {
                lang.pick("wij hebben geen gegevens van deze persoon", "we hold no data about this person")
            }
            (Outcome::RefusedIdentity, _) => lang.pick(
                "geweigerd: identiteit niet vast te stellen (art. 12 lid 6)",
                "refused: identity could not be established (Art. 12(6))",
            ),
            (Outcome::RefusedUnfounded, _) => lang.pick(
                "geweigerd: kennelijk ongegrond of buitensporig (art. 12 lid 5)",
                "refused: manifestly unfounded or excessive (Art. 12(5))",
            ),
            (Outcome::RefusedObligation, _) => lang.pick(
                "geweigerd: wettelijke plicht om te bewaren (art. 17 lid 3)",
                "refused: a legal obligation to keep the data (Art. 17(3))",
            ),
            (Outcome::Withdrawn, _) => lang.pick("ingetrokken door de persoon", "withdrawn by the person"),
        }
    }
}

choice_enum!(AnswerChannel, "answer_by", {
    Post => "post",
    Link => "link",
    Email => "email",
    Phone => "phone",
});

impl AnswerChannel {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            AnswerChannel::Post => lang.pick("per post", "by post"),
            AnswerChannel::Link => lang.pick("via een eenmalige downloadlink", "through a one-time download link"),
            AnswerChannel::Email => lang.pick("per e-mail (zonder persoonsgegevens)", "by e-mail (no personal data)"),
            AnswerChannel::Phone => lang.pick("telefonisch", "by phone"),
        }
    }
}

/// The person asking and what they ask, as the owner records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectRequest {
    pub kind: RequestKind,
    pub received_on: Date,
    pub identity_check: IdentityCheck,
    pub name: Text,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// One line: street and number, postal code, city.
    pub address: Option<Text>,
    /// A handle the person names, if any (how a domain contact knows us).
    pub handle: Option<Text>,
    /// What is asked, in a sentence; no free-text file about the person.
    pub summary: Text,
}

pub const REQUEST_FIELDS: &[&str] =
    &["kind", "received_on", "identity_check", "name", "email", "phone", "address", "handle", "summary"];

/// The personal ones among [`REQUEST_FIELDS`]: sealed in storage.
pub const REQUESTER_FIELDS: &[&str] = &["name", "email", "phone", "address", "handle", "summary"];

impl SubjectRequest {
    /// Reads a recorded request; `today` bounds the day it came in.
    pub fn from_fields(input: &Fields, today: Date) -> Result<SubjectRequest, FieldErrors> {
        let mut f = Form::new(input, REQUEST_FIELDS);
        let kind = f.required("kind", RequestKind::parse);
        let received_on = f.required("received_on", crate::model::parse_date);
        let identity_check = f.required("identity_check", IdentityCheck::parse);
        let name = f.required("name", Text::parse);
        let email = f.optional("email", Email::parse);
        let phone = f.optional("phone", Phone::parse);
        let address = f.optional("address", Text::parse);
        let handle = f.optional("handle", crate::model::parse_handle);
        let summary = f.required("summary", Text::parse);
        if received_on.is_some_and(|d| d > today) {
            f.error(
                "received_on",
                Invalid::new(
                    "date",
                    "in_future",
                    "Een verzoek kan niet na vandaag binnengekomen zijn.",
                    "A request cannot have come in after today.",
                ),
            );
        }
        if !f.is_present("email") && !f.is_present("address") {
            f.error(
                "address",
                Invalid::new(
                    "request",
                    "no_way_to_answer",
                    "Vul een postadres of een e-mailadres in: het antwoord moet de persoon bereiken.",
                    "Give a postal address or an e-mail address: the answer must reach the person.",
                ),
            );
        }
        f.finish(|| {
            Some(SubjectRequest {
                kind: kind?,
                received_on: received_on?,
                identity_check: identity_check?,
                name: name?,
                email,
                phone,
                address,
                handle,
                summary: summary?,
            })
        })
    }

    /// The sealed part, field name → text.
    pub fn requester_fields(&self) -> Fields {
        let mut f = Fields::new();
        f.insert("name".into(), self.name.to_string());
        f.insert("summary".into(), self.summary.to_string());
        if let Some(e) = &self.email {
            f.insert("email".into(), e.as_str().to_string());
        }
        if let Some(p) = &self.phone {
            f.insert("phone".into(), p.as_str().to_string());
        }
        if let Some(a) = &self.address {
            f.insert("address".into(), a.to_string());
        }
        if let Some(h) = &self.handle {
            f.insert("handle".into(), h.to_string());
        }
        f
    }

    pub fn due_on(&self) -> Date {
        first_deadline(self.received_on)
    }
}

/// One month after `received` (Art. 12(3)): the same date a month later, or
/// the month's last day when it has no such date (31 January → 28 or 29
/// February). The law moves a deadline on a weekend or holiday to the next
/// working day; this date never does, so meeting it always meets the law.
pub fn first_deadline(received: Date) -> Date {
    months_after(received, 1)
}

/// The deadline extended by two further months (Art. 12(3)): three months
/// after the request came in, by the same rule.
pub fn extended_deadline(received: Date) -> Date {
    months_after(received, 3)
}

fn months_after(date: Date, months: u8) -> Date {
    let index = date.month() as u8 - 1 + months;
    let year = date.year() + i32::from(index / 12);
    let month = Month::try_from(index % 12 + 1).expect("1..=12");
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).expect("a day within its month")
}

/// Why an extension is refused: it must be told within the first month
/// (Art. 12(3)) and comes once.
pub fn check_extension(received: Date, already_extended: bool, today: Date) -> Result<Date, Invalid> {
    if already_extended {
        return Err(Invalid::new(
            "extension",
            "already_extended",
            "De termijn is al verlengd; de wet staat één verlenging van twee maanden toe.",
            "The deadline was extended already; the law allows one extension of two months.",
        ));
    }
    if today > first_deadline(received) {
        return Err(Invalid::new(
            "extension",
            "too_late",
            format!(
                "Verlengen kan alleen binnen de eerste maand (tot en met {}).",
                format_date(first_deadline(received))
            ),
            format!(
                "An extension must be given within the first month (up to and including {}).",
                format_date(first_deadline(received))
            ),
        ));
    }
    Ok(extended_deadline(received))
}

/// Whether `outcome` may be sent `by` for a request of `kind`. The data of
/// an access request never goes by e-mail (A10), and a refusal or a request
/// answered with nothing needs no download.
pub fn check_answer(kind: RequestKind, outcome: Outcome, by: AnswerChannel) -> Result<(), Invalid> {
    let carries_data = kind == RequestKind::Access && outcome == Outcome::Done;
    match (carries_data, by) {
        (true, AnswerChannel::Email | AnswerChannel::Phone) => Err(Invalid::new(
            "answer_by",
            "data_not_by_email",
            "Gegevens gaan per post of via een eenmalige downloadlink, nooit per e-mail of telefoon (A10).",
            "Data goes by post or through a one-time download link, never by e-mail or phone (A10).",
        )),
        (false, AnswerChannel::Link) => Err(Invalid::new(
            "answer_by",
            "nothing_to_download",
            "Een downloadlink is er alleen voor de gegevens bij een inzageverzoek.",
            "A download link is only for the data of an access request.",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn valid() -> Vec<(&'static str, &'static str)> {
        vec![
            ("kind", "access"),
            ("received_on", "2026-03-02"),
            ("identity_check", "known_email"),
            ("name", "  Jan   de Vries "),
            ("email", "Jan@Example.NL"),
            ("summary", "Wil weten welke gegevens over hem zijn vastgelegd"),
        ]
    }

    #[test]
    fn a_month_is_the_same_date_a_month_later_or_the_months_last_day() {
        assert_eq!(first_deadline(date!(2026 - 03 - 02)), date!(2026 - 04 - 02));
        assert_eq!(first_deadline(date!(2026 - 01 - 31)), date!(2026 - 02 - 28));
        assert_eq!(first_deadline(date!(2028 - 01 - 31)), date!(2028 - 02 - 29));
        assert_eq!(first_deadline(date!(2026 - 12 - 15)), date!(2027 - 01 - 15));
        assert_eq!(extended_deadline(date!(2026 - 11 - 30)), date!(2027 - 02 - 28));
        assert_eq!(extended_deadline(date!(2026 - 03 - 02)), date!(2026 - 06 - 02));
    }

    #[test]
    fn an_extension_comes_once_and_within_the_first_month() {
        let received = date!(2026 - 03 - 02);
        assert_eq!(check_extension(received, false, date!(2026 - 04 - 02)), Ok(date!(2026 - 06 - 02)));
        assert_eq!(check_extension(received, false, date!(2026 - 04 - 03)).unwrap_err().rule, "too_late");
        assert_eq!(check_extension(received, true, date!(2026 - 03 - 10)).unwrap_err().rule, "already_extended");
    }

    #[test]
    fn a_request_is_read_with_every_problem_named() {
        let today = date!(2026 - 03 - 05);
        let r = SubjectRequest::from_fields(&form(&valid()), today).unwrap();
        assert_eq!(r.name.as_str(), "Jan de Vries");
        assert_eq!(r.email.as_ref().unwrap().as_str(), "Jan@example.nl", "the domain lower-cased, the mailbox kept");
        assert_eq!(r.due_on(), date!(2026 - 04 - 02));

        let bad = form(&[
            ("kind", "complaint"),
            ("received_on", "2026-03-06"),
            ("identity_check", "guess"),
            ("name", ""),
            ("summary", "x"),
            ("colour", "red"),
        ]);
        let errors = SubjectRequest::from_fields(&bad, today).unwrap_err();
        let rules: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.field.as_str(), e.error.rule)).collect();
        for expected in [
            ("colour", "unknown_field"),
            ("kind", "choice"),
            ("identity_check", "choice"),
            ("name", "required"),
            ("received_on", "in_future"),
            ("address", "no_way_to_answer"),
        ] {
            assert!(rules.contains(&expected), "{expected:?} missing from {rules:?}");
        }
    }

    #[test]
    fn data_goes_by_post_or_link_and_a_link_carries_only_data() {
        use AnswerChannel::*;
        assert!(check_answer(RequestKind::Access, Outcome::Done, Post).is_ok());
        assert!(check_answer(RequestKind::Access, Outcome::Done, Link).is_ok());
        assert_eq!(check_answer(RequestKind::Access, Outcome::Done, Email).unwrap_err().rule, "data_not_by_email");
        assert!(check_answer(RequestKind::Erasure, Outcome::Done, Email).is_ok());
        assert!(check_answer(RequestKind::Access, Outcome::NothingHeld, Email).is_ok());
        assert_eq!(check_answer(RequestKind::Correction, Outcome::Done, Link).unwrap_err().rule, "nothing_to_download");
    }
}
