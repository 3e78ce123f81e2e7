//! The customer, contact and service forms as the pages and the API decode
//! them (a URL-encoded form, a JSON object of fields): any input gives the
//! data or the list of what is wrong, never a panic.
#![no_main]

use custodian_domain::model::{ContactData, CustomerData, CustomerKind, Fields, ServiceData};
use libfuzzer_sys::fuzz_target;

fn check(fields: &Fields) {
    for kind in [CustomerKind::Business, CustomerKind::Private] {
        if let Ok(data) = CustomerData::from_fields(kind, fields) {
            // What was accepted reads back as the same customer.
            assert_eq!(CustomerData::from_fields(kind, &data.to_fields()).as_ref(), Ok(&data));
        }
    }
    let _ = ContactData::from_fields(fields);
    let _ = ServiceData::from_fields(fields);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = serde_urlencoded::from_bytes::<Fields>(data) {
        check(&fields);
    }
    if let Ok(fields) = serde_json::from_slice::<Fields>(data) {
        check(&fields);
    }
});
