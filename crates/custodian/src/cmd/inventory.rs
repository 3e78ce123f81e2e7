//! `custodian inventory`: the data inventory, and where each registry keeps
//! the holder data of its handles.

use std::io::Write;

use custodian_domain::Lang;
use custodian_domain::inventory;

use super::shared::{Format, write_json};

/// Where the holder data of a registry's handles lives (A8), for the inventory.
#[derive(serde::Serialize)]
struct RegistryMode<'a> {
    registry: &'a str,
    tlds: &'a [String],
    /// `stored_here` or `registry_only` (passthrough).
    holder_data: &'static str,
}

/// Prints the inventory as a table or as JSON.
pub(crate) fn run(
    out: &mut impl Write,
    format: Format,
    lang: Lang,
    registries: &custodian_registry::Registries,
) -> anyhow::Result<()> {
    let modes: Vec<RegistryMode> = registries
        .0
        .iter()
        .map(|(name, c)| RegistryMode {
            registry: name,
            tlds: &c.tlds,
            holder_data: if c.passthrough { "registry_only" } else { "stored_here" },
        })
        .collect();
    if format == Format::Json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            fields: &'static [inventory::Field],
            derived: &'static [inventory::DerivedIndex],
            registries: &'a [RegistryMode<'a>],
        }
        let doc = Doc { fields: inventory::FIELDS, derived: inventory::DERIVED, registries: &modes };
        return write_json(out, &doc);
    }
    writeln!(
        out,
        "{:<34} {:<30} {:<20} {:<20} {:<18} {:<30} {:<22} recipients",
        "table.column", "label", "category", "purpose", "basis", "readers", "retention"
    )?;
    for f in inventory::FIELDS {
        let readers: Vec<_> = f.readers().iter().map(|r| r.as_str()).collect();
        let recipients: Vec<_> = f.recipients.iter().map(|r| format!("{r:?}").to_lowercase()).collect();
        writeln!(
            out,
            "{:<34} {:<30} {:<20} {:<20} {:<18} {:<30} {:<22} {}",
            format!("{}.{}", f.table, f.column),
            f.label(lang),
            format!("{:?}", f.category),
            format!("{:?}", f.purpose),
            format!("{:?}", f.basis),
            readers.join(","),
            format!("{:?}", f.retention),
            recipients.join(",")
        )?;
    }
    for m in &modes {
        let place = match (m.holder_data, lang) {
            ("registry_only", Lang::Nl) => "alleen bij de registry (passthrough); hier alleen de handle-ID",
            ("registry_only", _) => "at the registry only (passthrough); here only the handle ID",
            (_, Lang::Nl) => "hier versleuteld en bij de registry",
            _ => "here, encrypted, and at the registry",
        };
        writeln!(out, "contacts.* {} {} ({}): {place}", lang.pick("bij", "at"), m.registry, m.tlds.join(", "))?;
    }
    Ok(())
}
