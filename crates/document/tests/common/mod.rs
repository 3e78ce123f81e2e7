//! Invoices for the tests, and the tools that read the documents back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use custodian_document::{Buyer, Invoice, Lang, Line, Party};
use time::macros::date;

pub fn seller() -> Party {
    Party {
        name: "Hosting Noord B.V.".into(),
        street: "Vismarkt 12".into(),
        postcode: "9712 CB".into(),
        city: "Groningen".into(),
        country: "NL".into(),
        kvk: "12345678".into(),
        vat_id: "NL123456789B01".into(),
        iban: "NL91 ABNA 0417 1643 00".into(),
        bic: Some("ABNANL2A".into()),
        email: "factuur@hostingnoord.nl".into(),
        phone: "050 123 4567".into(),
    }
}

pub fn buyer() -> Buyer {
    Buyer {
        name: "Bakkerij De Korenschoof".into(),
        contact: Some("Anna de Vries".into()),
        street: "Dorpsstraat 7".into(),
        postcode: "1234 AB".into(),
        city: "Zwaagdijk".into(),
        country: "NL".into(),
        vat_id: None,
        kvk: Some("87654321".into()),
        email: Some("anna@korenschoof.nl".into()),
    }
}

pub fn line(description: &str, quantity: i64, unit_price_cents: i64, vat_rate_bp: i64) -> Line {
    Line { description: description.into(), quantity, unit_price_cents, vat_rate_bp }
}

/// Two lines at 21 %, one at 9 %:
/// net 21 % = 59.50 + 2 × 12.00 = 83.50, VAT 17.535 → 17.54;
/// net 9 % = 25.00, VAT 2.25; net 108.50, VAT 19.79, total 128.29.
pub fn dutch_invoice() -> Invoice {
    Invoice {
        number: "2026-0042".into(),
        issued_on: date!(2026 - 12 - 07),
        supply_date: Some(date!(2026 - 12 - 01)),
        due_on: date!(2026 - 12 - 21),
        credit_for: None,
        buyer_reference: Some("klant 1042".into()),
        lines: vec![
            line("Webhosting Pro, december 2026", 1, 5950, 2100),
            line("Domeinnaam korenschoof.nl", 2, 1200, 2100),
            line("Cursus WordPress (e-book)", 1, 2500, 900),
        ],
        seller: seller(),
        buyer: buyer(),
        lang: Lang::Nl,
    }
}

/// A credit note for 2026-0042 with negative prices:
/// net 21 % = -59.50 - 10.00 = -69.50, VAT -14.595 → -14.60;
/// net 9 % = -25.00, VAT -2.25; net -94.50, VAT -16.85, total -111.35.
pub fn english_credit_note() -> Invoice {
    Invoice {
        number: "2026-0050".into(),
        issued_on: date!(2026 - 12 - 15),
        supply_date: None,
        due_on: date!(2026 - 12 - 29),
        credit_for: Some("2026-0042".into()),
        buyer_reference: None,
        lines: vec![
            line("Webhosting Pro, December 2026", 1, -5950, 2100),
            line("Domain renewal", 1, -1000, 2100),
            line("WordPress course (e-book)", 1, -2500, 900),
        ],
        seller: seller(),
        buyer: Buyer {
            name: "Kaasboerderij Jansen".into(),
            contact: None,
            street: "Polderweg 3".into(),
            postcode: "2811 AA".into(),
            city: "Reeuwijk".into(),
            country: "NL".into(),
            vat_id: Some("NL987654321B01".into()),
            kvk: None,
            email: None,
        },
        lang: Lang::En,
    }
}

/// A Belgian business customer with services at 0 %: VAT reverse charged.
pub fn reverse_charge_invoice() -> Invoice {
    Invoice {
        number: "2026-0043".into(),
        lines: vec![line("Managed server, December 2026", 1, 20000, 0)],
        buyer: Buyer {
            name: "Brouwerij Het Anker NV".into(),
            contact: None,
            street: "Guido Gezellelaan 49".into(),
            postcode: "2800".into(),
            city: "Mechelen".into(),
            country: "BE".into(),
            vat_id: Some("BE0123456749".into()),
            kvk: None,
            email: Some("boekhouding@hetanker.be".into()),
        },
        ..dutch_invoice()
    }
}

/// Runs a tool and returns its standard output; fails the test with a clear
/// message when the tool is missing or fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); install it (Debian: poppler-utils, libxml2-utils)"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// `pdftotext -layout`: one string per page.
pub fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_temp(dir.path(), "doc.pdf", pdf);
    let text = run("pdftotext", &["-layout", "-enc", "UTF-8", path.to_str().unwrap(), "-"]);
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

pub fn pdf_page_count(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_temp(dir.path(), "doc.pdf", pdf);
    let info = run("pdfinfo", &[path.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo reports Pages")
}
