//! Who did something, as people read it: "medewerker Anna", "de beheerder
//! (opdrachtregel)", never `staff:1` or `operator:cli`.

use std::collections::HashMap;

use custodian_domain::Lang;
use custodian_store::Entry;

use crate::State;

/// Names of the staff accounts that acted in `entries`; empty when they
/// cannot be read (the entries are then labelled by account number).
pub(crate) async fn staff_names(state: &State, entries: &[Entry], also: Option<(&str, &str)>) -> HashMap<i64, String> {
    let actors = entries.iter().map(|e| (e.actor_kind.as_str(), e.actor_id.as_str())).chain(also);
    let ids: Vec<i64> = actors.filter(|(kind, _)| *kind == "staff").filter_map(|(_, id)| id.parse().ok()).collect();
    match state.store.staff_names(&ids).await {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "staff names unavailable");
            HashMap::new()
        }
    }
}

/// The actor of an audit entry in words.
pub(crate) fn actor_label(kind: &str, id: &str, names: &HashMap<i64, String>, lang: Lang) -> String {
    match kind {
        "staff" => {
            let name = id.parse::<i64>().ok().and_then(|n| names.get(&n));
            match name {
                Some(name) => format!("{} {name}", lang.pick("medewerker", "staff member")),
                None => format!("{} {id}", lang.pick("medewerker, account", "staff member, account")),
            }
        }
        "operator" => lang.pick("de beheerder (opdrachtregel)", "the administrator (command line)").into(),
        "job" => match id {
            "retention" => lang.pick("automatische bewaartermijncontrole", "scheduled retention run").into(),
            "erasure" => lang.pick("automatische verwijdering", "scheduled erasure").into(),
            "journal_replay" => lang.pick("herstel na back-up", "restore from backup").into(),
            _ => lang.pick("automatische taak", "scheduled job").into(),
        },
        "api" => lang.pick("koppeling met een ander systeem (API)", "a linked system (API)").into(),
        "customer" => lang.pick("uzelf", "you").into(),
        _ => lang.pick("onbekend", "unknown").into(),
    }
}

/// The actor of an audit entry as the company's people read it: a customer
/// by number, where the customer's own pages say "you".
pub(crate) fn company_actor_label(kind: &str, id: &str, names: &HashMap<i64, String>, lang: Lang) -> String {
    match kind {
        "customer" => format!("{} {id}", lang.pick("klant", "customer")),
        _ => actor_label(kind, id, names, lang),
    }
}

/// A customer's kind and status in words.
pub(crate) fn kind_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "business" => lang.pick("zakelijk", "business"),
        "private" => lang.pick("particulier", "private person"),
        _ => lang.pick("onbekend", "unknown"),
    }
}

pub(crate) fn status_label(status: &str, lang: Lang) -> &'static str {
    match status {
        "active" => lang.pick("actief", "active"),
        "erased" => lang.pick("verwijderd", "erased"),
        "ended" => lang.pick("beëindigd", "ended"),
        "pending" => lang.pick("in behandeling", "pending"),
        "suspended" => lang.pick("opgeschort", "suspended"),
        "failed" => lang.pick("mislukt", "failed"),
        "deleted" => lang.pick("verwijderd", "deleted"),
        "sent" | "done" => lang.pick("verwerkt", "done"),
        "sending" => lang.pick("wordt verstuurd", "being sent"),
        _ => lang.pick("onbekend", "unknown"),
    }
}

/// Columns named in an audit entry, as the inventory labels them.
pub(crate) fn fields_label(fields: &[String], lang: Lang) -> String {
    fields
        .iter()
        .map(|f| {
            ["customers", "contacts", "invoices"]
                .iter()
                .find_map(|t| custodian_domain::inventory::field(t, f))
                .map(|d| d.label(lang).to_string())
                .unwrap_or_else(|| match f.as_str() {
                    "login" => lang.pick("inlognaam", "login name").into(),
                    "display_name" => lang.pick("naam", "name").into(),
                    "description" => lang.pick("omschrijving", "description").into(),
                    _ => lang.pick("overige gegevens", "other data").into(),
                })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A kind of service in words.
pub(crate) fn service_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "domain" => lang.pick("domeinnaam", "domain name"),
        "hosting" => lang.pick("webhosting", "web hosting"),
        "email" => lang.pick("e-mail", "e-mail"),
        "website" => lang.pick("website", "website"),
        "managed_server" => lang.pick("beheerde server", "managed server"),
        "vps" => lang.pick("virtuele server", "virtual server"),
        _ => lang.pick("overige dienst", "other service"),
    }
}

/// A registry operation's kind, in words.
pub(crate) fn operation_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "contact_create" => lang.pick("domeincontact aanmaken", "create a domain contact"),
        "contact_update" => lang.pick("domeincontact wijzigen", "change a domain contact"),
        "contact_delete" => lang.pick("domeincontact verwijderen", "delete a domain contact"),
        "domain_create" => lang.pick("domeinnaam registreren", "register a domain name"),
        "domain_update" => lang.pick("domeinnaam wijzigen", "change a domain name"),
        _ => lang.pick("andere opdracht", "other operation"),
    }
}

/// How an invoice is delivered, in words.
pub(crate) fn delivery_label(delivery: &str, lang: Lang) -> &'static str {
    match delivery {
        "post" => lang.pick("per post", "by post"),
        "email" => lang.pick("per e-mail", "by e-mail"),
        _ => lang.pick("onbekend", "unknown"),
    }
}
