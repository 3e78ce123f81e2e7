use std::collections::BTreeMap;

use crate::Lang;
use crate::validate::Invalid;

/// A record as field name → normalised text. Absent means empty.
pub type Fields = BTreeMap<String, String>;

/// One refused field: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub error: Invalid,
}

/// Every refused field of one submission. Nothing is stored when this is not empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("{}", self.render(Lang::En))]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn single(field: &str, error: Invalid) -> Self {
        FieldErrors(vec![FieldError { field: field.to_string(), error }])
    }

    pub fn for_field(&self, field: &str) -> Option<&Invalid> {
        self.0.iter().find(|e| e.field == field).map(|e| &e.error)
    }

    /// One line per field: `field: reason (rule)`.
    pub fn render(&self, lang: Lang) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {} ({})", e.field, e.error.message(lang), e.error.rule))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads typed values out of [`Fields`], collecting every error instead of
/// stopping at the first, so a form can show all of them at once.
pub struct Form<'a> {
    input: &'a Fields,
    errors: Vec<FieldError>,
}

impl<'a> Form<'a> {
    /// Starts reading; names outside `known` are refused straight away.
    pub fn new(input: &'a Fields, known: &[&str]) -> Form<'a> {
        let errors = input
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| FieldError {
                field: k.clone(),
                error: Invalid::new("field", "unknown_field", "Dit veld bestaat niet.", "There is no such field."),
            })
            .collect();
        Form { input, errors }
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        self.input.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn is_present(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    pub fn optional<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Invalid>) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(error) => {
                self.error(name, error);
                None
            }
        }
    }

    pub fn required<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Invalid>) -> Option<T> {
        if self.raw(name).is_none() {
            self.error(name, missing());
            return None;
        }
        self.optional(name, parse)
    }

    pub fn error(&mut self, name: &str, error: Invalid) {
        self.errors.push(FieldError { field: name.to_string(), error });
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Ends reading: the value built by `build` when no field was refused.
    /// `build` only runs without errors, so it may unwrap what the form read.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, FieldErrors> {
        if !self.errors.is_empty() {
            return Err(FieldErrors(self.errors));
        }
        build().ok_or_else(|| FieldErrors(vec![]))
    }
}

pub fn missing() -> Invalid {
    Invalid::new("field", "required", "Dit veld is verplicht.", "This field is required.")
}

/// Puts an optional value into `fields` under `name` when it is present.
pub fn put(fields: &mut Fields, name: &str, value: Option<impl ToString>) {
    if let Some(v) = value {
        fields.insert(name.to_string(), v.to_string());
    }
}
