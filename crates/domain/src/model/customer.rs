use serde::{Deserialize, Serialize};

use super::address::Address;
use super::form::{FieldErrors, Fields, Form, put};
use super::text::Text;
use crate::Lang;
use crate::validate::{Btw, Email, Iban, Invalid, Kvk, Phone};

/// A business customer or a private person (A3 distinguishes the two: private
/// persons get the stricter communication rules of A10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerKind {
    Business,
    Private,
}

impl CustomerKind {
    pub fn parse(s: &str) -> Result<CustomerKind, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "business" | "zakelijk" => Ok(CustomerKind::Business),
            "private" | "particulier" => Ok(CustomerKind::Private),
            _ => Err(Invalid::new(
                "kind",
                "choice",
                "Kies 'business' (zakelijk) of 'private' (particulier).",
                "Choose 'business' or 'private'.",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CustomerKind::Business => "business",
            CustomerKind::Private => "private",
        }
    }
}

/// Gender of the contact person (M8). Optional; "not specified" is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    #[default]
    Unspecified,
    Female,
    Male,
    Other,
}

impl Gender {
    pub const ALL: [Gender; 4] = [Gender::Unspecified, Gender::Female, Gender::Male, Gender::Other];

    pub fn parse(s: &str) -> Result<Gender, Invalid> {
        Gender::ALL
            .into_iter()
            .find(|g| g.as_str() == s.trim().to_ascii_lowercase() || g.label(Lang::Nl) == s.trim().to_lowercase())
            .ok_or_else(|| {
                Invalid::new(
                    "gender",
                    "choice",
                    "Kies unspecified, female, male of other.",
                    "Choose unspecified, female, male or other.",
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Unspecified => "unspecified",
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Gender::Unspecified => lang.pick("niet opgegeven", "not specified"),
            Gender::Female => lang.pick("vrouw", "female"),
            Gender::Male => lang.pick("man", "male"),
            Gender::Other => lang.pick("anders", "other"),
        }
    }
}

/// Everything custodian may hold about a customer (M8, A3). Optional fields stay
/// empty unless given. `correspondence_address: None` means "same as visiting".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerData {
    pub kind: CustomerKind,
    pub company_name: Option<Text>,
    pub contact_name: Option<Text>,
    pub gender: Gender,
    pub department: Option<Text>,
    pub visiting_address: Address,
    pub correspondence_address: Option<Address>,
    pub phone: Option<Phone>,
    pub phone2: Option<Phone>,
    pub email: Email,
    pub email2: Option<Email>,
    pub second_contact: Option<Text>,
    pub own_reference: Option<Text>,
    pub btw: Option<Btw>,
    pub kvk: Option<Kvk>,
    pub iban: Option<Iban>,
    pub iban_holder: Option<Text>,
    pub language: Lang,
    pub email_consent: bool,
}

/// The names of the personal fields of a customer, as stored and as typed in
/// forms and on the command line. `kind` is not among them: it is not personal.
pub const CUSTOMER_FIELDS: &[&str] = &[
    "company_name",
    "contact_name",
    "gender",
    "department",
    "visit_street",
    "visit_postcode",
    "visit_city",
    "visit_country",
    "corr_street",
    "corr_postcode",
    "corr_city",
    "corr_country",
    "phone",
    "phone2",
    "email",
    "email2",
    "second_contact",
    "own_reference",
    "btw",
    "kvk",
    "iban",
    "iban_holder",
    "language",
    "email_consent",
];

pub(super) fn parse_bool(s: &str) -> Result<bool, Invalid> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "ja" | "true" | "1" | "on" => Ok(true),
        "no" | "nee" | "false" | "0" | "off" => Ok(false),
        _ => Err(Invalid::new("bool", "choice", "Kies ja of nee.", "Choose yes or no.")),
    }
}

fn parse_lang(s: &str) -> Result<Lang, Invalid> {
    Lang::parse(s).ok_or_else(|| Invalid::new("language", "choice", "Kies nl of en.", "Choose nl or en."))
}

impl CustomerData {
    /// Builds a customer from form fields. Business customers need a company name,
    /// private persons a contact name; IBAN and holder name go together.
    pub fn from_fields(kind: CustomerKind, input: &Fields) -> Result<CustomerData, FieldErrors> {
        let mut f = Form::new(input, CUSTOMER_FIELDS);
        let company_name = match kind {
            CustomerKind::Business => f.required("company_name", Text::parse),
            CustomerKind::Private => f.optional("company_name", Text::parse),
        };
        let contact_name = match kind {
            CustomerKind::Private => f.required("contact_name", Text::parse),
            CustomerKind::Business => f.optional("contact_name", Text::parse),
        };
        let gender = f.optional("gender", Gender::parse).unwrap_or_default();
        let department = f.optional("department", Text::parse);
        let visiting_address = Address::read(&mut f, "visit", true);
        let correspondence_address = Address::read(&mut f, "corr", false);
        let phone = f.optional("phone", Phone::parse);
        let phone2 = f.optional("phone2", Phone::parse);
        let email = f.required("email", Email::parse);
        let email2 = f.optional("email2", Email::parse);
        let second_contact = f.optional("second_contact", Text::parse);
        let own_reference = f.optional("own_reference", Text::parse);
        let btw = f.optional("btw", Btw::parse);
        let kvk = f.optional("kvk", Kvk::parse);
        let iban = f.optional("iban", Iban::parse);
        let iban_holder = f.optional("iban_holder", Text::parse);
        if f.is_present("iban") && !f.is_present("iban_holder") {
            f.error(
                "iban_holder",
                Invalid::new(
                    "field",
                    "required_with_iban",
                    "Vul de tenaamstelling van de IBAN in.",
                    "Give the name the IBAN is held in.",
                ),
            );
        }
        let language = f.optional("language", parse_lang).unwrap_or_default();
        let email_consent = f.optional("email_consent", parse_bool).unwrap_or(false);
        f.finish(|| {
            Some(CustomerData {
                kind,
                company_name,
                contact_name,
                gender,
                department,
                visiting_address: visiting_address?,
                correspondence_address,
                phone,
                phone2,
                email: email?,
                email2,
                second_contact,
                own_reference,
                btw,
                kvk,
                iban,
                iban_holder,
                language,
                email_consent,
            })
        })
    }

