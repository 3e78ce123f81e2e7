//! E-mail addresses: an RFC 5321/5322 addr-spec restricted to the forms mail
//! systems actually deliver to, with internationalised domains (IDNA/UTS #46)
//! and UTF-8 local parts (RFC 6531). Invisible characters are refused, and so
//! are a local part or a domain label that mixes scripts (UTS #39), such as a
//! Cyrillic "а" among Latin letters: that only serves to pass for another
//! address.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_security::MixedScript;

use super::Invalid;

const KIND: &str = "email";

/// RFC 5321: 256 octets for the path, less the angle brackets.
const MAX_LEN: usize = 254;
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

/// An e-mail address, stored as `local@domain` with the local part as given
/// (its case can matter to the receiving server) and the domain lower-cased
/// in Unicode form (`Jan.Jansen@bücher.nl`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email {
    text: String,
    /// Byte offset of the `@` in `text`.
    at: usize,
    /// The domain in ASCII (punycode), derived from `text`.
    ascii_domain: String,
}

text_value!(Email);

impl Email {
    /// Accepts an address with surrounding whitespace, a domain in any case,
    /// in Unicode or punycode.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = input.trim();
        if text.is_empty() {
            return Err(refuse("empty", "Vul een e-mailadres in.", "Enter an e-mail address."));
        }
        // Bounds the IDNA work; the exact limit is checked on the ASCII form below.
        if text.len() > 4 * MAX_LEN {
            return Err(too_long());
        }
        // Before IDNA, which would quietly drop some of them from the domain.
        super::check_visible(KIND, text, super::Lines::One)?;
        if text.contains('"') {
            return Err(refuse(
                "quoted",
                "Adressen met aanhalingstekens worden niet ondersteund.",
                "Addresses with quotation marks are not supported.",
            ));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(refuse(
                "whitespace",
                "Een e-mailadres bevat geen spaties.",
                "An e-mail address contains no spaces.",
            ));
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(refuse(
                "missing_at",
                "Een e-mailadres moet een @ bevatten, zoals naam@voorbeeld.nl.",
                "An e-mail address must contain an @, like name@example.com.",
            ));
        };
        if local.contains('@') {
            return Err(refuse(
                "multiple_at",
                "Een e-mailadres bevat maar één @.",
                "An e-mail address contains only one @.",
            ));
        }
        check_local(local)?;
        let ascii_domain = to_ascii_domain(domain)?;
        if local.len() + 1 + ascii_domain.len() > MAX_LEN {
            return Err(too_long());
        }
        let (unicode_domain, result) =
            Uts46::new().to_unicode(ascii_domain.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow);
        if result.is_err() {
            return Err(domain_invalid());
        }
        if !unicode_domain.split('.').all(|label| label.is_single_script()) {
            return Err(refuse(
                "domain_mixed_script",
                "Een deel van de domeinnaam mengt letters uit verschillende schriften (zoals Latijnse en Cyrillische); zo lijkt het op een andere naam.",
                "A part of the domain name mixes letters of different scripts (such as Latin and Cyrillic), which makes it pass for another name.",
            ));
        }
        Ok(Email { text: format!("{local}@{unicode_domain}"), at: local.len(), ascii_domain })
    }

    /// `local@domain`, the domain in lower-case Unicode.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The address with the domain in ASCII (punycode), for SMTP. The local
    /// part is unchanged, so it is pure ASCII only if the local part is.
    pub fn ascii(&self) -> String {
        format!("{}@{}", self.local_part(), self.ascii_domain)
    }

    /// The part before the `@`, as given.
    pub fn local_part(&self) -> &str {
        &self.text[..self.at]
    }

    /// The domain in lower-case Unicode form.
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }
}

