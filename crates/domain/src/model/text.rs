use serde::{Deserialize, Serialize};

use crate::validate::Invalid;

/// A short, single-line text such as a name, street or reference.
///
/// Bounded on purpose: custodian has no free-text field where arbitrary personal
/// data could pile up (M8/A3), so every text is one line of at most
/// [`Text::MAX_CHARS`] characters without control characters, bidirectional
/// controls or other invisible characters (`validate::check_visible`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(input: &str) -> Result<Text, Invalid> {
        let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(Invalid::new("text", "empty", "Dit veld mag niet leeg zijn.", "This field must not be empty."));
        }
        if collapsed.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(
                "text",
                "too_long",
                format!("Gebruik hoogstens {} tekens.", Self::MAX_CHARS),
                format!("Use at most {} characters.", Self::MAX_CHARS),
            ));
        }
        crate::validate::check_visible("text", &collapsed, crate::validate::Lines::One)?;
        Ok(Text(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Text::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_whitespace_and_bounds_length() {
        assert_eq!(Text::parse("  Jan   de  Vries ").unwrap().as_str(), "Jan de Vries");
        assert_eq!(Text::parse("   ").unwrap_err().rule, "empty");
        assert_eq!(Text::parse(&"x".repeat(201)).unwrap_err().rule, "too_long");
        assert!(Text::parse(&"é".repeat(200)).is_ok());
        assert_eq!(Text::parse("a\u{7}b").unwrap_err().rule, "control_character");
        assert_eq!(Text::parse("Jan\u{202E}seirV ed").unwrap_err().rule, "bidi_control");
        assert_eq!(Text::parse("Ja\u{200B}n").unwrap_err().rule, "invisible_character");
        assert_eq!(Text::parse("Jan\u{FEFF}").unwrap_err().rule, "invisible_character");
        // Line breaks and tabs are whitespace: collapsed to one space.
        assert_eq!(Text::parse("Jan\n de\tVries").unwrap().as_str(), "Jan de Vries");
    }
}
