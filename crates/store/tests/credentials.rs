//! Accounts and their credentials: invitations and activation codes, failure
//! counters, clean-up, recovery codes. SQLite always, PostgreSQL when
//! CUSTODIAN_TEST_POSTGRES_URL is set.

use std::net::IpAddr;

use custodian_domain::inventory::Role;
use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use custodian_store::{Access, AccessPurpose, Actor, AuthError, Store, StoreError};
use custodian_testkit::{customer, databases};

const PASSWORD: &str = "paarse olifant fietst naar Zwolle";

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn staff() -> Access {
    Access::new(Actor::staff("7", Role::Staff), AccessPurpose::Administration)
}

fn password() -> NewPassword {
    NewPassword::parse(PASSWORD, &[]).unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

/// Codes are read out by phone in groups of four; the customer types what
/// they heard.
#[tokio::test]
async fn an_activation_code_typed_in_groups_is_accepted() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&staff(), id).await.unwrap();
        assert_eq!(code.len(), 8, "{name}: eight digits");
        let wrong = format!("{} {}", &code[..4], "0000".replace('0', if &code[4..] == "1111" { "2" } else { "1" }));
        let refused = store.activate(&login, &wrong, &password(), None).await;
        assert!(matches!(refused, Err(StoreError::Auth(AuthError::BadCode))), "{name}: other digits still fail");
        let typed = format!(" {} {}-{} ", &code[..2], &code[2..4], &code[4..]);
        store.activate(&login, &typed, &password(), None).await.unwrap();
        store.login(&login, PASSWORD, None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn an_invitation_never_replaces_a_password_and_cancels_earlier_codes() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        let (_, login, first) = store.invite_customer(&staff(), id).await.unwrap();
        let (_, _, second) = store.invite_customer(&staff(), id).await.unwrap();
        let used_first = store.activate(&login, &first, &password(), None).await;
        assert!(
            matches!(used_first, Err(StoreError::Auth(AuthError::BadCode))),
            "{name}: the earlier code is cancelled"
        );
        store.activate(&login, &second, &password(), None).await.unwrap();

        // The account has a password now: an invitation would hand it to whoever invites.
        for who in [staff(), owner()] {
            let again = store.invite_customer(&who, id).await.err();
            assert!(matches!(again, Some(StoreError::Auth(AuthError::AccountActive))), "{name}: {again:?}");
        }
        let open =
            count(&store, "SELECT COUNT(*) FROM one_time_codes WHERE purpose = 'activation' AND used_at IS NULL").await;
        assert_eq!(open, 0, "{name}: no activation code is left open");
        store.login(&login, PASSWORD, None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn only_the_owner_is_shown_an_activation_code_and_the_customer_sees_it_in_their_log() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(2), false).await.unwrap();
        store.invite_customer(&staff(), id).await.unwrap();
        assert!(custodian_store::auth::may_disclose_code(&staff()).is_err(), "{name}");
        let refused = store.disclose_activation_code(&staff(), id).await.err();
        assert!(matches!(refused, Some(StoreError::Denied(_))), "{name}: {refused:?}");
        store.disclose_activation_code(&owner(), id).await.unwrap();

        let subject = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let log = store.access_log(&subject, id).await.unwrap();
        let shown: Vec<_> = log.iter().filter(|e| e.action == "account.code_disclosed").collect();
        assert_eq!(shown.len(), 1, "{name}: one disclosure, the owner's");
        assert_eq!(shown[0].actor_kind, "operator", "{name}");
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn failures_lock_a_login_per_address_and_unknown_logins_answer_alike() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(3), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&owner(), id).await.unwrap();
        store.activate(&login, &code, &password(), None).await.unwrap();
        let outsider: Option<IpAddr> = Some("192.0.2.66".parse().unwrap());
        let answers = |login: Email| {
            let store = store.clone();
            async move {
                let mut out = vec![];
                for _ in 0..6 {
                    out.push(match store.login(&login, "niet het wachtwoord", outsider).await {
                        Err(StoreError::Auth(AuthError::BadCredentials)) => "wrong",
                        Err(StoreError::Auth(AuthError::NowLocked { .. })) => "now locked",
                        Err(StoreError::Auth(AuthError::Locked { .. })) => "locked",
                        other => panic!("{other:?}"),
                    });
                }
                out
            }
        };
        let known = answers(login.clone()).await;
        assert_eq!(known, ["wrong", "wrong", "wrong", "wrong", "now locked", "locked"], "{name}");
        let unknown = answers(Email::parse("niemand@voorbeeld.nl").unwrap()).await;
        assert_eq!(unknown, known, "{name}: an unknown login answers the same");

        // The outsider stays locked out, even with the right password; the
        // holder at their own address is not.
        let outside = store.login(&login, PASSWORD, outsider).await.err();
        assert!(matches!(outside, Some(StoreError::Auth(AuthError::Locked { .. }))), "{name}: {outside:?}");
        store.login(&login, PASSWORD, Some("198.51.100.7".parse().unwrap())).await.unwrap();

        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'").await, 10);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.locked'").await, 2);
        let subjects: Vec<String> = sqlx::query_scalar("SELECT subject_id FROM audit_log WHERE action LIKE 'auth.%'")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(subjects.iter().all(|s| !s.contains('@')), "{name}: a login in the trail: {subjects:?}");
        let subject = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let log = store.access_log(&subject, id).await.unwrap();
        assert_eq!(log.iter().filter(|e| e.action == "auth.locked").count(), 1, "{name}: the customer sees the lock");

        // Activation codes count the same way.
        let id = store.create_customer(&owner(), &customer(4), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&owner(), id).await.unwrap();
        for n in 1..=5 {
            let r = store.activate(&login, "00000000", &password(), outsider).await.err();
            let locked = matches!(r, Some(StoreError::Auth(AuthError::NowLocked { .. })));
            assert_eq!(locked, n == 5, "{name}: attempt {n}: {r:?}");
        }
        let r = store.activate(&login, &code, &password(), outsider).await.err();
        assert!(matches!(r, Some(StoreError::Auth(AuthError::Locked { .. }))), "{name}: {r:?}");
        store.activate(&login, &code, &password(), None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn sessions_are_capped_per_account_and_expired_credentials_are_deleted() {
    use custodian_store::auth::sessions::MAX_SESSIONS;
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(6), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&owner(), id).await.unwrap();
        let account = store.activate(&login, &code, &password(), None).await.unwrap();
        let mut tokens = vec![];
        for _ in 0..=MAX_SESSIONS {
            tokens.push(store.start_session(&account, true).await.unwrap().token);
        }
        assert!(store.session(&tokens[0]).await.unwrap().is_none(), "{name}: the oldest session ended");
        assert!(store.session(&tokens[1]).await.unwrap().is_some(), "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions").await, MAX_SESSIONS, "{name}");

        // Three sessions past their time, a setup code expired, the used activation code.
        sqlx::query("UPDATE sessions SET expires_at = 0 WHERE token_hash IN (SELECT token_hash FROM sessions ORDER BY created_at LIMIT 3)")
            .execute(store.pool())
            .await
            .unwrap();
        store.issue_setup_code().await.unwrap();
        sqlx::query("UPDATE one_time_codes SET expires_at = 0 WHERE purpose = 'setup'")
            .execute(store.pool())
            .await
            .unwrap();
        let live = store.issue_setup_code().await.unwrap();
        assert_eq!(store.delete_expired_credentials().await.unwrap(), 5, "{name}: 3 sessions, 2 codes");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions").await, MAX_SESSIONS - 3, "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM one_time_codes").await, 1, "{name}: the live setup code stays");
        drop(live);
        store.close().await;
        db.finish().await;
    }
}
