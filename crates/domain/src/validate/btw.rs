//! Dutch VAT identification numbers (btw-identificatienummer).

use super::{Invalid, compact, mod97};

const KIND: &str = "btw";

/// A Dutch VAT identification number, stored as `NL123456789B01`.
///
/// Valid when either check holds: the 11-test on the first nine digits (the
/// numbers derived from a BSN or RSIN before 2020) or mod-97 over the whole
/// number (the numbers issued to sole traders since 2020).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Btw(String);

text_value!(Btw);

impl Btw {
    /// Accepts `NL123456789B01` with or without `NL`, in any case, with
    /// spaces, dots or dashes anywhere (`nl 1234.56.789.b01`).
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = compact(input, &['.', '-']).to_ascii_uppercase();
        if text.is_empty() {
            return Err(refuse("empty", "Vul een btw-nummer in.", "Enter a VAT number."));
        }
        let b = text.as_bytes();
        let rest = if let Some(rest) = text.strip_prefix("NL") {
            rest
        } else if b.len() >= 2 && b[..2].iter().all(u8::is_ascii_alphabetic) {
            return Err(refuse(
                "country_not_nl",
                "Alleen Nederlandse btw-nummers (beginnend met NL) worden geaccepteerd.",
                "Only Dutch VAT numbers (starting with NL) are accepted.",
            ));
        } else {
            &text
        };
        let r = rest.as_bytes();
        if r.len() != 12
            || !r[..9].iter().all(u8::is_ascii_digit)
            || r[9] != b'B'
            || !r[10..].iter().all(u8::is_ascii_digit)
        {
            return Err(refuse(
                "format",
                "Een btw-nummer heeft de vorm NL123456789B01: NL, negen cijfers, de letter B en twee cijfers.",
                "A Dutch VAT number looks like NL123456789B01: NL, nine digits, the letter B and two digits.",
            ));
        }
        if r[..9].iter().all(|&d| d == b'0') {
            return Err(refuse(
                "all_zero",
                "Een btw-nummer bestaat niet uit alleen nullen.",
                "A VAT number cannot consist of zeros only.",
            ));
        }
        let normalised = format!("NL{rest}");
        if !eleven_test(&r[..9]) && mod97(&normalised) != 1 {
            return Err(refuse(
                "checksum",
                "Het btw-nummer klopt niet: de controle (11-proef of mod-97) faalt. Controleer of alle cijfers goed zijn overgenomen.",
                "The VAT number is wrong: its check (11-test or mod-97) fails. Check that every digit was copied correctly.",
            ));
        }
        Ok(Btw(normalised))
    }

    /// `NL123456789B01`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Weights 9..=2 on the first eight digits; the sum mod 11 must equal the
/// ninth digit, so a remainder of 10 can never be valid.
fn eleven_test(digits: &[u8]) -> bool {
    let sum: u32 = digits[..8].iter().zip((2..=9).rev()).map(|(&d, w)| u32::from(d - b'0') * w).sum();
    sum % 11 == u32::from(digits[8] - b'0')
}

