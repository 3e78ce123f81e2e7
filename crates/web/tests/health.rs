//! The probes and the pages while the database is out of reach. On
//! PostgreSQL the server reaches the database through a relay on loopback
//! that the test can turn into
//!
//! - a black hole (connections taken, nothing answered: a network that
//!   swallows packets): `/healthz` and `/readyz` still answer, 503, within a
//!   second, on a timeout of their own;
//! - a closed port (the database server stopped): a signed-in page answers a
//!   503 page that says to try again, the API a 503 JSON error, both with
//!   `Retry-After`, within the pool's wait for a connection, never a hang.
//!
//! An embedded SQLite file cannot go out of reach this way; there the probes'
//! answers while all is well are checked.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Server;
use custodian_testkit::databases;
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    BlackHole,
    Closed,
}

/// A TCP relay to `upstream` whose behaviour the test sets.
struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watching) = watch::channel(Mode::Pass);
        let mut closing = watching.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { return };
                        tokio::spawn(relay(client, upstream, watching.clone()));
                    }
                    // The port closes: new connections are refused.
                    _ = closing.wait_for(|m| *m == Mode::Closed) => return,
                }
            }
        });
        Relay { addr, mode }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    if *mode.borrow() == Mode::Pass
        && let Ok(mut server) = TcpStream::connect(upstream).await
    {
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = mode.wait_for(|m| *m != Mode::Pass) => {}
        }
    }
    if *mode.borrow() == Mode::Closed {
        return;
    }
    // A black hole: whatever comes is swallowed, nothing is answered, until
    // the port closes.
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            read = client.read(&mut sink) => if matches!(read, Ok(0) | Err(_)) { return },
            _ = mode.wait_for(|m| *m == Mode::Closed) => return,
        }
    }
}

async fn timed(client: &common::Client, path: &str) -> (common::Page, Duration) {
    let started = Instant::now();
    let page = client.get(path).await;
    (page, started.elapsed())
}

#[tokio::test]
async fn probes_and_pages_answer_503_in_time_when_the_database_is_out_of_reach() {
    for db in databases().await {
        let engine = db.name();
        if db.postgres_database().is_none() {
            // SQLite: the probes while all is well.
            let server = Server::start(&db).await;
            let (health, _) = timed(&server.client(), "/healthz").await;
            assert_eq!((health.status, health.body.as_str()), (StatusCode::OK, "ok"), "{engine}");
            let (ready, _) = timed(&server.client(), "/readyz").await;
            assert_eq!(ready.status, StatusCode::OK, "{engine}");
            assert!(
                ready.body.contains("database: ok") && ready.body.contains("migrations: applied"),
                "{}",
                ready.body
            );
            server.stop().await;
            db.finish().await;
            continue;
        }
        // postgres://[user[:password]@]host:port/database
        let after_scheme = db.url.split_once("://").map(|(_, rest)| rest).unwrap();
        let authority = after_scheme.split('/').next().unwrap();
        let host_port = authority.rsplit('@').next().unwrap();
        let upstream_addr: SocketAddr = tokio::net::lookup_host(host_port).await.unwrap().next().unwrap();
        let relay = Relay::start(upstream_addr).await;
        let url = db.url.replacen(host_port, &relay.addr.to_string(), 1);
        let store = custodian_store::Store::open(&url, 4, db.key.clone()).await.unwrap();
        let config = custodian_web::WebConfig { attempts_per_minute: 10_000, read_cache: false, ..Default::default() };
        let server = Server::start_on(store, config);
        let (_, portal) = server.customer(1).await;
        let scopes = [custodian_store::Scope::CustomersRead];
        let role = custodian_domain::inventory::Role::Owner;
        let token = server.store.create_api_token(&common::operator(), "monitor", role, &scopes, None).await.unwrap();
        let token = token.1.to_string();
        assert_eq!(timed(&server.client(), "/healthz").await.0.status, StatusCode::OK, "{engine}");
        assert_eq!(portal.get("/portal").await.status, StatusCode::OK, "{engine}");

        // The network swallows everything: the probes answer on their own time.
        relay.set(Mode::BlackHole);
        for path in ["/healthz", "/readyz"] {
            let (probe, took) = timed(&server.client(), path).await;
            assert_eq!(probe.status, StatusCode::SERVICE_UNAVAILABLE, "{engine}: {path}: {}", probe.body);
            assert!(took < Duration::from_millis(1500), "{engine}: {path} took {took:?}");
            assert!(probe.headers.contains_key("retry-after"), "{engine}: {path}");
        }
        let (ready, _) = timed(&server.client(), "/readyz").await;
        assert!(ready.body.contains("database: unreachable"), "{engine}: {}", ready.body);

        // The database server is gone: pages and the API say so, in time.
        relay.set(Mode::Closed);
        let started = Instant::now();
        let page = portal.get("/portal").await;
        let took = started.elapsed();
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{engine}: {}", page.body);
        assert!(
            page.body.contains("Even niet bereikbaar") && page.headers.contains_key("retry-after"),
            "{}",
            page.body
        );
        assert!(took < Duration::from_secs(8), "{engine}: the page took {took:?}");
        let answer = server.client().api("GET", "/api/v1/customers/1?purpose=support", Some(&token), None).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{engine}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "unavailable", "{engine}: {}", answer.body);
        server.stop().await;
        db.finish().await;
    }
}

