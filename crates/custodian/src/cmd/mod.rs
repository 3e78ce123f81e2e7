//! Command groups with a module of their own.

pub(crate) mod account;
