//! Every validator of the domain on any text: an answer, never a panic; and
//! what one accepts it accepts again in its normal form.
#![no_main]

use custodian_domain::model::{CustomerKind, Gender, LegalForm, Text, parse_date, parse_handle, parse_vat_rate};
use custodian_domain::validate::{Btw, Country, DutchPostcode, Email, Iban, Kvk, Lines, Phone, check_visible};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(v) = Iban::parse(s) {
        assert_eq!(Iban::parse(v.as_str()).as_ref(), Ok(&v));
    }
    if let Ok(v) = Email::parse(s) {
        assert_eq!(Email::parse(&v.to_string()).as_ref(), Ok(&v));
    }
    if let Ok(v) = Kvk::parse(s) {
        assert_eq!(Kvk::parse(&v.to_string()).as_ref(), Ok(&v));
    }
    if let Ok(v) = Btw::parse(s) {
        assert_eq!(Btw::parse(&v.to_string()).as_ref(), Ok(&v));
    }
    if let Ok(v) = DutchPostcode::parse(s) {
        assert_eq!(DutchPostcode::parse(&v.to_string()).as_ref(), Ok(&v));
    }
    if let Ok(v) = Phone::parse(s) {
        assert_eq!(Phone::parse(&v.to_string()).as_ref(), Ok(&v));
    }
    let _ = Country::parse(s);
    let _ = Text::parse(s);
    let _ = check_visible("text", s, Lines::One);
    let _ = check_visible("text", s, Lines::Many);
    let _ = parse_date(s);
    let _ = parse_handle(s);
    let _ = parse_vat_rate(s);
    let _ = LegalForm::parse(s);
    let _ = CustomerKind::parse(s);
    let _ = Gender::parse(s);
    let _ = custodian_domain::model::InvoiceLine::parse(s);
});