/// Dot-atom only: quoted strings and comments are legal but rare, and many
/// systems mishandle them.
fn check_local(local: &str) -> Result<(), Invalid> {
    if local.is_empty() {
        return Err(refuse("local_empty", "Het deel voor de @ ontbreekt.", "The part before the @ is missing."));
    }
    if local.len() > MAX_LOCAL {
        return Err(refuse(
            "local_too_long",
            "Het deel voor de @ is langer dan 64 tekens.",
            "The part before the @ is longer than 64 characters.",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(refuse(
            "local_dots",
            "Het deel voor de @ mag niet met een punt beginnen of eindigen en geen twee punten achter elkaar bevatten.",
            "The part before the @ may not start or end with a dot, nor contain two dots in a row.",
        ));
    }
    if !local.is_single_script() {
        return Err(refuse(
            "local_mixed_script",
            "Het deel voor de @ mengt letters uit verschillende schriften (zoals Latijnse en Cyrillische); zo lijkt het op een ander adres.",
            "The part before the @ mixes letters of different scripts (such as Latin and Cyrillic), which makes it pass for another address.",
        ));
    }
    if !local.chars().all(local_char_allowed) {
        return Err(refuse(
            "local_character",
            "Het deel voor de @ bevat een teken dat niet is toegestaan; gebruik letters, cijfers en bijvoorbeeld . - _ +.",
            "The part before the @ contains a character that is not allowed; use letters, digits and for example . - _ +.",
        ));
    }
    Ok(())
}

fn local_char_allowed(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    }
    // RFC 6531 allows any non-ASCII character; invisible ones only serve to
    // deceive (refused before this with their own reason).
    !c.is_control() && !super::is_invisible(c) && !super::is_bidi_control(c)
}

fn to_ascii_domain(domain: &str) -> Result<String, Invalid> {
    if domain.is_empty() {
        return Err(refuse("domain_empty", "Het domein na de @ ontbreekt.", "The domain after the @ is missing."));
    }
    if domain.starts_with('[') {
        return Err(refuse(
            "domain_literal",
            "Een IP-adres als domein wordt niet ondersteund; gebruik een domeinnaam.",
            "An IP address as the domain is not supported; use a domain name.",
        ));
    }
    // Our own checks below give clearer reasons than the deny list or the
    // hyphen and length options would.
    let ascii = Uts46::new()
        .to_ascii(domain.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow, DnsLength::Ignore)
        .map_err(|_| domain_invalid())?
        .into_owned();
    if ascii.len() > MAX_DOMAIN {
        return Err(refuse(
            "domain_too_long",
            "De domeinnaam is langer dan 253 tekens.",
            "The domain name is longer than 253 characters.",
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(refuse(
            "domain_empty_label",
            "De domeinnaam mag niet met een punt beginnen of eindigen en geen twee punten achter elkaar bevatten.",
            "The domain name may not start or end with a dot, nor contain two dots in a row.",
        ));
    }
    if labels.len() < 2 {
        return Err(refuse(
            "domain_no_dot",
            "De domeinnaam moet een punt bevatten, zoals voorbeeld.nl.",
            "The domain name must contain a dot, like example.com.",
        ));
    }
    for label in &labels {
        if label.len() > MAX_LABEL {
            return Err(refuse(
                "domain_label_length",
                "Een deel van de domeinnaam (tussen de punten) is langer dan 63 tekens.",
                "A part of the domain name (between the dots) is longer than 63 characters.",
            ));
        }
        if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(refuse(
                "domain_character",
                "De domeinnaam bevat een teken dat niet is toegestaan; gebruik letters, cijfers en koppeltekens.",
                "The domain name contains a character that is not allowed; use letters, digits and hyphens.",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(refuse(
                "domain_hyphen",
                "Een deel van de domeinnaam mag niet met een koppelteken beginnen of eindigen.",
                "A part of the domain name may not start or end with a hyphen.",
            ));
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(refuse(
            "domain_tld",
            "De extensie van de domeinnaam (zoals .nl) kan niet uit alleen cijfers bestaan.",
            "The top-level domain (like .com) cannot consist of digits only.",
        ));
    }
    Ok(ascii)
}

fn domain_invalid() -> Invalid {
    refuse(
        "domain_invalid",
        "De domeinnaam bevat tekens of tekencombinaties die in een domeinnaam niet zijn toegestaan.",
        "The domain name contains characters, or combinations of them, that are not allowed in a domain name.",
    )
}

fn too_long() -> Invalid {
    refuse(
        "too_long",
        "Een e-mailadres is hoogstens 254 tekens lang.",
        "An e-mail address is at most 254 characters long.",
    )
}

fn refuse(rule: &'static str, nl: &str, en: &str) -> Invalid {
    Invalid::new(KIND, rule, nl, en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::assert_refused;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises() {
        for (input, normalised, ascii) in [
            ("info@example.nl", "info@example.nl", "info@example.nl"),
            ("  Jan.Jansen@Example.NL ", "Jan.Jansen@example.nl", "Jan.Jansen@example.nl"),
            (
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
            ),
            ("o'brien_x-y@example.ie", "o'brien_x-y@example.ie", "o'brien_x-y@example.ie"),
            ("a!#$%&*/=?^`{|}~@example.com", "a!#$%&*/=?^`{|}~@example.com", "a!#$%&*/=?^`{|}~@example.com"),
            ("info@Bücher.DE", "info@bücher.de", "info@xn--bcher-kva.de"),
            ("info@xn--bcher-kva.de", "info@bücher.de", "info@xn--bcher-kva.de"),
            ("info@BÜCHER.de", "info@bücher.de", "info@xn--bcher-kva.de"),
            ("josé@example.es", "josé@example.es", "josé@example.es"),
            ("用户@例子.中国", "用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
            ("x@1.example", "x@1.example", "x@1.example"),
            ("x@my-host.example", "x@my-host.example", "x@my-host.example"),
            // Full-width letters and capitals map to their plain lower-case form (UTS #46).
            ("info@ＢÜＣＨＥＲ.de", "info@bücher.de", "info@xn--bcher-kva.de"),
            // One script per part: Cyrillic throughout, or Japanese with its three scripts.
            ("иван@пример.рф", "иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"),
            ("やまだ@テスト.jp", "やまだ@テスト.jp", "やまだ@xn--zckzah.jp"),
        ] {
            let email = Email::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(email.as_str(), normalised, "{input}");
            assert_eq!(email.to_string(), normalised);
            assert_eq!(email.ascii(), ascii, "{input}");
        }
    }

    #[test]
    fn parts() {
        let email = Email::parse("Jan@Bücher.de").unwrap();
        assert_eq!(email.local_part(), "Jan");
        assert_eq!(email.domain(), "bücher.de");
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("jan jansen@example.nl", "whitespace"),
            ("jan@example .nl", "whitespace"),
            ("\"jan jansen\"@example.nl", "quoted"),
            ("\"jan\"@example.nl", "quoted"),
            ("jan.example.nl", "missing_at"),
            ("jan@piet@example.nl", "multiple_at"),
            ("@example.nl", "local_empty"),
            (".jan@example.nl", "local_dots"),
            ("jan.@example.nl", "local_dots"),
            ("jan..jansen@example.nl", "local_dots"),
            ("jan(x)@example.nl", "local_character"),
            ("jan,piet@example.nl", "local_character"),
            ("jan\\x@example.nl", "local_character"),
            ("ja\u{200B}n@example.nl", "invisible_character"),
            ("jan@exa\u{200B}mple.nl", "invisible_character"),
            ("jan\u{202E}@example.nl", "bidi_control"),
            ("jan@example.nl\u{202E}", "bidi_control"),
            ("jan\u{7}@example.nl", "control_character"),
            // A Cyrillic "а" (U+0430) among Latin letters.
            ("j\u{430}n@example.nl", "local_mixed_script"),
            ("jan@p\u{430}ypal.nl", "domain_mixed_script"),
            ("jan@xn--pypal-4ve.nl", "domain_mixed_script"),
            ("jan@", "domain_empty"),
            ("jan@[192.0.2.1]", "domain_literal"),
            ("jan@localhost", "domain_no_dot"),
            ("jan@example..nl", "domain_empty_label"),
            ("jan@.example.nl", "domain_empty_label"),
            ("jan@example.nl.", "domain_empty_label"),
            ("jan@exa_mple.nl", "domain_character"),
            ("jan@exa!mple.nl", "domain_character"),
            ("jan@-example.nl", "domain_hyphen"),
            ("jan@example-.nl", "domain_hyphen"),
            ("jan@192.0.2.1", "domain_tld"),
            ("jan@example.123", "domain_tld"),
            ("jan@xn--a.nl", "domain_invalid"),
            ("jan@exa\u{FFFF}mple.nl", "domain_invalid"),
        ];
        for (input, rule) in cases {
            assert_refused(Email::parse(input), input, KIND, rule);
        }
        let long_local = format!("{}@example.nl", "a".repeat(65));
        assert_refused(Email::parse(&long_local), &long_local, KIND, "local_too_long");
        let ok_local = format!("{}@example.nl", "a".repeat(64));
        assert!(Email::parse(&ok_local).is_ok());
        let long_label = format!("jan@{}.nl", "a".repeat(64));
        assert_refused(Email::parse(&long_label), &long_label, KIND, "domain_label_length");
        let long_domain = format!("jan@{}nl", "abcdefghi.".repeat(26));
        assert_refused(Email::parse(&long_domain), &long_domain, KIND, "domain_too_long");
        // 64 + 1 + 190 = 255 octets.
        let long_total = format!("{}@{}abcdefghij", "a".repeat(64), "abcdefghi.".repeat(18));
        assert_refused(Email::parse(&long_total), &long_total, KIND, "too_long");
        let max_total = format!("{}@{}abcdefghi", "a".repeat(64), "abcdefghi.".repeat(18));
        assert_eq!(Email::parse(&max_total).unwrap().as_str().len(), MAX_LEN);
        let huge = "a".repeat(5000);
        assert_refused(Email::parse(&huge), &huge, KIND, "too_long");
    }

    #[test]
    fn serde_round_trip() {
        let email = Email::parse("Jan@Bücher.DE").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, "\"Jan@bücher.de\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), email);
        assert!(serde_json::from_str::<Email>("\"jan@localhost\"").is_err());
    }

    fn valid_email() -> impl Strategy<Value = String> {
        // One script per local part: Latin, or Han.
        let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}|[a-zéü]{1,5}";
        let latin = prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join("."));
        let han = prop::collection::vec("[用户例子]{1,3}", 1..3).prop_map(|atoms| atoms.join("."));
        let local = prop_oneof![latin, han];
        // Hyphens in the third and fourth place are reserved (RFC 5891 4.2.3.1):
        // "xn--" starts an A-label, which must then be valid Punycode.
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?|[a-zäöü]{1,8}"
            .prop_filter("no reserved label", |l: &String| l.get(2..4) != Some("--"));
        let domain = (prop::collection::vec(label, 1..4), "[a-zA-Z]{2,6}")
            .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")));
        (local, domain).prop_map(|(local, domain)| format!("{local}@{domain}"))
    }

    proptest! {
        #[test]
        fn generated_addresses_parse_and_round_trip(input in valid_email()) {
            let email = Email::parse(&input).unwrap();
            let (local, domain) = input.rsplit_once('@').unwrap();
            prop_assert_eq!(email.local_part(), local);
            prop_assert_eq!(email.domain(), domain.to_lowercase());
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(Email::parse(&email.ascii()).unwrap(), email.clone());
            let json = serde_json::to_string(&email).unwrap();
            prop_assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), email);
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
            }
        }

        #[test]
        fn never_panics_on_address_like_input(input in "[a-zA-Z0-9.@ü\u{200B}_-]{0,12}@[a-zA-Z0-9.ü_-]{0,12}(\\.[a-z0-9-]{0,4})?") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
            }
        }
    }
}
