//! The invoice as an A4 PDF for a Dutch window envelope, in built-in Helvetica
//! (nothing to embed; WinAnsi has the euro sign).
//!
//! Positions are in millimetres from the top-left corner of the page.

use printpdf::{
    BuiltinFont, Line as PdfLine, LinePoint, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    TextItem,
};

use crate::metrics::{width, wrap};
use crate::text::{country_name, format_amount, format_date, format_rate, labels};
use crate::{DocumentError, Invoice};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 20.0;
const RIGHT: f32 = 190.0;

/// The address window. Dutch business envelopes (EA5/6 and C5 "venstervelop"
/// per NEN 1026 / PostNL) have their window on the left, 20 mm from the side
/// and about 50 mm from the top of a folded A4, 90 × 40 mm (the DIN 5008 form
/// B field, 45 mm from the top, falls inside it too). The address is set 5 mm
/// inside the top and 3 mm inside the left edge so that the letter may shift
/// a few millimetres in the envelope without hiding a line.
pub const WINDOW_LEFT_MM: f32 = 20.0;
pub const WINDOW_TOP_MM: f32 = 50.0;
pub const WINDOW_WIDTH_MM: f32 = 90.0;
pub const WINDOW_HEIGHT_MM: f32 = 40.0;

/// Content stops here; the page number sits below.
const BOTTOM: f32 = 272.0;
const FOOTER_Y: f32 = 285.0;

const ROW: f32 = 4.5;
const BODY: f32 = 9.0;

// Right edges of the number columns, and the description's width.
const COL_QTY: f32 = 117.0;
const COL_PRICE: f32 = 145.0;
const COL_VAT: f32 = 160.0;
const COL_AMOUNT: f32 = RIGHT;
const DESC_W: f32 = 80.0;

fn pt_to_mm(pt: f32) -> f32 {
    pt * 25.4 / 72.0
}

fn mm_to_pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

struct Page {
    ops: Vec<Op>,
}

impl Page {
    fn new() -> Page {
        Page { ops: Vec::new() }
    }

    /// `y` is the baseline, from the top.
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let font = if bold { BuiltinFont::HelveticaBold } else { BuiltinFont::Helvetica };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::Builtin(font), size: Pt(size) },
            Op::SetTextCursor { pos: Point::new(Mm(x), Mm(PAGE_H - y)) },
            Op::ShowText { items: vec![TextItem::Text(s.to_string())] },
            Op::EndTextSection,
        ]);
    }

    fn text_right(&mut self, right: f32, y: f32, size: f32, bold: bool, s: &str) {
        self.text(right - pt_to_mm(width(s, size, bold)), y, size, bold, s);
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32) {
        let p = |x: f32| LinePoint { p: Point::new(Mm(x), Mm(PAGE_H - y)), bezier: false };
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
        self.ops.push(Op::DrawLine { line: PdfLine { points: vec![p(x1), p(x2)], is_closed: false } });
    }
}

/// Renders the invoice, or credit note, as PDF bytes.
pub fn pdf(invoice: &Invoice) -> Result<Vec<u8>, DocumentError> {
    let title = if invoice.is_credit_note() { labels(invoice.lang).credit_note } else { labels(invoice.lang).invoice };
    save(&format!("{title} {}", invoice.number.trim()), pages(invoice)?)
}

/// Renders several invoices as one PDF to print in one go: each starts on a
/// new page and numbers its own pages, and one of an odd number of pages is
/// followed by a blank one, so that printed on both sides every invoice
/// starts on a sheet of its own (one envelope each).
pub fn pdf_batch(title: &str, invoices: &[Invoice]) -> Result<Vec<u8>, DocumentError> {
    let mut all = Vec::new();
    for invoice in invoices {
        let mut own = pages(invoice)?;
        if own.len() % 2 == 1 {
            own.push(PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), vec![]));
        }
        all.extend(own);
    }
    save(title, all)
}

fn save(title: &str, pages: Vec<PdfPage>) -> Result<Vec<u8>, DocumentError> {
    let mut doc = PdfDocument::new(title);
    let mut warnings = Vec::new();
    Ok(doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut warnings))
}

