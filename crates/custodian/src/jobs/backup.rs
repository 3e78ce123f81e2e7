//! The backup job: the nightly snapshot once the configured hour has passed,
//! and between those the erasure journal on its own whenever it grew, so an
//! erasure made today survives the loss of the database (looking is one
//! `MAX(seq)` read).

use std::time::Duration;

use custodian_backup::Settings;
use custodian_store::Store;
use time::Date;

pub(crate) struct Backups {
    /// Told what the repository holds, for `/metrics` and the owner's home page.
    pub store: Store,
    pub settings: Settings,
    pub database_url: String,
    /// The hour (UTC) from which the nightly snapshot is due.
    pub hour: u8,
    pub interval: Duration,
    /// The day of the newest snapshot in the repository.
    pub last_day: Option<Date>,
    /// The newest journal position the repository holds.
    pub pushed: i64,
}

impl Backups {
    /// What the repository holds, read again when this instance takes the
    /// job over: another may have made tonight's snapshot or pushed the
    /// journal, and erasures made while no server ran are pushed now.
    async fn read_repository(&mut self) -> anyhow::Result<()> {
        self.last_day = custodian_backup::list(&self.settings)
            .await
            .ok()
            .and_then(|s| s.last().map(|s| s.time))
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(|t| t.date());
        self.pushed = custodian_backup::stored_journal_position(&self.settings).await.unwrap_or(0);
        // With no restore point there is nobody a restore could bring back.
        if self.last_day.is_some() {
            self.store.journal_stored(self.pushed).await?;
        }
        Ok(())
    }
}

impl super::Job for Backups {
    const NAME: &'static str = "backup";

    async fn look(&mut self, taken_over: bool) -> anyhow::Result<()> {
        if taken_over {
            self.read_repository().await?;
        }
        let now = time::OffsetDateTime::now_utc();
        if now.hour() >= self.hour && self.last_day != Some(now.date()) {
            let r = custodian_backup::run(&self.settings, &self.database_url).await?;
            tracing::info!(snapshot = %r.snapshot.id, uploaded = r.uploaded_bytes, "backup: done");
            self.last_day = Some(now.date());
            self.pushed = r.journal_position;
        } else if custodian_backup::journal_position(&self.database_url).await? > self.pushed {
            // Until this succeeds the erasures wait as `custodian_journal_unstored`;
            // a failed push is tried again after `retry_secs`.
            self.pushed = custodian_backup::push_journal(&self.settings, &self.database_url).await?;
        } else {
            return Ok(());
        }
        Ok(self.store.journal_stored(self.pushed).await?)
    }

    fn interval(&self) -> Duration {
        self.interval
    }
}
