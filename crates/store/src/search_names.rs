//! The names search results show: a customer's company name, else the contact's
//! name. Showing a name is reading it, so each customer listed is an audited
//! read of the name fields, with the purpose the search was made for.

use custodian_domain::inventory::Field;
use custodian_domain::policy::Action;

use crate::audit::{Access, Event};
use crate::{Store, StoreError, permit, records};

/// The fields a result is named by, in order of preference.
const NAMES: [&str; 2] = ["company_name", "contact_name"];

/// Results named at most: a search that finds more is narrowed, not listed.
pub const NAMED_RESULTS: usize = 50;

impl Store {
    /// The name of each of `ids` (at most [`NAMED_RESULTS`]) that still
    /// exists, as far as the role may read it; empty when it may read neither
    /// name field. Erased and unknown customers are left out.
    pub async fn customer_names(&self, access: &Access, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        let who = access.actor.principal();
        let readable = move |f: &Field| NAMES.contains(&f.column) && f.allows(who, Action::Read);
        let mut named = Vec::new();
        let mut events = Vec::new();
        for &id in ids.iter().take(NAMED_RESULTS) {
            permit::require_record(access, id, "customers")?;
            let (head, row) = match self.load_customer_row(&self.pool, id).await {
                Ok(loaded) => loaded,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let Ok(key_id) = head.live_key_id() else { continue };
            let key = self.keys.data_key(&self.pool, key_id).await?;
            let fields = records::open(&key, "customers", key_id, &row, readable)?;
            let name = NAMES.iter().find_map(|n| fields.get(*n).filter(|v| !v.trim().is_empty())).cloned();
            if !fields.is_empty() && !access.actor.is_subject(id) {
                let mut event = Event::new(access, "customer.read", "customer", id).fields(fields.keys());
                self.keys.seal_source(&mut event, Some(&key));
                events.push(event);
            }
            named.push((id, name.unwrap_or_default()));
        }
        if !events.is_empty() {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            crate::audit::append(&mut tx, &events).await?;
            tx.commit().await?;
        }
        Ok(named)
    }
}
