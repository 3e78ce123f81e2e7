//! The UBL validated against the OASIS UBL 2.1 schemas with xmllint, and read
//! back for the values that matter.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use custodian_document::{Invoice, ubl};
use quick_xml::Reader;
use quick_xml::events::Event;

/// The maindoc directory of the UBL 2.1 schemas, fetched by tests/ubl-xsd.sh
/// once per test binary: the tests run side by side, and a second fetch
/// would replace the files while the first test's xmllint reads them.
fn xsd_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(fetch_xsds).clone()
}

fn fetch_xsds() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ubl-xsd.sh");
    let cache = std::env::var_os("CUSTODIAN_UBL_XSD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("ubl-xsd"));
    let out = Command::new("sh")
        .arg(&script)
        .env("CUSTODIAN_UBL_XSD_DIR", &cache)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "could not get the UBL 2.1 XSDs with {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn validate(xml: &str, schema: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "doc.xml", xml.as_bytes());
    let xsd = xsd_dir().join(schema);
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(&path)
        .output()
        .expect("cannot run xmllint (Debian: libxml2-utils)");
    assert!(out.status.success(), "{schema} rejects the document: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

/// An element with text: path from the root, attributes, text.
type Element = (String, Vec<(String, String)>, String);

fn elements(xml: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut attrs = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().unwrap();
        if matches!(event, Event::Start(_) | Event::End(_) | Event::Eof) && !text.trim().is_empty() {
            out.push((path.join("/"), attrs.clone(), std::mem::take(&mut text)));
        }
        match event {
            Event::Start(e) => {
                text.clear();
                path.push(e.name().as_ref().to_string());
                attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            a.key.as_ref().to_string(),
                            a.normalized_value(quick_xml::XmlVersion::default()).unwrap().into_owned(),
                        )
                    })
                    .collect();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            // Escaped characters arrive as references of their own.
            Event::GeneralRef(r) => text.push_str(match r.as_ref() {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                other => panic!("unexpected entity {other}"),
            }),
            Event::End(_) => {
                text.clear();
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn values(xml: &str, path: &str) -> Vec<String> {
    elements(xml).into_iter().filter(|(p, _, _)| p == path).map(|(_, _, t)| t).collect()
}

fn value(xml: &str, path: &str) -> String {
    let v = values(xml, path);
    assert_eq!(v.len(), 1, "{path}: {v:?}");
    v[0].clone()
}

fn attr(xml: &str, path: &str, name: &str) -> String {
    let (_, attrs, _) = elements(xml).into_iter().find(|(p, _, _)| p == path).unwrap_or_else(|| panic!("no {path}"));
    attrs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no {name} on {path}"))
}

#[test]
fn invoice_is_valid_ubl_with_the_right_values() {
    let xml = ubl(&dutch_invoice()).unwrap();
    validate(&xml, "UBL-Invoice-2.1.xsd");
    assert_eq!(
        value(&xml, "Invoice/cbc:CustomizationID"),
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0"
    );
    assert_eq!(value(&xml, "Invoice/cbc:ProfileID"), "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0");
    assert_eq!(value(&xml, "Invoice/cbc:ID"), "2026-0042");
    assert_eq!(value(&xml, "Invoice/cbc:IssueDate"), "2026-12-07");
    assert_eq!(value(&xml, "Invoice/cbc:DueDate"), "2026-12-21");
    assert_eq!(value(&xml, "Invoice/cbc:InvoiceTypeCode"), "380");
    assert_eq!(value(&xml, "Invoice/cbc:DocumentCurrencyCode"), "EUR");
    assert_eq!(value(&xml, "Invoice/cbc:BuyerReference"), "klant 1042");
    let supplier = "Invoice/cac:AccountingSupplierParty/cac:Party";
    assert_eq!(value(&xml, &format!("{supplier}/cac:PartyTaxScheme/cbc:CompanyID")), "NL123456789B01");
    let kvk = format!("{supplier}/cac:PartyLegalEntity/cbc:CompanyID");
    assert_eq!(value(&xml, &kvk), "12345678");
    assert_eq!(attr(&xml, &kvk, "schemeID"), "0106");
    assert_eq!(value(&xml, "Invoice/cac:Delivery/cbc:ActualDeliveryDate"), "2026-12-01");
    assert_eq!(value(&xml, "Invoice/cac:PaymentMeans/cbc:PaymentMeansCode"), "58");
    assert_eq!(value(&xml, "Invoice/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"), "NL91ABNA0417164300");
    // 83.50 at 21 % → 17.54, 25.00 at 9 % → 2.25.
    assert_eq!(value(&xml, "Invoice/cac:TaxTotal/cbc:TaxAmount"), "19.79");
    assert_eq!(values(&xml, "Invoice/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount"), ["83.50", "25.00"]);
    assert_eq!(values(&xml, "Invoice/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount"), ["17.54", "2.25"]);
    assert_eq!(values(&xml, "Invoice/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID"), ["S", "S"]);
    assert_eq!(values(&xml, "Invoice/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent"), ["21", "9"]);
    assert_eq!(value(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:LineExtensionAmount"), "108.50");
    assert_eq!(value(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"), "108.50");
    assert_eq!(value(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"), "128.29");
    assert_eq!(value(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount"), "128.29");
    assert_eq!(attr(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount", "currencyID"), "EUR");
    assert_eq!(values(&xml, "Invoice/cac:InvoiceLine/cbc:InvoicedQuantity"), ["1", "2", "1"]);
    assert_eq!(values(&xml, "Invoice/cac:InvoiceLine/cbc:LineExtensionAmount"), ["59.50", "24.00", "25.00"]);
    assert_eq!(values(&xml, "Invoice/cac:InvoiceLine/cac:Price/cbc:PriceAmount"), ["59.50", "12.00", "25.00"]);
    assert_eq!(values(&xml, "Invoice/cac:InvoiceLine/cac:Item/cbc:Name")[1], "Domeinnaam korenschoof.nl");
}

#[test]
fn credit_note_is_valid_ubl_with_positive_amounts() {
    let xml = ubl(&english_credit_note()).unwrap();
    validate(&xml, "UBL-CreditNote-2.1.xsd");
    assert_eq!(value(&xml, "CreditNote/cbc:CreditNoteTypeCode"), "381");
    assert!(values(&xml, "CreditNote/cbc:BuyerReference").is_empty(), "none given, none written");
    // With the buyer's reference the credit note still follows the schema's order.
    let referenced = ubl(&Invoice { buyer_reference: Some("klant 1042".into()), ..english_credit_note() }).unwrap();
    validate(&referenced, "UBL-CreditNote-2.1.xsd");
    assert_eq!(value(&referenced, "CreditNote/cbc:BuyerReference"), "klant 1042");
    assert_eq!(value(&xml, "CreditNote/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"), "2026-0042");
    assert_eq!(value(&xml, "CreditNote/cac:Delivery/cbc:ActualDeliveryDate"), "2026-12-15");
    assert_eq!(
        value(&xml, "CreditNote/cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
        "NL987654321B01"
    );
    // -69.50 at 21 % → -14.60 (half away from zero), -25.00 at 9 % → -2.25,
    // written positive in a credit note.
    assert_eq!(values(&xml, "CreditNote/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount"), ["14.60", "2.25"]);
    assert_eq!(value(&xml, "CreditNote/cac:TaxTotal/cbc:TaxAmount"), "16.85");
    assert_eq!(value(&xml, "CreditNote/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"), "94.50");
    assert_eq!(value(&xml, "CreditNote/cac:LegalMonetaryTotal/cbc:PayableAmount"), "111.35");
    assert_eq!(values(&xml, "CreditNote/cac:CreditNoteLine/cbc:CreditedQuantity"), ["1", "1", "1"]);
    assert_eq!(values(&xml, "CreditNote/cac:CreditNoteLine/cac:Price/cbc:PriceAmount"), ["59.50", "10.00", "25.00"]);
}

#[test]
fn reverse_charge_uses_category_ae_with_a_reason() {
    let xml = ubl(&reverse_charge_invoice()).unwrap();
    validate(&xml, "UBL-Invoice-2.1.xsd");
    let sub = "Invoice/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory";
    assert_eq!(value(&xml, &format!("{sub}/cbc:ID")), "AE");
    assert_eq!(value(&xml, &format!("{sub}/cbc:Percent")), "0");
    assert_eq!(value(&xml, &format!("{sub}/cbc:TaxExemptionReasonCode")), "VATEX-EU-AE");
    assert_eq!(value(&xml, "Invoice/cac:TaxTotal/cbc:TaxAmount"), "0.00");
    assert_eq!(value(&xml, "Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount"), "200.00");
    assert_eq!(
        value(&xml, "Invoice/cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
        "BE0123456749"
    );
    assert_eq!(value(&xml, "Invoice/cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID"), "AE");
}

#[test]
fn text_is_escaped() {
    let mut invoice = dutch_invoice();
    invoice.buyer.name = "Smit & Zonen <Bouw>".into();
    invoice.lines[0].description = "Hosting \"Pro\" & mail".into();
    let xml = ubl(&invoice).unwrap();
    validate(&xml, "UBL-Invoice-2.1.xsd");
    assert!(xml.contains("Smit &amp; Zonen &lt;Bouw&gt;"));
    assert_eq!(
        value(&xml, "Invoice/cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name"),
        "Smit & Zonen <Bouw>"
    );
}

#[test]
fn no_empty_elements_for_absent_details() {
    let mut invoice = dutch_invoice();
    invoice.seller.phone = String::new();
    invoice.seller.email = String::new();
    invoice.seller.bic = None;
    invoice.buyer.contact = None;
    invoice.buyer.email = None;
    let xml = ubl(&invoice).unwrap();
    validate(&xml, "UBL-Invoice-2.1.xsd");
    assert!(!xml.contains("cac:Contact"), "{xml}");
    assert!(!xml.contains("FinancialInstitutionBranch"), "{xml}");
}