    /// The inverse of [`CustomerData::from_fields`]: only non-empty fields appear.
    pub fn to_fields(&self) -> Fields {
        let mut f = Fields::new();
        put(&mut f, "company_name", self.company_name.as_ref());
        put(&mut f, "contact_name", self.contact_name.as_ref());
        put(&mut f, "gender", Some(self.gender.as_str()));
        put(&mut f, "department", self.department.as_ref());
        self.visiting_address.write(&mut f, "visit");
        if let Some(a) = &self.correspondence_address {
            a.write(&mut f, "corr");
        }
        put(&mut f, "phone", self.phone.as_ref());
        put(&mut f, "phone2", self.phone2.as_ref());
        put(&mut f, "email", Some(&self.email));
        put(&mut f, "email2", self.email2.as_ref());
        put(&mut f, "second_contact", self.second_contact.as_ref());
        put(&mut f, "own_reference", self.own_reference.as_ref());
        put(&mut f, "btw", self.btw.as_ref());
        put(&mut f, "kvk", self.kvk.as_ref());
        put(&mut f, "iban", self.iban.as_ref());
        put(&mut f, "iban_holder", self.iban_holder.as_ref());
        put(&mut f, "language", Some(self.language.code()));
        put(&mut f, "email_consent", Some(if self.email_consent { "yes" } else { "no" }));
        f
    }

    /// The name to show: company for businesses, the person otherwise.
    pub fn display_name(&self) -> &str {
        self.company_name.as_ref().or(self.contact_name.as_ref()).map(Text::as_str).unwrap_or("")
    }

    /// The words staff may search by (whole words of the names).
    pub fn name_words(&self) -> Vec<String> {
        let mut words: Vec<String> = [&self.company_name, &self.contact_name, &self.second_contact]
            .into_iter()
            .flatten()
            .flat_map(|t| search_words(t.as_str()))
            .collect();
        words.sort();
        words.dedup();
        words
    }
}

/// Splits a name into the lower-case words a search can match on.
pub fn search_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 2).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn business() -> Fields {
        fields(&[
            ("company_name", "Hosting B.V."),
            ("contact_name", "Jan de Vries"),
            ("visit_street", "Dorpsstraat 1"),
            ("visit_postcode", "1234ab"),
            ("visit_city", "Alkmaar"),
            ("email", "jan@example.nl"),
            ("phone", "072-5116617"),
        ])
    }

    #[test]
    fn round_trips_through_fields() {
        let c = CustomerData::from_fields(CustomerKind::Business, &business()).unwrap();
        assert_eq!(c.visiting_address.postcode.as_str(), "1234 AB");
        assert_eq!(c.visiting_address.country.as_str(), "NL");
        assert_eq!(c.phone.as_ref().unwrap().as_str(), "+31725116617");
        let again = CustomerData::from_fields(CustomerKind::Business, &c.to_fields()).unwrap();
        assert_eq!(c, again);
        assert_eq!(c.name_words(), vec!["de", "hosting", "jan", "vries"]);
    }

    #[test]
    fn collects_every_error_with_its_field() {
        let mut f = business();
        f.insert("phone".into(), "12".into());
        f.insert("iban".into(), "NL00BANK0123456789".into());
        f.remove("company_name");
        f.insert("corr_city".into(), "Utrecht".into());
        f.insert("shoe_size".into(), "44".into());
        let errs = CustomerData::from_fields(CustomerKind::Business, &f).unwrap_err();
        let mut names: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            ["company_name", "corr_postcode", "corr_street", "iban", "iban_holder", "phone", "shoe_size"]
        );
        assert_eq!(errs.for_field("company_name").unwrap().rule, "required");
    }

    #[test]
    fn private_person_needs_a_name_and_foreign_postcodes_are_loose() {
        let mut f = business();
        f.remove("contact_name");
        assert!(CustomerData::from_fields(CustomerKind::Private, &f).is_err());
        f.insert("contact_name".into(), "Els".into());
        f.insert("visit_country".into(), "DE".into());
        f.insert("visit_postcode".into(), "10115".into());
        let c = CustomerData::from_fields(CustomerKind::Private, &f).unwrap();
        assert_eq!(c.visiting_address.postcode.as_str(), "10115");
    }
}
