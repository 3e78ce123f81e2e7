//! The retention job: at every look it carries out erasure requests that
//! nothing blocks any more, makes the scheduled run on its day (or as soon as
//! it is back when it was down that day), and once a day queues the notice
//! e-mails of coming erasures. Each look also deletes ended sessions, used or
//! expired one-time codes and stale failure counters.

use std::time::Duration;

use custodian_domain::Lang;
use custodian_domain::retention::RetentionPolicy;
use custodian_notify::{EmailConsent, EmailMessage, Notifier, PersonName};
use custodian_store::{Access, AccessPurpose, Actor, Store};
use time::Date;

fn job() -> Access {
    Access::new(Actor::job("retention"), AccessPurpose::Retention)
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

pub(crate) struct Retention {
    pub store: Store,
    pub policy: RetentionPolicy,
    /// Notices go by e-mail only (A10): `None` without a mailer.
    pub notifier: Option<Notifier>,
    pub interval: Duration,
    /// The day this instance last queued notices.
    pub noticed_on: Option<Date>,
}

impl super::Job for Retention {
    const NAME: &'static str = "retention";

    async fn look(&mut self, _taken_over: bool) -> anyhow::Result<()> {
        // What another instance did is in the database: the run's day, the
        // notices recorded; nothing here needs reading again.
        tick(&self.store, &self.policy, self.notifier.as_ref(), today(), &mut self.noticed_on).await
    }

    fn interval(&self) -> Duration {
        self.interval
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
    let expired = store.delete_expired_credentials().await?;
    if expired > 0 {
        tracing::info!(deleted = expired, "expired sessions, codes and failure counters deleted");
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

#[cfg(test)]
mod tests {
    use super::*;
    use custodian_domain::model::{CustomerData, CustomerKind};
    use std::sync::Arc;
    use time::macros::date;

    async fn customer(store: &Store, n: u64, consent: bool, last_invoice: &str) -> i64 {
        let mut fields = custodian_testkit::customer_fields(n);
        fields.insert("email_consent".into(), if consent { "yes" } else { "no" }.into());
        let data = CustomerData::from_fields(CustomerKind::Business, &fields).unwrap();
        let owner = Access::new(Actor::operator(), AccessPurpose::Administration);
        let id = store.create_customer(&owner, &data, false).await.unwrap();
        let issued = custodian_domain::model::parse_date(last_invoice).unwrap();
        let invoice = custodian_store::NewInvoice {
            number: format!("T-{n}"),
            issued_on: issued,
            due_on: issued,
            delivery: custodian_domain::model::Delivery::Post,
            lines: vec![custodian_domain::model::InvoiceLine::parse("Pakket;1;995;21").unwrap()],
        };
        store.add_invoice(&owner, id, invoice).await.unwrap();
        store.mark_invoice_paid(&owner, &format!("T-{n}"), issued).await.unwrap();
        id
    }

    async fn status(store: &Store, id: i64) -> String {
        sqlx::query_scalar("SELECT status FROM customers WHERE id = $1").bind(id).fetch_one(store.pool()).await.unwrap()
    }

    #[tokio::test]
    async fn a_missed_sweep_is_made_up_and_notices_go_only_with_consent() {
        for db in custodian_testkit::databases().await {
            let store = db.store().await;
            let policy = RetentionPolicy::default();
            let branding = custodian_notify::Branding {
                company: "Voorbeeld Hosting".into(),
                portal_url: "https://portaal.voorbeeld.nl".into(),
            };
            let notifier = Notifier::new(store.clone(), branding, Arc::new(custodian_notify::SystemClock)).unwrap();
            let former = customer(&store, 1, true, "2024-06-01").await;
            let told = customer(&store, 2, true, "2025-06-01").await;
            let silent = customer(&store, 3, false, "2025-06-01").await;
            let mut noticed = None;

            // Scheduling began in November 2025: the notices of the sweep of
            // 4 January 2027 are due from 5 December 2026.
            store.retention_schedule_from(date!(2025 - 11 - 01)).await.unwrap();
            tick(&store, &policy, Some(&notifier), date!(2025 - 12 - 20), &mut noticed).await.unwrap();
            assert_eq!(status(&store, former).await, "active", "{}: not before the sweep", db.name());
            let outbox = |store: Store| async move {
                let rows: Vec<(Option<i64>, String, String)> =
                    sqlx::query_as("SELECT customer_id, kind, status FROM outbox ORDER BY id")
                        .fetch_all(store.pool())
                        .await
                        .unwrap();
                rows
            };
            let notice = |id, status: &str| (Some(id), "erasure_notice".to_string(), status.to_string());
            assert_eq!(outbox(store.clone()).await, [notice(former, "pending")], "{}: told before", db.name());
            // Down on 2 January 2026; back on the 6th: the sweep is made up.
            tick(&store, &policy, Some(&notifier), date!(2026 - 01 - 06), &mut noticed).await.unwrap();
            assert_eq!(status(&store, former).await, "erased", "{}", db.name());
            assert_eq!(outbox(store.clone()).await, [notice(former, "cancelled")], "{}", db.name());
            assert_eq!(store.retention_schedule().await.unwrap().last_run, Some(date!(2026 - 01 - 06)));
            let entries: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap();
            tick(&store, &policy, Some(&notifier), date!(2026 - 01 - 06), &mut noticed).await.unwrap();
            let after: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap();
            assert_eq!(after, entries, "{}: a second look that day does nothing", db.name());

            tick(&store, &policy, Some(&notifier), date!(2026 - 12 - 05), &mut noticed).await.unwrap();
            let expected = [notice(former, "cancelled"), notice(told, "pending")];
            assert_eq!(outbox(store.clone()).await, expected, "{}", db.name());
            let recorded: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM retention_notices").fetch_one(store.pool()).await.unwrap();
            assert_eq!(recorded, 2, "{}: the customer without consent is passed over once", db.name());
            assert_eq!(status(&store, silent).await, "active");
            tick(&store, &policy, Some(&notifier), date!(2026 - 12 - 06), &mut noticed).await.unwrap();
            assert_eq!(outbox(store.clone()).await, expected, "{}: told once", db.name());
            store.close().await;
            db.finish().await;
        }
    }
}
