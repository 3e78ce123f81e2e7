//! Handles and domains through the registry outbox, against the loopback EPP
//! registry of the testkit (TLS, RFC 5734 framing), on every engine under test:
//! the whole life of a handle, faults injected on the wire, SIDN's extension
//! and server-assigned IDs, passthrough mode, poll messages and reconciling.

use custodian_domain::model::{ContactData, Fields};
use custodian_registry::{Flavour, Registries, RegistryConfig, Worker, WorkerSettings};
use custodian_store::registry::Target;
use custodian_store::{Access, AccessPurpose, Actor, Store, StoreError};
use custodian_testkit::epp::{EppOptions, EppServer, Faults};
use custodian_testkit::{customer, databases};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Registry)
}

fn own(id: i64) -> Access {
    Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest)
}

fn settings() -> WorkerSettings {
    // Retries at once, so a drain sees every attempt through.
    WorkerSettings { retry_first_delay_secs: 0, retry_max_delay_secs: 0, ..WorkerSettings::default() }
}

fn registries(server: &EppServer, sessions: usize, passthrough: bool) -> Registries {
    let o = &server.options;
    let mut c = RegistryConfig::new("localhost", server.port, &o.login, &o.password);
    c.ca_file = Some(server.cert.ca_file.clone());
    c.sessions = sessions;
    c.passthrough = passthrough;
    c.timeout_secs = 5;
    c.tlds = vec!["*".into()];
    if o.sidn {
        c.flavour = Flavour::Sidn;
        c.tlds = vec!["nl".into()];
    }
    let mut r = Registries::default();
    r.0.insert("test".into(), c);
    r
}

