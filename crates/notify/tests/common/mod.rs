//! What the notify tests share beyond the protocol doubles (those live in
//! `custodian_testkit::doubles`, shared with the web tests).

use custodian_store::{Access, AccessPurpose, Actor};

pub fn staff() -> Access {
    Access::new(Actor::staff("u1", custodian_domain::inventory::Role::Staff), AccessPurpose::Administration)
}
