//! The owner's back-office: the audit browser (the trail filtered by customer,
//! by person and by period, in people's words, as CSV, and looking at it
//! recorded in turn), and keeping and erasing a customer (hold, request,
//! services, erasure with a typed confirmation).

mod common;

use common::{Client, Server};
use custodian_domain::inventory::Role;
use custodian_domain::model::{ServiceData, ServiceKind, ServiceStatus, Text};
use custodian_domain::retention::RetentionPolicy;
use custodian_store::{Access, AccessPurpose, Actor, AuditFilter};
use custodian_testkit::databases;
use reqwest::StatusCode;

async fn view(client: &Client, customer: i64, purpose: &str) {
    let path = format!("/staff/customers/{customer}");
    let form = client.get(&path).await;
    let shown = client.post_form(&path, &form, &[("purpose", purpose)]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
}

/// The table rows of a page, as the text of their cells.
fn rows(body: &str) -> Vec<Vec<String>> {
    let Some(tbody) = body.split("<tbody>").nth(1) else { return vec![] };
    let tbody = tbody.split("</tbody>").next().unwrap_or("");
    tbody
        .split("<tr>")
        .skip(1)
        .map(|tr| tr.split("<td>").skip(1).map(|td| td.split("</td>").next().unwrap_or("").to_string()).collect())
        .collect()
}

#[tokio::test]
async fn the_owner_filters_the_trail_by_customer_and_person_and_exports_it() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let anna = server.staff_named(Role::Staff, "anna@hoster.nl", "Anna de Vries").await;
        let operator = common::operator();
        let first = server.store.create_customer(&operator, &custodian_testkit::customer(1), false).await.unwrap();
        let second = server.store.create_customer(&operator, &custodian_testkit::customer(2), false).await.unwrap();
        view(&anna, first, "support").await;
        view(&owner, second, "administration").await;

        // Without a reason the page checks the chain and shows no entries.
        let plain = owner.get("/staff/audit").await;
        assert_eq!(plain.status, StatusCode::OK);
        assert!(plain.body.contains("De keten is intact"), "{}", plain.body);
        assert!(!plain.body.contains("<tbody>"));

        // One customer's trail: created on the command line, then looked at by Anna.
        let trail = owner.get(&format!("/staff/audit?purpose=security_incident&customer={first}")).await;
        assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
        let found = rows(&trail.body);
        assert_eq!(found.len(), 2, "{found:?}");
        let about_first = format!("klant {first}");
        assert!(found.iter().all(|r| r[4] == about_first), "{found:?}");
        // Newest first: Anna's look, then the creation.
        assert_eq!(found[0][2], "medewerker Anna de Vries");
        assert_eq!(found[0][3], "gegevens ingezien");
        assert_eq!(found[0][6], "vraag of probleem van de klant");
        assert_eq!(found[1][2], "de beheerder (opdrachtregel)");
        assert_eq!(found[1][3], "klant aangemaakt");
        assert!(!found.iter().flatten().any(|cell| cell.contains("staff:")), "an internal code in the table");

        // Looking was recorded, on that customer's trail, in English for an English reader.
        let again = owner.get(&format!("/staff/audit?purpose=security_incident&customer={first}&lang=en")).await;
        let found = rows(&again.body);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0][3], "looked at the audit trail");
        assert_eq!(found[0][6], "security incident");

        // One person: everything Anna did, and nothing anyone else did.
        let owner_access = Access::new(Actor::staff("1", Role::Owner), AccessPurpose::Administration);
        let accounts = server.store.staff_accounts(&owner_access).await.unwrap();
        let anna_id = accounts.iter().find(|a| a.name.as_deref() == Some("Anna de Vries")).unwrap().id;
        let hers = owner.get(&format!("/staff/audit?purpose=security_incident&actor=staff:{anna_id}")).await;
        let found = rows(&hers.body);
        assert!(!found.is_empty());
        assert!(found.iter().all(|r| r[2] == "medewerker Anna de Vries"), "{found:?}");
        assert!(found.iter().any(|r| r[4] == about_first));
        assert!(!found.iter().any(|r| r[4] == format!("klant {second}")));

        // The same selection as CSV, with the codes beside the words.
        let csv = owner.get(&format!("/staff/audit.csv?purpose=security_incident&customer={first}")).await;
        assert_eq!(csv.status, StatusCode::OK);
        let mut lines = csv.body.lines();
        assert_eq!(lines.next(), Some("seq,time,who,actor_kind,actor_id,action,what,about,fields,purpose,source"));
        let lines: Vec<&str> = lines.collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines.iter().any(|l| l.contains(",medewerker Anna de Vries,staff,") && l.contains(",customer.read,")));

        // A period with nothing in it.
        let old = owner.get("/staff/audit?purpose=security_incident&from=2020-01-01&until=2020-12-31").await;
        assert_eq!(old.status, StatusCode::OK);
        assert!(rows(&old.body).is_empty());
        assert!(old.body.contains("Geen regels gevonden"));

        // The customer's page shows the latest twenty entries and links to the rest.
        for _ in 0..21 {
            view(&owner, second, "administration").await;
        }
        let path = format!("/staff/customers/{second}");
        let form = owner.get(&path).await;
        let page = owner.post_form(&path, &form, &[("purpose", "administration")]).await;
        assert_eq!(page.body.matches("<td class=\"date\"").count(), 20, "{}", page.body);
        assert!(
            page.body.contains(&format!("<a href=\"/staff/audit?customer={second}\">Alle regels in het auditlog</a>"))
        );
        let short = owner.get(&format!("/staff/customers/{first}")).await;
        let short =
            owner.post_form(&format!("/staff/customers/{first}"), &short, &[("purpose", "administration")]).await;
        assert!(!short.body.contains("Alle regels in het auditlog"));

        // Wrong input: every problem named, nothing shown and nothing recorded.
        let before = server.store.audit_verify().await.unwrap().entries;
        let wrong = owner
            .get(
                "/staff/audit?purpose=security_incident&customer=twaalf&from=31-12-2026&actor=root&action=DROP%20TABLE",
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        for message in [
            "Een klantnummer bestaat uit cijfers.",
            "Een datum als 2026-03-31.",
            "Kies wie uit de lijst.",
            "Kies een handeling uit de lijst.",
        ] {
            assert!(wrong.body.contains(message), "{message}");
        }
        assert!(rows(&wrong.body).is_empty());
        let refused_csv = owner.get("/staff/audit.csv?customer=1").await;
        assert_eq!(refused_csv.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(server.store.audit_verify().await.unwrap().entries, before);

        // Pages: the trail a page at a time, newest first, each entry once.
        let access = Access::new(Actor::staff("1", Role::Owner), AccessPurpose::SecurityIncident);
        let everything = AuditFilter::default();
        let (mut seen, mut before) = (vec![], None);
        loop {
            let page = server.store.audit_browse(&access, &everything, before, 2).await.unwrap();
            assert!(page.entries.len() <= 2);
            seen.extend(page.entries.iter().map(|e| e.seq));
            match page.next_before {
                Some(b) => before = Some(b),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        assert_eq!(seen, sorted, "not newest first, or an entry twice");
        assert!(seen.len() >= 10, "{}", seen.len());

        // A family of actions: `customer.` matches customer.read and customer.create only.
        let family = AuditFilter { action: Some("customer.".into()), ..AuditFilter::default() };
        let page = server.store.audit_browse(&access, &family, None, 1000).await.unwrap();
        assert!(!page.entries.is_empty());
        assert!(page.entries.iter().all(|e| e.action.starts_with("customer.")), "{:?}", page.entries);

        // Staff may not browse the trail, in the store either.
        let staff = Access::new(Actor::staff(anna_id.to_string(), Role::Staff), AccessPurpose::SecurityIncident);
        assert!(server.store.audit_browse(&staff, &everything, None, 10).await.is_err());
        server.stop().await;
        db.finish().await;
    }
}

fn service() -> ServiceData {
    ServiceData {
        kind: ServiceKind::Hosting,
        status: ServiceStatus::Active,
        description: Text::parse("webhosting pakket M").unwrap(),
        started_on: time::Date::from_calendar_date(2025, time::Month::January, 1).unwrap(),
        ended_on: None,
        for_third_party: false,
    }
}

fn job() -> Access {
    Access::new(Actor::job("retention"), AccessPurpose::Retention)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

#[tokio::test]
async fn a_legal_hold_keeps_a_customer_who_asked_to_be_erased_until_it_is_lifted() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let operator = common::operator();
        let id = server.store.create_customer(&operator, &custodian_testkit::customer(7), false).await.unwrap();
        server.store.add_service(&operator, id, &service()).await.unwrap();
        let path = format!("/staff/customers/{id}/erasure");

        let page = owner.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Er loopt nog een dienst; beëindig die eerst."), "{}", page.body);
        assert!(page.body.contains("<td>webhosting</td>"));
        assert!(page.body.contains("nog niet gedraaid"));
        assert!(!page.body.contains("confirm_number"), "erasing is offered while a service runs");

        // A hold needs a reason from the list.
        let refused = owner.post_form(&format!("/staff/customers/{id}/hold"), &page, &[("reason", "boredom")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("Kies de reden van de bewaarplicht."));
        assert_eq!(server.store.legal_hold(id).await.unwrap(), None);
        let placed = owner.post_form(&format!("/staff/customers/{id}/hold"), &page, &[("reason", "tax_audit")]).await;
        assert_eq!(placed.location(), path);
        let page = owner.get(&path).await;
        assert!(page.body.contains("controle door de Belastingdienst (sinds"), "{}", page.body);
        assert!(page.body.contains("Wettelijke bewaarplicht: controle door de Belastingdienst. Hef die eerst op."));

        // The customer phones: the request is recorded and waits.
        let unticked = owner.post_form(&format!("/staff/customers/{id}/erasure-request"), &page, &[]).await;
        assert_eq!(unticked.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(server.store.erasure_request(id).await.unwrap(), None);
        let asked =
            owner.post_form(&format!("/staff/customers/{id}/erasure-request"), &page, &[("confirm", "yes")]).await;
        assert_eq!(asked.location(), path, "{}", asked.body);
        assert!(server.store.erasure_request(id).await.unwrap().is_some());

        // The service ends; the hold still keeps the customer, also from the owner's own hand.
        let services = server.store.erasure_standing(&owner_access(), &RetentionPolicy::default(), id, today()).await;
        let service_id = services.unwrap().services[0].id;
        let page = owner.get(&path).await;
        let bad_day = owner
            .post_form(&format!("/staff/customers/{id}/services/{service_id}/end"), &page, &[("ended_on", "gisteren")])
            .await;
        assert_eq!(bad_day.status, StatusCode::UNPROCESSABLE_ENTITY);
        let ended = owner.post_form(&format!("/staff/customers/{id}/services/{service_id}/end"), &page, &[]).await;
        assert_eq!(ended.location(), path);
        let page = owner.get(&path).await;
        assert!(!page.body.contains("Er loopt nog een dienst"));
        let erase = owner
            .post_form(&format!("/staff/customers/{id}/erase"), &page, &[("confirm_number", &id.to_string())])
            .await;
        assert_eq!(erase.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", erase.body);
        server.store.carry_out_erasure_requests(&job(), &RetentionPolicy::default(), today()).await.unwrap();
        assert!(active(&server, id).await, "erased despite the hold");

        // Lifting needs the box ticked; then the waiting request is carried out.
        let unticked = owner.post_form(&format!("/staff/customers/{id}/hold/lift"), &page, &[]).await;
        assert_eq!(unticked.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(server.store.legal_hold(id).await.unwrap().is_some());
        let lifted = owner.post_form(&format!("/staff/customers/{id}/hold/lift"), &page, &[("confirm", "yes")]).await;
        assert_eq!(lifted.location(), path);
        let report = server.store.carry_out_erasure_requests(&job(), &RetentionPolicy::default(), today()).await;
        assert_eq!(report.unwrap().erased_on_request, 1);
        assert!(!active(&server, id).await);
        let gone = owner.get(&path).await;
        assert!(gone.body.contains("Deze klant is gewist."), "{}", gone.body);

        // The trail tells the story in order.
        let trail = owner.get(&format!("/staff/audit?purpose=security_incident&customer={id}")).await;
        let what: Vec<String> = rows(&trail.body).into_iter().rev().map(|r| r[3].clone()).collect();
        let expected = [
            "klant aangemaakt",
            "dienst vastgelegd",
            "wettelijke bewaarplicht vastgelegd",
            "verwijdering gevraagd",
            "dienst beëindigd",
            "wettelijke bewaarplicht opgeheven",
            "gegevens verwijderd",
        ];
        assert_eq!(what, expected);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_owner_erases_only_after_typing_the_customer_number() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let operator = common::operator();
        let id = server.store.create_customer(&operator, &custodian_testkit::customer(8), false).await.unwrap();
        let path = format!("/staff/customers/{id}/erasure");
        let page = owner.get(&path).await;
        assert!(page.body.contains("Niets: deze klant kan nu gewist worden."));
        for wrong in ["", "0", "-1", &format!("{id}0")] {
            let r = owner.post_form(&format!("/staff/customers/{id}/erase"), &page, &[("confirm_number", wrong)]).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(r.body.contains("Typ het klantnummer over om het wissen te bevestigen."));
            assert!(active(&server, id).await);
        }
        let done = owner
            .post_form(&format!("/staff/customers/{id}/erase"), &page, &[("confirm_number", &id.to_string())])
            .await;
        assert_eq!(done.status, StatusCode::OK);
        assert!(done.body.contains("Klant gewist"));
        assert!(!active(&server, id).await);
        server.stop().await;
        db.finish().await;
    }
}

fn owner_access() -> Access {
    Access::new(Actor::staff("1", Role::Owner), AccessPurpose::DataSubjectRequest)
}

/// Whether customer `id` still exists, read without leaving an audit entry.
async fn active(server: &Server, id: i64) -> bool {
    let standing = server.store.erasure_standing(&owner_access(), &RetentionPolicy::default(), id, today()).await;
    standing.unwrap().active
}

#[tokio::test]
async fn search_results_name_the_customers_and_the_names_read_are_audited() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let anna = server.staff_named(Role::Staff, "anna@hoster.nl", "Anna de Vries").await;
        let operator = common::operator();
        let first = server.store.create_customer(&operator, &custodian_testkit::customer(1), false).await.unwrap();
        let home = anna.get("/staff").await;
        let found = anna
            .post_form("/staff/search", &home, &[("by", "number"), ("q", &first.to_string()), ("purpose", "support")])
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert!(
            found.body.contains(&format!("<a href=\"/staff/customers/{first}\">Bedrijf 1 B.V.</a>")),
            "{}",
            found.body
        );
        let log = server.store.access_log(&operator, first).await.unwrap();
        let read = log.iter().find(|e| e.action == "customer.read").expect("the name read is in the trail");
        assert_eq!(read.purpose, "support");
        assert!(read.fields.iter().any(|f| f == "company_name"), "{:?}", read.fields);
        // A number that is nobody's: no result, nothing read.
        let none =
            anna.post_form("/staff/search", &home, &[("by", "number"), ("q", "999999"), ("purpose", "support")]).await;
        assert!(none.body.contains("Geen klanten gevonden."), "{}", none.body);
        server.stop().await;
        db.finish().await;
    }
}
