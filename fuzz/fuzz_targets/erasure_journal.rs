//! The erasure journal a restore reads from the repository: any bytes give
//! the entries or "damaged", never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = custodian_backup::read_journal(data);
});
