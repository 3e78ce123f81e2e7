//! The second factor: one pending key per session while enrolling, recovery
//! codes (single use, hashed at rest, counted, audited) and the owner's reset.
//! SQLite always, PostgreSQL when CUSTODIAN_TEST_POSTGRES_URL is set.

use std::net::IpAddr;

use custodian_domain::inventory::Role;
use custodian_domain::password::NewPassword;
use custodian_domain::validate::Email;
use custodian_store::auth::PendingTotp;
use custodian_store::{Access, AccessPurpose, Account, Actor, AuthError, Refusal, Scope, Store, StoreError};
use custodian_testkit::{TestDb, customer, databases};

const PASSWORD: &str = "paarse olifant fietst naar Zwolle";
const COMPANY: &str = "Voorbeeld Hosting";

fn operator() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn as_staff(role: Role) -> Access {
    Access::new(Actor::staff("77", role), AccessPurpose::Administration)
}

fn password() -> NewPassword {
    NewPassword::parse(PASSWORD, &[]).unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.unwrap()
}

/// A staff account with a password and no second factor yet.
async fn staff_account(store: &Store, login: &str) -> Account {
    let login = Email::parse(login).unwrap();
    let (_, code) = store.create_staff_account(&operator(), Role::Staff, &login, "Medewerker").await.unwrap();
    store.activate(&login, &code, &password(), None).await.unwrap()
}

/// The six-digit code of a Base32 key `steps` 30-second steps from now,
/// computed here from the key as an authenticator app reads it.
fn code_of(secret_base32: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_string()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp.generate((now + 30 * steps) as u64)
}

/// A six-digit code that the key gives at none of the accepted steps.
fn wrong_code(secret_base32: &str) -> String {
    let near: Vec<String> = (-2..=2).map(|s| code_of(secret_base32, s)).collect();
    (0..).map(|n: u32| format!("{:06}", (n * 7_919) % 1_000_000)).find(|c| !near.contains(c)).unwrap()
}

/// Enrols `account` on a new session; returns the session token, the key and the recovery codes.
async fn enrol(store: &Store, account: &Account, label: &str) -> (String, PendingTotp, Vec<String>) {
    let session = store.start_session(account, false).await.unwrap();
    let key = store.begin_totp(&session.token, account, COMPANY, label).await.unwrap();
    let codes = store.confirm_totp(&session.token, account, &code_of(&key.secret, 0), None).await.unwrap();
    (session.token.to_string(), key, codes.shown())
}

