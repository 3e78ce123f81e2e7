//! The invoice as UBL 2.1 in the NLCIUS profile (EN 16931 with the Dutch
//! rules, Peppol BIS Billing 3.0 process). The UBL schemas fix the order of
//! the elements, so each function writes its children in the schema's order.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use custodian_domain::model::format_cents;

use crate::text::rate_number;
use crate::{DocumentError, Invoice};

const CUSTOMIZATION_ID: &str = "urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0";
const PROFILE_ID: &str = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";
const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
/// ISO 6523 ICD of the Dutch KVK number.
const KVK_SCHEME: &str = "0106";
/// UN/ECE Rec 20 "one": the quantities are counts of services.
const UNIT: &str = "C62";

type W = Writer<Vec<u8>>;
type R = std::io::Result<()>;

fn leaf(w: &mut W, name: &str, text: &str) -> R {
    w.create_element(name).write_text_content(BytesText::new(text))?;
    Ok(())
}

fn leaf_attr(w: &mut W, name: &str, attr: (&str, &str), text: &str) -> R {
    w.create_element(name).with_attribute(attr).write_text_content(BytesText::new(text))?;
    Ok(())
}

fn amount(w: &mut W, name: &str, cents: i64) -> R {
    leaf_attr(w, name, ("currencyID", "EUR"), &format_cents(cents))
}

fn el(w: &mut W, name: &str, inner: impl FnOnce(&mut W) -> R) -> R {
    w.create_element(name).write_inner_content(inner)?;
    Ok(())
}

fn date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// VAT identifiers and IBANs are written without spaces, as the rules expect.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

/// Renders the invoice as a UBL `Invoice`, or a credit note as a `CreditNote`.
pub fn ubl(invoice: &Invoice) -> Result<String, DocumentError> {
    invoice.validate()?;
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(&mut w, invoice).map_err(|e| DocumentError::Xml(e.to_string()))?;
    String::from_utf8(w.into_inner()).map_err(|e| DocumentError::Xml(e.to_string()))
}

/// The tax category of a rate: standard, reverse charge or zero rated.
fn category(invoice: &Invoice, rate_bp: i64) -> &'static str {
    match rate_bp {
        0 if invoice.is_reverse_charge() => "AE",
        0 => "Z",
        _ => "S",
    }
}

fn tax_category(w: &mut W, name: &str, invoice: &Invoice, rate_bp: i64) -> R {
    el(w, name, |w| {
        let cat = category(invoice, rate_bp);
        leaf(w, "cbc:ID", cat)?;
        leaf(w, "cbc:Percent", &rate_number(rate_bp, '.'))?;
        // Only on the subtotal: a line's ClassifiedTaxCategory has no reason.
        if cat == "AE" && name == "cac:TaxCategory" {
            leaf(w, "cbc:TaxExemptionReasonCode", "VATEX-EU-AE")?;
            leaf(w, "cbc:TaxExemptionReason", "Reverse charge")?;
        }
        el(w, "cac:TaxScheme", |w| leaf(w, "cbc:ID", "VAT"))
    })
}

fn address(w: &mut W, street: &str, city: &str, postcode: &str, country: &str) -> R {
    el(w, "cac:PostalAddress", |w| {
        leaf(w, "cbc:StreetName", street.trim())?;
        leaf(w, "cbc:CityName", city.trim())?;
        leaf(w, "cbc:PostalZone", postcode.trim())?;
        el(w, "cac:Country", |w| leaf(w, "cbc:IdentificationCode", &compact(country)))
    })
}

fn vat_scheme(w: &mut W, vat_id: &str) -> R {
    el(w, "cac:PartyTaxScheme", |w| {
        leaf(w, "cbc:CompanyID", &compact(vat_id))?;
        el(w, "cac:TaxScheme", |w| leaf(w, "cbc:ID", "VAT"))
    })
}

