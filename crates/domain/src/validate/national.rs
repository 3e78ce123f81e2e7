//! National check digits inside the account number (BBAN) of an IBAN.
//!
//! The IBAN's own check digits (ISO 7064 mod 97) catch typing errors in the
//! whole number, but a bank may still refuse an account number whose
//! national check digits are wrong, and an IBAN made up with correct outer
//! check digits passes them. These countries define check digits of their
//! own inside the BBAN; the rules are those of their national standards:
//!
//! - Belgium: the last two digits are the first ten mod 97 (97 for 0).
//! - France and Monaco: the RIB key, 97 − ((89 × bank + 15 × branch + 3 ×
//!   account) mod 97), letters in the account taken as digits (A, J → 1; B,
//!   K, S → 2; … I, R, Z → 9).
//! - Spain: two digits, each 11 − (weighted sum mod 11) (11 → 0, 10 → 1)
//!   with weights 1, 2, 4, 8, 5, 10, 9, 7, 3, 6: the first over "00", bank
//!   and branch, the second over the account.
//! - Italy and San Marino: the CIN letter, over bank, branch and account,
//!   characters in odd places through a fixed table, in even places by
//!   their value, the sum mod 26 as a letter.
//! - Portugal: the NIB's last two digits, 98 − (first nineteen × 100 mod 97).
//! - Norway: the last digit, mod 11 with weights 5, 4, 3, 2, 7, 6, 5, 4, 3, 2.
//!
//! Other countries have no national check, or one that differs per bank
//! (Germany): their IBANs pass here.

/// Whether `bban`, the account number of an IBAN of `country` whose
/// structure the registry accepted, carries correct national check digits.
pub(super) fn holds(country: &str, bban: &str) -> bool {
    let b = bban.as_bytes();
    match (country, b.len()) {
        ("BE", 12) => belgium(b),
        ("FR" | "MC", 23) => france(b),
        ("ES", 20) => spain(b),
        ("IT" | "SM", 23) => italy(b),
        ("PT", 21) => portugal(b),
        ("NO", 11) => norway(b),
        _ => true,
    }
}

/// The value of an ASCII digit; the registry's structure put digits here.
fn digit(b: u8) -> u64 {
    u64::from(b.wrapping_sub(b'0')) % 10
}

/// The decimal number written in `digits`, mod `m`.
fn modulo(digits: impl IntoIterator<Item = u64>, m: u64) -> u64 {
    digits.into_iter().fold(0, |acc, d| (acc * 10 + d) % m)
}

fn number(b: &[u8]) -> u64 {
    b.iter().fold(0, |acc, &d| acc * 10 + digit(d))
}

fn belgium(b: &[u8]) -> bool {
    let rest = modulo(b[..10].iter().map(|&d| digit(d)), 97);
    number(&b[10..]) == if rest == 0 { 97 } else { rest }
}

/// A French account character as a digit: letters by the RIB's table.
fn rib_digit(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => u64::from(c - b'0'),
        b'A'..=b'I' => u64::from(c - b'A') + 1,
        b'J'..=b'R' => u64::from(c - b'J') + 1,
        b'S'..=b'Z' => u64::from(c - b'S') + 2,
        _ => 0,
    }
}

fn france(b: &[u8]) -> bool {
    let bank = modulo(b[..5].iter().map(|&d| digit(d)), 97);
    let branch = modulo(b[5..10].iter().map(|&d| digit(d)), 97);
    let account = modulo(b[10..21].iter().map(|&c| rib_digit(c)), 97);
    let key = 97 - (89 * bank + 15 * branch + 3 * account) % 97;
    number(&b[21..]) == key
}

fn spain_digit(digits: impl Iterator<Item = u64>) -> u64 {
    const WEIGHTS: [u64; 10] = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
    let sum: u64 = digits.zip(WEIGHTS).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => 0,
        10 => 1,
        d => d,
    }
}

fn spain(b: &[u8]) -> bool {
    let first = spain_digit([0, 0].into_iter().chain(b[..8].iter().map(|&d| digit(d))));
    let second = spain_digit(b[10..].iter().map(|&d| digit(d)));
    digit(b[8]) == first && digit(b[9]) == second
}

fn italy(b: &[u8]) -> bool {
    // Values of the characters in odd places (1st, 3rd, …): 0–9, then A–Z
    // share the table from A on as 0–9 do.
    const ODD: [u64; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let value = |c: u8| match c {
        b'0'..=b'9' => usize::from(c - b'0'),
        b'A'..=b'Z' => usize::from(c - b'A'),
        _ => 0,
    };
    let sum: u64 =
        b[1..].iter().enumerate().map(|(i, &c)| if i % 2 == 0 { ODD[value(c)] } else { value(c) as u64 }).sum();
    u64::from(b[0]) == u64::from(b'A') + sum % 26
}

fn portugal(b: &[u8]) -> bool {
    let rest = modulo(b[..19].iter().map(|&d| digit(d)).chain([0, 0]), 97);
    number(&b[19..]) == 98 - rest
}

fn norway(b: &[u8]) -> bool {
    const WEIGHTS: [u64; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u64 = b[..10].iter().zip(WEIGHTS).map(|(&d, w)| digit(d) * w).sum();
    match sum % 11 {
        0 => digit(b[10]) == 0,
        1 => false,
        r => digit(b[10]) == 11 - r,
    }
}
