//! Pure types and rules of custodian. Nothing here performs I/O: no SQL, no HTTP,
//! no files. Everything that enters the system as text is parsed into a type from
//! [`validate`] that can only hold a valid, normalised value.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod inventory;
pub mod lang;
pub mod model;
pub mod password;
pub mod policy;
pub mod requests;
pub mod retention;
pub mod validate;

pub use lang::Lang;
