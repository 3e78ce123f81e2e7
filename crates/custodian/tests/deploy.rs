//! The systemd units in `deploy/` as systemd itself judges them:
//! `systemd-analyze verify` finds nothing wrong with either, and
//! `systemd-analyze security` rates the server's exposure "OK" (at most 2.0
//! of 10: a user of its own, no capabilities, a read-only system, a system
//! call filter).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

fn analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze runs (Debian: apt-get install systemd; scripts/test installs it)")
}

#[test]
fn the_systemd_units_verify_and_the_server_is_confined() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let tmp = tempfile::tempdir().unwrap();
    for unit in ["custodian.service", "custodian-init.service"] {
        // The units name the installed binary; here it is the one just built.
        let text = std::fs::read_to_string(deploy.join(unit)).unwrap();
        assert!(text.contains("/usr/local/bin/custodian "), "{unit}");
        let path = tmp.path().join(unit);
        std::fs::write(&path, text.replace("/usr/local/bin/custodian", BIN)).unwrap();
        let out = analyze(&["verify", path.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stderr);
        let ours: Vec<&str> = said.lines().filter(|l| l.contains("custodian")).collect();
        assert!(out.status.success() && ours.is_empty(), "{unit}: {said}");
    }
    let server = tmp.path().join("custodian.service");
    let out = analyze(&["security", "--offline=true", server.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&out.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for custodian.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(level <= 2.0, "exposure {level}:\n{report}");
}
