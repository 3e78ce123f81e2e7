//! The retention jobs of `custodian serve`: every few minutes it carries out
//! erasure requests that nothing blocks any more, makes the scheduled run on
//! its day (or as soon as it is back when it was down that day), and once a
//! day queues the notice e-mails of coming erasures.

use std::time::Duration;

use custodian_domain::Lang;
use custodian_domain::retention::RetentionPolicy;
use custodian_notify::{EmailConsent, EmailMessage, Notifier, PersonName};
use custodian_store::{Access, AccessPurpose, Actor, Store};
use time::Date;

/// How often the scheduler looks.
const TICK: Duration = Duration::from_secs(300);

fn job() -> Access {
    Access::new(Actor::job("retention"), AccessPurpose::Retention)
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// Runs until `stopped` changes.
pub async fn run(
    store: Store,
    policy: RetentionPolicy,
    notifier: Option<Notifier>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut noticed_on: Option<Date> = None;
    loop {
        if let Err(e) = tick(&store, &policy, notifier.as_ref(), today(), &mut noticed_on).await {
            // Store errors name records by number only, never their content.
            tracing::warn!(error = %e, "retention: will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// One look at the schedule on `today`.
pub async fn tick(
    store: &Store,
    policy: &RetentionPolicy,
    notifier: Option<&Notifier>,
    today: Date,
    noticed_on: &mut Option<Date>,
) -> anyhow::Result<()> {
    let requests = store.carry_out_erasure_requests(&job(), policy, today).await?;
    if requests.erased_on_request > 0 {
        tracing::info!(erased = requests.erased_on_request, "retention: erasure requests carried out");
    }
    store.retention_schedule_from(today).await?;
    if let Some(owed) = policy.run_owed(today, store.retention_schedule().await?)? {
        tracing::info!(scheduled = %owed, "retention: run starts");
        let r = store.retention_run(&job(), policy, today).await?;
        tracing::info!(
            retention_expired = r.erased_retention_expired,
            on_request = r.erased_on_request,
            handles = r.handles_deleted,
            invoices = r.invoices_deleted,
            skipped = r.skipped,
            "retention: run done"
        );
    }
    if let Some(notifier) = notifier
        && *noticed_on != Some(today)
    {
        let sent = send_notices(store, policy, notifier, today).await?;
        if sent > 0 {
            tracing::info!(queued = sent, "retention: erasure notices queued");
        }
        *noticed_on = Some(today);
    }
    Ok(())
}

/// Queues the notice of a coming erasure to every customer due within the
/// notice period who agreed to e-mail (A9); the others are passed over (and
/// recorded, so their data is not read again every day). Returns how many went.
pub async fn send_notices(
    store: &Store,
    policy: &RetentionPolicy,
    notifier: &Notifier,
    today: Date,
) -> anyhow::Result<u64> {
    let mut sent = 0;
    for (id, on) in store.retention_notices_due(policy, today).await? {
        let record = store.read_customer(&job(), id).await?;
        let field = |name: &str| record.fields.get(name).map(String::as_str);
        let email = field("email").and_then(|e| custodian_domain::validate::Email::parse(e).ok());
        if let (Some("yes"), Some(email)) = (field("email_consent"), email) {
            let name = field("contact_name").and_then(|n| PersonName::parse(n).ok());
            let lang = field("language").and_then(Lang::parse).unwrap_or_default();
            let message = EmailMessage::ErasureNotice { name, on };
            notifier.email(&job(), &email, EmailConsent::Given, Some(id), lang, &message).await?;
            sent += 1;
        }
        store.record_retention_notice(id, on).await?;
    }
    Ok(sent)
}