fn refuse(rule: &'static str, nl: &str, en: &str) -> Invalid {
    Invalid::new(KIND, rule, nl, en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::assert_refused;
    use proptest::prelude::*;

    // NL123456782B01: 11-test, 1*9+2*8+3*7+4*6+5*5+6*4+7*3+8*2 = 156, 156 mod 11 = 2.
    // NL000099998B57: the Belastingdienst's mod-97 example.
    // NL001234567B29: mod-97 only (digits chosen here, B-suffix computed).

    #[test]
    fn accepts_both_checks() {
        for (input, normalised) in [
            ("NL123456782B01", "NL123456782B01"),
            ("nl123456782b01", "NL123456782B01"),
            ("123456782B01", "NL123456782B01"),
            (" NL 1234.56.782.B01 ", "NL123456782B01"),
            ("NL-123456782-B-01", "NL123456782B01"),
            ("NL000099998B57", "NL000099998B57"),
            ("nl0000 99998 b57", "NL000099998B57"),
            ("NL001234567B29", "NL001234567B29"),
        ] {
            let btw = Btw::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(btw.as_str(), normalised);
            assert_eq!(btw.to_string(), normalised);
        }
    }

    #[test]
    fn the_test_values_pass_only_the_check_they_are_for() {
        assert!(eleven_test(b"123456782"));
        assert_ne!(mod97("NL123456782B01"), 1);
        assert_eq!(mod97("NL000099998B57"), 1);
        assert!(!eleven_test(b"000099998"));
        assert_eq!(mod97("NL001234567B29"), 1);
        assert!(!eleven_test(b"001234567"));
    }

    #[test]
    fn refusals() {
        assert_refused(Btw::parse(""), "", KIND, "empty");
        assert_refused(Btw::parse(" . "), " . ", KIND, "empty");
        assert_refused(Btw::parse("BE0123456749"), "BE0123456749", KIND, "country_not_nl");
        assert_refused(Btw::parse("DE123456789"), "DE123456789", KIND, "country_not_nl");
        assert_refused(Btw::parse("NL123456782"), "NL123456782", KIND, "format");
        assert_refused(Btw::parse("NL12345678B01"), "NL12345678B01", KIND, "format");
        assert_refused(Btw::parse("NL1234567820B01"), "NL1234567820B01", KIND, "format");
        assert_refused(Btw::parse("NL123456782X01"), "NL123456782X01", KIND, "format");
        assert_refused(Btw::parse("NL123456782B1"), "NL123456782B1", KIND, "format");
        assert_refused(Btw::parse("NL123456782B0A"), "NL123456782B0A", KIND, "format");
        assert_refused(Btw::parse("NL１２３456782B01"), "NL１２３456782B01", KIND, "format");
        assert_refused(Btw::parse("NL000000000B00"), "NL000000000B00", KIND, "all_zero");
        assert_refused(Btw::parse("NL123456783B01"), "NL123456783B01", KIND, "checksum");
        assert_refused(Btw::parse("NL000099998B58"), "NL000099998B58", KIND, "checksum");
        // First eight digits give remainder 10, which no ninth digit can match.
        assert_refused(Btw::parse("NL123456060B01"), "NL123456060B01", KIND, "checksum");
    }

    #[test]
    fn serde_round_trip() {
        let btw = Btw::parse("nl 123456782 b01").unwrap();
        let json = serde_json::to_string(&btw).unwrap();
        assert_eq!(json, "\"NL123456782B01\"");
        assert_eq!(serde_json::from_str::<Btw>(&json).unwrap(), btw);
        assert!(serde_json::from_str::<Btw>("\"NL123456783B01\"").is_err());
    }

    fn eleven_test_number() -> impl Strategy<Value = String> {
        ("[0-9]{8}", "[0-9]{2}").prop_filter_map("remainder 10", |(first, suffix)| {
            let sum: u32 = first.bytes().zip((2..=9).rev()).map(|(d, w)| u32::from(d - b'0') * w).sum();
            let check = sum % 11;
            (check < 10 && first != "00000000").then(|| format!("NL{first}{check}B{suffix}"))
        })
    }

    fn mod97_number() -> impl Strategy<Value = String> {
        "[0-9]{9}".prop_filter_map("all zero", |digits| {
            let r = mod97(&format!("NL{digits}B00"));
            let suffix = (98 - r) % 97;
            (digits != "000000000").then(|| format!("NL{digits}B{suffix:02}"))
        })
    }

    proptest! {
        #[test]
        fn generated_eleven_test_numbers_parse(number in eleven_test_number()) {
            let btw = Btw::parse(&number).unwrap();
            prop_assert_eq!(btw.as_str(), number.as_str());
            prop_assert_eq!(Btw::parse(&number[2..].to_lowercase()).unwrap(), btw.clone());
            prop_assert_eq!(Btw::parse(btw.as_str()).unwrap(), btw.clone());
            let json = serde_json::to_string(&btw).unwrap();
            prop_assert_eq!(serde_json::from_str::<Btw>(&json).unwrap(), btw);
        }

        #[test]
        fn generated_mod97_numbers_parse(number in mod97_number()) {
            prop_assert_eq!(mod97(&number), 1);
            let btw = Btw::parse(&number).unwrap();
            prop_assert_eq!(btw.as_str(), number.as_str());
            prop_assert_eq!(Btw::parse(btw.as_str()).unwrap(), btw);
        }

        #[test]
        fn never_panics(input in "\\PC{0,30}") {
            if let Ok(btw) = Btw::parse(&input) {
                prop_assert_eq!(Btw::parse(btw.as_str()).unwrap(), btw);
            }
        }

        #[test]
        fn never_panics_on_btw_like_input(input in "(NL|nl|BE)?[0-9 .]{7,12}[Bb]?[0-9]{0,3}") {
            if let Ok(btw) = Btw::parse(&input) {
                prop_assert_eq!(Btw::parse(btw.as_str()).unwrap(), btw);
            }
        }
    }
}
