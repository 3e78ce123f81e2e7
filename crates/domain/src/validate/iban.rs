//! International bank account numbers (ISO 13616).
//!
//! The per-country length and structure come from the SWIFT IBAN registry as
//! compiled into the `iban_validate` crate; this module adds input tolerance,
//! the national check digits of the countries that have them (`national`), a
//! precise reason for each refusal, and serde.

use ::iban::{IbanLike, ParseBaseIbanError, ParseIbanError};

use super::{Invalid, compact, mod97};

const KIND: &str = "iban";

/// ISO 13616 caps every IBAN at 34 characters.
const MAX_LEN: usize = 34;

/// An IBAN with a known country, the length and structure that country
/// registered, and correct check digits. Stored in electronic form
/// (`NL91ABNA0417164300`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(::iban::Iban);

text_value!(Iban);

impl Iban {
    /// Accepts the electronic and the paper form (`nl91 abna 0417 1643 00`),
    /// with any spacing and in any case.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = compact(input, &[]).to_ascii_uppercase();
        if text.is_empty() {
            return Err(refuse("empty", "Vul een IBAN in.", "Enter an IBAN."));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refuse(
                "character",
                "Een IBAN bevat alleen letters en cijfers.",
                "An IBAN contains only letters and digits.",
            ));
        }
        let b = text.as_bytes();
        if b.len() < 5 || !b[..2].iter().all(u8::is_ascii_alphabetic) || !b[2..4].iter().all(u8::is_ascii_digit) {
            return Err(refuse(
                "format",
                "Een IBAN begint met een landcode van twee letters en twee controlecijfers, gevolgd door het rekeningnummer.",
                "An IBAN starts with a two-letter country code and two check digits, followed by the account number.",
            ));
        }
        if b.len() > MAX_LEN {
            return Err(refuse(
                "length",
                "Een IBAN is hoogstens 34 tekens lang.",
                "An IBAN is at most 34 characters long.",
            ));
        }
        match text.parse::<::iban::Iban>() {
            Ok(iban) if !super::national::holds(iban.country_code(), iban.bban()) => Err(refuse(
                "national_check",
                "De controlecijfers van het rekeningnummer in deze IBAN kloppen niet. Controleer het nummer.",
                "The check digits of the account number in this IBAN are wrong. Please check the number.",
            )),
            Ok(iban) => Ok(Iban(iban)),
            Err(ParseIbanError::UnknownCountry(_)) => Err(country_unknown()),
            Err(ParseIbanError::InvalidBban(_)) => Err(country_format()),
            Err(ParseIbanError::InvalidBaseIban { source: ParseBaseIbanError::InvalidChecksum }) => {
                Err(diagnose_checksum_failure(&text))
            }
            Err(ParseIbanError::InvalidBaseIban { source: ParseBaseIbanError::InvalidFormat }) => {
                Err(refuse("format", "Dit is geen geldige IBAN-opbouw.", "This is not a valid IBAN structure."))
            }
        }
    }

    /// The electronic form: upper case, no spaces.
    pub fn as_str(&self) -> &str {
        self.0.electronic_str()
    }

    /// The paper form, in groups of four (`NL91 ABNA 0417 1643 00`).
    pub fn formatted(&self) -> String {
        self.0.to_string()
    }

    /// The ISO 3166-1 alpha-2 country code the IBAN starts with.
    pub fn country_code(&self) -> &str {
        self.0.country_code()
    }
}

/// The library checks the checksum before the country, but a wrong country
/// or length explains a bad checksum better than the checksum itself. So
/// repair the check digits and look at what else is still wrong.
fn diagnose_checksum_failure(text: &str) -> Invalid {
    let (head, bban) = text.split_at(4);
    let country = &head[..2];
    let check = 98 - mod97(&format!("{bban}{country}00"));
    let repaired = format!("{country}{check:02}{bban}");
    match repaired.parse::<::iban::Iban>() {
        Err(ParseIbanError::UnknownCountry(_)) => country_unknown(),
        Err(ParseIbanError::InvalidBban(_)) => country_format(),
        _ => refuse(
            "checksum",
            "De IBAN-controlesom klopt niet; controleer of alle tekens goed zijn overgenomen.",
            "The IBAN checksum is wrong; check that every character was copied correctly.",
        ),
    }
}

fn country_unknown() -> Invalid {
    refuse(
        "country_unknown",
        "De landcode van deze IBAN is onbekend of het land gebruikt geen IBAN.",
        "The country code of this IBAN is unknown, or that country does not use IBANs.",
    )
}

