//! Turning a record's [`Fields`] into ciphertext columns and back, driven by the
//! data inventory: the columns sealed are exactly the inventory's for that table.

use crate::StoreError;
use crate::crypto::{Key, field_aad};
use custodian_domain::inventory::{self, Field};
use custodian_domain::model::Fields;

/// The inventory's personal columns of `table`, in a stable order.
pub(crate) fn columns(table: &str) -> Vec<&'static str> {
    inventory::fields_of(table).map(|f| f.column).collect()
}

/// One sealed value per personal column of `table` (`None` for empty fields).
pub(crate) fn seal(key: &Key, table: &str, row: i64, fields: &Fields) -> Vec<Option<Vec<u8>>> {
    inventory::fields_of(table)
        .map(|f| fields.get(f.column).map(|v| key.seal(&field_aad(table, row, f.column), v.as_bytes())))
        .collect()
}

/// Opens the personal columns of `table` in `r` that `readable` admits.
pub(crate) fn open(
    key: &Key,
    table: &str,
    row: i64,
    r: &impl crate::rows::Get,
    readable: impl Fn(&Field) -> bool,
) -> Result<Fields, StoreError> {
    let mut out = Fields::new();
    for f in inventory::fields_of(table).filter(|f| readable(f)) {
        let sealed: Option<Vec<u8>> = r.col(f.column)?;
        if let Some(sealed) = sealed {
            let plain = key.open(&field_aad(table, row, f.column), &sealed)?;
            let text = String::from_utf8(plain.to_vec()).map_err(|_| crate::CryptoError::Malformed)?;
            out.insert(f.column.to_string(), text);
        }
    }
    Ok(out)
}

/// `$start, $start+1, ...` for `n` placeholders.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `col1 = $start, col2 = $start+1, ...`.
pub(crate) fn assignments(start: usize, columns: &[&str]) -> String {
    columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", start + i)).collect::<Vec<_>>().join(", ")
}
