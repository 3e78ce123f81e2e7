use serde::{Deserialize, Serialize};

use super::address::Address;
use super::form::{FieldErrors, Fields, Form, put};
use super::text::Text;
use crate::validate::{Email, Invalid, Kvk, Phone};

/// Legal forms as the .nl registry knows them (its contact extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LegalForm(&'static str);

impl<'de> Deserialize<'de> for LegalForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LegalForm::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl LegalForm {
    pub const ALL: &'static [&'static str] = &[
        "BGG",
        "BRO",
        "BV",
        "BVI/O",
        "COOP",
        "CV",
        "EENMANSZAAK",
        "EESV",
        "KERK",
        "MAATSCHAP",
        "NV",
        "OWM",
        "PERSOON",
        "REDR",
        "STICHTING",
        "VERENIGING",
        "VOF",
        "ANDERS",
    ];

    pub fn parse(s: &str) -> Result<LegalForm, Invalid> {
        let up = s.trim().to_uppercase();
        LegalForm::ALL.iter().find(|f| **f == up).map(|f| LegalForm(f)).ok_or_else(|| {
            Invalid::new(
                "legal_form",
                "choice",
                format!("Kies een van: {}.", LegalForm::ALL.join(", ")),
                format!("Choose one of: {}.", LegalForm::ALL.join(", ")),
            )
        })
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for LegalForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A registry contact ID (EPP `clIDType`: 3 to 16 characters).
pub fn parse_handle(s: &str) -> Result<Text, Invalid> {
    let s = s.trim();
    let ok = (3..=16).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Text::parse(s)
    } else {
        Err(Invalid::new(
            "handle",
            "format",
            "Een handle bestaat uit 3 tot 16 letters, cijfers, streepjes of lage streepjes.",
            "A handle has 3 to 16 letters, digits, hyphens or underscores.",
        ))
    }
}

/// The contact data behind a handle (M8 domain registration set, M11, A8): possibly
/// a third party on whose behalf the customer registers domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactData {
    /// The registry's ID for this contact, once it has one.
    pub handle: Option<Text>,
    pub name: Text,
    pub organisation: Option<Text>,
    pub address: Address,
    /// Some TLDs need an establishment address in their own country (A8).
    pub foreign_address: Option<Address>,
    pub phone: Phone,
    pub email: Email,
    pub legal_form: Option<LegalForm>,
    pub kvk: Option<Kvk>,
}

pub const CONTACT_FIELDS: &[&str] = &[
    "handle",
    "name",
    "organisation",
    "addr_street",
    "addr_postcode",
    "addr_city",
    "addr_country",
    "foreign_street",
    "foreign_postcode",
    "foreign_city",
    "foreign_country",
    "phone",
    "email",
    "legal_form",
    "kvk",
];

impl ContactData {
    pub fn from_fields(input: &Fields) -> Result<ContactData, FieldErrors> {
        let mut f = Form::new(input, CONTACT_FIELDS);
        let handle = f.optional("handle", parse_handle);
        let name = f.required("name", Text::parse);
        let organisation = f.optional("organisation", Text::parse);
        let address = Address::read(&mut f, "addr", true);
        let foreign_address = Address::read(&mut f, "foreign", false);
        let phone = f.required("phone", Phone::parse);
        let email = f.required("email", Email::parse);
        let legal_form = f.optional("legal_form", LegalForm::parse);
        let kvk = f.optional("kvk", Kvk::parse);
        f.finish(|| {
            Some(ContactData {
                handle,
                name: name?,
                organisation,
                address: address?,
                foreign_address,
                phone: phone?,
                email: email?,
                legal_form,
                kvk,
            })
        })
    }

    pub fn to_fields(&self) -> Fields {
        let mut f = Fields::new();
        put(&mut f, "handle", self.handle.as_ref());
        put(&mut f, "name", Some(&self.name));
        put(&mut f, "organisation", self.organisation.as_ref());
        self.address.write(&mut f, "addr");
        if let Some(a) = &self.foreign_address {
            a.write(&mut f, "foreign");
        }
        put(&mut f, "phone", Some(&self.phone));
        put(&mut f, "email", Some(&self.email));
        put(&mut f, "legal_form", self.legal_form.as_ref());
        put(&mut f, "kvk", self.kvk.as_ref());
        f
    }
}
