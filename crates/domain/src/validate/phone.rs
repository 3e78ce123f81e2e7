//! Telephone numbers, stored in E.164.

use phonenumber::{Mode, ParseError, country::Id};

use super::Invalid;

const KIND: &str = "phone";

/// Longer input is no phone number; refusing it early bounds the parser's work.
const MAX_INPUT: usize = 64;

/// A telephone number that is valid under its country's numbering plan
/// (libphonenumber metadata), stored in E.164 (`+31725116617`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    /// Derived from `e164`, kept so `international` needs no second parse.
    international: String,
}

text_value!(Phone);

impl Phone {
    /// Accepts international forms (`+31 72 511 6617`, `0031725116617`,
    /// `+31 (0)72 511 6617`) and, for the Netherlands, national forms
    /// (`072-5116617`, `(072) 511 66 17`, `06 12345678`).
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = input.trim();
        if text.is_empty() {
            return Err(refuse("empty", "Vul een telefoonnummer in.", "Enter a phone number."));
        }
        if text.chars().count() > MAX_INPUT {
            return Err(refuse(
                "length",
                "Dit is te lang voor een telefoonnummer.",
                "This is too long for a phone number.",
            ));
        }
        let number = phonenumber::parse(Some(Id::NL), text).map_err(|e| match e {
            ParseError::InvalidCountryCode => refuse(
                "country_code",
                "Het landnummer van dit telefoonnummer bestaat niet.",
                "The country calling code of this phone number does not exist.",
            ),
            ParseError::TooShortAfterIdd | ParseError::TooShortNsn => refuse(
                "too_short",
                "Dit telefoonnummer heeft te weinig cijfers.",
                "This phone number has too few digits.",
            ),
            ParseError::TooLong => refuse(
                "too_long",
                "Dit telefoonnummer heeft te veel cijfers.",
                "This phone number has too many digits.",
            ),
            ParseError::NoNumber | ParseError::MalformedInteger(_) => refuse(
                "format",
                "Dit is geen telefoonnummer; gebruik cijfers, eventueel met + en landnummer.",
                "This is not a phone number; use digits, optionally with + and a country code.",
            ),
        })?;
        if number.extension().is_some() {
            return Err(refuse(
                "extension",
                "Een toestelnummer kan hier niet worden opgeslagen; laat het weg.",
                "An extension cannot be stored here; leave it out.",
            ));
        }
        // libphonenumber reads letters as keypad digits (vanity numbers); a
        // number stored here is written and read back in digits only.
        if text.chars().any(char::is_alphabetic) {
            return Err(refuse(
                "format",
                "Dit is geen telefoonnummer; gebruik cijfers, eventueel met + en landnummer.",
                "This is not a phone number; use digits, optionally with + and a country code.",
            ));
        }
        if !number.is_valid() {
            return Err(refuse(
                "invalid_number",
                "Dit telefoonnummer bestaat niet volgens het nummerplan van het land; controleer het aantal cijfers en het netnummer.",
                "This phone number does not exist in its country's numbering plan; check the number of digits and the area code.",
            ));
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        // E.164 allows at most fifteen digits.
        if e164.len() > 16 {
            return Err(refuse(
                "too_long",
                "Dit telefoonnummer heeft te veel cijfers.",
                "This phone number has too many digits.",
            ));
        }
        // What is stored must read back as itself: a national number with
        // leading zeros can lose one in E.164 and no longer be valid.
        let again = phonenumber::parse(Some(Id::NL), &e164).ok().filter(|n| n.is_valid());
        if again.is_none_or(|n| n.format().mode(Mode::E164).to_string() != e164) {
            return Err(refuse(
                "invalid_number",
                "Dit telefoonnummer bestaat niet volgens het nummerplan van het land; controleer het aantal cijfers en het netnummer.",
                "This phone number does not exist in its country's numbering plan; check the number of digits and the area code.",
            ));
        }
        Ok(Phone { e164, international: number.format().mode(Mode::International).to_string() })
    }

    /// E.164: `+` and digits only (`+31725116617`).
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// Grouped for people to read (`+31 72 511 6617`).
    pub fn international(&self) -> String {
        self.international.clone()
    }

