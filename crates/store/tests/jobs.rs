//! Job leases on both engines: one holder at a time, renewal, takeover after
//! expiry, giving up, and many instances asking at once; and the erasures
//! the backup job has not yet brought to the repository.

use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_job_has_one_holder_until_its_lease_runs_out_or_is_given_up() {
    for db in custodian_testkit::databases().await {
        let engine = db.name();
        let store = db.store().await;
        assert!(store.job_leases().await.unwrap().is_empty());

        assert!(store.lead_job("backup", "a", LONG).await.unwrap(), "{engine}: the first asker");
        assert!(!store.lead_job("backup", "b", LONG).await.unwrap(), "{engine}: taken");
        assert!(store.lead_job("backup", "a", LONG).await.unwrap(), "{engine}: renewed");
        assert!(store.lead_job("retention", "b", LONG).await.unwrap(), "{engine}: another job is free");
        assert!(!store.job_started("backup", "b").await.unwrap(), "{engine}: b may not start a's job");
        assert!(store.job_started("backup", "a").await.unwrap());
        let backup = store.job_leases().await.unwrap().remove(0);
        assert_eq!((backup.name.as_str(), backup.holder.as_str(), backup.runs), ("backup", "a", 1));
        assert!(backup.running(), "{engine}: {backup:?}");
        store.job_ended("backup", "a", true).await.unwrap();
        let backup = store.job_leases().await.unwrap().remove(0);
        assert!(!backup.running() && backup.last_finished.is_some() && backup.last_failed.is_none());

        // Given up: the next asker has it at once.
        store.leave_job("backup", "b").await.unwrap();
        assert!(!store.lead_job("backup", "c", LONG).await.unwrap(), "{engine}: only the holder gives up");
        store.leave_job("backup", "a").await.unwrap();
        assert!(store.lead_job("backup", "c", LONG).await.unwrap(), "{engine}: given up");
        assert!(!store.job_started("backup", "a").await.unwrap(), "{engine}: a lost it");

        // Not renewed: taken over once it has run out.
        assert!(store.lead_job("retention", "b", Duration::from_millis(200)).await.unwrap());
        assert!(!store.lead_job("retention", "c", LONG).await.unwrap(), "{engine}: still b's");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(store.lead_job("retention", "c", LONG).await.unwrap(), "{engine}: b's lease ran out");
        store.job_ended("retention", "b", false).await.unwrap();
        let retention = store.job_leases().await.unwrap().remove(1);
        assert_eq!(retention.holder, "c");
        assert!(retention.last_failed.is_none(), "{engine}: a former holder records nothing: {retention:?}");

        store.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn of_many_asking_at_once_one_gets_the_job() {
    for db in custodian_testkit::databases().await {
        let store = db.store().await;
        for round in 0..5 {
            let job = format!("job{round}");
            let asks = (0..12).map(|i| {
                let (store, job) = (store.clone(), job.clone());
                tokio::spawn(async move { store.lead_job(&job, &format!("instance{i}"), LONG).await.unwrap() })
            });
            let mut granted = 0;
            for ask in asks.collect::<Vec<_>>() {
                granted += usize::from(ask.await.unwrap());
            }
            assert_eq!(granted, 1, "{}: round {round}", db.name());
        }
        store.close().await;
        db.finish().await;
    }
}

/// What the backup repository lacks of the erasure journal: nothing before
/// the first backup, then every erasure after the position it last received.
#[tokio::test]
async fn erasures_count_as_unstored_until_the_repository_has_the_journal() {
    use custodian_store::{Access, AccessPurpose, Actor, ErasureReason};
    for db in custodian_testkit::databases().await {
        let engine = db.name();
        let store = db.store().await;
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let ids = store.create_customers(&owner, &[1, 2, 3].map(custodian_testkit::customer)).await.unwrap();
        store.erase_customer(&owner, ids[0], ErasureReason::CustomerRequest).await.unwrap();
        assert_eq!(store.journal_unstored().await.unwrap(), 0, "{engine}: no backup made, nothing to bring back");

        let first = store.erasure_journal(0).await.unwrap().last().unwrap().seq;
        store.journal_stored(first).await.unwrap();
        assert_eq!(store.journal_unstored().await.unwrap(), 0, "{engine}");
        store.erase_customer(&owner, ids[1], ErasureReason::CustomerRequest).await.unwrap();
        store.erase_customer(&owner, ids[2], ErasureReason::CustomerRequest).await.unwrap();
        assert_eq!(store.journal_unstored().await.unwrap(), 2, "{engine}: two customers erased since");
        store.journal_stored(0).await.unwrap();
        assert_eq!(store.journal_unstored().await.unwrap(), 2, "{engine}: an older position changes nothing");
        let newest = store.erasure_journal(first).await.unwrap().last().unwrap().seq;
        store.journal_stored(newest).await.unwrap();
        assert_eq!(store.journal_unstored().await.unwrap(), 0, "{engine}");
        store.close().await;
        db.finish().await;
    }
}
