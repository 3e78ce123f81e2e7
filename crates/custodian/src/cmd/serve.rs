//! `custodian serve`: the web server with the workers and jobs that run
//! beside it (messages, registry operations, retention, backups).

use std::time::Duration;

use anyhow::Context;

use super::shared::{backup_settings, open};
use crate::config::Config;

/// Opens the store, offers the owner setup link when nobody can log in yet, and
/// serves until Ctrl-C or SIGTERM.
pub(crate) async fn run(config: &Config, listen: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let store = open(config).await?;
    let addr = listen.unwrap_or(config.listen);
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    // Unless it was set, the public URL follows the address actually bound.
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    let public_url = if config.public_url == format!("{scheme}://{}", config.listen) {
        format!("{scheme}://{bound}")
    } else {
        config.public_url.clone()
    };
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(custodian_web::TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    // Messages: queued by the web pages, sent by the worker, both only when a
    // channel is configured.
    let clock: std::sync::Arc<dyn custodian_notify::Clock> = std::sync::Arc::new(custodian_notify::SystemClock);
    let mailer = config.smtp.as_ref().map(custodian_notify::Mailer::new).transpose()?;
    let mailer_configured = mailer.is_some();
    let sms = config.sms.as_ref().map(custodian_notify::SmsGateway::new).transpose()?;
    let notifier = if mailer.is_some() || sms.is_some() {
        let branding =
            custodian_notify::Branding { company: config.company_name.clone(), portal_url: public_url.clone() };
        Some(custodian_notify::Notifier::new(store.clone(), branding, clock.clone())?)
    } else {
        None
    };
    // One set of registry sessions for the worker and the pages.
    let registry = if config.registries.0.is_empty() {
        None
    } else {
        let worker =
            custodian_registry::Worker::new(store.clone(), &config.registries, config.registry_worker.clone())?;
        Some(std::sync::Arc::new(worker))
    };
    let web = custodian_web::WebConfig {
        public_url: public_url.clone(),
        tls: tls.is_some() || config.behind_tls_proxy,
        trusted_proxy: config.trusted_proxy,
        company: config.company_name.clone(),
        contact: config.company.clone(),
        invoicing: config.invoicing.clone(),
        attempts_per_minute: config.login_attempts_per_minute,
        sms: sms.is_some(),
        email: mailer_configured,
        notifier: notifier.clone(),
        retention: config.retention.clone(),
        registry: registry.clone(),
        read_cache: config.read_cache,
        limits: config.http,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if mailer.is_some() || sms.is_some() {
        let worker = custodian_notify::Worker::new(store.clone(), config.outbox.clone(), clock, mailer, sms)?;
        let mut stopped = stopped.clone();
        Some(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.changed().await;
                })
                .await
        }))
    } else {
        None
    };
    // Registry operations: sent by their worker when a registry is configured.
    let registry_worker = registry.clone().map(|worker| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.changed().await;
                })
                .await
        })
    });
    // The scheduled jobs, each run by one instance of those on this database.
    let holder = crate::jobs::holder();
    let retention = crate::jobs::retention::Retention {
        store: store.clone(),
        policy: config.retention.clone(),
        notifier: notifier.filter(|_| mailer_configured),
        interval: Duration::from_secs(config.jobs.retention_interval_secs),
        noticed_on: None,
    };
    let retention =
        tokio::spawn(crate::jobs::lead(store.clone(), config.jobs, holder.clone(), retention, stopped.clone()));
    let backups = match config.backup.service.is_some().then(|| backup_settings(config)).transpose()? {
        Some(settings) => {
            let job = crate::jobs::backup::Backups {
                store: store.clone(),
                settings,
                database_url: config.database_url.clone(),
                hour: config.backup.hour,
                interval: Duration::from_secs(config.jobs.backup_interval_secs),
                last_day: None,
                pushed: 0,
            };
            Some(tokio::spawn(crate::jobs::lead(store.clone(), config.jobs, holder, job, stopped.clone())))
        }
        None => None,
    };
    // The stop signal is taken from here on: a service manager that stops the
    // server as soon as it says it listens gets a clean shutdown.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    println!("custodian listening on {bound} ({}), database {}", public_url, store.engine().name());
    if store.needs_setup().await? {
        let code = store.issue_setup_code().await?;
        println!(
            "No owner account yet. Create it within 24 hours, once, at:\n  {public_url}/setup?code={}",
            code.as_str()
        );
    }
    let shutdown = async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    };
    custodian_web::serve(listener, tls, store, web, shutdown).await?;
    if let Some(w) = worker {
        let _ = w.await;
    }
    if let Some(w) = registry_worker {
        let _ = w.await;
    }
    let _ = retention.await;
    if let Some(b) = backups {
        let _ = b.await;
    }
    drop(stopped);
    Ok(())
}