    /// The EPP form (RFC 5733 `e164StringType`): country code, a dot, the rest
    /// (`+31.725116617`). The grouped form starts with the country code.
    pub fn epp(&self) -> String {
        let cc = self.international.split(' ').next().unwrap_or("+");
        format!("{cc}.{}", &self.e164[cc.len().min(self.e164.len())..])
    }
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
    fn accepts_dutch_forms() {
        for input in [
            "+31 72 511 6617",
            "+31725116617",
            "0031725116617",
            "0031 72 511 66 17",
            "072-5116617",
            "0725116617",
            "(072) 511 66 17",
            "+31 (0)72 511 6617",
            "+31-72-5116617",
            " 072 511 6617 ",
        ] {
            let phone = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_str(), "+31725116617", "{input}");
            assert_eq!(phone.to_string(), "+31725116617");
            assert_eq!(phone.international(), "+31 72 511 6617");
            assert_eq!(phone.epp(), "+31.725116617");
        }
    }

    #[test]
    fn epp_form_splits_off_the_country_code() {
        assert_eq!(Phone::parse("+1 212 555 0100").unwrap().epp(), "+1.2125550100");
        assert_eq!(Phone::parse("+353 1 234 5678").unwrap().epp(), "+353.12345678");
    }

    #[test]
    fn accepts_mobile_and_foreign_numbers() {
        for (input, e164) in [
            ("06 12345678", "+31612345678"),
            ("06-12345678", "+31612345678"),
            ("+31 6 1234 5678", "+31612345678"),
            ("+49 30 1234567", "+49301234567"),
            ("0049 30 1234567", "+49301234567"),
            ("+44 20 7946 0958", "+442079460958"),
            ("+32 12 34 56 78", "+3212345678"),
            ("+1 650 253 0000", "+16502530000"),
        ] {
            let phone = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_str(), e164, "{input}");
        }
    }

    #[test]
    fn refusals() {
        assert_refused(Phone::parse(""), "", KIND, "empty");
        assert_refused(Phone::parse(" \t"), " \t", KIND, "empty");
        let long = "1".repeat(MAX_INPUT + 1);
        assert_refused(Phone::parse(&long), &long, KIND, "length");
        assert_refused(Phone::parse("bel me maar"), "bel me maar", KIND, "format");
        assert_refused(Phone::parse("+999 1234567"), "+999 1234567", KIND, "country_code");
        assert_refused(Phone::parse("00"), "00", KIND, "too_short");
        assert_refused(Phone::parse("+31 72 511 6617 ext. 12"), "+31 72 511 6617 ext. 12", KIND, "extension");
        // Eight digits after 06: one short.
        assert_refused(Phone::parse("06-1234567"), "06-1234567", KIND, "invalid_number");
        assert_refused(Phone::parse("12345"), "12345", KIND, "invalid_number");
        assert_refused(Phone::parse("+31 72 511 6617 6617"), "+31 72 511 6617 6617", KIND, "invalid_number");
        // Found by fuzzing: letters read as keypad digits gave a number whose
        // stored form did not parse back.
        let vanity = "\r+888000gN8felale0";
        assert_refused(Phone::parse(vanity), vanity, KIND, "format");
        assert_refused(Phone::parse("0800-FLOWERS"), "0800-FLOWERS", KIND, "format");
        // Also found by fuzzing: leading zeros of a national number (Ascension
        // Island) lost in E.164, which then is no valid number.
        let zeros = "0024700061--7-00";
        assert_refused(Phone::parse(zeros), zeros, KIND, "invalid_number");
    }

    #[test]
    fn serde_round_trip() {
        let phone = Phone::parse("072-5116617").unwrap();
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, "\"+31725116617\"");
        assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
        assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
    }

    proptest! {
        #[test]
        fn dutch_mobile_numbers_parse(rest in "[1-5][0-9]{7}") {
            let e164 = format!("+316{rest}");
            for input in [format!("06{rest}"), format!("06-{rest}"), format!("+31 6 {rest}"), format!("00316{rest}")] {
                let phone = Phone::parse(&input).unwrap();
                prop_assert_eq!(phone.as_str(), e164.as_str());
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone.clone());
                prop_assert_eq!(Phone::parse(&phone.international()).unwrap(), phone.clone());
                let json = serde_json::to_string(&phone).unwrap();
                prop_assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
            }
        }

        #[test]
        fn never_panics(input in "\\PC{0,30}") {
            if let Ok(phone) = Phone::parse(&input) {
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone);
            }
        }

        #[test]
        fn never_panics_on_number_like_input(input in "[+0-9 ()./x-]{0,25}") {
            if let Ok(phone) = Phone::parse(&input) {
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone);
            }
        }
    }
}
