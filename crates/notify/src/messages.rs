//! The messages custodian sends, in Dutch and English.
//!
//! Every message is one of a closed set of kinds whose only variable parts are
//! typed: the addressee's name (the one piece of personal data a message may hold
//! about a private person, A10), a login name or an activation code (the two
//! credentials, each on its own channel, A11), and the company's own name and
//! portal address. Anything else about a customer is in the portal, and the
//! message links there instead.
//!
//! A11 is built into the types: a login name only exists in an [`EmailMessage`]
//! and an activation code only in an [`SmsMessage`], so the two never travel
//! together.

use std::fmt;

use custodian_domain::Lang;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::NotifyError;

/// Who sends: the hosting company's name and its customer portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// The company name as customers know it (`Voorbeeld Hosting B.V.`).
    pub company: String,
    /// The customer portal's address, which every message links to
    /// (`https://portaal.voorbeeld.nl/`). Must be `https://`.
    pub portal_url: String,
}

impl Branding {
    pub fn validate(&self) -> Result<(), NotifyError> {
        let company = self.company.trim();
        if company.is_empty() || company.chars().count() > 100 || company.chars().any(char::is_control) {
            return Err(NotifyError::Config("branding.company: 1 to 100 characters on one line".into()));
        }
        let url = self.portal_url.trim();
        if !is_portal_link(url) {
            return Err(NotifyError::Config(
                "branding.portal_url: an https:// address (http:// only on this machine, for development)".into(),
            ));
        }
        Ok(())
    }
}

/// A link to our own portal: `https://`, or `http://` to a loopback address
/// while developing. No whitespace or control characters.
fn is_portal_link(url: &str) -> bool {
    let host = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| rest.starts_with(h)) => rest,
        _ => return false,
    };
    !host.is_empty() && !host.starts_with('/') && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A single-use password-reset link into the portal. Wiped from memory when
/// dropped; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ResetLink(Zeroizing<String>);

impl ResetLink {
    pub fn parse(url: &str) -> Result<ResetLink, NotifyError> {
        if !is_portal_link(url.trim()) {
            return Err(NotifyError::Invalid("a reset link: an https:// address of the portal".into()));
        }
        Ok(ResetLink(Zeroizing::new(url.trim().to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetLink(..)")
    }
}

/// The addressee's name for the greeting: on one line, at most 100 characters,
/// no `@` (so no address can pass as a name).
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<PersonName, NotifyError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(|c| c.is_control() || c == '@') {
            return Err(NotifyError::Invalid("a name for a greeting: 1 to 100 characters, one line, no @".into()));
        }
        Ok(PersonName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(..)")
    }
}

/// A login name (A11: sent by e-mail only): one line, no spaces, at most 254
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    pub fn parse(s: &str) -> Result<LoginName, NotifyError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(NotifyError::Invalid("a login name: 1 to 254 characters without spaces".into()));
        }
        Ok(LoginName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginName(..)")
    }
}

/// A one-time activation code (A11: sent by SMS only): 4 to 16 ASCII letters
/// and digits. Wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(Zeroizing<String>);

impl ActivationCode {
    pub fn parse(s: &str) -> Result<ActivationCode, NotifyError> {
        let s = s.trim();
        if !(4..=16).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(NotifyError::Invalid("an activation code: 4 to 16 letters and digits".into()));
        }
        Ok(ActivationCode(Zeroizing::new(s.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(..)")
    }
}

/// What a portal notice is about. The message names the topic only; the
/// details are in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeTopic {
    /// A new invoice is ready.
    Invoice,
    /// The terms or the data processing agreement changed.
    Terms,
    /// News about a service (maintenance, a change, an expiry).
    Service,
    /// A change to the account (details changed, a login).
    Account,
}

impl NoticeTopic {
    fn code(self) -> &'static str {
        match self {
            NoticeTopic::Invoice => "portal_notice.invoice",
            NoticeTopic::Terms => "portal_notice.terms",
            NoticeTopic::Service => "portal_notice.service",
            NoticeTopic::Account => "portal_notice.account",
        }
    }

