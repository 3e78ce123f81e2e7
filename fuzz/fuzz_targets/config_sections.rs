//! The sections of the TOML configuration file with their own types, each
//! read and judged: an error or a verdict, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(v) = toml::from_str::<custodian_domain::retention::RetentionPolicy>(s) {
        let _ = v.problems();
    }
    if let Ok(v) = toml::from_str::<custodian_backup::BackupConfig>(s) {
        let _ = v.problem();
    }
    if let Ok(v) = toml::from_str::<custodian_registry::Registries>(s) {
        let _ = v.problem();
    }
    let _ = toml::from_str::<custodian_notify::SmtpConfig>(s).map(|c| custodian_notify::Mailer::new(&c));
    let _ = toml::from_str::<custodian_notify::SmsConfig>(s);
    let _ = toml::from_str::<custodian_notify::WorkerConfig>(s);
    let _ = toml::from_str::<custodian_registry::WorkerSettings>(s);
});