/// The pages of one invoice, each with its footer.
fn pages(invoice: &Invoice) -> Result<Vec<PdfPage>, DocumentError> {
    invoice.validate()?;
    let lang = invoice.lang;
    let l = labels(lang);
    let amounts = invoice.amounts();
    let title = if invoice.is_credit_note() { l.credit_note } else { l.invoice };

    // Full pages go to `pages`; `page` is the one being written.
    let mut pages = Vec::new();
    let mut page = Page::new();
    seller_block(&mut page, invoice);
    address_block(&mut page, invoice);

    let mut y = 105.0;
    page.text(LEFT, y, 16.0, true, title);
    if let Some(original) = &invoice.credit_for {
        page.text(
            LEFT + pt_to_mm(width(title, 16.0, true)) + 3.0,
            y,
            11.0,
            false,
            &format!("{} {original}", l.for_invoice),
        );
    }
    y += 9.0;
    let mut meta = vec![
        (l.number, invoice.number.trim().to_string()),
        (l.date, format_date(invoice.issued_on, lang)),
        (l.supply_date, format_date(invoice.supply_date(), lang)),
        (l.due_date, format_date(invoice.due_on, lang)),
    ];
    if let Some(vat) = invoice.buyer.vat_id.as_deref().filter(|v| !v.trim().is_empty()) {
        meta.push((l.buyer_vat_id, vat.trim().to_string()));
    }
    if let Some(kvk) = invoice.buyer.kvk.as_deref().filter(|v| !v.trim().is_empty()) {
        meta.push((l.buyer_kvk, kvk.trim().to_string()));
    }
    for (label, value) in &meta {
        page.text(LEFT, y, BODY, true, label);
        page.text(LEFT + 40.0, y, BODY, false, value);
        y += ROW;
    }
    y += 5.0;
    y = table_header(&mut page, invoice, y);

    for line in &invoice.lines {
        let desc = wrap(&line.description, BODY, false, mm_to_pt(DESC_W));
        let height = desc.len() as f32 * ROW;
        if y + height > BOTTOM {
            pages.push(std::mem::replace(&mut page, Page::new()));
            y = continuation_header(&mut page, invoice, title);
        }
        for (i, part) in desc.iter().enumerate() {
            page.text(LEFT, y + i as f32 * ROW, BODY, false, part);
        }
        page.text_right(COL_QTY, y, BODY, false, &line.quantity.to_string());
        page.text_right(COL_PRICE, y, BODY, false, &format_amount(line.unit_price_cents, lang));
        page.text_right(COL_VAT, y, BODY, false, &format_rate(line.vat_rate_bp, lang));
        page.text_right(COL_AMOUNT, y, BODY, false, &format_amount(line.quantity * line.unit_price_cents, lang));
        y += height + 0.5;
    }

    // The totals and payment lines stay together.
    let payment = wrap(&payment_text(invoice, amounts.total_cents), BODY, false, mm_to_pt(RIGHT - LEFT));
    let reverse = invoice.is_reverse_charge();
    let rows = 2 + amounts.groups.len() + usize::from(reverse);
    let needed = 4.0 + rows as f32 * 5.0 + 6.0 + payment.len() as f32 * ROW;
    if y + needed > BOTTOM {
        pages.push(std::mem::replace(&mut page, Page::new()));
        y = continuation_header(&mut page, invoice, title) - ROW;
    }
    page.rule(LEFT, RIGHT, y - 2.5);
    y += 3.0;
    let label_x = 110.0;
    page.text(label_x, y, BODY, false, l.net_total);
    page.text_right(COL_AMOUNT, y, BODY, false, &format_amount(amounts.net_cents, lang));
    y += 5.0;
    for g in &amounts.groups {
        let label =
            format!("{} {} {} {}", l.vat, format_rate(g.rate_bp, lang), l.vat_over, format_amount(g.net_cents, lang));
        page.text(label_x, y, BODY, false, &label);
        page.text_right(COL_AMOUNT, y, BODY, false, &format_amount(g.vat_cents, lang));
        y += 5.0;
    }
    page.text(label_x, y, BODY + 1.0, true, l.total);
    page.text_right(COL_AMOUNT, y, BODY + 1.0, true, &format_amount(amounts.total_cents, lang));
    y += 5.0;
    if reverse {
        let vat = invoice.buyer.vat_id.as_deref().unwrap_or("").trim();
        // Full width: the label and a foreign VAT number outgrow the totals column.
        y += 1.0;
        page.text(LEFT, y, BODY, true, &format!("{}: {} {vat}", l.reverse_charge, l.buyer_vat_id));
        y += 5.0;
    }
    y += 6.0;
    for part in &payment {
        page.text(LEFT, y, BODY, false, part);
        y += ROW;
    }

    pages.push(page);
    let count = pages.len();
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p.text(LEFT, FOOTER_Y, 7.5, false, &format!("{} {}", invoice.seller.name.trim(), invoice.number.trim()));
            p.text_right(RIGHT, FOOTER_Y, 7.5, false, &format!("{} {} {} {count}", l.page, i + 1, l.of));
            PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), p.ops)
        })
        .collect())
}

