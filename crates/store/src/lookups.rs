//! Blind indexes of domain contacts, so a person who is not a customer can be
//! found by e-mail address or name without decrypting anything (invariant 3):
//! the keyed hashes of a contact's e-mail and of the words of its name and
//! organisation. Customers have theirs in `customers.rs`.

use custodian_domain::model::{Fields, search_words};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::crypto::Key;
use crate::keys::Keyring;
use crate::{StoreError, customers::email_index};

/// The columns of a contact whose words are searchable.
const NAME_COLUMNS: [&str; 2] = ["name", "organisation"];

/// Name words of `fields`, lower-cased and unique.
fn name_words(fields: &Fields) -> Vec<String> {
    let mut words: Vec<String> =
        NAME_COLUMNS.iter().filter_map(|c| fields.get(*c)).flat_map(|v| search_words(v)).collect();
    words.sort();
    words.dedup();
    words
}

/// Writes contact `id`'s e-mail index and name words from its (plain) fields,
/// replacing what was there; in the caller's transaction.
pub(crate) async fn write_contact(
    tx: &mut Transaction<'static, Any>,
    index: &Key,
    id: i64,
    customer_id: i64,
    fields: &Fields,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE contacts SET email_bidx = $1 WHERE id = $2")
        .bind(fields.get("email").map(|e| email_index(index, e)))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM contact_name_words WHERE contact_id = $1").bind(id).execute(&mut **tx).await?;
    let words = name_words(fields);
    if words.is_empty() {
        return Ok(());
    }
    let values = (0..words.len()).map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3));
    let sql = format!(
        "INSERT INTO contact_name_words (contact_id, customer_id, word) VALUES {}",
        values.collect::<Vec<_>>().join(", ")
    );
    let mut q = sqlx::query(&sql);
    for w in &words {
        q = q.bind(id).bind(customer_id).bind(index.blind_index("name", w));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The `meta` row that says every contact has its lookups.
const FILLED: &str = "contact_lookups";

/// Gives contacts stored before these indexes existed their lookups, once:
/// opens each contact's e-mail and name under its customer's key.
pub(crate) async fn fill_missing(pool: &AnyPool, keys: &Keyring) -> Result<(), StoreError> {
    let done: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1").bind(FILLED).fetch_optional(pool).await?;
    if done.is_some() {
        return Ok(());
    }
    let mut tx = crate::db::write_tx(pool).await?;
    let rows = sqlx::query(
        "SELECT c.id, c.customer_id, cu.key_id, c.email, c.name, c.organisation FROM contacts c
         JOIN customers cu ON cu.id = c.customer_id WHERE cu.key_id IS NOT NULL ORDER BY c.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let (id, customer_id, key_id): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let key = keys.data_key(&mut *tx, key_id).await?;
        let mut fields = Fields::new();
        for (i, column) in ["email", "name", "organisation"].into_iter().enumerate() {
            let sealed: Option<Vec<u8>> = r.try_get(3 + i)?;
            if let Some(sealed) = sealed {
                let plain = key.open(&crate::crypto::field_aad("contacts", id, column), &sealed)?;
                let text = String::from_utf8(plain.to_vec()).map_err(|_| crate::CryptoError::Malformed)?;
                fields.insert(column.to_string(), text);
            }
        }
        write_contact(&mut tx, &keys.index, id, customer_id, &fields).await?;
    }
    sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2)").bind(FILLED).bind("1").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_words_come_from_name_and_organisation_once_each() {
        let fields: Fields = [("name", "Jan de Vries"), ("organisation", "De Vries Bouw B.V."), ("email", "x@y.nl")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(name_words(&fields), ["bouw", "de", "jan", "vries"]);
    }
}
