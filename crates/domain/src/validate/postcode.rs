//! Dutch postcodes.

use super::Invalid;

const KIND: &str = "postcode";

/// A Dutch postcode, stored as `1234 AB`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DutchPostcode(String);

text_value!(DutchPostcode);

impl DutchPostcode {
    /// Accepts `1234 AB`, `1234ab`, `1234  ab`: four digits, optional
    /// whitespace, two letters in any case.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let text = input.trim();
        if text.is_empty() {
            return Err(refuse("empty", "Vul een postcode in.", "Enter a postcode."));
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, letters) = (&text[..split], text[split..].trim_start());
        let ok = digits.len() == 4 && letters.len() == 2 && letters.bytes().all(|b| b.is_ascii_alphabetic());
        if !ok {
            return Err(refuse(
                "format",
                "Een postcode bestaat uit vier cijfers en twee letters, zoals 1234 AB.",
                "A Dutch postcode consists of four digits and two letters, like 1234 AB.",
            ));
        }
        if digits.starts_with('0') {
            return Err(refuse(
                "leading_zero",
                "Een postcode begint niet met een 0.",
                "A Dutch postcode does not start with 0.",
            ));
        }
        let letters = letters.to_ascii_uppercase();
        // PostNL does not issue these, for their connotations.
        if matches!(letters.as_str(), "SA" | "SD" | "SS") {
            return Err(refuse(
                "letters_unused",
                "De lettercombinaties SA, SD en SS komen in postcodes niet voor.",
                "The letter pairs SA, SD and SS are not used in Dutch postcodes.",
            ));
        }
        Ok(DutchPostcode(format!("{digits} {letters}")))
    }

    /// `1234 AB`.
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
        for input in ["1825 AB", "1825AB", "1825ab", " 1825 aB ", "1825  AB", "1825\tab"] {
            let postcode = DutchPostcode::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(postcode.as_str(), "1825 AB");
            assert_eq!(postcode.to_string(), "1825 AB");
        }
        assert_eq!(DutchPostcode::parse("9999zz").unwrap().as_str(), "9999 ZZ");
        assert_eq!(DutchPostcode::parse("1000 AA").unwrap().as_str(), "1000 AA");
    }

    #[test]
    fn refusals() {
        assert_refused(DutchPostcode::parse(""), "", KIND, "empty");
        assert_refused(DutchPostcode::parse("  "), "  ", KIND, "empty");
        assert_refused(DutchPostcode::parse("182 AB"), "182 AB", KIND, "format");
        assert_refused(DutchPostcode::parse("18255 AB"), "18255 AB", KIND, "format");
        assert_refused(DutchPostcode::parse("1825 A"), "1825 A", KIND, "format");
        assert_refused(DutchPostcode::parse("1825 ABC"), "1825 ABC", KIND, "format");
        assert_refused(DutchPostcode::parse("1825 A1"), "1825 A1", KIND, "format");
        assert_refused(DutchPostcode::parse("1825-AB"), "1825-AB", KIND, "format");
        assert_refused(DutchPostcode::parse("18 25 AB"), "18 25 AB", KIND, "format");
        assert_refused(DutchPostcode::parse("1825 ÄB"), "1825 ÄB", KIND, "format");
        assert_refused(DutchPostcode::parse("AB 1825"), "AB 1825", KIND, "format");
        assert_refused(DutchPostcode::parse("0825 AB"), "0825 AB", KIND, "leading_zero");
        for letters in ["SA", "sd", "Ss"] {
            let input = format!("1825 {letters}");
            assert_refused(DutchPostcode::parse(&input), &input, KIND, "letters_unused");
        }
    }

    #[test]
    fn serde_round_trip() {
        let postcode = DutchPostcode::parse("1825ab").unwrap();
        let json = serde_json::to_string(&postcode).unwrap();
        assert_eq!(json, "\"1825 AB\"");
        assert_eq!(serde_json::from_str::<DutchPostcode>(&json).unwrap(), postcode);
        assert!(serde_json::from_str::<DutchPostcode>("\"1825 SS\"").is_err());
    }

    proptest! {
        #[test]
        fn generated_postcodes_parse(digits in "[1-9][0-9]{3}", letters in "[A-Za-z]{2}", space in " {0,2}") {
            let input = format!("{digits}{space}{letters}");
            let upper = letters.to_ascii_uppercase();
            match DutchPostcode::parse(&input) {
                Ok(postcode) => {
                    prop_assert_eq!(postcode.as_str(), format!("{digits} {upper}"));
                    prop_assert_eq!(DutchPostcode::parse(postcode.as_str()).unwrap(), postcode.clone());
                    let json = serde_json::to_string(&postcode).unwrap();
                    prop_assert_eq!(serde_json::from_str::<DutchPostcode>(&json).unwrap(), postcode);
                }
                Err(e) => {
                    prop_assert!(matches!(upper.as_str(), "SA" | "SD" | "SS"));
                    prop_assert_eq!(e.rule, "letters_unused");
                }
            }
        }

        #[test]
        fn never_panics(input in "\\PC{0,12}") {
            if let Ok(postcode) = DutchPostcode::parse(&input) {
                prop_assert_eq!(DutchPostcode::parse(postcode.as_str()).unwrap(), postcode);
            }
        }
    }
}
