//! Labels in Dutch and English, and amounts, dates and rates written the way
//! each language writes them.

pub use custodian_domain::model::format_amount;

use crate::Lang;

/// The fixed words of the PDF.
pub(crate) struct Labels {
    pub invoice: &'static str,
    pub credit_note: &'static str,
    pub for_invoice: &'static str,
    pub number: &'static str,
    pub date: &'static str,
    pub supply_date: &'static str,
    pub due_date: &'static str,
    pub attention: &'static str,
    pub kvk: &'static str,
    pub vat_id: &'static str,
    pub buyer_vat_id: &'static str,
    pub buyer_kvk: &'static str,
    pub description: &'static str,
    pub quantity: &'static str,
    pub unit_price: &'static str,
    pub vat: &'static str,
    pub amount: &'static str,
    pub net_total: &'static str,
    pub vat_over: &'static str,
    pub total: &'static str,
    pub reverse_charge: &'static str,
    pub continued: &'static str,
    pub page: &'static str,
    pub of: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
}

const NL: Labels = Labels {
    invoice: "Factuur",
    credit_note: "Creditnota",
    for_invoice: "voor factuur",
    number: "Factuurnummer",
    date: "Factuurdatum",
    supply_date: "Leverdatum",
    due_date: "Vervaldatum",
    attention: "t.a.v.",
    kvk: "KVK",
    vat_id: "Btw-nummer",
    buyer_vat_id: "Btw-nummer klant",
    buyer_kvk: "KVK klant",
    description: "Omschrijving",
    quantity: "Aantal",
    unit_price: "Prijs",
    vat: "Btw",
    amount: "Bedrag",
    net_total: "Totaal excl. btw",
    vat_over: "over",
    total: "Totaal incl. btw",
    reverse_charge: "Btw verlegd",
    continued: "vervolg",
    page: "pagina",
    of: "van",
    phone: "Tel.",
    email: "E-mail",
};

const EN: Labels = Labels {
    invoice: "Invoice",
    credit_note: "Credit note",
    for_invoice: "for invoice",
    number: "Invoice number",
    date: "Invoice date",
    supply_date: "Supply date",
    due_date: "Due date",
    attention: "Attn.",
    kvk: "KVK (Chamber of Commerce)",
    vat_id: "VAT number",
    buyer_vat_id: "Customer VAT number",
    buyer_kvk: "Customer KVK",
    description: "Description",
    quantity: "Quantity",
    unit_price: "Unit price",
    vat: "VAT",
    amount: "Amount",
    net_total: "Total excl. VAT",
    vat_over: "on",
    total: "Total incl. VAT",
    reverse_charge: "VAT reverse charged",
    continued: "continued",
    page: "page",
    of: "of",
    phone: "Phone",
    email: "Email",
};

pub(crate) fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::Nl => &NL,
        Lang::En => &EN,
    }
}

/// `7 december 2026` / `7 December 2026`.
pub fn format_date(date: time::Date, lang: Lang) -> String {
    custodian_domain::model::long_date(date, lang)
}

/// A rate in basis points as a percentage: `21%`, `10,5%` / `10.5%`.
pub fn format_rate(bp: i64, lang: Lang) -> String {
    let dec = match lang {
        Lang::Nl => ',',
        Lang::En => '.',
    };
    format!("{}%", rate_number(bp, dec))
}

/// `2100` → `21`, `1050` → `10.5` (with `dec` as the decimal sign).
pub(crate) fn rate_number(bp: i64, dec: char) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}{dec}{}", f / 10),
        f => format!("{whole}{dec}{f:02}"),
    }
}

/// The country on the last line of a foreign address; `None` for the
/// Netherlands, where PostNL wants no country line.
pub(crate) fn country_name(code: &str, lang: Lang) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let (nl, en) = match code.as_str() {
        "NL" => return None,
        "BE" => ("België", "Belgium"),
        "DE" => ("Duitsland", "Germany"),
        "FR" => ("Frankrijk", "France"),
        "LU" => ("Luxemburg", "Luxembourg"),
        "AT" => ("Oostenrijk", "Austria"),
        "DK" => ("Denemarken", "Denmark"),
        "ES" => ("Spanje", "Spain"),
        "IT" => ("Italië", "Italy"),
        "IE" => ("Ierland", "Ireland"),
        "PL" => ("Polen", "Poland"),
        "PT" => ("Portugal", "Portugal"),
        "SE" => ("Zweden", "Sweden"),
        "FI" => ("Finland", "Finland"),
        "GB" => ("Verenigd Koninkrijk", "United Kingdom"),
        "CH" => ("Zwitserland", "Switzerland"),
        "US" => ("Verenigde Staten", "United States"),
        _ => return Some(code),
    };
    // Abroad the country is written in capitals, the way the post sorts it.
    Some(lang.pick(nl, en).to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_in_both_languages() {
        assert_eq!(format_date(date!(2026 - 12 - 07), Lang::Nl), "7 december 2026");
        assert_eq!(format_date(date!(2026 - 12 - 07), Lang::En), "7 December 2026");
        assert_eq!(format_date(date!(2027 - 03 - 31), Lang::Nl), "31 maart 2027");
    }

    #[test]
    fn rates() {
        assert_eq!(format_rate(2100, Lang::Nl), "21%");
        assert_eq!(format_rate(1050, Lang::Nl), "10,5%");
        assert_eq!(format_rate(1050, Lang::En), "10.5%");
        assert_eq!(format_rate(0, Lang::En), "0%");
        assert_eq!(rate_number(725, '.'), "7.25");
    }
}
