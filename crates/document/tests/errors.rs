//! Invoices that cannot become a document give an error, never a panic.

mod common;

use common::*;
use custodian_document::{DocumentError, Lang, PartyField, pdf, ubl};

#[test]
fn no_lines() {
    let mut invoice = dutch_invoice();
    invoice.lines.clear();
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::NoLines);
    assert_eq!(ubl(&invoice).unwrap_err(), DocumentError::NoLines);
    assert_eq!(DocumentError::NoLines.to_string(), "the invoice has no lines");
    assert_eq!(DocumentError::NoLines.message(Lang::Nl), "de factuur heeft geen regels");
}

#[test]
fn missing_seller_kvk() {
    let mut invoice = dutch_invoice();
    invoice.seller.kvk = "  ".into();
    let err = pdf(&invoice).unwrap_err();
    assert_eq!(err, DocumentError::MissingSeller(PartyField::Kvk));
    assert_eq!(ubl(&invoice).unwrap_err(), err);
    assert_eq!(err.to_string(), "the seller's KVK number is missing");
    assert_eq!(err.message(Lang::Nl), "de KVK-nummer van de verkoper ontbreekt");
}

#[test]
fn other_missing_fields() {
    let mut invoice = dutch_invoice();
    invoice.number = String::new();
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::EmptyNumber);

    let mut invoice = dutch_invoice();
    invoice.seller.vat_id = String::new();
    assert_eq!(ubl(&invoice).unwrap_err(), DocumentError::MissingSeller(PartyField::VatId));

    let mut invoice = dutch_invoice();
    invoice.seller.name = String::new();
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::MissingSeller(PartyField::Name));

    let mut invoice = dutch_invoice();
    invoice.seller.street = String::new();
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::MissingSeller(PartyField::Street));

    let mut invoice = dutch_invoice();
    invoice.buyer.postcode = String::new();
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::MissingBuyer(PartyField::Postcode));
}

#[test]
fn lines_out_of_range() {
    let mut invoice = dutch_invoice();
    invoice.lines[1].quantity = 0;
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::LineOutOfRange(2));
    invoice.lines[1].quantity = i64::MAX;
    assert_eq!(ubl(&invoice).unwrap_err(), DocumentError::LineOutOfRange(2));
    invoice.lines[1] = line("x", 1, 100, 10_001);
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::LineOutOfRange(2));
    invoice.lines[1] = line(" ", 1, 100, 2100);
    assert_eq!(pdf(&invoice).unwrap_err(), DocumentError::EmptyDescription(2));
}
