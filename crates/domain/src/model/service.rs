use serde::{Deserialize, Serialize};

use super::form::{FieldErrors, Fields, Form, put};
use super::text::Text;
use super::{format_date, parse_date};
use crate::validate::Invalid;

macro_rules! choice_enum {
    ($name:ident, $kind:literal, { $($variant:ident => $code:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Result<$name, Invalid> {
                let s = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all = $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ");
                    Invalid::new($kind, "choice", format!("Kies een van: {all}."), format!("Choose one of: {all}."))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use choice_enum;

choice_enum!(ServiceKind, "service_kind", {
    Domain => "domain",
    Hosting => "hosting",
    Email => "email",
    Website => "website",
    ManagedServer => "managed_server",
    Vps => "vps",
});

choice_enum!(ServiceStatus, "service_status", {
    Pending => "pending",
    Active => "active",
    Suspended => "suspended",
    Ended => "ended",
});

impl ServiceStatus {
    /// Whether the service still runs for the customer (and so blocks erasure).
    pub fn is_live(self) -> bool {
        !matches!(self, ServiceStatus::Ended)
    }
}

/// A service delivered to a customer (M1, A13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceData {
    pub kind: ServiceKind,
    pub status: ServiceStatus,
    /// What is delivered, e.g. the domain name or hosting package (A3).
    pub description: Text,
    pub started_on: time::Date,
    pub ended_on: Option<time::Date>,
    /// Delivered for a third party, on the customer's behalf (M1: servers
    /// managed also for third parties): whose data the service holds is not
    /// the customer's own, which their processing agreement must cover.
    pub for_third_party: bool,
}

pub const SERVICE_FIELDS: &[&str] = &["kind", "status", "description", "started_on", "ended_on", "for_third_party"];

impl ServiceData {
    pub fn from_fields(input: &Fields) -> Result<ServiceData, FieldErrors> {
        let mut f = Form::new(input, SERVICE_FIELDS);
        let kind = f.required("kind", ServiceKind::parse);
        let status = f.optional("status", ServiceStatus::parse).unwrap_or(ServiceStatus::Active);
        let description = f.required("description", Text::parse);
        let started_on = f.required("started_on", parse_date);
        let ended_on = f.optional("ended_on", parse_date);
        let for_third_party = f.optional("for_third_party", super::customer::parse_bool).unwrap_or(false);
        if let (Some(s), Some(e)) = (started_on, ended_on)
            && e < s
        {
            f.error(
                "ended_on",
                Invalid::new(
                    "date",
                    "before_start",
                    "De einddatum ligt voor de begindatum.",
                    "The end date is before the start date.",
                ),
            );
        }
        f.finish(|| {
            Some(ServiceData {
                kind: kind?,
                status,
                description: description?,
                started_on: started_on?,
                ended_on,
                for_third_party,
            })
        })
    }

    pub fn to_fields(&self) -> Fields {
        let mut f = Fields::new();
        put(&mut f, "kind", Some(self.kind));
        put(&mut f, "status", Some(self.status));
        put(&mut f, "description", Some(&self.description));
        put(&mut f, "started_on", Some(format_date(self.started_on)));
        put(&mut f, "ended_on", self.ended_on.map(format_date));
        put(&mut f, "for_third_party", Some(if self.for_third_party { "yes" } else { "no" }));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(extra: &[(&str, &str)]) -> Fields {
        let base = [("kind", "managed_server"), ("description", "Server klantportaal"), ("started_on", "2026-01-01")];
        base.iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_service_for_a_third_party_is_marked_as_such() {
        assert!(!ServiceData::from_fields(&fields(&[])).unwrap().for_third_party, "not unless said");
        let managed = ServiceData::from_fields(&fields(&[("for_third_party", "ja")])).unwrap();
        assert!(managed.for_third_party);
        assert_eq!(managed.to_fields()["for_third_party"], "yes");
        assert_eq!(ServiceData::from_fields(&managed.to_fields()).unwrap(), managed);
        let e = ServiceData::from_fields(&fields(&[("for_third_party", "misschien")])).unwrap_err();
        assert!(e.for_field("for_third_party").is_some(), "{e:?}");
    }
}
