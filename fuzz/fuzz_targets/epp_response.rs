//! The answers of an EPP registry as the registry client parses them (RFC
//! 5730-5733): the greeting and the responses to the commands custodian
//! sends, from any bytes: a response or an error, never a panic.
#![no_main]

use instant_epp::common::NoExtension;
use instant_epp::request::Command;
use instant_epp::response::Response;
use libfuzzer_sys::fuzz_target;

fn parse<C: Command>(xml: &str) {
    let _ = instant_xml::from_str::<Response<C::Response, NoExtension>>(xml);
}

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else { return };
    let _ = instant_xml::from_str::<instant_epp::hello::Greeting>(xml);
    parse::<instant_epp::contact::ContactCreate<'static>>(xml);
    parse::<instant_epp::contact::ContactInfo<'static>>(xml);
    parse::<instant_epp::contact::ContactCheck<'static>>(xml);
    parse::<instant_epp::domain::DomainCreate<'static>>(xml);
    parse::<instant_epp::domain::DomainInfo<'static>>(xml);
    parse::<instant_epp::domain::DomainCheck<'static>>(xml);
    parse::<instant_epp::poll::Poll>(xml);
});
