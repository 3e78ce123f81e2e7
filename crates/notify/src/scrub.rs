//! Error texts from mail servers and SMS providers go into the outbox and the
//! log. They may quote the recipient (`550 <jan@voorbeeld.nl>: no such user`,
//! `Gsm '0031612345678' is not a number`), so they are scrubbed first.

/// Longest scrubbed text (characters).
const MAX_CHARS: usize = 300;

/// `text` with every `secret` (the recipient, in each form it was sent in),
/// every word containing `@`, and every run of six or more digits replaced,
/// control characters turned into spaces, cut to 300 characters.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        text = text.replace(s, "[recipient]");
    }
    let text = mask_spaced_numbers(&text);
    let words: Vec<String> =
        text.split(' ').map(|w| if w.contains('@') { "[address]".to_string() } else { mask_digit_runs(w) }).collect();
    let joined = words.join(" ");
    let mut out: String = joined.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_CHARS).collect();
    if joined.chars().count() > MAX_CHARS {
        out.push('…');
    }
    out
}

/// Replaces phone numbers written with spaces or brackets (`+31 6 1234 5678`):
/// runs of digits and separators holding nine or more digits. Status codes
/// (`550 5.1.1`) hold fewer.
fn mask_spaced_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let sep = |c: char| matches!(c, ' ' | '-' | '.' | '/' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            let mut end = i + 1;
            let mut digits = usize::from(chars[i].is_ascii_digit());
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_digit() || sep(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    end = j + 1;
                }
                j += 1;
            }
            if digits >= 9 {
                out.push_str("[number]");
            } else {
                out.extend(&chars[start..end]);
            }
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Replaces runs of digits (allowing `+`, `-`, `.` and `/` between them) that hold
/// six or more digits: phone numbers, not status codes like `550` or `5.1.1`.
fn mask_digit_runs(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            let mut digits = 0;
            while i < chars.len() && (chars[i].is_ascii_digit() || matches!(chars[i], '+' | '-' | '.' | '/')) {
                if chars[i].is_ascii_digit() {
                    digits += 1;
                }
                i += 1;
            }
            if digits >= 6 {
                out.push_str("[number]");
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_numbers_are_removed_codes_stay() {
        let s = scrub("550 5.1.1 <jan@voorbeeld.nl>: Recipient address rejected", &["jan@voorbeeld.nl"]);
        assert_eq!(s, "550 5.1.1 <[recipient]>: Recipient address rejected");
        let s = scrub("550 user Jan.Jansen@Voorbeeld.NL unknown", &["jan.jansen@voorbeeld.nl"]);
        assert!(!s.contains('@'), "{s}");
        let s = scrub("Gsm '0031612345678' is not a number.", &[]);
        assert_eq!(s, "Gsm '[number]' is not a number.");
        assert_eq!(scrub("call +31 6-1234-5678 now", &[]), "call [number] now");
        assert_eq!(scrub("nummer +31 (0)6 1234 5678 onbekend", &[]), "nummer [number] onbekend");
        assert_eq!(scrub("421 4.7.0 try again at 12:30", &[]), "421 4.7.0 try again at 12:30");
        assert_eq!(scrub("errorCode 101: No account", &[]), "errorCode 101: No account");
        assert_eq!(scrub("a\r\nb", &[]), "a  b");
        assert_eq!(scrub(&"x".repeat(400), &[]).chars().count(), MAX_CHARS + 1);
    }
}
