//! The PDF read back with poppler's pdftotext and pdfinfo.

mod common;

use common::*;
use custodian_document::{Invoice, pdf, pdf_batch};

fn assert_all(text: &str, expected: &[&str]) {
    let missing: Vec<&&str> = expected.iter().filter(|e| !text.contains(**e)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in:\n{text}");
}

#[test]
fn dutch_invoice_shows_what_a_dutch_invoice_must() {
    let pages = pdf_pages(&pdf(&dutch_invoice()).unwrap());
    assert_eq!(pages.len(), 1);
    assert_all(
        &pages[0],
        &[
            "Factuur",
            // Seller.
            "Hosting Noord B.V.",
            "Vismarkt 12",
            "9712 CB Groningen",
            "KVK: 12345678",
            "Btw-nummer: NL123456789B01",
            // Buyer, with the contact person.
            "Bakkerij De Korenschoof",
            "t.a.v. Anna de Vries",
            "Dorpsstraat 7",
            "1234 AB Zwaagdijk",
            "KVK klant",
            "87654321",
            // Number and dates.
            "Factuurnummer",
            "2026-0042",
            "Factuurdatum",
            "7 december 2026",
            "Leverdatum",
            "1 december 2026",
            "Vervaldatum",
            "21 december 2026",
            // Lines: description, quantity, unit price, rate, amount.
            "Webhosting Pro, december 2026",
            "Domeinnaam korenschoof.nl",
            "Cursus WordPress (e-book)",
            "€ 59,50",
            "€ 12,00",
            "€ 24,00",
            "€ 25,00",
            "21%",
            "9%",
            // Totals: net, VAT per rate, total.
            "Totaal excl. btw",
            "€ 108,50",
            "Btw 21% over € 83,50",
            "€ 17,54",
            "Btw 9% over € 25,00",
            "€ 2,25",
            "Totaal incl. btw",
            "€ 128,29",
            // Payment.
            "IBAN NL91 ABNA 0417 1643 00",
            "factuurnummer 2026-0042",
            "pagina 1 van 1",
        ],
    );
    assert!(!pages[0].contains("Btw verlegd"));
}

#[test]
fn english_credit_note_refers_to_the_invoice() {
    let pages = pdf_pages(&pdf(&english_credit_note()).unwrap());
    assert_eq!(pages.len(), 1);
    assert_all(
        &pages[0],
        &[
            "Credit note",
            "for invoice 2026-0042",
            "Invoice number",
            "2026-0050",
            "15 December 2026",
            "Supply date",
            "Due date",
            "29 December 2026",
            "Hosting Noord B.V.",
            "KVK (Chamber of Commerce): 12345678",
            "VAT number: NL123456789B01",
            "Kaasboerderij Jansen",
            "Polderweg 3",
            "2811 AA Reeuwijk",
            "Customer VAT number",
            "NL987654321B01",
            "Webhosting Pro, December 2026",
            "Domain renewal",
            "WordPress course (e-book)",
            "-€59.50",
            "-€10.00",
            "-€25.00",
            "21%",
            "9%",
            "Total excl. VAT",
            "-€94.50",
            "VAT 21% on -€69.50",
            "-€14.60",
            "VAT 9% on -€25.00",
            "-€2.25",
            "Total incl. VAT",
            "-€111.35",
            "€111.35",
            "IBAN NL91 ABNA 0417 1643 00",
            "credit note 2026-0050",
            "page 1 of 1",
        ],
    );
    assert!(!pages[0].contains("B.V.."), "one full stop after the seller's name");
}

#[test]
fn reverse_charge_is_stated_with_the_buyers_vat_number() {
    let pages = pdf_pages(&pdf(&reverse_charge_invoice()).unwrap());
    assert_all(
        &pages[0],
        &[
            "Btw verlegd",
            "BE0123456749",
            "Brouwerij Het Anker NV",
            "2800 Mechelen",
            "BELGIË",
            "Btw 0% over € 200,00",
            "€ 200,00",
        ],
    );
}

#[test]
fn sixty_lines_flow_onto_a_second_page() {
    let mut invoice: Invoice = dutch_invoice();
    // 60 lines of 10.00 at 21 %: net 600.00, VAT 126.00, total 726.00.
    invoice.lines = (1..=60).map(|i| line(&format!("Mailbox nummer {i}"), 1, 1000, 2100)).collect();
    let bytes = pdf(&invoice).unwrap();
    assert_eq!(pdf_page_count(&bytes), 2);
    let pages = pdf_pages(&bytes);
    assert_eq!(pages.len(), 2);
    assert_all(&pages[0], &["Mailbox nummer 1 ", "pagina 1 van 2", "Bakkerij De Korenschoof"]);
    assert_all(
        &pages[1],
        &["Mailbox nummer 60", "Totaal incl. btw", "€ 726,00", "€ 126,00", "pagina 2 van 2", "vervolg"],
    );
    assert!(!pages[0].contains("Mailbox nummer 60"));
    assert!(!pages[0].contains("Totaal incl. btw"));
}

/// A print run: a one-page invoice, a two-page one and a one-page credit note
/// in one file. Each starts on a sheet of its own when printed on both sides
/// (a blank back after each one-page document) and numbers its own pages.
#[test]
fn a_print_run_starts_every_invoice_on_a_sheet_of_its_own() {
    let mut long: Invoice = dutch_invoice();
    long.number = "2026-0100".into();
    long.lines = (1..=60).map(|i| line(&format!("Mailbox nummer {i}"), 1, 1000, 2100)).collect();
    let bytes = pdf_batch("Te versturen per post", &[dutch_invoice(), long, english_credit_note()]).unwrap();
    let pages = pdf_pages(&bytes);
    assert_eq!(pages.len(), 6, "1 + blank, 2, 1 + blank");
    assert_eq!(pdf_page_count(&bytes), 6);
    assert_all(&pages[0], &[&dutch_invoice().number, "pagina 1 van 1"]);
    assert!(pages[1].trim().is_empty(), "a blank back: {:?}", pages[1]);
    assert_all(&pages[2], &["2026-0100", "pagina 1 van 2"]);
    assert_all(&pages[3], &["2026-0100", "pagina 2 van 2", "€ 726,00"]);
    assert_all(&pages[4], &[&english_credit_note().number, "page 1 of 1"]);
    assert!(pages[5].trim().is_empty());
    // A document that cannot be made stops the run, naming why.
    let mut broken = dutch_invoice();
    broken.lines.clear();
    assert!(pdf_batch("x", &[dutch_invoice(), broken]).is_err());
}

#[test]
fn long_descriptions_wrap_within_their_column() {
    let mut invoice = dutch_invoice();
    let long = "Beheer van de webserver inclusief dagelijkse back-ups, beveiligingsupdates, monitoring \
                buiten kantoortijden en een maandelijks rapport over beschikbaarheid en gebruik";
    invoice.lines.insert(0, line(long, 1, 10000, 2100));
    let page = &pdf_pages(&pdf(&invoice).unwrap())[0];
    let first = page.lines().position(|l| l.contains("Beheer van de webserver")).expect("first words");
    let last = page.lines().position(|l| l.contains("maandelijks rapport")).expect("later words");
    assert!(last > first, "the description should take several lines:\n{page}");
    // The amount stands on the first line of the description.
    assert!(page.lines().nth(first).unwrap().contains("€ 100,00"));
}

/// Words with their boxes in points from the top-left corner (pdftotext -bbox).
fn words(pdf: &[u8]) -> Vec<(String, [f64; 4])> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "doc.pdf", pdf);
    let html = run("pdftotext", &["-bbox", path.to_str().unwrap(), "-"]);
    html.lines()
        .filter(|l| l.trim_start().starts_with("<word "))
        .map(|l| {
            let attr = |name: &str| -> f64 {
                let start = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                l[start..].split('"').next().unwrap().parse().unwrap()
            };
            let text = l.split('>').nth(1).unwrap().split('<').next().unwrap().to_string();
            (text, [attr("xMin"), attr("yMin"), attr("xMax"), attr("yMax")])
        })
        .collect()
}

