//! A request from someone who is not a customer, through the owner's pages:
//! recorded (and refused with its problems named when incomplete), shown on
//! the owner's home with its deadline, the person's domain contact found and
//! confirmed, the answer printed and handed over once through a download
//! link, and the request closed — never with the data by e-mail.

mod common;

use common::Server;
use custodian_domain::inventory::Role;
use custodian_domain::model::{ContactData, Fields};
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use reqwest::StatusCode;

fn contact() -> ContactData {
    let pairs = [
        ("handle", "AW001"),
        ("name", "Anna de Wit"),
        ("addr_street", "Dijk 1"),
        ("addr_postcode", "1811 AB"),
        ("addr_city", "Alkmaar"),
        ("addr_country", "NL"),
        ("phone", "072-5116617"),
        ("email", "anna@wit.nl"),
    ];
    let fields: Fields = pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ContactData::from_fields(&fields).unwrap()
}

/// The secret of the download link shown on `body` (escaped as HTML).
fn link_key(body: &str) -> String {
    let after = body.split("key&#x3d;").nth(1).or_else(|| body.split("key=").nth(1)).expect("a link on the page");
    after.chars().take_while(char::is_ascii_hexdigit).collect()
}

#[tokio::test]
async fn the_owner_answers_a_domain_contacts_request_through_a_one_time_link() {
    for db in databases().await {
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let operator = Access::new(Actor::operator(), AccessPurpose::Administration);
        let customer = server.store.create_customer(&operator, &custodian_testkit::customer(1), false).await.unwrap();
        let anna = server.store.add_contact(&operator, customer, Some("sidn"), &contact()).await.unwrap();

        let register = owner.get("/staff/requests").await;
        assert_eq!(register.status, StatusCode::OK, "{}", register.body);
        assert!(register.body.contains("Geen open verzoeken."));

        // Incomplete: every problem named, nothing recorded.
        let refused = owner
            .post_form("/staff/requests", &register, &[("kind", "access"), ("name", "Anna de Wit"), ("summary", "")])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        for problem in
            ["Vul een postadres of een e-mailadres in", "Identiteit vastgesteld door: Dit veld is verplicht."]
        {
            assert!(refused.body.contains(problem), "{problem}: {}", refused.body);
        }
        assert!(refused.body.contains("value=\"Anna de Wit\""), "what was typed stays");
        let dsr = Access::new(Actor::operator(), AccessPurpose::DataSubjectRequest);
        assert!(server.store.subject_requests(&dsr).await.unwrap().is_empty());

        let recorded = owner
            .post_form(
                "/staff/requests",
                &register,
                &[
                    ("kind", "access"),
                    ("received_on", "2026-12-01"),
                    ("identity_check", "known_email"),
                    ("name", "Anna de Wit"),
                    ("email", "anna@wit.nl"),
                    ("summary", "Wil weten welke gegevens over haar zijn vastgelegd"),
                ],
            )
            .await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
        let path = recorded.location().to_string();
        let request = owner.get(&path).await;
        assert_eq!(request.status, StatusCode::OK);
        assert!(request.body.contains("Anna de Wit") && request.body.contains("1 januari 2027"), "{}", request.body);

        let home = owner.get("/staff").await;
        assert!(home.body.contains("Open verzoeken van betrokkenen"), "{}", home.body);
        assert!(home.body.contains(&format!("href=\"{path}\"")), "{}", home.body);

        let found = owner.post_form(&format!("{path}/find"), &request, &[]).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let key = format!("contact-{anna}");
        assert!(found.body.contains(&format!("value=\"{key}\"")), "{}", found.body);
        assert!(found.body.contains("e-mailadres, alle woorden van de naam"), "{}", found.body);
        let confirmed = owner.post_form(&format!("{path}/records"), &found, &[("record", &key)]).await;
        assert_eq!(confirmed.status, StatusCode::SEE_OTHER, "{}", confirmed.body);

        let request = owner.get(&path).await;
        let prepared = owner.post_form(&format!("{path}/answer"), &request, &[]).await;
        assert_eq!(prepared.status, StatusCode::SEE_OTHER, "{}", prepared.body);
        let printed = owner.get(&format!("{path}/answer")).await;
        assert_eq!(printed.status, StatusCode::OK);
        for expected in [
            "Anna de Wit",
            "anna@wit.nl",
            "AW001",
            "een klant van ons heeft ze ingevoerd",
            "Autoriteit Persoonsgegevens",
        ] {
            assert!(printed.body.contains(expected), "{expected}: {}", printed.body);
        }

        // Closing with the data by e-mail is refused (A10).
        let request = owner.get(&path).await;
        let by_mail =
            owner.post_form(&format!("{path}/close"), &request, &[("outcome", "done"), ("answer_by", "email")]).await;
        assert_eq!(by_mail.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_mail.body.contains("nooit per e-mail"), "{}", by_mail.body);

        let made = owner.post_form(&format!("{path}/link"), &request, &[]).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert_eq!(made.headers.get("cache-control").unwrap(), "no-store");
        let secret = link_key(&made.body);
        assert_eq!(secret.len(), 64, "{}", made.body);

        // The person: opening the link spends nothing; the button downloads once.
        let person = server.client();
        let offer = person.get(&format!("/request/download?key={secret}")).await;
        assert_eq!(offer.status, StatusCode::OK, "{}", offer.body);
        let again = person.get(&format!("/request/download?key={secret}")).await;
        assert_eq!(again.status, StatusCode::OK, "opening twice still offers it");
        let file = person.post_form("/request/download", &offer, &[("key", &secret)]).await;
        assert_eq!(file.status, StatusCode::OK, "{}", file.body);
        let disposition = file.headers.get("content-disposition").unwrap().to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(file.body.contains("Anna de Wit") && file.body.contains("anna@wit.nl"), "{}", file.body);
        let twice = person.post_form("/request/download", &offer, &[("key", &secret)]).await;
        assert_eq!(twice.status, StatusCode::GONE, "a link works once");
        let spent = person.get(&format!("/request/download?key={secret}")).await;
        assert_eq!(spent.status, StatusCode::GONE);
        assert!(!spent.body.contains("Mijn gegevens downloaden"));

        let request = owner.get(&path).await;
        assert!(request.body.contains("Gedownload op"), "{}", request.body);
        let closed =
            owner.post_form(&format!("{path}/close"), &request, &[("outcome", "done"), ("answer_by", "link")]).await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
        let register = owner.get("/staff/requests").await;
        assert!(
            register.body.contains("Geen open verzoeken.") && register.body.contains("gegevens verstrekt"),
            "{}",
            register.body
        );
        assert!(!owner.get("/staff").await.body.contains("Open verzoeken van betrokkenen"));

        // Staff never see the register.
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        assert!(staff.get("/staff/requests").await.denied());
        assert!(staff.get(&path).await.denied());
        server.stop().await;
        db.finish().await;
    }
}
