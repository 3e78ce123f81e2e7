//! What a customer has with the company, on the staff customer page: the
//! services (M1, A13), the domain contacts (handles, without holder data),
//! and for those who keep the books the invoice headers; and recording a new
//! service.

use axum::extract::{Form, Path, State as AxState};
use axum::response::Response;
use custodian_domain::model::ServiceData;
use custodian_domain::policy::{self, Action, Principal, Resource};
use custodian_store::{AccessPurpose, StoreError};

use super::customers::{Shown, show};
use crate::State;
use crate::extract::Staff;
use crate::pages::{FormFields, actionable, books, store_error, who};
use crate::view::euros;

/// One service as the page shows it: kind (and whether for a third party),
/// description, status, since, until.
pub(crate) struct ServiceRow {
    pub kind: &'static str,
    pub for_third_party: bool,
    pub description: String,
    pub status: &'static str,
    pub started: String,
    pub ended: String,
}

/// One domain contact (handle): its ID at the registry, the registry, its
/// state and the domains that use it; no holder data.
pub(crate) struct HandleRow {
    pub handle: String,
    pub registry: String,
    pub status: &'static str,
    pub domains: String,
}

/// One invoice header: its id (for the link), number, date, total, standing.
pub(crate) struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub date: String,
    pub total: String,
    pub state: &'static str,
}

/// The sections of the page about what the customer has; empty where the
/// viewer's role may not see them.
#[derive(Default)]
pub(crate) struct Related {
    pub shows_services: bool,
    pub services: Vec<ServiceRow>,
    pub can_add_service: bool,
    pub shows_invoices: bool,
    pub invoices: Vec<InvoiceRow>,
    pub shows_handles: bool,
    pub handles: Vec<HandleRow>,
    /// The kinds a new service can be, in words.
    pub kinds: Vec<(&'static str, &'static str)>,
}

const KINDS: [&str; 6] = ["domain", "hosting", "email", "website", "managed_server", "vps"];

/// Reads the services (audited, `service.read`) and invoice headers (no
/// personal data) of customer `id` for `viewer`.
pub(super) async fn related(
    state: &State,
    viewer: &Staff,
    id: i64,
    purpose: AccessPurpose,
) -> Result<Related, StoreError> {
    let lang = viewer.lang;
    let who: Principal = viewer.principal();
    let access = viewer.access(purpose);
    let mut related = Related {
        // Services are read as any record is: by the fields the role may see.
        shows_services: custodian_domain::inventory::fields_of("services").any(|f| f.allows(who, Action::Read)),
        can_add_service: policy::allows(who, Resource::Services, Action::Write),
        shows_invoices: policy::allows(who, Resource::Invoices, Action::Read),
        shows_handles: policy::allows(who, Resource::Handles, Action::Read),
        kinds: KINDS.iter().map(|k| (*k, who::service_label(k, lang))).collect(),
        ..Related::default()
    };
    if related.shows_services {
        related.services = state
            .store
            .read_services(&access, id)
            .await?
            .into_iter()
            .map(|s| ServiceRow {
                kind: who::service_label(&s.kind, lang),
                for_third_party: s.for_third_party,
                description: s.description.unwrap_or_default(),
                status: who::status_label(&s.status, lang),
                started: s.started_on,
                ended: s.ended_on.unwrap_or_default(),
            })
            .collect();
    }
    if related.shows_handles {
        let none = lang.pick("nog niet bij de registry", "not at the registry yet");
        related.handles = state
            .store
            .handles_of(&access, id)
            .await?
            .into_iter()
            .map(|h| HandleRow {
                handle: h.handle.unwrap_or_else(|| none.to_string()),
                registry: h.registry.unwrap_or_default(),
                status: who::status_label(&h.status, lang),
                domains: h.domains.join(", "),
            })
            .collect();
    }
    if related.shows_invoices {
        related.invoices = state
            .store
            .invoice_headers(&access, id)
            .await?
            .into_iter()
            .rev()
            .map(|i| InvoiceRow {
                id: i.id,
                total: euros(i.total_cents, lang),
                state: books::state_label(i.state, lang),
                number: i.number,
                date: i.issued_on,
            })
            .collect();
    }
    Ok(related)
}

/// Records a service for the customer (active from the day given), then shows
/// the customer's page again with the purpose it was opened for.
pub(crate) async fn add_service(
    AxState(state): AxState<State>,
    viewer: Staff,
    Path(id): Path<i64>,
    Form(form): Form<FormFields>,
) -> Response {
    let lang = viewer.lang;
    let allowed = custodian_domain::policy::purposes(viewer.principal());
    let purpose = form
        .get("purpose")
        .and_then(|p| AccessPurpose::parse(p))
        .filter(|p| allowed.contains(p))
        .unwrap_or(AccessPurpose::Administration);
    let fields: custodian_domain::model::Fields = ["kind", "description", "started_on", "for_third_party"]
        .iter()
        .filter_map(|k| form.get(*k).map(|v| (k.to_string(), v.trim().to_string())))
        .collect();
    let data = match ServiceData::from_fields(&fields) {
        Ok(d) => d,
        Err(errors) => return show(&state, &viewer, id, purpose, Shown::error(errors.render(lang))).await,
    };
    match state.store.add_service(&viewer.access(purpose), id, &data).await {
        Ok(_) => {
            let notice = format!(
                "{}: {} {}",
                lang.pick("Dienst vastgelegd", "Service recorded"),
                who::service_label(data.kind.as_str(), lang),
                data.description.as_str()
            );
            show(&state, &viewer, id, purpose, Shown::notice(notice)).await
        }
        Err(e) => match actionable(&e, lang) {
            Some(error) => show(&state, &viewer, id, purpose, Shown::error(error)).await,
            None => store_error(&viewer, e),
        },
    }
}
