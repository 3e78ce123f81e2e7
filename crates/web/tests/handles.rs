//! "My handles" in the portal, against the loopback EPP registry: a customer
//! makes a handle (a wrong phone number first: shown at the field, nothing
//! saved), registers two domains with it, changes it (the change arrives at the
//! registry), cannot delete it while in use, and deletes it once both domains
//! have moved away. Staff see the operations.

mod common;

use std::sync::Arc;

use common::Server;
use custodian_registry::{Registries, RegistryConfig, Worker, WorkerSettings};
use custodian_testkit::databases;
use custodian_testkit::epp::{EppOptions, EppServer};
use reqwest::StatusCode;

fn worker(store: custodian_store::Store, registry: &EppServer) -> Arc<Worker> {
    let o = &registry.options;
    let mut c = RegistryConfig::new("localhost", registry.port, &o.login, &o.password);
    c.ca_file = Some(registry.cert.ca_file.clone());
    c.tlds = vec!["*".into()];
    let mut r = Registries::default();
    r.0.insert("partner".into(), c);
    let settings = WorkerSettings { retry_first_delay_secs: 0, retry_max_delay_secs: 0, ..WorkerSettings::default() };
    Arc::new(Worker::new(store, &r, settings).unwrap())
}

const HOLDER: &[(&str, &str)] = &[
    ("name", "Tureluur Beheer"),
    ("addr_street", "Slikweg 4"),
    ("addr_postcode", "1791 AA"),
    ("addr_city", "Den Burg"),
    ("addr_country", "NL"),
    ("phone", "0222-312345"),
    ("email", "tureluur@kievit.nl"),
];

#[tokio::test]
async fn a_customer_manages_handles_and_domains_in_the_portal() {
    for db in databases().await {
        let registry = EppServer::start(EppOptions::default()).await;
        let worker = worker(db.store().await, &registry);
        let config = custodian_web::WebConfig {
            attempts_per_minute: 10_000,
            registry: Some(worker.clone()),
            ..Default::default()
        };
        let server = Server::start_with(&db, config).await;
        let (id, c) = server.customer(8).await;

        let list = c.get("/portal/handles").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(list.body.contains("aria-current=\"page\""));

        // A wrong phone number: the error at the field, nothing saved.
        let mut bad: Vec<(&str, &str)> = HOLDER.to_vec();
        bad[5] = ("phone", "0222");
        let refused = c.post_form("/portal/handles", &list, &bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", db.name());
        assert!(refused.body.contains("id=\"e-phone\""), "{}", refused.body);
        assert!(refused.body.contains("Slikweg 4"), "the form keeps what was typed");
        assert!(server.store.handles_of(&common::operator(), id).await.unwrap().is_empty());

        let made = c.post_form("/portal/handles", &list, HOLDER).await;
        assert_eq!(made.location(), "/portal/handles?done=created", "{}", made.body);
        worker.drain().await.unwrap();
        let handle = server.store.handles_of(&common::operator(), id).await.unwrap().remove(0);
        let contact = handle.contact_id.to_string();
        let at_registry = handle.handle.clone().unwrap();
        assert_eq!(registry.state().contacts[&at_registry].name, "Tureluur Beheer");

        // Two domains with the same handle (M11).
        let list = c.get("/portal/handles").await;
        for name in ["tureluur.nl", "tureluur.eu"] {
            let r = c
                .post_form("/portal/domains", &list, &[("domain", name), ("registrant", &contact), ("tech", &contact)])
                .await;
            assert_eq!(r.location(), "/portal/handles?done=registered", "{}", r.body);
        }
        let bad_name = c.post_form("/portal/domains", &list, &[("domain", "-x-.nl"), ("registrant", &contact)]).await;
        assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
        worker.drain().await.unwrap();
        assert_eq!(registry.state().domains.len(), 2, "{}", db.name());
        let list = c.get("/portal/handles").await;
        assert!(list.body.contains("tureluur.eu, tureluur.nl"), "{}", list.body);
        // Listed by the holder's name, with the registry's ID.
        assert!(list.body.contains(&format!("Tureluur Beheer ({at_registry})")), "{}", list.body);

        // A change in the portal arrives at the registry.
        let path = format!("/portal/handles/{contact}");
        let detail = c.get(&path).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(detail.body.contains("Slikweg 4") && detail.body.contains("tureluur.nl"));
        let mut changed: Vec<(&str, &str)> = HOLDER.to_vec();
        changed[1] = ("addr_street", "Slikweg 6");
        let saved = c.post_form(&path, &detail, &changed).await;
        assert_eq!(saved.location(), "/portal/handles?done=changed", "{}", saved.body);
        worker.drain().await.unwrap();
        assert_eq!(registry.state().contacts[&at_registry].street, ["Slikweg 6"]);

        // In use: refused with the reason, nothing queued.
        let in_use = c.post_form(&format!("{path}/delete"), &detail, &[]).await;
        assert_eq!(in_use.status, StatusCode::CONFLICT);
        assert!(in_use.body.contains("domeinnaam"), "{}", in_use.body);

        // Both domains move away; the handle is unused and goes, at the registry first.
        registry.transfer_away("tureluur.nl", "elders");
        registry.transfer_away("tureluur.eu", "elders");
        registry.state().domains.clear();
        assert_eq!(worker.poll().await.unwrap(), 2);
        // Deleting asks first, on a page of its own.
        let ask = c.get(&format!("{path}/delete")).await;
        assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
        assert!(ask.body.contains("Weet u zeker") && ask.body.contains("Tureluur Beheer"), "{}", ask.body);
        assert!(ask.body.contains(&format!("action=\"{path}/delete\"")), "{}", ask.body);
        let gone = c.post_form(&format!("{path}/delete"), &ask, &[]).await;
        assert_eq!(gone.location(), "/portal/handles?done=deleted", "{}", gone.body);
        worker.drain().await.unwrap();
        assert!(registry.state().contacts.is_empty());
        assert!(server.store.handles_of(&common::operator(), id).await.unwrap().is_empty());

        // Someone else's handle is not found, not shown.
        let (_, other) = server.customer(9).await;
        assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);

        // Staff see every operation and its answer.
        let owner = server.owner().await;
        let ops = owner.get("/staff/registry").await;
        assert_eq!(ops.status, StatusCode::OK, "{}", ops.body);
        // In words, not as codes.
        for kind in
            ["domeincontact aanmaken", "domeinnaam registreren", "domeincontact wijzigen", "domeincontact verwijderen"]
        {
            assert!(ops.body.contains(kind), "{kind} missing");
        }
        for code in ["contact_create", "domain_create", "contact_update", "contact_delete"] {
            assert!(!ops.body.contains(code), "{code} shown as a code");
        }
        server.stop().await;
        db.finish().await;
    }
}