    fn subject(self, lang: Lang) -> &'static str {
        match self {
            NoticeTopic::Invoice => {
                lang.pick("Er staat een nieuwe factuur voor u klaar", "A new invoice is ready for you")
            }
            NoticeTopic::Terms => lang.pick("Onze voorwaarden zijn gewijzigd", "Our terms have changed"),
            NoticeTopic::Service => lang.pick("Bericht over uw dienst", "News about your service"),
            NoticeTopic::Account => lang.pick("Wijziging in uw account", "A change to your account"),
        }
    }

    fn sentence(self, lang: Lang) -> &'static str {
        match self {
            NoticeTopic::Invoice => lang.pick(
                "Er staat een nieuwe factuur voor u klaar in het klantenportaal.",
                "A new invoice is ready for you in the customer portal.",
            ),
            NoticeTopic::Terms => lang.pick(
                "Onze algemene voorwaarden of verwerkersovereenkomst zijn gewijzigd. De nieuwe tekst en wat er verandert, leest u in het klantenportaal.",
                "Our terms or data processing agreement have changed. The new text and what changes are in the customer portal.",
            ),
            NoticeTopic::Service => lang.pick(
                "Er is een bericht over een van uw diensten. U leest het in het klantenportaal.",
                "There is news about one of your services. You can read it in the customer portal.",
            ),
            NoticeTopic::Account => lang.pick(
                "Er is iets gewijzigd in uw account. Wat er gewijzigd is, ziet u in het klantenportaal. Herkent u de wijziging niet, neem dan contact met ons op.",
                "Something changed in your account. What changed is shown in the customer portal. If you do not recognise the change, please contact us.",
            ),
        }
    }
}

/// The e-mails.
#[derive(Debug, Clone)]
pub enum EmailMessage {
    /// The login name of a new account (A11); the activation code follows by SMS.
    LoginName { name: Option<PersonName>, login: LoginName },
    /// Something new waits in the portal.
    PortalNotice { name: Option<PersonName>, topic: NoticeTopic },
    /// A single-use link (valid one hour) to choose a new password. No password
    /// ever travels in a message.
    PasswordReset { name: Option<PersonName>, link: ResetLink },
    /// The customer's data is erased on `on` (the retention schedule, M9); the
    /// portal lets them stay a customer or download their data first.
    ErasureNotice { name: Option<PersonName>, on: time::Date },
    /// An invoice or credit note, its PDF attached (A12: by e-mail on request,
    /// to business customers only, A9/A10). The text names the number, the
    /// amount and the due date; who it is billed to is in the attachment.
    Invoice { name: Option<PersonName>, number: String, total_cents: i64, due_on: time::Date, credit_note: bool },
    /// Checks the mail settings.
    Test,
}

/// The text messages.
#[derive(Debug, Clone)]
pub enum SmsMessage {
    /// The one-time activation code of a new account (A11); the login name came by e-mail.
    ActivationCode { code: ActivationCode },
    /// Checks the SMS settings.
    Test,
}

/// A rendered e-mail.
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
}

impl fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RenderedEmail { .. }")
    }
}

fn greeting(name: Option<&PersonName>, lang: Lang) -> String {
    match name {
        Some(n) => format!("{} {},", lang.pick("Beste", "Dear"), n.as_str()),
        None => lang.pick("Beste klant,", "Dear customer,").to_string(),
    }
}

/// `4 januari 2027` or `4 January 2027`.
fn closing(brand: &Branding, lang: Lang) -> String {
    format!(
        "{}\n{}\n\n-- \n{}\n{}\n",
        lang.pick("Met vriendelijke groet,", "Kind regards,"),
        brand.company.trim(),
        lang.pick(
            "Dit is een automatisch bericht. Uw gegevens, facturen en berichten vindt u in het klantenportaal:",
            "This is an automatic message. Your details, invoices and messages are in the customer portal:",
        ),
        brand.portal_url.trim(),
    )
}

