//! Names of staff accounts, so pages can say who acted ("medewerker Anna")
//! where the audit trail keeps only the pseudonymous account number.

use std::collections::HashMap;

use super::*;

/// The company's people with their sealed names; removed accounts had theirs wiped.
const NAMED: &str =
    "SELECT id, display_name FROM users WHERE customer_id IS NULL AND role <> 'customer' AND removed_at IS NULL";

impl Store {
    /// The display names of the owner, staff and bookkeeper accounts among
    /// `ids`; removed accounts (whose name was wiped) and customers' accounts
    /// are left out. Not audited: a name that labels an audit entry is what
    /// the people looked at are entitled to see.
    pub async fn staff_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        let mut wanted: Vec<i64> = ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut names = HashMap::new();
        // One statement for them all; a page names a handful of people.
        for chunk in wanted.chunks(100) {
            let sql = format!("{NAMED} AND id IN ({})", crate::records::placeholders(1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.pool).await? {
                names.extend(self.named(&row)?);
            }
        }
        Ok(names)
    }

    /// The display names of every owner, staff and bookkeeper account that
    /// has one, by account number: the people the audit browser's filter
    /// names, for those who may read the trail.
    pub async fn all_staff_names(&self, access: &crate::Access) -> Result<Vec<(i64, String)>, StoreError> {
        crate::permit::require(
            access,
            custodian_domain::policy::Resource::AuditTrail,
            custodian_domain::policy::Action::Read,
        )?;
        let rows = sqlx::query(&format!("{NAMED} ORDER BY id")).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.extend(self.named(row)?);
        }
        Ok(out)
    }

    /// An account's number and opened name, from a row of [`NAMED`].
    fn named(&self, row: &sqlx::any::AnyRow) -> Result<Option<(i64, String)>, StoreError> {
        let id: i64 = row.try_get("id")?;
        let sealed: Option<Vec<u8>> = row.try_get("display_name")?;
        let Some(sealed) = sealed.filter(|s| !s.is_empty()) else { return Ok(None) };
        let plain = self.keys.system.open(&field_aad("users", id, "display_name"), &sealed)?;
        Ok(Some((id, String::from_utf8_lossy(&plain).into_owned())))
    }
}
