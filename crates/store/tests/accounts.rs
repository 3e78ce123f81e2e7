//! Staff and bookkeeper accounts as the owner manages them: the basis recorded
//! before any access, invitations and read-outs, the list and its audit,
//! disabling, enabling, removing and ending sessions. SQLite always,
//! PostgreSQL when CUSTODIAN_TEST_POSTGRES_URL is set.

use custodian_domain::inventory::Role;
use custodian_domain::model::{Fields, Text, parse_date};
use custodian_domain::password::NewPassword;
use custodian_domain::validate::{Email, Phone};
use custodian_store::auth::{CodeDelivery, StaffInvitation};
use custodian_store::{Access, AccessPurpose, Account, Actor, AuthError, Refusal, Scope, Store, StoreError};
use custodian_testkit::{customer, databases};

const PASSWORD: &str = "paarse olifant fietst naar Zwolle";

fn operator() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn password() -> NewPassword {
    NewPassword::parse(PASSWORD, &[]).unwrap()
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn form(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn staff_member(login: &str) -> StaffInvitation {
    StaffInvitation::parse(
        &form(&[
            ("role", "staff"),
            ("login", login),
            ("name", "Piet Medewerker"),
            ("phone", "06 12345678"),
            ("confidentiality_signed_on", "2026-01-05"),
        ]),
        today(),
    )
    .unwrap()
}

fn bookkeeper(login: &str) -> StaffInvitation {
    StaffInvitation::parse(
        &form(&[
            ("role", "bookkeeper"),
            ("login", login),
            ("name", "Boekhoudkantoor Telder"),
            ("dpa_reference", "VWO-2026-017"),
            ("dpa_date", "2026-02-01"),
        ]),
        today(),
    )
    .unwrap()
}

/// A sealed column as stored, or `NULL`.
type Sealed = Option<Vec<u8>>;

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

async fn audited(store: &Store, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// How the code goes: by SMS when there is a number, else read out.
fn delivery(invitation: &StaffInvitation) -> CodeDelivery {
    if invitation.phone.is_some() { CodeDelivery::Sms } else { CodeDelivery::ReadOut }
}

/// Invites, activates and logs in; returns the account.
async fn active(store: &Store, invitation: &StaffInvitation) -> Account {
    let invited = store.invite_staff(&operator(), invitation, delivery(invitation)).await.unwrap();
    store.activate(&invitation.login, &invited.code, &password(), None).await.unwrap()
}

/// The owner, made through the setup code as on a fresh server.
async fn owner(store: &Store) -> Account {
    let code = store.issue_setup_code().await.unwrap();
    let login = Email::parse("eigenaar@hoster.nl").unwrap();
    store.complete_setup(&code, &login, "Eigenaar", &password()).await.unwrap()
}

fn refused(r: Result<impl std::fmt::Debug, StoreError>, expected: Refusal, what: &str) {
    match r {
        Err(StoreError::Refused(got)) => assert_eq!(got, expected, "{what}"),
        other => panic!("{what}: expected {expected:?}, got {other:?}"),
    }
}

#[test]
fn an_invitation_form_reports_every_wrong_field_at_once() {
    let today = parse_date("2026-03-10").unwrap();
    let errors = StaffInvitation::parse(
        &form(&[
            ("role", "owner"),
            ("login", "geen-adres"),
            ("name", ""),
            ("phone", "12"),
            ("confidentiality_signed_on", "2026-03-11"),
        ]),
        today,
    )
    .unwrap_err();
    let rules: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.field.as_str(), e.error.rule)).collect();
    for (field, rule) in [("role", "choice"), ("name", "required"), ("confidentiality_signed_on", "future")] {
        assert!(rules.contains(&(field, rule)), "{field} {rule} in {rules:?}");
    }
    for field in ["login", "phone"] {
        assert!(rules.iter().any(|(f, _)| *f == field), "{field} in {rules:?}");
    }

    // A DPA is the bookkeeper's, and it needs both its reference and its date.
    let staff_with_dpa = StaffInvitation::parse(
        &form(&[("role", "staff"), ("login", "a@hoster.nl"), ("name", "A"), ("dpa_reference", "X")]),
        today,
    )
    .unwrap_err();
    assert_eq!(staff_with_dpa.for_field("dpa_reference").unwrap().rule, "not_for_role");
    let half = StaffInvitation::parse(
        &form(&[("role", "bookkeeper"), ("login", "b@hoster.nl"), ("name", "B"), ("dpa_reference", "X")]),
        today,
    )
    .unwrap_err();
    assert_eq!(half.for_field("dpa_date").unwrap().rule, "required");

    // Without any basis the form parses; the store refuses it (next test).
    let none =
        StaffInvitation::parse(&form(&[("role", "staff"), ("login", "c@hoster.nl"), ("name", "C")]), today).unwrap();
    assert!(none.basis.is_none());
    let signed_today = StaffInvitation::parse(
        &form(&[
            ("role", "staff"),
            ("login", "d@hoster.nl"),
            ("name", "D"),
            ("confidentiality_signed_on", "2026-03-10"),
        ]),
        today,
    )
    .unwrap();
    assert_eq!(
        signed_today.basis,
        Some(custodian_store::auth::Basis::Confidentiality { signed_on: parse_date("2026-03-10").unwrap() })
    );
}

#[tokio::test]
async fn no_account_is_made_before_its_basis_is_recorded() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let mut staff = staff_member("piet@hoster.nl");
        staff.basis = None;
        refused(
            store.invite_staff(&operator(), &staff, CodeDelivery::Sms).await.map(|_| ()),
            Refusal::ConfidentialityRequired,
            name,
        );
        // A DPA is no confidentiality statement.
        staff.basis = bookkeeper("x@hoster.nl").basis;
        refused(
            store.invite_staff(&operator(), &staff, CodeDelivery::Sms).await.map(|_| ()),
            Refusal::ConfidentialityRequired,
            name,
        );
        let mut books = bookkeeper("telder@hoster.nl");
        books.basis = None;
        refused(
            store.invite_staff(&operator(), &books, CodeDelivery::ReadOut).await.map(|_| ()),
            Refusal::DpaRequired,
            name,
        );
        books.basis = staff_member("y@hoster.nl").basis;
        refused(
            store.invite_staff(&operator(), &books, CodeDelivery::ReadOut).await.map(|_| ()),
            Refusal::DpaRequired,
            name,
        );
        let mut owner = staff_member("baas@hoster.nl");
        owner.role = Role::Owner;
        refused(
            store.invite_staff(&operator(), &owner, CodeDelivery::Sms).await.map(|_| ()),
            Refusal::OwnerByInvitation,
            name,
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM users").await, 0, "{name}: nothing was written");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM one_time_codes").await, 0, "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log").await, 0, "{name}");

        // With its basis the account is made, and the list shows the basis.
        store.invite_staff(&operator(), &staff_member("piet@hoster.nl"), CodeDelivery::Sms).await.unwrap();
        store.invite_staff(&operator(), &bookkeeper("telder@hoster.nl"), CodeDelivery::ReadOut).await.unwrap();
        let list = store.staff_accounts(&operator()).await.unwrap();
        assert_eq!(list.len(), 2, "{name}");
        assert_eq!(list[0].role, Role::Staff);
        assert_eq!(list[0].confidentiality_signed_on.as_deref(), Some("2026-01-05"), "{name}");
        assert_eq!((list[0].dpa_reference.as_deref(), list[0].dpa_signed_on.as_deref()), (None, None));
        assert_eq!(list[1].role, Role::Bookkeeper);
        assert_eq!(list[1].dpa_reference.as_deref(), Some("VWO-2026-017"), "{name}");
        assert_eq!(list[1].dpa_signed_on.as_deref(), Some("2026-02-01"), "{name}");
        assert_eq!(list[1].confidentiality_signed_on, None);

        // The number and the DPA reference are sealed like the login.
        let raw: Vec<(Sealed, Sealed)> =
            sqlx::query_as("SELECT phone, dpa_reference FROM users ORDER BY id").fetch_all(store.pool()).await.unwrap();
        let phone = raw[0].0.as_ref().expect("the staff member's number is kept");
        assert!(!String::from_utf8_lossy(phone).contains("612345678"), "{name}: the number is sealed");
        let reference = raw[1].1.as_ref().expect("the DPA reference is kept");
        assert!(!String::from_utf8_lossy(reference).contains("VWO-2026"), "{name}: the reference is sealed");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn without_staff_accounts_staff_is_refused_and_stays_disabled() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let staff = store.invite_staff(&operator(), &staff_member("piet@hoster.nl"), CodeDelivery::Sms).await.unwrap();
        store.disable_account(&operator(), staff.account.id).await.unwrap();
        store.close().await;

        let settings = custodian_domain::policy::Settings { staff_accounts: false };
        let store = db.store().await.with_policy_settings(settings);
        refused(
            store.invite_staff(&operator(), &staff_member("kees@hoster.nl"), CodeDelivery::Sms).await.map(|_| ()),
            Refusal::NoStaffAccounts,
            name,
        );
        refused(store.enable_account(&operator(), staff.account.id).await, Refusal::NoStaffAccounts, name);
        store.invite_staff(&operator(), &bookkeeper("telder@hoster.nl"), CodeDelivery::ReadOut).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_new_invitation_cancels_the_earlier_code_and_an_active_account_is_never_invited_again() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let invitation = staff_member("piet@hoster.nl");
        let first = store.invite_staff(&operator(), &invitation, CodeDelivery::Sms).await.unwrap();
        assert!(!first.reinvited);
        let mut again = invitation.clone();
        again.name = Text::parse("Piet de Medewerker").unwrap();
        again.phone = Some(Phone::parse("06 87654321").unwrap());
        let second = store.invite_staff(&operator(), &again, CodeDelivery::Sms).await.unwrap();
        assert!(second.reinvited, "{name}");
        assert_eq!(second.account.id, first.account.id, "{name}: the same account");
        let old = store.activate(&invitation.login, &first.code, &password(), None).await;
        assert!(matches!(old, Err(StoreError::Auth(AuthError::BadCode))), "{name}: the first code is void: {old:?}");
        let acc = store.activate(&invitation.login, &second.code, &password(), None).await.unwrap();
        assert_eq!(acc.role, Role::Staff);
        let list = store.staff_accounts(&operator()).await.unwrap();
        assert_eq!(list[0].name.as_deref(), Some("Piet de Medewerker"), "{name}: the details as given last");
        assert!(list[0].activated);

        refused(
            store.invite_staff(&operator(), &again, CodeDelivery::Sms).await.map(|_| ()),
            Refusal::AccountActivated,
            name,
        );
        // The login is a staff member's: not the bookkeeper's, not a customer's.
        refused(
            store.invite_staff(&operator(), &bookkeeper("piet@hoster.nl"), CodeDelivery::ReadOut).await.map(|_| ()),
            Refusal::LoginTaken,
            name,
        );
        let open =
            count(&store, "SELECT COUNT(*) FROM one_time_codes WHERE purpose = 'activation' AND used_at IS NULL").await;
        assert_eq!(open, 0, "{name}: no activation code is left open");
        assert_eq!(audited(&store, "account.create").await, 1, "{name}");
        assert_eq!(audited(&store, "account.reinvite").await, 1, "{name}");
        assert_eq!(audited(&store, "account.code_disclosed").await, 0, "{name}: codes went by SMS");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_code_read_out_is_an_audited_disclosure_and_an_sms_needs_a_number() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let books = bookkeeper("telder@hoster.nl");
        let sms = store.invite_staff(&operator(), &books, CodeDelivery::Sms).await.err();
        assert!(
            matches!(&sms, Some(StoreError::Invalid(e)) if e.for_field("phone").is_some()),
            "{name}: no number, no SMS: {sms:?}"
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM users").await, 0, "{name}");
        let invited = store.invite_staff(&operator(), &books, CodeDelivery::ReadOut).await.unwrap();
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT action, subject_kind, subject_id FROM audit_log WHERE action LIKE 'account.%' ORDER BY seq",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let id = invited.account.id.to_string();
        assert_eq!(
            rows,
            vec![
                ("account.create".to_string(), "account".to_string(), id.clone()),
                ("account.code_disclosed".to_string(), "account".to_string(), id)
            ],
            "{name}"
        );
        store.activate(&books.login, &invited.code, &password(), None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_last_owner_can_never_be_disabled_or_removed() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let owner = owner(&store).await;
        let as_owner = Access::new(owner.actor(), AccessPurpose::Administration);
        for access in [&as_owner, &operator()] {
            refused(store.disable_account(access, owner.id).await, Refusal::LastOwner, name);
            refused(store.remove_account(access, owner.id).await, Refusal::LastOwner, name);
        }
        let session = store.start_session(&owner, true).await.unwrap();
        assert!(store.session(&session.token).await.unwrap().is_some(), "{name}: the owner is still logged in");
        store.login(&Email::parse("eigenaar@hoster.nl").unwrap(), PASSWORD, None).await.unwrap();

        // With a second enabled owner (made by hand: the product makes one
        // owner, at setup) either may go, but not both.
        let second = active(&store, &staff_member("tweede@hoster.nl")).await;
        sqlx::query("UPDATE users SET role = 'owner' WHERE id = $1")
            .bind(second.id)
            .execute(store.pool())
            .await
            .unwrap();
        store.disable_account(&operator(), owner.id).await.unwrap();
        refused(store.remove_account(&operator(), second.id).await, Refusal::LastOwner, name);
        refused(store.disable_account(&operator(), second.id).await, Refusal::LastOwner, name);
        // A disabled owner does not count, and removing it takes no enabled owner away.
        store.remove_account(&operator(), owner.id).await.unwrap();
        assert!(!store.needs_setup().await.unwrap(), "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn disabling_ends_the_sessions_and_refuses_login_until_enabled() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let invitation = staff_member("piet@hoster.nl");
        let acc = active(&store, &invitation).await;
        let before = store.staff_accounts(&operator()).await.unwrap();
        assert_eq!(before[0].last_login_at, None, "{name}: never logged in yet");
        let first = store.start_session(&acc, false).await.unwrap();
        let second = store.start_session(&acc, false).await.unwrap();
        let listed = store.staff_accounts(&operator()).await.unwrap();
        assert!(listed[0].last_login_at.is_some(), "{name}: the login is shown");
        assert!(!listed[0].second_factor, "{name}: no second factor enrolled yet");

        store.disable_account(&operator(), acc.id).await.unwrap();
        for token in [&first.token, &second.token] {
            assert!(store.session(token).await.unwrap().is_none(), "{name}: the session ended");
        }
        let login = store.login(&invitation.login, PASSWORD, None).await;
        assert!(matches!(login, Err(StoreError::Auth(AuthError::BadCredentials))), "{name}: {login:?}");
        assert!(store.staff_accounts(&operator()).await.unwrap()[0].disabled_at.is_some());
        // Disabling twice changes nothing and records nothing more.
        store.disable_account(&operator(), acc.id).await.unwrap();
        assert_eq!(audited(&store, "account.disable").await, 1, "{name}");

        store.enable_account(&operator(), acc.id).await.unwrap();
        let back = store.login(&invitation.login, PASSWORD, None).await.unwrap();
        assert_eq!(back.id, acc.id, "{name}");
        assert_eq!(audited(&store, "account.enable").await, 1, "{name}");

        // Ending the sessions logs the account out everywhere, and is recorded.
        let a = store.start_session(&back, false).await.unwrap();
        let b = store.start_session(&back, false).await.unwrap();
        assert_eq!(store.end_account_sessions(&operator(), acc.id).await.unwrap(), 2, "{name}");
        assert!(store.session(&a.token).await.unwrap().is_none() && store.session(&b.token).await.unwrap().is_none());
        assert_eq!(audited(&store, "account.end_sessions").await, 1, "{name}");
        store.login(&invitation.login, PASSWORD, None).await.unwrap();

        // Customers' portal accounts are not managed here.
        let cid = store.create_customer(&operator(), &customer(1), false).await.unwrap();
        let (portal, _, _) = store.invite_customer(&operator(), cid).await.unwrap();
        refused(store.disable_account(&operator(), portal.id).await, Refusal::CustomerAccount, name);
        let missing = store.disable_account(&operator(), 9999).await;
        assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{name}: {missing:?}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn removing_keeps_the_trail_attributable_and_frees_the_login() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let cid = store.create_customer(&operator(), &customer(1), false).await.unwrap();
        let invitation = bookkeeper("telder@hoster.nl");
        let acc = active(&store, &invitation).await;
        let session = store.start_session(&acc, false).await.unwrap();
        store.read_customer(&Access::new(acc.actor(), AccessPurpose::Billing), cid).await.unwrap();
        let made = count(&store, &format!("SELECT COUNT(*) FROM audit_log WHERE actor_id = '{}'", acc.id)).await;
        assert!(made >= 2, "{name}: the activation and the read are the bookkeeper's");

        // Recovery codes as an enrolment leaves them (hashes only).
        sqlx::query("INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, 0)")
            .bind(vec![7u8; 32])
            .bind(acc.id)
            .execute(store.pool())
            .await
            .unwrap();
        store.remove_account(&operator(), acc.id).await.unwrap();
        let codes = count(&store, &format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = {}", acc.id)).await;
        assert_eq!(codes, 0, "{name}: the recovery codes go with the account");
        // The entries stay, and their actor is still an account of a known role.
        let kept = count(&store, &format!("SELECT COUNT(*) FROM audit_log WHERE actor_id = '{}'", acc.id)).await;
        assert_eq!(kept, made, "{name}");
        let (role, login, display, phone, hash, removed): (String, Vec<u8>, Sealed, Sealed, Sealed, Option<i64>) =
            sqlx::query_as(
                "SELECT role, login, display_name, phone, password_hash, removed_at FROM users WHERE id = $1",
            )
            .bind(acc.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(role, "bookkeeper", "{name}");
        assert!(login.is_empty() && display.is_none() && phone.is_none() && hash.is_none(), "{name}: wiped");
        assert!(removed.is_some(), "{name}");
        let list = store.staff_accounts(&operator()).await.unwrap();
        let tomb = list.iter().find(|a| a.id == acc.id).expect("the removed account is listed");
        assert_eq!((tomb.role, tomb.login.as_deref(), tomb.name.as_deref()), (Role::Bookkeeper, None, None), "{name}");
        assert_eq!((tomb.dpa_reference.as_deref(), tomb.dpa_signed_on.as_deref()), (None, Some("2026-02-01")));
        assert!(store.session(&session.token).await.unwrap().is_none(), "{name}: its sessions ended");
        let login = store.login(&invitation.login, PASSWORD, None).await;
        assert!(matches!(login, Err(StoreError::Auth(AuthError::BadCredentials))), "{name}: {login:?}");
        for r in [
            store.disable_account(&operator(), acc.id).await,
            store.enable_account(&operator(), acc.id).await,
            store.remove_account(&operator(), acc.id).await,
            store.end_account_sessions(&operator(), acc.id).await.map(|_| ()),
        ] {
            refused(r, Refusal::AccountRemoved, name);
        }

        // The login can be used again, by a new account with a new ID.
        let again = active(&store, &invitation).await;
        assert_ne!(again.id, acc.id, "{name}");
        assert_eq!(audited(&store, "account.remove").await, 1, "{name}");
        let verification = store.audit_verify().await.unwrap();
        assert!(verification.problem.is_none(), "{name}: {:?}", verification.problem);
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn reading_the_list_is_audited_once_per_read_and_shows_no_customers() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let owner = owner(&store).await;
        active(&store, &staff_member("piet@hoster.nl")).await;
        store.invite_staff(&operator(), &bookkeeper("telder@hoster.nl"), CodeDelivery::ReadOut).await.unwrap();
        let cid = store.create_customer(&operator(), &customer(1), false).await.unwrap();
        store.invite_customer(&operator(), cid).await.unwrap();

        let as_owner = Access::new(owner.actor(), AccessPurpose::Administration);
        let list = store.staff_accounts(&as_owner).await.unwrap();
        let shown: Vec<(Role, Option<&str>, bool)> =
            list.iter().map(|a| (a.role, a.login.as_deref(), a.activated)).collect();
        assert_eq!(
            shown,
            vec![
                (Role::Owner, Some("eigenaar@hoster.nl"), true),
                (Role::Staff, Some("piet@hoster.nl"), true),
                (Role::Bookkeeper, Some("telder@hoster.nl"), false),
            ],
            "{name}"
        );
        assert_eq!(list[0].name.as_deref(), Some("Eigenaar"));
        assert_eq!(audited(&store, "account.list").await, 1, "{name}");
        store.staff_accounts(&operator()).await.unwrap();
        assert_eq!(audited(&store, "account.list").await, 2, "{name}");
        let (actor, fields): (String, String) =
            sqlx::query_as("SELECT actor_id, fields FROM audit_log WHERE action = 'account.list' ORDER BY seq LIMIT 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(actor, owner.id.to_string(), "{name}");
        assert!(fields.contains("login") && !fields.contains("telder"), "{name}: names, never values: {fields}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn staff_the_bookkeeper_customers_tokens_and_jobs_manage_no_accounts() {
    for db in databases().await {
        let name = db.name();
        let store = db.store().await;
        let target = store.invite_staff(&operator(), &staff_member("piet@hoster.nl"), CodeDelivery::Sms).await.unwrap();
        let staff = active(&store, &staff_member("kees@hoster.nl")).await;
        let books = active(&store, &bookkeeper("telder@hoster.nl")).await;
        let mut actors = vec![
            Access::new(staff.actor(), AccessPurpose::Administration),
            Access::new(books.actor(), AccessPurpose::Billing),
            Access::new(Actor::customer(1), AccessPurpose::DataSubjectRequest),
            Access::new(Actor::job("retention"), AccessPurpose::Administration),
        ];
        for role in [Role::Owner, Role::Staff, Role::Bookkeeper] {
            let (token, _) = store
                .create_api_token(&operator(), &format!("t-{}", role.as_str()), role, &Scope::ALL, None)
                .await
                .unwrap();
            actors.push(Access::new(token.actor(), AccessPurpose::Administration));
        }
        let id = target.account.id;
        for access in &actors {
            let who = format!("{name}: {:?}", access.actor.principal());
            let attempts = [
                store.invite_staff(access, &bookkeeper("nieuw@hoster.nl"), CodeDelivery::ReadOut).await.map(|_| ()),
                store.staff_accounts(access).await.map(|_| ()),
                store.disable_account(access, id).await,
                store.enable_account(access, id).await,
                store.end_account_sessions(access, id).await.map(|_| ()),
                store.remove_account(access, id).await,
            ];
            for r in attempts {
                assert!(matches!(r, Err(StoreError::Denied(_))), "{who}: {r:?}");
            }
        }
        let list = store.staff_accounts(&operator()).await.unwrap();
        assert_eq!(list.len(), 3, "{name}: nobody was added");
        assert!(list.iter().all(|a| a.disabled_at.is_none() && a.removed_at.is_none()), "{name}");
        assert_eq!(audited(&store, "account.list").await, 1, "{name}: only the allowed read is recorded");
        store.close().await;
        db.finish().await;
    }
}
