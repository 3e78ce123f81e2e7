//! Backups end to end on a local directory, on a real S3 server (moto on
//! loopback), from and into both engines, and on real WebDAV and SFTP servers
//! on loopback.

use std::collections::BTreeMap;
use std::path::Path;

use custodian_backup::{BackupError, Settings};
use custodian_store::{Access, AccessPurpose, Actor, ErasureReason, Key, Store, StoreError};
use custodian_testkit::{TestDb, databases, files};

fn owner() -> Access {
    Access::new(Actor::operator(), AccessPurpose::Administration)
}

fn settings(work: &Path, service: &str, options: BTreeMap<String, String>) -> Settings {
    Settings {
        service: service.into(),
        options,
        password: "correct horse battery staple".into(),
        keep_days: 14,
        max_days: 60,
        work_dir: work.join("work"),
    }
}

fn local(work: &Path) -> Settings {
    let root = work.join("repo").display().to_string();
    settings(work, "fs", [("root".to_string(), root)].into())
}

/// Customers A (with a handle) and B.
async fn a_and_b(store: &Store) -> (i64, i64) {
    let a = store.create_customer(&owner(), &custodian_testkit::customer(1), false).await.unwrap();
    let b = store.create_customer(&owner(), &custodian_testkit::customer(2), false).await.unwrap();
    let registry = Access::new(Actor::operator(), AccessPurpose::Registry);
    store.add_contact(&registry, a, None, &custodian_testkit::contact("AB123-GRUTTO")).await.unwrap();
    (a, b)
}

/// Empty databases to restore into: a new SQLite file, and a new PostgreSQL
/// database when PostgreSQL is under test.
async fn targets() -> Vec<TestDb> {
    let mut out = vec![custodian_testkit::sqlite()];
    if let Some(admin) = std::env::var(custodian_testkit::POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
        out.push(custodian_testkit::postgres(&admin).await);
    }
    out
}

/// Checks a restored database: A erased again by the journal replay (and
/// the audit trail saying so), B intact, the chain whole.
async fn check_restored(target: &TestDb, key: &Key, a: i64, b: i64, label: &str) {
    let store = Store::open(&target.url, 2, key.clone()).await.unwrap();
    let status = |id: i64| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM customers WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(a).await, "erased", "{label}: A stays erased");
    assert_eq!(status(b).await, "active", "{label}: B is back");
    let record = store.read_customer(&Access::new(Actor::operator(), AccessPurpose::Support), b).await.unwrap();
    assert_eq!(record.fields["email"], "klant2@voorbeeld.nl", "{label}: B's data intact");
    assert_eq!(record.fields["company_name"], "Bedrijf 2 B.V.", "{label}: B's data intact");
    let handles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts").fetch_one(store.pool()).await.unwrap();
    assert_eq!(handles, 0, "{label}: A's handle went with A");
    let (actor, action): (String, String) = sqlx::query_as(
        "SELECT actor_kind || ':' || actor_id, action FROM audit_log WHERE subject_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(a.to_string())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((actor.as_str(), action.as_str()), ("job:journal_replay", "customer.erase"), "{label}: audit says why");
    let journal = store.erasure_journal(0).await.unwrap();
    let last = journal.last().unwrap();
    assert_eq!((last.subject_id.as_str(), last.reason.as_str()), (a.to_string().as_str(), "journal_replay"), "{label}");
    assert!(store.audit_verify().await.unwrap().problem.is_none(), "{label}: audit chain intact");
    // New rows continue after the restored ones.
    let c = store.create_customer(&owner(), &custodian_testkit::customer(3), false).await.unwrap();
    assert!(c > b, "{label}: numbering continues");
    store.close().await;
}