fn country_format() -> Invalid {
    refuse(
        "country_format",
        "De lengte of opbouw van deze IBAN past niet bij het land van de landcode.",
        "The length or structure of this IBAN does not match its country.",
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

    /// Builds an IBAN with correct check digits.
    fn with_check_digits(country: &str, bban: &str) -> String {
        let check = 98 - mod97(&format!("{bban}{country}00"));
        format!("{country}{check:02}{bban}")
    }

    #[test]
    fn accepts_known_ibans() {
        for (input, electronic) in [
            ("NL91ABNA0417164300", "NL91ABNA0417164300"),
            ("nl91 abna 0417 1643 00", "NL91ABNA0417164300"),
            ("  NL91 ABNA 0417 1643 00\t", "NL91ABNA0417164300"),
            ("NL91ABNA 041716 4300", "NL91ABNA0417164300"),
            ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
            ("GB29 NWBK 6016 1331 9268 19", "GB29NWBK60161331926819"),
            ("BE68 5390 0754 7034", "BE68539007547034"),
            ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
            ("LU28 0019 4006 4475 0000", "LU280019400644750000"),
        ] {
            let iban = Iban::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(iban.as_str(), electronic);
            assert_eq!(iban.to_string(), electronic);
        }
    }

    /// The example IBANs of the SWIFT IBAN registry and the national
    /// standards' own examples: each carries correct national check digits.
    const NATIONAL_EXAMPLES: [&str; 11] = [
        "BE68539007547034",
        "BE71096123456769",
        "FR1420041010050500013M02606",
        "FR7630006000011234567890189",
        "MC5811222000010123456789030",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "SM86U0322509800000000270100",
        "PT50000201231234567890154",
        "NO9386011117947",
        "ES7620770024003102575766",
    ];

    #[test]
    fn national_check_digits_are_checked() {
        for example in NATIONAL_EXAMPLES {
            Iban::parse(example).unwrap_or_else(|e| panic!("{example}: {e}"));
            // The same account with its national check changed, and the
            // IBAN's own check digits made right again: only the national
            // check can catch it.
            let (country, bban) = (&example[..2], &example[4..]);
            let place = match country {
                "IT" | "SM" => 0,
                "ES" => 8,
                _ => bban.len() - 1,
            };
            let mut wrong = bban.as_bytes().to_vec();
            wrong[place] = match wrong[place] {
                b'Z' => b'A',
                b'9' => b'0',
                c => c + 1,
            };
            let wrong = with_check_digits(country, std::str::from_utf8(&wrong).unwrap());
            assert_refused(Iban::parse(&wrong), &wrong, KIND, "national_check");
        }
        // Spain's second digit, over the account alone.
        let second = with_check_digits("ES", "21000418460200051332");
        assert_refused(Iban::parse(&second), &second, KIND, "national_check");
        // Germany has no national rule that holds for every bank: any account passes.
        Iban::parse(&with_check_digits("DE", "370400440532013001")).unwrap();
    }

    #[test]
    fn formatted_in_groups_of_four() {
        let iban = Iban::parse("NL91ABNA0417164300").unwrap();
        assert_eq!(iban.formatted(), "NL91 ABNA 0417 1643 00");
        assert_eq!(iban.country_code(), "NL");
    }

    #[test]
    fn refusals() {
        assert_refused(Iban::parse(""), "", KIND, "empty");
        assert_refused(Iban::parse("   "), "   ", KIND, "empty");
        assert_refused(Iban::parse("NL91-ABNA-0417-1643-00"), "NL91-ABNA-0417-1643-00", KIND, "character");
        assert_refused(Iban::parse("NL91ÄBNA0417164300"), "NL91ÄBNA0417164300", KIND, "character");
        assert_refused(Iban::parse("9191ABNA0417164300"), "9191ABNA0417164300", KIND, "format");
        assert_refused(Iban::parse("NLAAABNA0417164300"), "NLAAABNA0417164300", KIND, "format");
        assert_refused(Iban::parse("NL91"), "NL91", KIND, "format");
        let long = format!("NL91{}", "1".repeat(31));
        assert_refused(Iban::parse(&long), &long, KIND, "length");
        // One digit off.
        assert_refused(Iban::parse("NL91ABNA0417164301"), "NL91ABNA0417164301", KIND, "checksum");
        // Two digits swapped.
        assert_refused(Iban::parse("NL91ABNA0417163400"), "NL91ABNA0417163400", KIND, "checksum");
        // Not an IBAN country, with and without correct check digits.
        let xx = with_check_digits("XX", "ABNA0417164300");
        assert_refused(Iban::parse(&xx), &xx, KIND, "country_unknown");
        assert_refused(Iban::parse("XX00ABNA0417164300"), "XX00ABNA0417164300", KIND, "country_unknown");
        // A Dutch IBAN one digit short, with and without correct check digits.
        let short = with_check_digits("NL", "ABNA041716430");
        assert_refused(Iban::parse(&short), &short, KIND, "country_format");
        assert_refused(Iban::parse("NL91ABNA041716430"), "NL91ABNA041716430", KIND, "country_format");
        // Dutch bank code must be letters.
        let digits = with_check_digits("NL", "12340417164300");
        assert_refused(Iban::parse(&digits), &digits, KIND, "country_format");
    }

    #[test]
    fn serde_uses_the_electronic_form() {
        let iban = Iban::parse("nl91 abna 0417 1643 00").unwrap();
        let json = serde_json::to_string(&iban).unwrap();
        assert_eq!(json, "\"NL91ABNA0417164300\"");
        assert_eq!(serde_json::from_str::<Iban>(&json).unwrap(), iban);
        assert_eq!(serde_json::from_str::<Iban>("\"NL91 ABNA 0417 1643 00\"").unwrap(), iban);
        let err = serde_json::from_str::<Iban>("\"NL91ABNA0417164301\"").unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
    }

    /// A Belgian BBAN: ten digits and their remainder by 97 (97 for 0).
    fn belgian(ten: &str) -> String {
        let rest = ten.parse::<u64>().unwrap() % 97;
        format!("{ten}{:02}", if rest == 0 { 97 } else { rest })
    }

    /// A French BBAN: the key is what makes the whole RIB, letters read as
    /// digits, divisible by 97.
    fn french(first: &str) -> String {
        let digits: String = first
            .chars()
            .map(|c| match c {
                'A' | 'J' => '1',
                'B' | 'K' | 'S' => '2',
                'C' | 'L' | 'T' => '3',
                'D' | 'M' | 'U' => '4',
                'E' | 'N' | 'V' => '5',
                'F' | 'O' | 'W' => '6',
                'G' | 'P' | 'X' => '7',
                'H' | 'Q' | 'Y' => '8',
                'I' | 'R' | 'Z' => '9',
                c => c,
            })
            .collect();
        let rest = mod97(&format!("{digits}00"));
        format!("{first}{:02}", 97 - rest)
    }

    /// A country with a BBAN that this strategy can fill in correctly.
    fn valid_iban() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z]{4}[0-9]{10}".prop_map(|b| with_check_digits("NL", &b)),
            "[0-9]{18}".prop_map(|b| with_check_digits("DE", &b)),
            "[0-9]{10}".prop_map(|b| with_check_digits("BE", &belgian(&b))),
            "[A-Z]{4}[0-9]{14}".prop_map(|b| with_check_digits("GB", &b)),
            "[0-9]{10}[0-9A-Z]{11}".prop_map(|b| with_check_digits("FR", &french(&b))),
            "[0-9]{3}[0-9A-Z]{13}".prop_map(|b| with_check_digits("LU", &b)),
        ]
    }

    proptest! {
        #[test]
        fn generated_ibans_parse_and_round_trip(iban in valid_iban()) {
            let parsed = Iban::parse(&iban).unwrap();
            prop_assert_eq!(parsed.as_str(), iban.as_str());
            prop_assert_eq!(Iban::parse(parsed.as_str()).unwrap(), parsed.clone());
            prop_assert_eq!(Iban::parse(&parsed.formatted()).unwrap(), parsed.clone());
            prop_assert_eq!(Iban::parse(&iban.to_lowercase()).unwrap(), parsed.clone());
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<Iban>(&json).unwrap(), parsed);
        }

        #[test]
        fn one_changed_digit_is_caught(iban in valid_iban(), pos in any::<prop::sample::Index>(), add in 1u8..10) {
            let digits: Vec<usize> = iban.bytes().enumerate().skip(4).filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
            prop_assume!(!digits.is_empty());
            let i = digits[pos.index(digits.len())];
            let mut bytes = iban.into_bytes();
            bytes[i] = b'0' + (bytes[i] - b'0' + add) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(Iban::parse(&changed).unwrap_err().rule, "checksum");
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            let _ = Iban::parse(&input);
        }

        #[test]
        fn never_panics_on_iban_like_input(input in "[A-Za-z]{2}[0-9]{2}[0-9A-Za-z ]{0,36}") {
            if let Ok(iban) = Iban::parse(&input) {
                prop_assert_eq!(Iban::parse(iban.as_str()).unwrap(), iban);
            }
        }
    }
}