fn holder(handle: Option<&str>, name: &str, street: &str) -> ContactData {
    let mut f: Fields = [
        ("name", name),
        ("addr_street", street),
        ("addr_postcode", "1811 AB"),
        ("addr_city", "Alkmaar"),
        ("addr_country", "NL"),
        ("phone", "072-5116617"),
        ("email", "grutto@kievit.nl"),
        ("legal_form", "BV"),
        ("kvk", "12345678"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(h) = handle {
        f.insert("handle".into(), h.into());
    }
    ContactData::from_fields(&f).unwrap()
}

const TARGET: Target = Target { registry: "test", passthrough: false };

async fn audit_actions(store: &Store, customer: i64) -> Vec<String> {
    store.access_log(&owner(), customer).await.unwrap().into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn a_handle_lives_registers_two_domains_changes_and_goes_when_unused() {
    for db in databases().await {
        let server = EppServer::start(EppOptions::default()).await;
        let store = db.store().await;
        let worker = Worker::new(store.clone(), &registries(&server, 2, false), settings()).unwrap();
        let id = store.create_customer(&owner(), &customer(1), false).await.unwrap();

        // The customer makes a handle for a third party (M11) and registers a domain with it.
        let handle = store.create_handle(&own(id), id, TARGET, &holder(None, "Grutto Beheer", "Dijk 1")).await.unwrap();
        let first = store.register_domain(&own(id), id, "kievit.nl", "test", handle, Some(handle), None).await.unwrap();
        // Nothing is at the registry until the worker sends it, in order.
        assert!(server.state().contacts.is_empty());
        let report = worker.drain().await.unwrap();
        assert_eq!((report.done, report.failed), (2, 0), "{}", db.name());
        let handles = store.handles_of(&own(id), id).await.unwrap();
        let registry_id = handles[0].handle.clone().unwrap();
        assert_eq!(registry_id, "CST000001");
        assert_eq!(handles[0].status, "active");
        {
            let st = server.state();
            let c = &st.contacts[&registry_id];
            assert_eq!(
                (c.name.as_str(), c.street.as_slice(), c.voice.as_deref()),
                ("Grutto Beheer", &["Dijk 1".to_string()][..], Some("+31.725116617"))
            );
            let d = &st.domains["kievit.nl"];
            assert_eq!(d.registrant, registry_id);
            assert_eq!(d.contacts, [("admin".to_string(), registry_id.clone())]);
        }

        // The same handle serves a second domain.
        store.register_domain(&own(id), id, "grutto.eu", "test", handle, None, Some(handle)).await.unwrap();
        worker.drain().await.unwrap();
        assert_eq!(server.state().domains["grutto.eu"].registrant, registry_id);
        let domains = store.domains_of(&own(id), id).await.unwrap();
        assert!(domains.iter().all(|d| d.status == "active"), "{domains:?}");
        assert_eq!(store.handles_of(&own(id), id).await.unwrap()[0].domains, ["grutto.eu", "kievit.nl"]);

        // An edit in the portal arrives at the registry.
        store.update_handle(&own(id), handle, &holder(None, "Grutto Beheer", "Dijk 2")).await.unwrap();
        worker.drain().await.unwrap();
        assert_eq!(server.state().contacts[&registry_id].street, ["Dijk 2"]);

        // The second domain gets another tech handle (domain update at the registry).
        let tech = store.create_handle(&own(id), id, TARGET, &holder(None, "Techniek BV", "Haven 2")).await.unwrap();
        let eu = domains.iter().find(|d| d.name == "grutto.eu").unwrap().id;
        store.change_domain(&own(id), eu, handle, None, Some(tech)).await.unwrap();
        worker.drain().await.unwrap();
        let tech_id = store.handles_of(&own(id), id).await.unwrap()[1].handle.clone().unwrap();
        assert_eq!(server.state().domains["grutto.eu"].contacts, [("tech".to_string(), tech_id)]);
        assert_eq!(server.state().domains["grutto.eu"].registrant, registry_id);
        store.change_domain(&own(id), eu, handle, None, Some(handle)).await.unwrap();
        worker.drain().await.unwrap();
        store.delete_handle(&own(id), tech).await.unwrap();
        worker.drain().await.unwrap();
        assert_eq!(server.state().contacts.len(), 1, "{}", db.name());

        // In use: refused here, nothing queued.
        let err = store.delete_handle(&own(id), handle).await.unwrap_err();
        assert!(matches!(err, StoreError::Refused(custodian_store::Refusal::HandleInUse { domains: 2 })), "{err}");

        // Both domains move to another registrar (the registry tells us by poll):
        // the handle is unused and can go, at the registry first.
        server.transfer_away("kievit.nl", "other-registrar");
        server.transfer_away("grutto.eu", "other-registrar");
        server.state().domains.clear();
        assert_eq!(worker.poll().await.unwrap(), 2);
        assert!(store.handles_of(&own(id), id).await.unwrap()[0].domains.is_empty());
        store.delete_handle(&own(id), handle).await.unwrap();
        assert_eq!(store.handles_of(&own(id), id).await.unwrap()[0].status, "deleting");
        worker.drain().await.unwrap();
        assert!(server.state().contacts.is_empty());
        assert!(store.handles_of(&own(id), id).await.unwrap().is_empty(), "{}", db.name());

        let actions = audit_actions(&store, id).await;
        for a in [
            "handle.create",
            "domain.create",
            "handle.update",
            "domain.transferred_away",
            "handle.delete",
            "handle.deleted",
        ] {
            assert!(actions.iter().any(|x| x == a), "{}: {a} missing from {actions:?}", db.name());
        }
        // One login per session, reused for every command.
        assert!(worker.registry("test").unwrap().logins() <= 2);
        assert_eq!(server.state().logins, worker.registry("test").unwrap().logins());
        let _ = first;
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn after_injected_faults_local_and_registry_state_agree() {
    for db in databases().await {
        let server = EppServer::start(EppOptions { max_sessions: 1, ..EppOptions::default() }).await;
        let store = db.store().await;
        // Two sessions configured, one allowed: the second login gets 2502.
        let worker = Worker::new(store.clone(), &registries(&server, 2, false), settings()).unwrap();
        let id = store.create_customer(&owner(), &customer(2), false).await.unwrap();
        let mut handles = vec![];
        for n in 0..4 {
            let h = store
                .create_handle(&owner(), id, TARGET, &holder(None, &format!("Houder {n}"), "Dijk 1"))
                .await
                .unwrap();
            handles.push(h);
        }
        store.register_domain(&owner(), id, "storing.nl", "test", handles[0], Some(handles[1]), None).await.unwrap();

        // A create that ran but whose answer was lost, a command dropped before
        // it ran, two 2400s and slow answers.
        server.inject(Faults {
            drop_after: 1,
            drop_before: 1,
            fail_2400: 2,
            delay: std::time::Duration::from_millis(20),
        });
        let report = worker.drain().await.unwrap();
        assert_eq!(report.failed, 0, "{}: {report:?}", db.name());
        assert!(report.retried >= 3, "{}: {report:?}", db.name());
        assert_eq!(store.registry_ops().unfinished(None).await.unwrap(), 0);

        // Exactly the four handles and the domain, no duplicates.
        {
            let st = server.state();
            assert_eq!(st.contacts.len(), 4, "{}: {:?}", db.name(), st.contacts.keys());
            assert_eq!(st.domains.len(), 1);
        }
        let differences = worker.reconcile("test").await.unwrap();
        assert!(differences.is_empty(), "{}: {differences:?}", db.name());

        // Reconcile reports a change made behind our back, by field name only.
        let registry_id = store.handles_of(&owner(), id).await.unwrap()[2].handle.clone().unwrap();
        server.state().contacts.get_mut(&registry_id).unwrap().city = "Utrecht".into();
        server.state().domains.clear();
        let differences = worker.reconcile("test").await.unwrap();
        let text: Vec<String> = differences.iter().map(|d| format!("{}: {}", d.object, d.what)).collect();
        assert!(text.iter().any(|t| t.ends_with("differs in addr_city")), "{text:?}");
        assert!(text.iter().any(|t| t == "domain storing.nl: active here, unknown at the registry"), "{text:?}");
        assert!(!text.iter().any(|t| t.contains("Utrecht")));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_refusal_fails_the_operation_with_the_registry_code_and_staff_can_retry() {
    for db in databases().await {
        let server = EppServer::start(EppOptions::default()).await;
        let store = db.store().await;
        let worker = Worker::new(store.clone(), &registries(&server, 1, false), settings()).unwrap();
        let id = store.create_customer(&owner(), &customer(3), false).await.unwrap();
        // Someone else holds the ID we ask for.
        server.state().contacts.insert(
            "KIEVIT-1".into(),
            custodian_testkit::epp::Contact {
                id: "KIEVIT-1".into(),
                sponsor: "other-registrar".into(),
                name: "X".into(),
                org: None,
                street: vec![],
                city: "X".into(),
                postcode: None,
                country: "NL".into(),
                voice: None,
                email: "x@example.nl".into(),
                legal_form: None,
                registration_number: None,
            },
        );
        let h = store.create_handle(&owner(), id, TARGET, &holder(Some("KIEVIT-1"), "Kievit", "Dijk 1")).await.unwrap();
        let domain = store.register_domain(&owner(), id, "kievit.nl", "test", h, None, None).await.unwrap();
        let report = worker.drain().await.unwrap();
        assert_eq!(report.failed, 1, "{}", db.name());
        let failed = store.registry_ops().list(Some("failed"), 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].result_code, Some(2302));
        assert!(failed[0].result_message.as_deref().unwrap().contains("Object exists"));
        // The domain waits for its handle and is not sent.
        let pending = store.registry_ops().list(Some("pending"), 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].waits_for, [failed[0].id]);
        assert_eq!(store.handles_of(&owner(), id).await.unwrap()[0].status, "failed");

        // The other holder lets go; staff retry; everything goes through.
        server.state().contacts.clear();
        let customer_access = own(id);
        assert!(matches!(
            store.registry_ops().retry(&customer_access, failed[0].id, 0).await,
            Err(StoreError::Denied(_))
        ));
        store.registry_ops().retry(&owner(), failed[0].id, 0).await.unwrap();
        worker.drain().await.unwrap();
        assert_eq!(store.domains_of(&owner(), id).await.unwrap()[0].status, "active");
        assert_eq!(store.handles_of(&owner(), id).await.unwrap()[0].handle.as_deref(), Some("KIEVIT-1"));

        // Locally unused but still used at the registry: 2305, shown as a reason.
        sqlx::query("UPDATE domains SET status = 'gone' WHERE id = $1")
            .bind(domain)
            .execute(store.pool())
            .await
            .unwrap();
        store.delete_handle(&owner(), h).await.unwrap();
        worker.drain().await.unwrap();
        let failed = store.registry_ops().list(Some("failed"), 10).await.unwrap();
        assert_eq!(failed[0].result_code, Some(2305));
        assert!(failed[0].result_message.as_deref().unwrap().contains("still used by a domain"), "{failed:?}");
        assert_eq!(store.handles_of(&owner(), id).await.unwrap()[0].status, "active");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn sidn_assigns_ids_and_receives_the_legal_form_in_its_extension() {
    for db in databases().await {
        let server = EppServer::start(EppOptions { sidn: true, ..EppOptions::default() }).await;
        let store = db.store().await;
        let worker = Worker::new(store.clone(), &registries(&server, 1, false), settings()).unwrap();
        let id = store.create_customer(&owner(), &customer(4), false).await.unwrap();
        let h = store.create_handle(&owner(), id, TARGET, &holder(None, "Grutto", "Dijk 1")).await.unwrap();
        worker.drain().await.unwrap();
        let given = store.handles_of(&owner(), id).await.unwrap()[0].handle.clone().unwrap();
        assert!(given.starts_with("SRV"), "{given}");
        {
            let st = server.state();
            assert_eq!(st.contacts[&given].legal_form.as_deref(), Some("BV"));
            assert_eq!(st.contacts[&given].registration_number.as_deref(), Some("12345678"));
            let create = st.received.iter().find(|x| x.contains("<create")).unwrap();
            golden("contact_create_sidn.xml", create);
            let login = st.received.iter().find(|x| x.contains("<login")).unwrap();
            assert!(login.contains("<extURI>http://rxsd.domain-registry.nl/sidn-ext-epp-1.0</extURI>"), "{login}");
            golden("login_sidn.xml", login);
        }
        // The server-assigned ID is what later commands use.
        store.update_handle(&owner(), h, &holder(None, "Grutto", "Dijk 3")).await.unwrap();
        worker.drain().await.unwrap();
        assert_eq!(server.state().contacts[&given].street, ["Dijk 3"]);
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn passthrough_keeps_no_holder_data_here_and_fetches_it_audited() {
    for db in databases().await {
        let server = EppServer::start(EppOptions::default()).await;
        let store = db.store().await;
        let worker = Worker::new(store.clone(), &registries(&server, 1, true), settings()).unwrap();
        let id = store.create_customer(&owner(), &customer(5), false).await.unwrap();
        let passthrough = Target { registry: "test", passthrough: true };
        let h = store
            .create_handle(&owner(), id, passthrough, &holder(None, "Zeldzaam Houdersnaam", "Strandweg 77"))
            .await
            .unwrap();
        worker.drain().await.unwrap();
        assert_eq!(store.registry_ops().unfinished(None).await.unwrap(), 0);
        // Only the handle ID is kept; the holder data is at the registry.
        assert!(store.contact_fields(&owner(), h).await.unwrap().keys().all(|k| k == "handle"));
        let registry_id = store.handles_of(&owner(), id).await.unwrap()[0].handle.clone().unwrap();
        let reg = worker.registry("test").unwrap();
        let remote = reg.contact_info(&registry_id, &reg.cltrid("view")).await.unwrap();
        assert_eq!(remote.data.name.as_str(), "Zeldzaam Houdersnaam");
        store.audit_registry_fetch(&owner(), h).await.unwrap();
        // The export says which mode holds the data, and holds none of it.
        let export = store.export_customer(&owner(), id).await.unwrap();
        let contact = &export.contacts[0];
        assert!(contact.passthrough && contact.status == "active", "{contact:?}");
        assert_eq!(contact.fields.keys().collect::<Vec<_>>(), ["handle"]);
        assert!(audit_actions(&store, id).await.contains(&"handle.fetch".to_string()));

        // A plain-text scan of the database finds none of it (the payload was
        // sealed and is wiped now that the operation is done).
        if let Some(dir) = &db.dir {
            store.close().await;
            let mut bytes = vec![];
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    bytes.extend(std::fs::read(path).unwrap());
                }
            }
            for needle in ["Zeldzaam", "Houdersnaam", "Strandweg", "grutto@kievit.nl"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} found in the database files"
                );
            }
        } else {
            let payloads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registry_ops WHERE payload IS NOT NULL")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(payloads, 0);
            store.close().await;
        }
        db.finish().await;
    }
}

/// The command as sent, with the parts that change per run (transaction IDs,
/// random authorisation codes) replaced, one element per line.
fn normalised(xml: &str) -> String {
    let mut text = xml.to_string();
    for (open, close, stand_in) in [("<clTRID>", "</clTRID>", "CLTRID"), ("<pw>", "</pw>", "AUTH")] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(open) {
            let start = i + open.len();
            let Some(len) = rest[start..].find(close) else { break };
            out.push_str(&rest[..start]);
            out.push_str(stand_in);
            rest = &rest[start + len..];
        }
        out.push_str(rest);
        text = out;
    }
    text.replace("><", ">\n<") + "\n"
}

/// Compares what we sent with the golden file; `CUSTODIAN_BLESS=1` rewrites it
/// (after a change that was checked against the RFC's examples by hand).
fn golden(name: &str, sent: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    let sent = normalised(sent);
    if std::env::var("CUSTODIAN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &sent).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(sent, want, "{name} differs from the golden file");
}

#[tokio::test]
async fn the_commands_we_send_match_the_rfc_shapes() {
    let db = custodian_testkit::sqlite();
    let server = EppServer::start(EppOptions::default()).await;
    let store = db.store().await;
    let worker = Worker::new(store.clone(), &registries(&server, 1, false), settings()).unwrap();
    let id = store.create_customer(&owner(), &customer(6), false).await.unwrap();
    let h =
        store.create_handle(&owner(), id, TARGET, &holder(Some("KIEVIT-9"), "Grutto Beheer", "Dijk 1")).await.unwrap();
    store.register_domain(&owner(), id, "kievit.nl", "test", h, Some(h), Some(h)).await.unwrap();
    worker.drain().await.unwrap();
    store.update_handle(&owner(), h, &holder(None, "Grutto Beheer", "Dijk 2")).await.unwrap();
    worker.drain().await.unwrap();
    let received = server.state().received.clone();
    let find = |needle: &str| received.iter().find(|x| x.contains(needle)).unwrap_or_else(|| panic!("no {needle}"));
    golden("login.xml", find("<login"));
    golden("contact_create.xml", find("urn:ietf:params:xml:ns:contact-1.0\"><id>"));
    golden("domain_create.xml", find("<registrant>"));
    golden("contact_update.xml", find("<chg>"));
    store.close().await;
    db.finish().await;
}

#[tokio::test]
async fn an_idle_session_is_checked_with_hello_and_a_broken_one_replaced() {
    let db = custodian_testkit::sqlite();
    let server = EppServer::start(EppOptions::default()).await;
    let store = db.store().await;
    let mut config = registries(&server, 1, false);
    config.0.get_mut("test").unwrap().keepalive_secs = 0;
    let worker = Worker::new(store.clone(), &config, settings()).unwrap();
    let id = store.create_customer(&owner(), &customer(7), false).await.unwrap();
    for n in 0..2 {
        store.create_handle(&owner(), id, TARGET, &holder(None, &format!("Houder {n}"), "Dijk 1")).await.unwrap();
        worker.drain().await.unwrap();
    }
    // The second command found the session idle past its keep-alive and said hello first.
    assert!(server.state().received.iter().any(|x| x.contains("<hello")));
    assert_eq!(server.state().logins, 1);
    // The registry drops the connection on the next command: a new session (one more
    // login) takes over and the command goes again.
    server.inject(Faults { drop_before: 1, ..Faults::default() });
    store.create_handle(&owner(), id, TARGET, &holder(None, "Houder 3", "Dijk 1")).await.unwrap();
    let report = worker.drain().await.unwrap();
    assert_eq!(report.failed, 0);
    assert_eq!(server.state().contacts.len(), 3);
    assert_eq!(server.state().logins, 2);
    store.close().await;
    db.finish().await;
}