/// The amounts column ends at 190 mm (538.58 pt) whatever the digits, in
/// regular and bold: the Helvetica widths in src/metrics.rs agree with the ones
/// poppler measures with.
#[test]
fn amounts_are_right_aligned() {
    let words = words(&pdf(&dutch_invoice()).unwrap());
    let right = 190.0 * 72.0 / 25.4;
    for word in ["Bedrag", "59,50", "24,00", "108,50", "17,54", "2,25", "128,29"] {
        let ends: Vec<f64> = words.iter().filter(|(t, _)| t == word).map(|(_, b)| b[2]).collect();
        assert!(ends.iter().any(|x| (x - right).abs() < 0.3), "{word} ends at {ends:?}, not at {right}");
    }
}

/// The buyer's address lies inside the window chosen in src/pdf.rs: 20 mm from
/// the left, 50 mm from the top, 90 × 40 mm. pdftotext -bbox gives points from
/// the top-left corner.
#[test]
fn address_block_lies_inside_the_envelope_window() {
    let mm = |v: f64| v * 72.0 / 25.4;
    let (left, top, right, bottom) = (mm(20.0), mm(50.0), mm(110.0), mm(90.0));
    let words = words(&pdf(&dutch_invoice()).unwrap());
    for word in ["Bakkerij", "Korenschoof", "t.a.v.", "Vries", "Dorpsstraat", "1234", "AB", "Zwaagdijk"] {
        let (_, [x0, y0, x1, y1]) =
            words.iter().find(|(t, _)| t == word).unwrap_or_else(|| panic!("{word} not in the PDF"));
        assert!(
            *x0 >= left && *x1 <= right && *y0 >= top && *y1 <= bottom,
            "{word} at ({x0}, {y0})–({x1}, {y1}) lies outside the window ({left}, {top})–({right}, {bottom})"
        );
    }
    // The seller's name, top right, is not in the window.
    let (_, [x0, ..]) = words.iter().find(|(t, _)| t == "Noord").unwrap();
    assert!(*x0 > right);
}
