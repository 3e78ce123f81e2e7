//! Dutch Chamber of Commerce numbers (KVK-nummer).

use super::{Invalid, compact};

const KIND: &str = "kvk";

/// A KVK number: exactly eight digits. The KVK publishes no check digit for
/// these, so any eight digits are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kvk(String);

text_value!(Kvk);

impl Kvk {
    /// Accepts eight digits with spaces, dots or dashes in between
    /// (`1234 5678`, `12.34.56.78`).
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = compact(input, &['.', '-']);
        if text.is_empty() {
            return Err(refuse("empty", "Vul een KVK-nummer in.", "Enter a KVK number."));
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(
                "format",
                "Een KVK-nummer bestaat alleen uit cijfers.",
                "A KVK number consists of digits only.",
            ));
        }
        if text.len() != 8 {
            return Err(refuse(
                "length",
                "Een KVK-nummer heeft precies 8 cijfers.",
                "A KVK number has exactly 8 digits.",
            ));
        }
        Ok(Kvk(text))
    }

    /// The eight digits.
    pub fn as_str(&self) -> &str {
        &self.0
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
    fn accepts_usual_forms() {
        for input in ["12345678", " 12345678 ", "1234 5678", "12.34.56.78", "1234-5678", "01234567"] {
            let kvk = Kvk::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(kvk.as_str(), digits);
            assert_eq!(kvk.to_string(), digits);
        }
    }

    #[test]
    fn refusals() {
        assert_refused(Kvk::parse(""), "", KIND, "empty");
        assert_refused(Kvk::parse(" - "), " - ", KIND, "empty");
        assert_refused(Kvk::parse("1234567"), "1234567", KIND, "length");
        assert_refused(Kvk::parse("123456789"), "123456789", KIND, "length");
        assert_refused(Kvk::parse("1234567a"), "1234567a", KIND, "format");
        assert_refused(Kvk::parse("KVK 12345678"), "KVK 12345678", KIND, "format");
        // Non-ASCII digits are not KVK digits.
        assert_refused(Kvk::parse("１２３４５６７８"), "１２３４５６７８", KIND, "format");
    }

    #[test]
    fn serde_round_trip() {
        let kvk = Kvk::parse("1234 5678").unwrap();
        let json = serde_json::to_string(&kvk).unwrap();
        assert_eq!(json, "\"12345678\"");
        assert_eq!(serde_json::from_str::<Kvk>(&json).unwrap(), kvk);
        assert!(serde_json::from_str::<Kvk>("\"1234567\"").is_err());
    }

    proptest! {
        #[test]
        fn any_eight_digits_are_valid(digits in "[0-9]{8}") {
            let kvk = Kvk::parse(&digits).unwrap();
            prop_assert_eq!(kvk.as_str(), digits.as_str());
            prop_assert_eq!(Kvk::parse(kvk.as_str()).unwrap(), kvk.clone());
            let spaced = format!("{} {}", &digits[..4], &digits[4..]);
            prop_assert_eq!(Kvk::parse(&spaced).unwrap(), kvk.clone());
            let json = serde_json::to_string(&kvk).unwrap();
            prop_assert_eq!(serde_json::from_str::<Kvk>(&json).unwrap(), kvk);
        }

        #[test]
        fn seven_or_nine_digits_are_not(digits in "[0-9]{7}|[0-9]{9}") {
            prop_assert_eq!(Kvk::parse(&digits).unwrap_err().rule, "length");
        }

        #[test]
        fn never_panics(input in "\\PC{0,20}") {
            if let Ok(kvk) = Kvk::parse(&input) {
                prop_assert_eq!(Kvk::parse(kvk.as_str()).unwrap(), kvk);
            }
        }
    }
}
