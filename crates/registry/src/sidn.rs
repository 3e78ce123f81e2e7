//! SIDN's EPP extension for contacts (`sidn-ext-epp-1.0`): the legal form and
//! the registration number (KVK) that .nl registrants give, on create and update.

use std::borrow::Cow;

use instant_epp::common::NoExtension;
use instant_epp::contact::{ContactCreate, ContactUpdate};
use instant_epp::request::{Extension, Transaction};
use instant_xml::ToXml;

pub const XMLNS: &str = "http://rxsd.domain-registry.nl/sidn-ext-epp-1.0";

impl Transaction<SidnContact<'_>> for ContactCreate<'_> {}
impl Transaction<SidnContact<'_>> for ContactUpdate<'_> {}

/// `<sidn-ext-epp:ext>` with a `<create>` or `<update>` of the contact's legal data.
#[derive(Debug, ToXml)]
#[xml(rename = "ext", ns(XMLNS))]
pub struct SidnContact<'a> {
    create: Option<Create<'a>>,
    update: Option<Update<'a>>,
}

#[derive(Debug, ToXml)]
#[xml(rename = "create", ns(XMLNS))]
struct Create<'a> {
    contact: LegalData<'a>,
}

#[derive(Debug, ToXml)]
#[xml(rename = "update", ns(XMLNS))]
struct Update<'a> {
    contact: LegalData<'a>,
}

#[derive(Debug, ToXml)]
#[xml(rename = "contact", ns(XMLNS))]
struct LegalData<'a> {
    #[xml(rename = "legalForm")]
    legal_form: Cow<'a, str>,
    #[xml(rename = "legalFormRegNo")]
    registration_number: Option<Cow<'a, str>>,
}

impl<'a> SidnContact<'a> {
    /// For a contact create. A contact without a legal form is a natural person (`PERSOON`).
    pub fn create(legal_form: Option<&'a str>, registration_number: Option<&'a str>) -> Self {
        let contact = LegalData::new(legal_form, registration_number);
        SidnContact { create: Some(Create { contact }), update: None }
    }

    pub fn update(legal_form: Option<&'a str>, registration_number: Option<&'a str>) -> Self {
        let contact = LegalData::new(legal_form, registration_number);
        SidnContact { create: None, update: Some(Update { contact }) }
    }
}

impl<'a> LegalData<'a> {
    fn new(legal_form: Option<&'a str>, registration_number: Option<&'a str>) -> Self {
        LegalData {
            legal_form: Cow::Borrowed(legal_form.unwrap_or("PERSOON")),
            registration_number: registration_number.map(Cow::Borrowed),
        }
    }
}

impl Extension for SidnContact<'_> {
    type Response = NoExtension;
}