impl EmailMessage {
    /// The kind code stored in the outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            EmailMessage::LoginName { .. } => "login_name",
            EmailMessage::PortalNotice { topic, .. } => topic.code(),
            EmailMessage::PasswordReset { .. } => "password_reset",
            EmailMessage::ErasureNotice { .. } => "erasure_notice",
            EmailMessage::Invoice { credit_note: false, .. } => "invoice",
            EmailMessage::Invoice { credit_note: true, .. } => "invoice.credit_note",
            EmailMessage::Test => "test.email",
        }
    }

    pub fn render(&self, lang: Lang, brand: &Branding) -> RenderedEmail {
        let company = brand.company.trim();
        let portal = brand.portal_url.trim();
        match self {
            EmailMessage::LoginName { name, login } => RenderedEmail {
                subject: format!("{} {company}", lang.pick("Uw inlognaam voor", "Your login name for")),
                text: format!(
                    "{}\n\n{}\n\n{} {}\n\n{}\n{portal}\n\n{}\n\n{}",
                    greeting(name.as_ref(), lang),
                    lang.pick(
                        "Er is een account voor u aangemaakt in ons klantenportaal.",
                        "An account has been created for you in our customer portal.",
                    ),
                    lang.pick("Uw inlognaam:", "Your login name:"),
                    login.as_str(),
                    lang.pick(
                        "De activeringscode krijgt u apart, per sms. Met de inlognaam en de code activeert u uw account op:",
                        "You receive the activation code separately, by text message. With the login name and the code you activate your account at:",
                    ),
                    lang.pick(
                        "Verwachtte u dit bericht niet? Dan kunt u het negeren; zonder de code kan niemand het account gebruiken.",
                        "Did you not expect this message? Then you can ignore it; without the code nobody can use the account.",
                    ),
                    closing(brand, lang),
                ),
            },
            EmailMessage::PortalNotice { name, topic } => RenderedEmail {
                subject: format!("{} ({company})", topic.subject(lang)),
                text: format!(
                    "{}\n\n{}\n\n{}\n{portal}\n\n{}",
                    greeting(name.as_ref(), lang),
                    topic.sentence(lang),
                    lang.pick("Log in op:", "Log in at:"),
                    closing(brand, lang),
                ),
            },
            EmailMessage::PasswordReset { name, link } => RenderedEmail {
                subject: format!("{} {company}", lang.pick("Nieuw wachtwoord kiezen voor", "Choose a new password for")),
                text: format!(
                    "{}\n\n{}\n\n{}\n\n{}\n\n{}",
                    greeting(name.as_ref(), lang),
                    lang.pick(
                        "Iemand vroeg om een nieuw wachtwoord voor uw account. Met deze link kiest u het, binnen een uur en één keer:",
                        "Someone asked for a new password for your account. This link lets you choose it, within one hour and once:",
                    ),
                    link.as_str(),
                    lang.pick(
                        "Vroeg u dit niet? Dan kunt u dit bericht negeren; uw wachtwoord blijft zoals het is.",
                        "Did you not ask for this? Then ignore this message; your password stays as it is.",
                    ),
                    closing(brand, lang),
                ),
            },
            EmailMessage::ErasureNotice { name, on } => RenderedEmail {
                subject: format!(
                    "{} ({company})",
                    lang.pick("Wij verwijderen binnenkort uw gegevens", "We will soon delete your data")
                ),
                text: format!(
                    "{}\n\n{} {}{}\n\n{}\n{portal}\n\n{}",
                    greeting(name.as_ref(), lang),
                    lang.pick(
                        "U neemt al geruime tijd geen dienst meer bij ons af. Zoals ons privacyprotocol voorschrijft, verwijderen wij daarom op",
                        "You have not used any of our services for some time. As our privacy protocol requires, we will therefore delete your customer data on",
                    ),
                    custodian_domain::model::long_date(*on, lang),
                    lang.pick(
                        " uw klantgegevens. Facturen bewaren wij zeven jaar, zoals de wet vraagt.",
                        ". Invoices are kept for seven years, as the law requires.",
                    ),
                    lang.pick(
                        "Wilt u klant blijven of uw gegevens eerst downloaden? Log dan vóór die datum in op:",
                        "Would you like to stay a customer, or download your data first? Then log in before that date at:",
                    ),
                    closing(brand, lang),
                ),
            },
            EmailMessage::Invoice { name, number, total_cents, due_on, credit_note } => {
                let (document, attached, payment, in_portal) = match credit_note {
                    false => (
                        lang.pick("Factuur", "Invoice"),
                        lang.pick("Bijgaand vindt u factuur", "Attached is invoice"),
                        format!(
                            " {} {}.",
                            lang.pick("Wij zien uw betaling graag tegemoet vóór", "We look forward to your payment before"),
                            custodian_domain::model::long_date(*due_on, lang),
                        ),
                        lang.pick(
                            "Het rekeningnummer staat op de factuur. U vindt de factuur ook in het klantenportaal:",
                            "The account number is on the invoice. The invoice is also in the customer portal:",
                        ),
                    ),
                    true => (
                        lang.pick("Creditnota", "Credit note"),
                        lang.pick("Bijgaand vindt u creditnota", "Attached is credit note"),
                        String::new(),
                        lang.pick("U vindt de creditnota ook in het klantenportaal:", "The credit note is also in the customer portal:"),
                    ),
                };
                RenderedEmail {
                    subject: format!("{document} {number} {} {company}", lang.pick("van", "from")),
                    text: format!(
                        "{}\n\n{attached} {number} {} {}.{payment}\n\n{in_portal}\n{portal}\n\n{}",
                        greeting(name.as_ref(), lang),
                        lang.pick("voor een bedrag van", "for an amount of"),
                        custodian_domain::model::format_amount(*total_cents, lang),
                        closing(brand, lang),
                    ),
                }
            }
            EmailMessage::Test => RenderedEmail {
                subject: format!("{} {company}", lang.pick("Testbericht van", "Test message from")),
                text: format!(
                    "{}\n\n{}\n\n{}",
                    lang.pick("Beste collega,", "Dear colleague,"),
                    lang.pick(
                        "Dit testbericht bevestigt dat custodian e-mail kan versturen.",
                        "This test message confirms that custodian can send e-mail.",
                    ),
                    closing(brand, lang),
                ),
            },
        }
    }
}

