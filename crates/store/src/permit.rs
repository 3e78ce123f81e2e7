//! The store's side of the access policy: every store operation that takes an
//! [`Access`] asks here, and here only asks `custodian_domain::policy`.

use custodian_domain::Lang;
use custodian_domain::inventory::{self, Field};
use custodian_domain::policy::{self, Action, Principal, Resource};

use crate::StoreError;
use crate::audit::{Access, Actor, ActorKind};

impl Actor {
    /// Who this actor is to the policy.
    pub fn principal(&self) -> Principal {
        match self.kind {
            ActorKind::Operator => Principal::Operator,
            ActorKind::Job => Principal::Job,
            ActorKind::Customer => Principal::Subject,
            ActorKind::Staff => Principal::person(self.role),
            // A token for the customer role cannot be made; refuse it everything.
            ActorKind::Api => Principal::token(self.role).unwrap_or(Principal::Subject),
        }
    }
}

/// A refusal by the policy: what was asked, shown in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub resource: Resource,
    pub action: Action,
    /// The fields refused, for a write that names fields the caller may not change.
    pub fields: Vec<&'static str>,
    /// Set when the refusal is about the purpose given, not the action.
    pub purpose: bool,
}

impl Denial {
    pub fn code(&self) -> &'static str {
        if self.purpose { "purpose_not_allowed" } else { "forbidden" }
    }

    pub fn message(&self, lang: Lang) -> String {
        if self.purpose {
            return lang
                .pick(
                    "Deze reden mag u voor deze inzage niet opgeven.",
                    "You may not give this reason for this access.",
                )
                .into();
        }
        if !self.fields.is_empty() {
            let lead = match self.action {
                Action::Read => lang.pick("U mag deze velden niet inzien:", "You may not see these fields:"),
                _ => lang.pick("U mag deze velden niet wijzigen:", "You may not change these fields:"),
            };
            return format!("{lead} {}", self.fields.join(", "));
        }
        lang.pick("Dit mag u met uw rol niet doen.", "Your role does not allow this.").into()
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message(Lang::En))
    }
}

pub(crate) fn denial(resource: Resource, action: Action) -> StoreError {
    StoreError::Denied(Denial { resource, action, fields: Vec::new(), purpose: false })
}

/// The refusal of a staff account or token when the company has no staff (M6).
pub(crate) fn no_staff() -> StoreError {
    StoreError::Refused(crate::Refusal::NoStaffAccounts)
}

/// Refuses unless the policy lets this actor take `action` on `resource` for
/// the purpose it gave.
pub(crate) fn require(access: &Access, resource: Resource, action: Action) -> Result<(), StoreError> {
    let who = access.actor.principal();
    if !policy::allows(who, resource, action) {
        return Err(denial(resource, action));
    }
    if !policy::may_give(who, access.purpose) {
        return Err(StoreError::Denied(Denial { resource, action, fields: Vec::new(), purpose: true }));
    }
    Ok(())
}

/// As [`require`], on one customer's data: a customer reaches only their own.
pub(crate) fn require_on(
    access: &Access,
    customer_id: i64,
    resource: Resource,
    action: Action,
) -> Result<(), StoreError> {
    if access.actor.principal() == Principal::Subject && !access.actor.is_subject(customer_id) {
        return Err(denial(resource, action));
    }
    require(access, resource, action)
}

/// Refuses unless the actor may see some field of `table` on this customer's
/// record (the fields are then filtered with [`readable`]).
pub(crate) fn require_record(access: &Access, customer_id: i64, table: &'static str) -> Result<(), StoreError> {
    let resource = Resource::Customers;
    let who = access.actor.principal();
    if who == Principal::Subject && !access.actor.is_subject(customer_id) {
        return Err(denial(resource, Action::Read));
    }
    if !policy::may_give(who, access.purpose) {
        return Err(StoreError::Denied(Denial { resource, action: Action::Read, fields: Vec::new(), purpose: true }));
    }
    if !inventory::fields_of(table).any(|f| f.allows(who, Action::Read)) {
        return Err(denial(resource, Action::Read));
    }
    Ok(())
}

/// Which fields this actor may read.
pub(crate) fn readable(access: &Access) -> impl Fn(&Field) -> bool + use<> {
    readable_by(access.actor.principal())
}

pub(crate) fn readable_by(who: Principal) -> impl Fn(&Field) -> bool {
    move |f: &Field| f.allows(who, Action::Read)
}

/// The columns of `table` this actor may not read (listed as withheld).
pub(crate) fn withheld(access: &Access, table: &'static str) -> Vec<&'static str> {
    let who = access.actor.principal();
    inventory::fields_of(table).filter(|f| !f.allows(who, Action::Read)).map(|f| f.column).collect()
}

/// Refuses a write naming any field of `table` this actor may not change, or
/// no declared field at all; names every refused field, so nothing is written.
pub(crate) fn require_writes<'a>(
    access: &Access,
    table: &'static str,
    columns: impl IntoIterator<Item = &'a String>,
) -> Result<(), StoreError> {
    let who = access.actor.principal();
    let mut refused: Vec<&'static str> = Vec::new();
    for column in columns {
        match inventory::field(table, column) {
            Some(f) if f.allows(who, Action::Write) => {}
            Some(f) => refused.push(f.column),
            // Unknown names are the validator's to report, with its own message.
            None => {}
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    refused.sort_unstable();
    refused.dedup();
    let class = inventory::field(table, refused[0]).map(|f| f.class).unwrap_or(policy::FieldClass::Credential);
    Err(StoreError::Denied(Denial {
        resource: Resource::Fields(class),
        action: Action::Write,
        fields: refused,
        purpose: false,
    }))
}
