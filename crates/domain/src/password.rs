//! The password rule for everyone (M5): long enough, and not guessable — checked
//! offline against zxcvbn's dictionaries of common and breached passwords, names
//! and keyboard patterns, plus the account's own login and name.

use crate::validate::Invalid;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// A password that passed the rule. Not `Display`, not `Serialize`: it only
/// goes to the hasher.
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

impl NewPassword {
    /// `context` holds words the password must not lean on (login, name).
    pub fn parse(input: &str, context: &[&str]) -> Result<NewPassword, Invalid> {
        let chars = input.chars().count();
        if chars < MIN_CHARS {
            return Err(Invalid::new(
                "password",
                "too_short",
                format!("Gebruik minstens {MIN_CHARS} tekens; een zin van een paar woorden werkt goed."),
                format!("Use at least {MIN_CHARS} characters; a phrase of a few words works well."),
            ));
        }
        if chars > MAX_CHARS {
            return Err(Invalid::new(
                "password",
                "too_long",
                format!("Gebruik hoogstens {MAX_CHARS} tekens."),
                format!("Use at most {MAX_CHARS} characters."),
            ));
        }
        let score = zxcvbn::zxcvbn(input, context).score();
        if (score as u8) < 3 || mostly_context(input, context) {
            return Err(Invalid::new(
                "password",
                "guessable",
                "Dit wachtwoord is te makkelijk te raden (bekend, veelgebruikt of afgeleid van uw naam). Kies een ander.",
                "This password is too easy to guess (known, common, or based on your name). Choose another.",
            ));
        }
        Ok(NewPassword(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether little is left of the password once the account's own words (login,
/// name parts) are taken out: "jandevries1980" for Jan de Vries.
fn mostly_context(input: &str, context: &[&str]) -> bool {
    let lower = input.to_lowercase();
    let mut rest = lower.clone();
    for word in context.iter().flat_map(|c| c.split(|ch: char| !ch.is_alphanumeric())) {
        let word = word.to_lowercase();
        if word.chars().count() >= 3 {
            rest = rest.replace(&word, "");
        }
    }
    rest != lower && rest.chars().filter(|c| c.is_alphabetic()).count() < MIN_CHARS / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_personal_passwords_are_refused() {
        assert_eq!(NewPassword::parse("kort", &[]).unwrap_err().rule, "too_short");
        assert_eq!(NewPassword::parse("password1234", &[]).unwrap_err().rule, "guessable");
        assert_eq!(NewPassword::parse("qwertyuiop123", &[]).unwrap_err().rule, "guessable");
        assert_eq!(
            NewPassword::parse("jandevries1980", &["jan", "devries", "jan@devries.nl"]).unwrap_err().rule,
            "guessable"
        );
        assert!(NewPassword::parse("paarse olifant fietst naar Zwolle", &[]).is_ok());
        assert_eq!(NewPassword::parse(&"x".repeat(129), &[]).unwrap_err().rule, "too_long");
    }
}
