use serde::{Deserialize, Serialize};

use super::form::{Fields, Form, put};
use super::text::Text;
use crate::validate::{Country, DutchPostcode, Invalid};

/// A postal code: checked strictly for the Netherlands, loosely elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PostalCode {
    Nl(DutchPostcode),
    Other(String),
}

impl PostalCode {
    pub fn parse(input: &str, country: &Country) -> Result<PostalCode, Invalid> {
        if country.as_str() == "NL" {
            return DutchPostcode::parse(input).map(PostalCode::Nl);
        }
        let s = input.trim().to_uppercase();
        let ok = (2..=10).contains(&s.chars().count())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
        if ok {
            Ok(PostalCode::Other(s))
        } else {
            Err(Invalid::new(
                "postcode",
                "format",
                "Een postcode bestaat uit 2 tot 10 letters, cijfers, spaties of streepjes.",
                "A postal code has 2 to 10 letters, digits, spaces or hyphens.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PostalCode::Nl(p) => p.as_str(),
            PostalCode::Other(s) => s,
        }
    }
}

impl std::fmt::Display for PostalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A street address. The country decides how the postal code is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: Text,
    pub postcode: PostalCode,
    pub city: Text,
    pub country: Country,
}

/// The four field names of an address stored under `prefix`.
pub fn names(prefix: &str) -> [String; 4] {
    ["street", "postcode", "city", "country"].map(|n| format!("{prefix}_{n}"))
}

impl Address {
    /// Reads the address under `prefix` (`visit` → `visit_street`, ...). Country
    /// defaults to the Netherlands. `required = false` makes an entirely empty
    /// address `None`; a partly filled one is always an error.
    pub(crate) fn read(form: &mut Form<'_>, prefix: &str, required: bool) -> Option<Address> {
        let [street, postcode, city, country] = names(prefix);
        let any = [&street, &postcode, &city, &country].iter().any(|n| form.is_present(n));
        if !required && !any {
            return None;
        }
        let country_value =
            form.optional(&country, Country::parse).or_else(|| (!form.is_present(&country)).then(Country::netherlands));
        let street_v = form.required(&street, Text::parse);
        let postcode_v = match &country_value {
            Some(c) => form.required(&postcode, |s| PostalCode::parse(s, c)),
            None => None,
        };
        let city_v = form.required(&city, Text::parse);
        Some(Address { street: street_v?, postcode: postcode_v?, city: city_v?, country: country_value? })
    }

    pub(crate) fn write(&self, fields: &mut Fields, prefix: &str) {
        let [street, postcode, city, country] = names(prefix);
        put(fields, &street, Some(&self.street));
        put(fields, &postcode, Some(&self.postcode));
        put(fields, &city, Some(&self.city));
        put(fields, &country, Some(self.country.as_str()));
    }

    /// One line, for lists and invoices.
    pub fn one_line(&self) -> String {
        format!("{}, {} {}, {}", self.street, self.postcode, self.city, self.country.as_str())
    }
}