fn supplier(w: &mut W, invoice: &Invoice) -> R {
    let s = &invoice.seller;
    el(w, "cac:AccountingSupplierParty", |w| {
        el(w, "cac:Party", |w| {
            leaf_attr(w, "cbc:EndpointID", ("schemeID", KVK_SCHEME), s.kvk.trim())?;
            el(w, "cac:PartyName", |w| leaf(w, "cbc:Name", s.name.trim()))?;
            address(w, &s.street, &s.city, &s.postcode, &s.country)?;
            vat_scheme(w, &s.vat_id)?;
            el(w, "cac:PartyLegalEntity", |w| {
                leaf(w, "cbc:RegistrationName", s.name.trim())?;
                leaf_attr(w, "cbc:CompanyID", ("schemeID", KVK_SCHEME), s.kvk.trim())
            })?;
            let (phone, email) = (s.phone.trim(), s.email.trim());
            // Peppol rejects empty elements: no Contact without its parts.
            if phone.is_empty() && email.is_empty() {
                return Ok(());
            }
            el(w, "cac:Contact", |w| {
                if !phone.is_empty() {
                    leaf(w, "cbc:Telephone", phone)?;
                }
                if !email.is_empty() {
                    leaf(w, "cbc:ElectronicMail", email)?;
                }
                Ok(())
            })
        })
    })
}