/// Top right: who sends the invoice, with the numbers the Belastingdienst asks for.
fn seller_block(page: &mut Page, invoice: &Invoice) {
    let l = labels(invoice.lang);
    let s = &invoice.seller;
    let x = 120.0;
    let mut y = 22.0;
    page.text(x, y, 11.0, true, s.name.trim());
    y += 5.0;
    let mut lines = vec![s.street.trim().to_string(), format!("{}  {}", s.postcode.trim(), s.city.trim())];
    lines.extend(country_name(&s.country, invoice.lang));
    lines.push(String::new());
    lines.push(format!("{}: {}", l.kvk, s.kvk.trim()));
    lines.push(format!("{}: {}", l.vat_id, s.vat_id.trim()));
    lines.push(format!("IBAN: {}", s.iban.trim()));
    if let Some(bic) = s.bic.as_deref().filter(|b| !b.trim().is_empty()) {
        lines.push(format!("BIC: {}", bic.trim()));
    }
    if !s.phone.trim().is_empty() {
        lines.push(format!("{}: {}", l.phone, s.phone.trim()));
    }
    if !s.email.trim().is_empty() {
        lines.push(format!("{}: {}", l.email, s.email.trim()));
    }
    for line in lines {
        page.text(x, y, 8.5, false, &line);
        y += 4.0;
    }
}

/// The buyer's postal address, inside the envelope window.
fn address_block(page: &mut Page, invoice: &Invoice) {
    let b = &invoice.buyer;
    let l = labels(invoice.lang);
    let mut lines = vec![b.name.trim().to_string()];
    if let Some(contact) = b.contact.as_deref().filter(|c| !c.trim().is_empty()) {
        lines.push(format!("{} {}", l.attention, contact.trim()));
    }
    lines.push(b.street.trim().to_string());
    // Two spaces between postcode and city, as PostNL asks.
    lines.push(format!("{}  {}", b.postcode.trim(), b.city.trim()));
    lines.extend(country_name(&b.country, invoice.lang));
    let size = 10.0;
    let max_w = mm_to_pt(WINDOW_WIDTH_MM - 6.0);
    let wrapped: Vec<String> = lines.iter().flat_map(|line| wrap(line, size, false, max_w)).collect();
    // 40 mm window, 5 mm top margin, 5 mm per line: at most 7 lines fit.
    let mut y = WINDOW_TOP_MM + 8.0;
    for line in wrapped.iter().take(7) {
        page.text(WINDOW_LEFT_MM + 3.0, y, size, false, line);
        y += 4.5;
    }
}

fn table_header(page: &mut Page, invoice: &Invoice, y: f32) -> f32 {
    let l = labels(invoice.lang);
    page.text(LEFT, y, BODY, true, l.description);
    page.text_right(COL_QTY, y, BODY, true, l.quantity);
    page.text_right(COL_PRICE, y, BODY, true, l.unit_price);
    page.text_right(COL_VAT, y, BODY, true, l.vat);
    page.text_right(COL_AMOUNT, y, BODY, true, l.amount);
    page.rule(LEFT, RIGHT, y + 1.5);
    y + 6.0
}

/// The top of a second or later page: which invoice this is, and the column heads.
fn continuation_header(page: &mut Page, invoice: &Invoice, title: &str) -> f32 {
    let l = labels(invoice.lang);
    page.text(LEFT, 20.0, 11.0, true, &format!("{title} {} ({})", invoice.number.trim(), l.continued));
    table_header(page, invoice, 30.0)
}

fn payment_text(invoice: &Invoice, total_cents: i64) -> String {
    let text = payment_sentences(invoice, total_cents);
    // A name such as "Hosting Noord B.V." already ends the sentence.
    match text.strip_suffix("..") {
        Some(t) => format!("{t}."),
        None => text,
    }
}

fn payment_sentences(invoice: &Invoice, total_cents: i64) -> String {
    let lang = invoice.lang;
    let s = &invoice.seller;
    let bic =
        s.bic.as_deref().map(str::trim).filter(|b| !b.is_empty()).map(|b| format!(" (BIC {b})")).unwrap_or_default();
    let (number, iban, name) = (invoice.number.trim(), s.iban.trim(), s.name.trim());
    let due = format_date(invoice.due_on, lang);
    if invoice.is_credit_note() {
        let amount = format_amount(total_cents.abs(), lang);
        match lang {
            crate::Lang::Nl => format!(
                "Wij betalen {amount} terug op uw rekening of verrekenen het met een volgende factuur. Vragen? Noem creditnota {number}. Onze rekening: IBAN {iban}{bic} t.n.v. {name}."
            ),
            crate::Lang::En => format!(
                "We will refund {amount} to your account or set it off against a next invoice. Questions? Quote credit note {number}. Our account: IBAN {iban}{bic} in the name of {name}."
            ),
        }
    } else {
        let amount = format_amount(total_cents, lang);
        match lang {
            crate::Lang::Nl => format!(
                "Gelieve {amount} uiterlijk {due} over te maken op IBAN {iban}{bic} t.n.v. {name}, onder vermelding van factuurnummer {number}."
            ),
            crate::Lang::En => format!(
                "Please pay {amount} by {due} to IBAN {iban}{bic} in the name of {name}, quoting invoice number {number}."
            ),
        }
    }
}