#[tokio::test]
async fn a_restore_never_brings_erased_people_back() {
    for db in databases().await {
        let store = db.store().await;
        let (a, b) = a_and_b(&store).await;
        let work = tempfile::tempdir().unwrap();
        let settings = local(work.path());
        let first = custodian_backup::run(&settings, &db.url).await.unwrap();
        assert!(store.erase_customer(&owner(), a, ErasureReason::CustomerRequest).await.unwrap());
        // What `serve` does once the journal grew: the journal alone, apart
        // from the snapshot it must protect.
        custodian_backup::push_journal(&settings, &db.url).await.unwrap();
        assert_eq!(
            custodian_backup::list(&settings).await.unwrap(),
            std::slice::from_ref(&first.snapshot),
            "journal pushes are no restore points"
        );
        for target in targets().await {
            let label = format!("{} into {}", db.name(), target.name());
            let r = custodian_backup::restore(&settings, Some(first.snapshot.time), &target.url, None, db.key.clone())
                .await
                .unwrap();
            // A's handle goes with A (erasing a customer deletes their handles).
            assert_eq!((r.replayed.customers, r.replayed.invoices), (1, 0), "{label}");
            check_restored(&target, &db.key, a, b, &label).await;
            target.finish().await;
        }
        store.close().await;
        db.finish().await;
    }
}

/// Two commands at once on one installation: the second is refused before it
/// touches anything, the first makes the repository, and the next run works.
#[tokio::test]
async fn a_second_run_at_the_same_time_is_refused() {
    let db = custodian_testkit::sqlite();
    let store = db.store().await;
    a_and_b(&store).await;
    let work = tempfile::tempdir().unwrap();
    let settings = local(work.path());
    let target = custodian_testkit::sqlite();
    let (first, second) = tokio::join!(
        custodian_backup::run(&settings, &db.url),
        custodian_backup::restore(&settings, None, &target.url, None, db.key.clone()),
    );
    let first = first.unwrap();
    assert!(matches!(second, Err(BackupError::Busy)), "{second:?}");
    let again = custodian_backup::run(&settings, &db.url).await.unwrap();
    let points = custodian_backup::list(&settings).await.unwrap();
    assert_eq!(points, vec![first.snapshot, again.snapshot]);
    store.close().await;
    db.finish().await;
}

