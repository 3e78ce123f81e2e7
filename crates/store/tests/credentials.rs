//! Accounts and their credentials: invitations and activation codes, failure
//! counters, clean-up, recovery codes. SQLite always, PostgreSQL when
//! CUSTODIAN_TEST_POSTGRES_URL is set.

use custodian_domain::inventory::Role;
use custodian_domain::password::NewPassword;
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

#[tokio::test]
async fn an_invitation_never_replaces_a_password_and_cancels_earlier_codes() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&owner(), &customer(1), false).await.unwrap();
        let (_, login, first) = store.invite_customer(&staff(), id).await.unwrap();
        let (_, _, second) = store.invite_customer(&staff(), id).await.unwrap();
        let used_first = store.activate(&login, &first, &password()).await;
        assert!(
            matches!(used_first, Err(StoreError::Auth(AuthError::BadCode))),
            "{name}: the earlier code is cancelled"
        );
        store.activate(&login, &second, &password()).await.unwrap();

        // The account has a password now: an invitation would hand it to whoever invites.
        for who in [staff(), owner()] {
            let again = store.invite_customer(&who, id).await.err();
            assert!(matches!(again, Some(StoreError::Auth(AuthError::AccountActive))), "{name}: {again:?}");
        }
        let open =
            count(&store, "SELECT COUNT(*) FROM one_time_codes WHERE purpose = 'activation' AND used_at IS NULL").await;
        assert_eq!(open, 0, "{name}: no activation code is left open");
        store.login(&login, PASSWORD).await.unwrap();
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
        assert!(matches!(refused, Some(StoreError::Forbidden(_))), "{name}: {refused:?}");
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
