//! Values that can only be built valid ("parse, don't validate").
//!
//! Every type here has `parse(&str) -> Result<Self, Invalid>` that accepts the forms
//! people actually type, and stores one normalised form (`as_str()`, `Display`).
//! Deserialising goes through `parse` too, so an invalid value can never be read
//! back from JSON either.

/// Gives a validated type `Display`, `FromStr` and serde support, all through
/// `as_str` and `parse`, so no other path can create or print a value.
macro_rules! text_value {
    ($ty:ty) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::validate::Invalid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                <$ty>::parse(&text).map_err(::serde::de::Error::custom)
            }
        }
    };
}

mod btw;
mod country;
mod email;
mod iban;
mod kvk;
mod national;
mod phone;
mod postcode;
mod visible;

pub use btw::Btw;
pub use country::Country;
pub use email::Email;
pub use iban::Iban;
pub use kvk::Kvk;
pub use phone::Phone;
pub use postcode::DutchPostcode;
pub use visible::{Lines, check_visible, is_bidi_control, is_invisible};

use crate::Lang;

/// Why a value was refused. Carries no copy of the input, so it is safe to log
/// and to show next to a form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Lang::En))]
pub struct Invalid {
    /// Which kind of value was refused (`iban`, `btw`, ...).
    pub kind: &'static str,
    /// The rule it broke, as a stable machine-readable code.
    pub rule: &'static str,
    nl: String,
    en: String,
}

impl Invalid {
    pub fn new(kind: &'static str, rule: &'static str, nl: impl Into<String>, en: impl Into<String>) -> Self {
        Invalid { kind, rule, nl: nl.into(), en: en.into() }
    }

    /// The explanation in the user's language.
    pub fn message(&self, lang: Lang) -> &str {
        lang.pick(&self.nl, &self.en)
    }
}

/// Drops whitespace and the given separator characters, as people put them in
/// numbers wherever they like.
fn compact(input: &str, separators: &[char]) -> String {
    input.chars().filter(|c| !c.is_whitespace() && !separators.contains(c)).collect()
}

/// ISO 7064 MOD 97-10 remainder, letters counting as 10..=35 (A=10), as for
/// IBANs and the 2020 Dutch VAT numbers. Callers pass only ASCII digits and
/// upper-case letters.
fn mod97(text: &str) -> u32 {
    text.bytes().fold(0, |acc, b| match b {
        b'0'..=b'9' => (acc * 10 + u32::from(b - b'0')) % 97,
        b'A'..=b'Z' => (acc * 100 + u32::from(b - b'A' + 10)) % 97,
        _ => {
            debug_assert!(false, "mod97 given a non-alphanumeric byte");
            acc
        }
    })
}

#[cfg(test)]
mod test_support {
    use super::Invalid;
    use crate::Lang;

    /// Asserts that `result` is a refusal for `rule` whose messages do not echo
    /// the input (they are logged).
    #[track_caller]
    pub(crate) fn assert_refused<T: std::fmt::Debug>(result: Result<T, Invalid>, input: &str, kind: &str, rule: &str) {
        let err = result.expect_err(&format!("{input:?} should be refused"));
        assert_eq!((err.kind, err.rule), (kind, rule), "wrong refusal for {input:?}");
        let trimmed = input.trim();
        for lang in [Lang::Nl, Lang::En] {
            let msg = err.message(lang);
            assert!(!msg.is_empty());
            if trimmed.chars().count() >= 3 {
                assert!(!msg.contains(trimmed), "message {msg:?} echoes the input");
            }
        }
    }
}