/// Someone added and erased after the snapshot is not in it, but their
/// number is in the journal: the restored database keeps that entry and never
/// gives the number to a new customer, whom a later replay would erase.
#[tokio::test]
async fn a_restored_database_never_gives_out_an_erased_number_again() {
    for db in databases().await {
        let store = db.store().await;
        let (_a, b) = a_and_b(&store).await;
        let work = tempfile::tempdir().unwrap();
        let settings = local(work.path());
        let first = custodian_backup::run(&settings, &db.url).await.unwrap();
        let late = store.create_customer(&owner(), &custodian_testkit::customer(3), false).await.unwrap();
        assert!(late > b);
        store.erase_customer(&owner(), late, ErasureReason::CustomerRequest).await.unwrap();
        custodian_backup::push_journal(&settings, &db.url).await.unwrap();
        for target in targets().await {
            let label = format!("{} into {}", db.name(), target.name());
            custodian_backup::restore(&settings, Some(first.snapshot.time), &target.url, None, db.key.clone())
                .await
                .unwrap();
            let restored = Store::open(&target.url, 2, db.key.clone()).await.unwrap();
            let journal = restored.erasure_journal(0).await.unwrap();
            let entry =
                journal.iter().find(|e| e.subject_id == late.to_string()).expect("the late erasure is recorded");
            assert_eq!(
                (entry.subject_kind.as_str(), entry.reason.as_str()),
                ("customer", "customer_request"),
                "{label}"
            );
            let next = restored.create_customer(&owner(), &custodian_testkit::customer(4), false).await.unwrap();
            assert!(next > late, "{label}: {next} comes after the erased {late}");
            restored.close().await;
            target.finish().await;
        }
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn the_journal_also_comes_from_a_later_snapshot_or_the_old_database() {
    for db in databases().await {
        let store = db.store().await;
        let (a, b) = a_and_b(&store).await;
        let work = tempfile::tempdir().unwrap();
        let settings = local(work.path());
        let first = custodian_backup::run(&settings, &db.url).await.unwrap();
        store.erase_customer(&owner(), a, ErasureReason::CustomerRequest).await.unwrap();

        // No push yet: the live database's journal is the only record.
        let target = custodian_testkit::sqlite();
        let at = Some(first.snapshot.time);
        custodian_backup::restore(&settings, at, &target.url, Some(&db.url), db.key.clone()).await.unwrap();
        check_restored(&target, &db.key, a, b, &format!("{}: journal from the old database", db.name())).await;

        // A later backup carries the journal for every earlier snapshot.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let second = custodian_backup::run(&settings, &db.url).await.unwrap();
        assert!(second.uploaded_bytes < first.uploaded_bytes + 4096, "unchanged data is not uploaded again");
        let target = custodian_testkit::sqlite();
        custodian_backup::restore(&settings, at, &target.url, None, db.key.clone()).await.unwrap();
        check_restored(&target, &db.key, a, b, &format!("{}: journal from a later snapshot", db.name())).await;
        let verified = custodian_backup::verify(&settings, None, db.key.clone()).await.unwrap();
        assert_eq!((verified.snapshot, verified.customers, verified.journal_entries), (second.snapshot, 2, 1));
        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn wrong_keys_and_tampering_restore_nothing() {
    let db = custodian_testkit::sqlite();
    let store = db.store().await;
    a_and_b(&store).await;
    let work = tempfile::tempdir().unwrap();
    let settings = local(work.path());
    custodian_backup::run(&settings, &db.url).await.unwrap();
    let target = custodian_testkit::sqlite();
    let target_file = target.dir.as_ref().unwrap().path().join("custodian.db");

    let wrong = Settings { password: "not the password".into(), ..settings.clone() };
    let e = custodian_backup::restore(&wrong, None, &target.url, None, db.key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::WrongPassword), "{e}");
    assert!(!target_file.exists());

    let e = custodian_backup::restore(&settings, None, &target.url, None, Key::generate()).await.unwrap_err();
    assert!(matches!(e, BackupError::Store(StoreError::WrongMasterKey { .. })), "{e}");
    assert!(!target_file.exists());

    let e = custodian_backup::restore(&settings, Some(0), &target.url, None, db.key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::NoSnapshot(_)), "{e}");

    // One bit flipped in every stored data pack: authentication fails.
    for pack in files(&work.path().join("repo/data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&pack, bytes).unwrap();
    }
    let e = custodian_backup::restore(&settings, None, &target.url, None, db.key.clone()).await.unwrap_err();
    assert!(!matches!(e, BackupError::WrongPassword), "a damaged pack is not a wrong password: {e}");
    assert!(!target_file.exists(), "nothing restored from a tampered repository");
    assert!(custodian_backup::verify(&settings, None, db.key.clone()).await.is_err());

    // A target that already holds data is refused before anything is read.
    let e = custodian_backup::restore(&settings, None, &db.url, None, db.key.clone()).await.unwrap_err();
    assert!(matches!(e, BackupError::Target(_)), "{e}");
    store.close().await;
}

/// What the storage must never see: the seeded values, and no sign of the
/// database's own plain text either.
fn assert_no_plain_text(label: &str, name: &str, bytes: &[u8]) {
    let fields = custodian_testkit::customer_fields(1);
    let needles = [
        fields["email"].as_str(),
        fields["company_name"].as_str(),
        fields["contact_name"].as_str(),
        "AB123-GRUTTO",
        "SQLite format 3",
        "erasure_journal",
        "customer_request",
    ];
    for needle in needles {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{label}: {name} holds plain text");
    }
}

/// Every file a storage keeps under `dir`: the whole repository, and nothing
/// left in the staging directory of the writes.
fn assert_stored_files_hold_no_plain_text(label: &str, dir: &Path) {
    let stored = files(dir);
    assert!(stored.len() >= 4, "{label}: config, key, index, pack, snapshot");
    for f in stored {
        assert!(!f.strip_prefix(dir).unwrap().starts_with(".tmp"), "{label}: {} left behind", f.display());
        assert_no_plain_text(label, &f.display().to_string(), &std::fs::read(&f).unwrap());
    }
}

#[tokio::test]
async fn the_storage_sees_only_ciphertext_on_a_directory_and_on_s3() {
    let s3 = custodian_testkit::s3::S3Server::start().await;
    s3.create_bucket("custodian-backups").await;
    for db in databases().await {
        let store = db.store().await;
        let (a, _) = a_and_b(&store).await;
        store.erase_customer(&owner(), a, ErasureReason::CustomerRequest).await.unwrap();
        let work = tempfile::tempdir().unwrap();

        let on_disk = local(work.path());
        custodian_backup::run(&on_disk, &db.url).await.unwrap();
        assert_stored_files_hold_no_plain_text(db.name(), &work.path().join("repo"));

        let mut options = s3.options("custodian-backups");
        options.insert("root".into(), format!("/{}", db.name()));
        let on_s3 = settings(work.path(), "s3", options.clone());
        let made = custodian_backup::run(&on_s3, &db.url).await.unwrap();
        assert_eq!(custodian_backup::list(&on_s3).await.unwrap(), [made.snapshot]);
        custodian_backup::verify(&on_s3, None, db.key.clone()).await.unwrap();
        let op = opendal::Operator::via_iter("s3", options).unwrap();
        let objects = op.list_with("/").recursive(true).await.unwrap();
        let objects: Vec<_> = objects.into_iter().filter(|e| e.metadata().is_file()).collect();
        assert!(objects.len() >= 4, "{}: objects in the bucket", db.name());
        for o in objects {
            let bytes = op.read(o.path()).await.unwrap().to_vec();
            assert_no_plain_text(db.name(), o.path(), &bytes);
        }
        let target = custodian_testkit::sqlite();
        custodian_backup::restore(&on_s3, None, &target.url, None, db.key.clone()).await.unwrap();
        store.close().await;
        db.finish().await;
    }
}

/// One storage service end to end from a SQLite database: a backup of A and
/// B, A erased and the journal pushed, `list`, `verify`, and a restore into a
/// new SQLite file that erases A again; then every file of the repository,
/// which the server keeps in `stored`, is checked for plain text.
async fn end_to_end(service: &str, options: BTreeMap<String, String>, stored: &Path) {
    let work = tempfile::tempdir().unwrap();
    let settings = &settings(work.path(), service, options);
    let db = custodian_testkit::sqlite();
    let store = db.store().await;
    let (a, b) = a_and_b(&store).await;
    let made = custodian_backup::run(settings, &db.url).await.unwrap();
    assert!(store.erase_customer(&owner(), a, ErasureReason::CustomerRequest).await.unwrap());
    custodian_backup::push_journal(settings, &db.url).await.unwrap();
    assert_eq!(custodian_backup::list(settings).await.unwrap(), std::slice::from_ref(&made.snapshot), "{service}");
    let verified = custodian_backup::verify(settings, None, db.key.clone()).await.unwrap();
    assert_eq!((&verified.snapshot, verified.customers), (&made.snapshot, 2), "{service}");
    let target = custodian_testkit::sqlite();
    let restored = custodian_backup::restore(settings, None, &target.url, None, db.key.clone()).await.unwrap();
    assert_eq!((restored.journal_entries, restored.replayed.customers), (1, 1), "{service}");
    check_restored(&target, &db.key, a, b, service).await;
    store.close().await;
    assert_stored_files_hold_no_plain_text(service, stored);
    assert!(stored.join(".tmp").is_dir(), "{service}: files were written aside and renamed into place");
}

/// Why `list` fails on `service` with `options`.
async fn refused(service: &str, options: BTreeMap<String, String>) -> BackupError {
    let work = tempfile::tempdir().unwrap();
    custodian_backup::list(&settings(work.path(), service, options)).await.unwrap_err()
}

#[tokio::test]
async fn backups_on_a_webdav_server_restore_and_hold_only_ciphertext() {
    let server = custodian_testkit::webdav::WebDavServer::start();
    end_to_end("webdav", server.options("/backups/custodian"), &server.storage().join("backups/custodian")).await;

    let mut wrong = server.options("/backups/custodian");
    wrong.insert("password".into(), "not the password".into());
    let e = refused("webdav", wrong).await;
    assert!(e.to_string().contains("status: 401"), "refused by the server (Basic auth), not the repository: {e}");
}

#[tokio::test]
async fn backups_on_an_sftp_server_restore_and_hold_only_ciphertext() {
    let server = custodian_testkit::sftp::SftpServer::start();
    end_to_end("sftp", server.options("custodian"), &server.storage().join("custodian")).await;

    // The ssh client signs in with the key alone: a password is refused, not ignored.
    let mut with_password = server.options("custodian");
    with_password.insert("password".into(), "unused".into());
    let e = refused("sftp", with_password).await;
    assert!(matches!(e, BackupError::Config(_)), "{e}");
}