fn customer(w: &mut W, invoice: &Invoice) -> R {
    let b = &invoice.buyer;
    let kvk = b.kvk.as_deref().map(str::trim).filter(|k| !k.is_empty());
    let vat = b.vat_id.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let email = b.email.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let contact = b.contact.as_deref().map(str::trim).filter(|v| !v.is_empty());
    el(w, "cac:AccountingCustomerParty", |w| {
        el(w, "cac:Party", |w| {
            // Peppol addresses a Dutch business by its KVK number (0106) or
            // Dutch VAT number (9944).
            if let Some(kvk) = kvk {
                leaf_attr(w, "cbc:EndpointID", ("schemeID", KVK_SCHEME), kvk)?;
            } else if let Some(vat) = vat.filter(|v| compact(v).starts_with("NL")) {
                leaf_attr(w, "cbc:EndpointID", ("schemeID", "9944"), &compact(vat))?;
            }
            el(w, "cac:PartyName", |w| leaf(w, "cbc:Name", b.name.trim()))?;
            address(w, &b.street, &b.city, &b.postcode, &b.country)?;
            if let Some(vat) = vat {
                vat_scheme(w, vat)?;
            }
            el(w, "cac:PartyLegalEntity", |w| {
                leaf(w, "cbc:RegistrationName", b.name.trim())?;
                match kvk {
                    Some(kvk) => leaf_attr(w, "cbc:CompanyID", ("schemeID", KVK_SCHEME), kvk),
                    None => Ok(()),
                }
            })?;
            if contact.is_some() || email.is_some() {
                el(w, "cac:Contact", |w| {
                    if let Some(name) = contact {
                        leaf(w, "cbc:Name", name)?;
                    }
                    if let Some(email) = email {
                        leaf(w, "cbc:ElectronicMail", email)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    })
}

fn write(w: &mut W, invoice: &Invoice) -> R {
    let credit = invoice.is_credit_note();
    let amounts = invoice.amounts();
    // A credit note states the credited amounts as positive numbers; a stored
    // credit note carries them negative.
    let sign = if credit && amounts.total_cents < 0 { -1 } else { 1 };
    let (root, ns, line_name, qty_name) = if credit {
        (
            "CreditNote",
            "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
            "cac:CreditNoteLine",
            "cbc:CreditedQuantity",
        )
    } else {
        ("Invoice", "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2", "cac:InvoiceLine", "cbc:InvoicedQuantity")
    };

    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element(root)
        .with_attribute(("xmlns", ns))
        .with_attribute(("xmlns:cac", CAC))
        .with_attribute(("xmlns:cbc", CBC))
        .write_inner_content(|w| {
            leaf(w, "cbc:CustomizationID", CUSTOMIZATION_ID)?;
            leaf(w, "cbc:ProfileID", PROFILE_ID)?;
            leaf(w, "cbc:ID", invoice.number.trim())?;
            leaf(w, "cbc:IssueDate", &date(invoice.issued_on))?;
            if credit {
                leaf(w, "cbc:CreditNoteTypeCode", "381")?;
            } else {
                leaf(w, "cbc:DueDate", &date(invoice.due_on))?;
                leaf(w, "cbc:InvoiceTypeCode", "380")?;
            }
            if invoice.is_reverse_charge() {
                leaf(w, "cbc:Note", "Btw verlegd / VAT reverse charged")?;
            }
            leaf(w, "cbc:DocumentCurrencyCode", "EUR")?;
            if let Some(reference) = invoice.buyer_reference.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                leaf(w, "cbc:BuyerReference", reference)?;
            }
            if let Some(original) = &invoice.credit_for {
                el(w, "cac:BillingReference", |w| {
                    el(w, "cac:InvoiceDocumentReference", |w| leaf(w, "cbc:ID", original.trim()))
                })?;
            }
            supplier(w, invoice)?;
            customer(w, invoice)?;
            el(w, "cac:Delivery", |w| leaf(w, "cbc:ActualDeliveryDate", &date(invoice.supply_date())))?;
            el(w, "cac:PaymentMeans", |w| {
                leaf_attr(w, "cbc:PaymentMeansCode", ("name", "SEPA credit transfer"), "58")?;
                leaf(w, "cbc:PaymentID", invoice.number.trim())?;
                el(w, "cac:PayeeFinancialAccount", |w| {
                    leaf(w, "cbc:ID", &compact(&invoice.seller.iban))?;
                    leaf(w, "cbc:Name", invoice.seller.name.trim())?;
                    match invoice.seller.bic.as_deref().map(compact).filter(|b| !b.is_empty()) {
                        Some(bic) => el(w, "cac:FinancialInstitutionBranch", |w| leaf(w, "cbc:ID", &bic)),
                        None => Ok(()),
                    }
                })
            })?;
            el(w, "cac:TaxTotal", |w| {
                amount(w, "cbc:TaxAmount", sign * amounts.vat_cents)?;
                for g in &amounts.groups {
                    el(w, "cac:TaxSubtotal", |w| {
                        amount(w, "cbc:TaxableAmount", sign * g.net_cents)?;
                        amount(w, "cbc:TaxAmount", sign * g.vat_cents)?;
                        tax_category(w, "cac:TaxCategory", invoice, g.rate_bp)
                    })?;
                }
                Ok(())
            })?;
            el(w, "cac:LegalMonetaryTotal", |w| {
                amount(w, "cbc:LineExtensionAmount", sign * amounts.net_cents)?;
                amount(w, "cbc:TaxExclusiveAmount", sign * amounts.net_cents)?;
                amount(w, "cbc:TaxInclusiveAmount", sign * amounts.total_cents)?;
                amount(w, "cbc:PayableAmount", sign * amounts.total_cents)
            })?;
            for (i, line) in invoice.lines.iter().enumerate() {
                // Prices may not be negative (BR-27): a negative line, such as a
                // discount, gets a negative quantity instead.
                let price = sign * line.unit_price_cents;
                let quantity = if price < 0 { -line.quantity } else { line.quantity };
                el(w, line_name, |w| {
                    leaf(w, "cbc:ID", &(i + 1).to_string())?;
                    leaf_attr(w, qty_name, ("unitCode", UNIT), &quantity.to_string())?;
                    amount(w, "cbc:LineExtensionAmount", quantity * price.abs())?;
                    el(w, "cac:Item", |w| {
                        leaf(w, "cbc:Name", line.description.trim())?;
                        tax_category(w, "cac:ClassifiedTaxCategory", invoice, line.vat_rate_bp)
                    })?;
                    el(w, "cac:Price", |w| amount(w, "cbc:PriceAmount", price.abs()))
                })?;
            }
            Ok(())
        })?;
    Ok(())
}