impl SmsMessage {
    /// The kind code stored in the outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            SmsMessage::ActivationCode { .. } => "activation_code",
            SmsMessage::Test => "test.sms",
        }
    }

    /// The text, kept short enough for one or two SMS parts.
    pub fn render(&self, lang: Lang, brand: &Branding) -> String {
        let company = brand.company.trim();
        match self {
            SmsMessage::ActivationCode { code } => format!(
                "{company}: {} {}. {}",
                lang.pick("uw activeringscode is", "your activation code is"),
                code.as_str(),
                lang.pick(
                    "Gebruik hem met de inlognaam uit onze e-mail. Deel deze code met niemand.",
                    "Use it with the login name from our e-mail. Never share this code.",
                ),
            ),
            SmsMessage::Test => {
                format!("{company}: {}", lang.pick("testbericht, sms werkt.", "test message, text messages work."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Branding {
        Branding { company: "Voorbeeld Hosting".into(), portal_url: "https://portaal.voorbeeld.nl/".into() }
    }

    #[test]
    fn credentials_travel_on_separate_channels() {
        let login = LoginName::parse("jan.jansen").unwrap();
        let mail = EmailMessage::LoginName { name: Some(PersonName::parse("Jan Jansen").unwrap()), login };
        let code = ActivationCode::parse("K7Q2M9").unwrap();
        let sms = SmsMessage::ActivationCode { code };
        for lang in [Lang::Nl, Lang::En] {
            let m = mail.render(lang, &brand());
            assert!(m.text.contains("jan.jansen") && m.text.contains("Jan Jansen"));
            assert!(m.text.contains("https://portaal.voorbeeld.nl/"));
            assert!(!m.text.contains("K7Q2M9"));
            let s = sms.render(lang, &brand());
            assert!(s.contains("K7Q2M9") && !s.contains("jan.jansen"));
            assert!(s.chars().count() <= 160, "{lang:?}: {} characters", s.chars().count());
        }
        assert_eq!(mail.kind(), "login_name");
        assert_eq!(sms.kind(), "activation_code");
    }

    #[test]
    fn notices_name_the_topic_only() {
        for topic in [NoticeTopic::Invoice, NoticeTopic::Terms, NoticeTopic::Service, NoticeTopic::Account] {
            let m = EmailMessage::PortalNotice { name: None, topic };
            let nl = m.render(Lang::Nl, &brand());
            let en = m.render(Lang::En, &brand());
            assert!(nl.text.starts_with("Beste klant,") && en.text.starts_with("Dear customer,"));
            assert_ne!(nl.subject, en.subject);
            assert!(m.kind().starts_with("portal_notice."));
        }
    }

    #[test]
    fn the_erasure_notice_names_the_day_and_links_to_the_portal_only() {
        let on = time::Date::from_calendar_date(2027, time::Month::January, 4).unwrap();
        let m = EmailMessage::ErasureNotice { name: Some(PersonName::parse("Anna Grutto").unwrap()), on };
        let nl = m.render(Lang::Nl, &brand());
        let en = m.render(Lang::En, &brand());
        assert!(nl.text.contains("4 januari 2027") && nl.text.starts_with("Beste Anna Grutto,"), "{}", nl.text);
        assert!(en.text.contains("4 January 2027") && en.text.contains("https://portaal.voorbeeld.nl/"), "{}", en.text);
        assert_eq!(m.kind(), "erasure_notice");
    }

    #[test]
    fn the_invoice_mail_names_number_amount_and_due_date() {
        let due_on = time::Date::from_calendar_date(2026, time::Month::December, 31).unwrap();
        let invoice = EmailMessage::Invoice {
            name: None,
            number: "2026-0042".into(),
            total_cents: 123_456,
            due_on,
            credit_note: false,
        };
        let nl = invoice.render(Lang::Nl, &brand());
        let en = invoice.render(Lang::En, &brand());
        assert_eq!(nl.subject, "Factuur 2026-0042 van Voorbeeld Hosting");
        assert!(nl.text.contains("€ 1.234,56") && nl.text.contains("31 december 2026"), "{}", nl.text);
        assert!(en.text.contains("€1,234.56") && en.text.contains("31 December 2026"), "{}", en.text);
        assert_eq!(invoice.kind(), "invoice");
        let credit = EmailMessage::Invoice {
            name: None,
            number: "2026-0043".into(),
            total_cents: -5950,
            due_on,
            credit_note: true,
        };
        let nl = credit.render(Lang::Nl, &brand());
        assert_eq!(nl.subject, "Creditnota 2026-0043 van Voorbeeld Hosting");
        assert!(nl.text.contains("€ -59,50") && !nl.text.contains("betaling"), "{}", nl.text);
        assert_eq!(credit.kind(), "invoice.credit_note");
    }

    #[test]
    fn typed_parts_refuse_what_does_not_belong() {
        assert!(PersonName::parse("jan@voorbeeld.nl").is_err());
        assert!(PersonName::parse("Jan\nJansen").is_err());
        assert!(LoginName::parse("a b").is_err());
        assert!(ActivationCode::parse("12").is_err());
        assert!(ActivationCode::parse("12 34 56").is_err());
        assert!(!format!("{:?}", ActivationCode::parse("123456").unwrap()).contains("123456"));
        assert!(Branding { company: "X".into(), portal_url: "http://x.nl".into() }.validate().is_err());
        assert!(Branding { company: "X".into(), portal_url: "http://127.0.0.1:8080".into() }.validate().is_ok());
        assert!(ResetLink::parse("https://portaal.voorbeeld.nl/reset/new?token=ab").is_ok());
        assert!(ResetLink::parse("https://evil .nl/").is_err());
        assert!(!format!("{:?}", ResetLink::parse("https://p.nl/x").unwrap()).contains("p.nl"));
        assert!(brand().validate().is_ok());
    }
}
