//! Text a person can read as it is stored: no characters that show nothing
//! yet change what is shown or compared. Bidirectional controls reorder what
//! follows them (a name that reads as another, "Trojan Source"), zero-width
//! and other format characters make two different values look the same, and
//! control characters have no business in a form field.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::Invalid;

/// Whether line breaks (`\n`, and `\r` before it) may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Refuses bidirectional controls, zero-width and other format (Cf)
/// characters, invisible fillers and control characters (but for line breaks
/// in [`Lines::Many`] text). `kind` is the refused value's kind (`text`,
/// `email`, …); the field is named by the form that reports the error.
pub fn check_visible(kind: &'static str, text: &str, lines: Lines) -> Result<(), Invalid> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_bidi_control(c) {
            return Err(Invalid::new(
                kind,
                "bidi_control",
                "Dit veld bevat een onzichtbaar teken dat de leesrichting van de tekst verandert; laat het weg.",
                "This field contains an invisible character that changes the direction of the text; leave it out.",
            ));
        }
        if is_invisible(c) {
            return Err(Invalid::new(
                kind,
                "invisible_character",
                "Dit veld bevat een onzichtbaar teken (zoals een spatie zonder breedte); laat het weg.",
                "This field contains an invisible character (such as a zero-width space); leave it out.",
            ));
        }
        let line_break = lines == Lines::Many && (c == '\n' || (c == '\r' && chars.peek() == Some(&'\n')));
        if c.is_control() && !line_break {
            return Err(Invalid::new(
                kind,
                "control_character",
                "Dit veld mag geen stuurtekens bevatten.",
                "This field must not contain control characters.",
            ));
        }
    }
    Ok(())
}

/// The explicit directional embeddings, overrides and isolates, and the
/// directional marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Zero-width characters and every other format (Cf) character (soft hyphen,
/// word joiner, byte order mark, tags, …), and the Hangul fillers, which are
/// letters that show nothing.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
        || c.general_category() == GeneralCategory::Format
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_be_seen() {
        for (text, rule) in [
            ("Jan\u{202E}neJ", "bidi_control"),
            ("a\u{2066}b\u{2069}", "bidi_control"),
            ("\u{200F}Jan", "bidi_control"),
            ("a\u{061C}b", "bidi_control"),
            ("Ja\u{200B}n", "invisible_character"),
            ("Ja\u{200D}n", "invisible_character"),
            ("Ja\u{2060}n", "invisible_character"),
            ("\u{FEFF}Jan", "invisible_character"),
            ("Ja\u{00AD}n", "invisible_character"),
            ("Jan\u{E0041}", "invisible_character"),
            ("\u{3164}", "invisible_character"),
            ("a\u{7}b", "control_character"),
            ("a\u{0}b", "control_character"),
            ("a\u{9B}b", "control_character"),
            ("a\nb", "control_character"),
            ("a\rb", "control_character"),
        ] {
            let e = check_visible("text", text, Lines::One).expect_err(text);
            assert_eq!((e.kind, e.rule), ("text", rule), "{text:?}");
            assert!(!e.message(crate::Lang::Nl).is_empty() && !e.message(crate::Lang::En).is_empty());
        }
        assert_eq!(check_visible("text", "a\rb", Lines::Many).unwrap_err().rule, "control_character");
        assert_eq!(check_visible("text", "a\tb", Lines::Many).unwrap_err().rule, "control_character");
    }

    #[test]
    fn accepts_what_people_write() {
        for text in
            ["Jan de Vries", "José Müller-Lüdenscheidt", "Ærøskøbing", "محمد", "שלום", "山田太郎", "O'Brien & Zn."]
        {
            assert_eq!(check_visible("text", text, Lines::One), Ok(()), "{text}");
        }
        assert_eq!(check_visible("text", "Regel een\nRegel twee\r\nRegel drie", Lines::Many), Ok(()));
    }
}