/// Erasures the backup repository lacks are on the owner's home page (not on
/// staff's) and in `/metrics`, until the journal reaches the repository; the
/// scheduled jobs' runs are in `/metrics` as the database records them.
#[tokio::test]
async fn the_owner_and_the_metrics_see_erasures_the_backup_lacks_and_how_the_jobs_ran() {
    use custodian_domain::inventory::Role;
    use custodian_store::ErasureReason;
    for db in databases().await {
        let engine = db.name();
        let server = Server::start(&db).await;
        let owner = server.owner().await;
        let staff = server.staff(Role::Staff, "medewerker@hoster.nl").await;
        let store = &server.store;
        let ids = store.create_customers(&common::operator(), &[1, 2].map(custodian_testkit::customer)).await.unwrap();
        let warning = "Wissingen nog niet in de back-up";
        store.erase_customer(&common::operator(), ids[0], ErasureReason::CustomerRequest).await.unwrap();
        assert!(!owner.get("/staff").await.body.contains(warning), "{engine}: no backup yet, nothing to warn of");

        // A backup holds the journal up to before the erasure.
        store.journal_stored(0).await.unwrap();
        let home = owner.get("/staff").await;
        assert!(home.body.contains(warning) && home.body.contains("<p>1 wissing(en)"), "{engine}: {}", home.body);
        assert!(!staff.get("/staff").await.body.contains(warning), "{engine}: staff do not see it");
        let metrics = server.client().get("/metrics").await.body;
        assert!(metrics.contains("\ncustodian_journal_unstored 1\n"), "{engine}: {metrics}");

        store.lead_job("backup", "host/1/a", Duration::from_secs(60)).await.unwrap();
        assert!(store.job_started("backup", "host/1/a").await.unwrap());
        let metrics = server.client().get("/metrics").await.body;
        assert!(metrics.contains("\ncustodian_job_running{job=\"backup\"} 1\n"), "{engine}: {metrics}");
        assert!(!metrics.contains("custodian_job_last_success_seconds{"), "{engine}: {metrics}");
        let pushed = store.erasure_journal(0).await.unwrap().last().unwrap().seq;
        store.journal_stored(pushed).await.unwrap();
        store.job_ended("backup", "host/1/a", true).await.unwrap();

        assert!(!owner.get("/staff").await.body.contains(warning), "{engine}: the repository has it now");
        let metrics = server.client().get("/metrics").await.body;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        for expected in [
            "custodian_journal_unstored 0",
            "custodian_job_runs_total{job=\"backup\"} 1",
            "custodian_job_running{job=\"backup\"} 0",
        ] {
            assert!(metrics.lines().any(|l| l == expected), "{engine}: {expected} in {metrics}");
        }
        let finished: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("custodian_job_last_success_seconds{job=\"backup\"} "))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{engine}: no success time in {metrics}"));
        assert!(finished.abs_diff(now) < 60, "{engine}: {finished} is not now ({now})");
        server.stop().await;
        db.finish().await;
    }
}