/// Everything stored, as bytes: the SQLite files, or a `pg_dump`. Closes the store.
async fn dump(db: &TestDb, store: Store) -> Vec<u8> {
    store.close().await;
    match &db.dir {
        Some(dir) => {
            let mut bytes = vec![];
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
            }
            bytes
        }
        None => {
            let out = std::process::Command::new("pg_dump").arg(&db.url).output().expect("pg_dump runs");
            assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_session_keeps_one_pending_key_until_it_asks_for_a_new_one() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let account = staff_account(&store, "sleutel@hoster.nl").await;
        let first = store.start_session(&account, false).await.unwrap();
        let other = store.start_session(&account, false).await.unwrap();

        let key = store.begin_totp(&first.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_eq!(key.secret.len(), 32, "{name}: 160 bits in Base32");
        assert!(key.url.starts_with("otpauth://totp/Voorbeeld%20Hosting:sleutel%40hoster.nl?"), "{name}");
        assert!(key.url.contains(&format!("secret={}", key.secret.as_str())), "{name}");
        assert!(key.url.contains("issuer=Voorbeeld%20Hosting"), "{name}");
        let grouped = key.grouped();
        let blocks: Vec<&str> = grouped.split(' ').collect();
        assert_eq!(blocks.len(), 8, "{name}: {}", grouped.as_str());
        assert!(blocks.iter().all(|b| b.len() == 4), "{name}");
        assert_eq!(blocks.concat(), key.secret.as_str(), "{name}");

        let again = store.begin_totp(&first.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_eq!(again.secret, key.secret, "{name}: a reload shows the same key");
        let elsewhere = store.begin_totp(&other.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_ne!(elsewhere.secret, key.secret, "{name}: another session has a key of its own");

        // A wrong code leaves the key in place and enables nothing.
        let wrong = store.confirm_totp(&first.token, &account, &wrong_code(&key.secret), None).await.err();
        assert!(matches!(wrong, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {wrong:?}");
        let after = store.begin_totp(&first.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_eq!(after.secret, key.secret, "{name}: the key survives a wrong code");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM users WHERE totp_secret IS NOT NULL").await, 0, "{name}");

        // Asked for, a new key replaces it, and the old one no longer confirms.
        let renewed = store.renew_pending_totp(&first.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_ne!(renewed.secret, key.secret, "{name}");
        let shown = store.begin_totp(&first.token, &account, COMPANY, "sleutel@hoster.nl").await.unwrap();
        assert_eq!(shown.secret, renewed.secret, "{name}: the new key stays");
        let old = store.confirm_totp(&first.token, &account, &code_of(&key.secret, 0), None).await.err();
        assert!(matches!(old, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {old:?}");

        // The right code of the pending key enables it, for this session at once.
        let codes = store.confirm_totp(&first.token, &account, &code_of(&renewed.secret, 0), None).await.unwrap();
        assert_eq!(codes.len(), 10, "{name}");
        let session = store.session(&first.token).await.unwrap().unwrap();
        assert!(session.account.totp_enabled && session.second_factor_done, "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions WHERE totp_pending IS NOT NULL").await, 0, "{name}");
        let twice = store.confirm_totp(&other.token, &account, &code_of(&renewed.secret, 1), None).await.err();
        assert!(matches!(twice, Some(StoreError::Refused(Refusal::SecondFactorOn))), "{name}: {twice:?}");

        // The other session still has to give the factor, with the enrolled key.
        let other_session = store.session(&other.token).await.unwrap().unwrap();
        assert!(!other_session.second_factor_done, "{name}");
        store.verify_totp(&account, &code_of(&renewed.secret, 1), None).await.unwrap();

        // A session that never asked for a key cannot confirm one.
        let blank = staff_account(&store, "blanco@hoster.nl").await;
        let blank_session = store.start_session(&blank, false).await.unwrap();
        let none = store.confirm_totp(&blank_session.token, &blank, "123456", None).await.err();
        assert!(matches!(none, Some(StoreError::Refused(Refusal::NoPendingSecondFactor))), "{name}: {none:?}");

        let enrolled = count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'account.second_factor_enrolled'");
        assert_eq!(enrolled.await, 1, "{name}");

        // The keys are sealed: neither the pending nor the enrolled one is stored as it is.
        let raw = totp_rs::Secret::Encoded(renewed.secret.to_string()).to_bytes().unwrap();
        let bytes = dump(&db, store).await;
        assert!(!contains(&bytes, &raw), "{name}: a raw key at rest");
        assert!(!contains(&bytes, renewed.secret.as_bytes()), "{name}: a Base32 key at rest");
        db.finish().await;
    }
}

#[tokio::test]
async fn recovery_codes_work_once_are_hashed_at_rest_and_audited() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let owner_login = "eigenaar@hoster.nl";
        let account = staff_account(&store, owner_login).await;
        let (_, _, codes) = enrol(&store, &account, owner_login).await;
        assert_eq!(codes.len(), 10, "{name}");
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "{name}: ten different codes");
        for code in &codes {
            let (a, b) = code.split_once('-').unwrap_or_else(|| panic!("{name}: {code} not in two blocks"));
            assert!(a.len() == 5 && b.len() == 5, "{name}: {code}");
            assert!(
                code.chars()
                    .all(|c| c == '-' || ("2"..="9").contains(&c.to_string().as_str()) || c.is_ascii_uppercase())
            );
            assert!(!code.contains(['0', '1', 'I', 'O']), "{name}: {code} has a look-alike");
        }
        assert_eq!(count(&store, "SELECT COUNT(*) FROM recovery_codes").await, 10, "{name}");

        // Typed in lower case without the dash, a code logs in once.
        let at: Option<IpAddr> = Some("198.51.100.20".parse().unwrap());
        let session = store.start_session(&account, false).await.unwrap();
        let typed = codes[3].replace('-', " ").to_lowercase();
        let left = store.use_recovery_code(&session.token, &account, &typed, at).await.unwrap();
        assert_eq!(left, 9, "{name}");
        assert!(store.session(&session.token).await.unwrap().unwrap().second_factor_done, "{name}");
        assert_eq!(store.recovery_codes_left(&account).await.unwrap(), 9, "{name}");

        let later = store.start_session(&account, false).await.unwrap();
        let reused = store.use_recovery_code(&later.token, &account, &codes[3], at).await.err();
        assert!(matches!(reused, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {reused:?}");
        assert!(!store.session(&later.token).await.unwrap().unwrap().second_factor_done, "{name}");
        let left = store.use_recovery_code(&later.token, &account, &codes[4], at).await.unwrap();
        assert_eq!(left, 8, "{name}");

        // Another account's code is no code here.
        let other = staff_account(&store, "ander@hoster.nl").await;
        let (_, _, other_codes) = enrol(&store, &other, "ander@hoster.nl").await;
        let third = store.start_session(&account, false).await.unwrap();
        let foreign = store.use_recovery_code(&third.token, &account, &other_codes[0], at).await.err();
        assert!(matches!(foreign, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {foreign:?}");

        // Audited by name, without the code; the address kept (sealed) for staff.
        let used: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT subject_kind, subject_id, fields FROM audit_log WHERE action = 'auth.recovery_code_used' ORDER BY seq",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let id = account.id.to_string();
        assert_eq!(used.len(), 2, "{name}");
        for (kind, subject, fields) in &used {
            assert_eq!((kind.as_str(), subject.as_str()), ("account", id.as_str()), "{name}");
            assert!(codes.iter().all(|c| !fields.contains(&c[..5])), "{name}: a code in the trail");
        }
        let sources: Vec<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT source FROM audit_log WHERE action = 'auth.recovery_code_used'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        for source in sources {
            let source = source.unwrap_or_else(|| panic!("{name}: a staff member's address is kept"));
            assert!(!contains(&source, b"198.51.100.20"), "{name}: the address is sealed");
        }

        // Only keyed hashes at rest: no code, with or without its dash.
        let bytes = dump(&db, store).await;
        for code in codes.iter().chain(&other_codes) {
            assert!(!contains(&bytes, code.as_bytes()), "{name}: {code} at rest");
            assert!(!contains(&bytes, code.replace('-', "").as_bytes()), "{name}: {code} at rest");
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn wrong_recovery_codes_count_per_account_and_address_and_lock() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&operator(), &customer(21), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&operator(), id).await.unwrap();
        let account = store.activate(&login, &code, &password(), None).await.unwrap();
        let (_, _, codes) = enrol(&store, &account, login.as_str()).await;

        let outsider: Option<IpAddr> = Some("192.0.2.66".parse().unwrap());
        let session = store.start_session(&account, false).await.unwrap();
        for n in 1..=5 {
            let r = store.use_recovery_code(&session.token, &account, "AAAAA-BBBBB", outsider).await.err();
            match (n, &r) {
                (1..=4, Some(StoreError::Auth(AuthError::BadSecondFactor))) => {}
                (5, Some(StoreError::Auth(AuthError::NowLocked { account: Some(a), .. }))) => {
                    assert_eq!(a.id, account.id, "{name}: the holder is to be told")
                }
                _ => panic!("{name}: attempt {n}: {r:?}"),
            }
        }
        // Locked at that address even for a right code, which stays unused.
        let locked = store.use_recovery_code(&session.token, &account, &codes[0], outsider).await.err();
        assert!(matches!(locked, Some(StoreError::Auth(AuthError::Locked { .. }))), "{name}: {locked:?}");
        assert_eq!(store.recovery_codes_left(&account).await.unwrap(), 10, "{name}");
        // The holder elsewhere is not locked out.
        let home: Option<IpAddr> = Some("198.51.100.7".parse().unwrap());
        assert_eq!(store.use_recovery_code(&session.token, &account, &codes[0], home).await.unwrap(), 9, "{name}");

        let failed =
            "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.code_failed' AND fields LIKE '%recovery_code%'";
        assert_eq!(count(&store, failed).await, 5, "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.locked'").await, 1, "{name}");
        // The customer sees the failures, the lock and the use in their own log.
        let subject = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let log = store.access_log(&subject, id).await.unwrap();
        let seen = |action: &str| log.iter().filter(|e| e.action == action).count();
        assert_eq!(
            (seen("auth.code_failed"), seen("auth.locked"), seen("auth.recovery_code_used")),
            (5, 1, 1),
            "{name}"
        );
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_reset_clears_the_factor_and_codes_ends_sessions_and_re_enrolment_makes_new_codes() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let account = staff_account(&store, "kwijt@hoster.nl").await;
        let (token, key, old_codes) = enrol(&store, &account, "kwijt@hoster.nl").await;
        let second = store.start_session(&account, false).await.unwrap();
        // Another account mid-enrolment keeps its pending key.
        let bystander = staff_account(&store, "omstander@hoster.nl").await;
        let waiting = store.start_session(&bystander, false).await.unwrap();
        store.begin_totp(&waiting.token, &bystander, COMPANY, "omstander@hoster.nl").await.unwrap();

        let owner = as_staff(Role::Owner);
        store.reset_second_factor(&owner, account.id).await.unwrap();

        assert!(store.session(&token).await.unwrap().is_none(), "{name}: sessions ended");
        assert!(store.session(&second.token).await.unwrap().is_none(), "{name}");
        assert!(store.session(&waiting.token).await.unwrap().is_some(), "{name}: other accounts untouched");
        let user = format!("FROM users WHERE id = {}", account.id);
        assert_eq!(
            count(&store, &format!("SELECT COUNT(*) {user} AND totp_secret IS NULL AND totp_last_step = 0")).await,
            1
        );
        let codes = format!("SELECT COUNT(*) FROM recovery_codes WHERE user_id = {}", account.id);
        assert_eq!(count(&store, &codes).await, 0, "{name}");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions WHERE totp_pending IS NOT NULL").await, 1, "{name}");
        let reset: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT actor_kind, actor_id, subject_kind, subject_id, fields FROM audit_log WHERE action = 'account.second_factor_reset'",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(reset.len(), 1, "{name}");
        let (actor_kind, actor_id, kind, subject, fields) = &reset[0];
        assert_eq!((actor_kind.as_str(), actor_id.as_str()), ("staff", "77"), "{name}");
        assert_eq!((kind.as_str(), subject.clone()), ("account", account.id.to_string()), "{name}");
        assert!(fields.contains("totp_secret") && fields.contains("recovery_codes"), "{name}: {fields}");

        // The old factor no longer works; the next login sets up a new one.
        let again = store.login(&Email::parse("kwijt@hoster.nl").unwrap(), PASSWORD, None).await.unwrap();
        assert!(!again.totp_enabled && again.needs_second_factor(), "{name}");
        let old = store.verify_totp(&again, &code_of(&key.secret, 1), None).await.err();
        assert!(matches!(old, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {old:?}");
        let (_, new_key, new_codes) = enrol(&store, &again, "kwijt@hoster.nl").await;
        assert_ne!(new_key.secret, key.secret, "{name}");
        assert_eq!(count(&store, &codes).await, 10, "{name}: ten new codes, the old ones gone");
        let session = store.start_session(&again, false).await.unwrap();
        let stale = store.use_recovery_code(&session.token, &again, &old_codes[0], None).await.err();
        assert!(matches!(stale, Some(StoreError::Auth(AuthError::BadSecondFactor))), "{name}: {stale:?}");
        store.use_recovery_code(&session.token, &again, &new_codes[0], None).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn only_the_owner_and_the_operator_may_reset_a_second_factor() {
    for db in databases().await {
        let store = db.store().await;
        let name = db.name();
        let id = store.create_customer(&operator(), &customer(22), false).await.unwrap();
        let (_, login, code) = store.invite_customer(&operator(), id).await.unwrap();
        let account = store.activate(&login, &code, &password(), None).await.unwrap();
        let (token, _, _) = enrol(&store, &account, login.as_str()).await;
        let (staff_token, _) =
            store.create_api_token(&operator(), "crm", Role::Staff, &Scope::ALL, None).await.unwrap();
        let (owner_token, _) =
            store.create_api_token(&operator(), "beheer", Role::Owner, &Scope::ALL, None).await.unwrap();
        let refused = [
            as_staff(Role::Staff),
            as_staff(Role::Bookkeeper),
            Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest),
            Access::new(staff_token.actor(), AccessPurpose::Administration),
            Access::new(owner_token.actor(), AccessPurpose::Administration),
            Access::new(Actor::job("retention"), AccessPurpose::Retention),
        ];
        for who in &refused {
            let r = store.reset_second_factor(who, account.id).await.err();
            assert!(matches!(r, Some(StoreError::Denied(_))), "{name}: {:?}: {r:?}", who.actor);
        }
        // Nothing changed.
        assert!(store.session(&token).await.unwrap().unwrap().account.totp_enabled, "{name}");
        assert_eq!(store.recovery_codes_left(&account).await.unwrap(), 10, "{name}");
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'account.second_factor_reset'").await,
            0
        );

        // A customer's portal account may be reset (the owner helping); the
        // customer sees it in their own log.
        store.reset_second_factor(&operator(), account.id).await.unwrap();
        assert!(store.session(&token).await.unwrap().is_none(), "{name}");
        let subject = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
        let log = store.access_log(&subject, id).await.unwrap();
        let reset: Vec<_> = log.iter().filter(|e| e.action == "account.second_factor_reset").collect();
        assert_eq!(reset.len(), 1, "{name}");
        assert_eq!(reset[0].actor_kind, "operator", "{name}");
        let customer_again = store.login(&login, PASSWORD, None).await.unwrap();
        assert!(!customer_again.needs_second_factor(), "{name}: a customer may do without one again");

        let missing = store.reset_second_factor(&operator(), 999_999).await.err();
        assert!(matches!(missing, Some(StoreError::NotFound { .. })), "{name}: {missing:?}");
        store.close().await;
        db.finish().await;
    }
}
