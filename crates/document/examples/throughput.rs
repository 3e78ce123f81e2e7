//! Renders a five-line invoice over and over on one thread and prints how many
//! PDFs (and UBL files) per second that makes. With a directory as argument it
//! also writes one PDF and one UBL file there to look at.
//!
//! `cargo run --release -p custodian-document --example throughput [DIR]`

use std::time::{Duration, Instant};

use custodian_document::{Buyer, Invoice, Lang, Line, Party, pdf, ubl};

fn invoice() -> Invoice {
    let line = |d: &str, q, p, r| Line { description: d.into(), quantity: q, unit_price_cents: p, vat_rate_bp: r };
    Invoice {
        number: "2026-0100".into(),
        issued_on: time::macros::date!(2026 - 12 - 07),
        supply_date: None,
        due_on: time::macros::date!(2026 - 12 - 21),
        credit_for: None,
        buyer_reference: Some("klant 7".into()),
        lines: vec![
            line("Webhosting Pro, december 2026", 1, 5950, 2100),
            line("Domeinnaam voorbeeld.nl", 3, 1200, 2100),
            line("Mailbox 10 GB", 4, 250, 2100),
            line("SSL-certificaat", 1, 4900, 2100),
            line("Cursus WordPress (e-book)", 1, 2500, 900),
        ],
        seller: Party {
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
        },
        buyer: Buyer {
            name: "Bakkerij De Korenschoof".into(),
            contact: Some("Anna de Vries".into()),
            street: "Dorpsstraat 7".into(),
            postcode: "1234 AB".into(),
            city: "Zwaagdijk".into(),
            country: "NL".into(),
            vat_id: None,
            kvk: Some("87654321".into()),
            email: None,
        },
        lang: Lang::Nl,
    }
}

fn rate(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(3) {
        f();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn main() {
    let invoice = invoice();
    if let Some(dir) = std::env::args().nth(1) {
        std::fs::write(format!("{dir}/invoice.pdf"), pdf(&invoice).expect("pdf")).expect("write");
        std::fs::write(format!("{dir}/invoice.xml"), ubl(&invoice).expect("ubl")).expect("write");
    }
    let pdfs = rate(|| {
        std::hint::black_box(pdf(&invoice).expect("pdf"));
    });
    let ubls = rate(|| {
        std::hint::black_box(ubl(&invoice).expect("ubl"));
    });
    println!("{pdfs:.0} PDFs per second, {ubls:.0} UBL files per second (one thread)");
}
