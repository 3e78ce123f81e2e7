//! Names of staff accounts, so pages can say who acted ("medewerker Anna")
//! where the audit trail keeps only the pseudonymous account number.

use std::collections::HashMap;

use super::*;

impl Store {
    /// The display names of the owner, staff and bookkeeper accounts among
    /// `ids`; removed accounts (whose name was wiped) and customers' accounts
    /// are left out. Not audited: a name that labels an audit entry is what
    /// the people looked at are entitled to see.
    pub async fn staff_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        let mut names = HashMap::new();
        let mut wanted: Vec<i64> = ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        for id in wanted {
            let row = sqlx::query(
                "SELECT display_name FROM users WHERE id = $1 AND customer_id IS NULL AND role <> 'customer' AND removed_at IS NULL",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { continue };
            let sealed: Option<Vec<u8>> = row.try_get("display_name")?;
            if let Some(sealed) = sealed.filter(|s| !s.is_empty()) {
                let plain = self.keys.system.open(&field_aad("users", id, "display_name"), &sealed)?;
                names.insert(id, String::from_utf8_lossy(&plain).into_owned());
            }
        }
        Ok(names)
    }
}
