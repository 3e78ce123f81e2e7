//! The mixed scenario: customers visiting the portal as people do, while the
//! owner views customers in the back-office (every view commits an audit
//! entry).
//!
//! A visit is six requests on one keep-alive connection: the login form, the
//! login (argon2id), the dashboard, a change to the customer's own details,
//! the access log, and logging out. Each visitor goes through the customers
//! given to it in turn, so a dashboard is rarely one the read cache holds.
//! A wrong answer or error ends that visit (the next steps depend on it).
//! Visits run back to back, or paced to a rate for the soak.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};

use super::Customer;
use crate::http::{Connection, Expect, Load, Pacer, Probe, Tally, client, connected, hidden};
use crate::signin::{PASSWORD, session_cookie};

/// The requests of a visit, in order.
pub(crate) const STEPS: [&str; 6] =
    ["GET /login", "POST /login", "GET /portal", "POST /portal/edit", "GET /portal/access", "POST /logout"];

/// What a mixed phase measured: each step's load, the owner's staff views,
/// and the visits completed inside the window.
pub(crate) struct Mixed {
    pub steps: Vec<Load>,
    pub staff: Load,
    pub visits: u64,
    pub window: Duration,
}

impl Mixed {
    pub(crate) fn failures(&self) -> u64 {
        self.steps.iter().map(Load::failures).sum::<u64>() + self.staff.failures()
    }

    pub(crate) fn visits_per_sec(&self) -> f64 {
        self.visits as f64 / self.window.as_secs_f64()
    }
}

/// The owner's view of each customer, as the back-office sends it.
pub(crate) struct Staff {
    pub cookie: HeaderValue,
    pub csrf: String,
    pub purpose: String,
}

impl Staff {
    pub(crate) fn views(&self, customers: &[Customer]) -> Vec<Probe> {
        customers
            .iter()
            .map(|c| {
                let fields = [("csrf", self.csrf.as_str()), ("purpose", self.purpose.as_str())];
                let mut p = Probe::post_form(
                    &format!("/staff/customers/{}", c.id),
                    &fields,
                    Expect::OkWith(Bytes::from(c.company.clone())),
                );
                p.headers.push((header::COOKIE, self.cookie.clone()));
                p
            })
            .collect()
    }
}

/// How a phase runs.
pub(crate) struct Plan {
    pub visitors: usize,
    pub staff_connections: usize,
    pub warmup: Duration,
    pub window: Duration,
    /// Visits and staff views per second, over all visitors and over all
    /// staff connections; `None`: back to back.
    pub rate: Option<(f64, f64)>,
}

/// Runs the mixed scenario on the server at `addr`.
pub(crate) async fn run(
    addr: SocketAddr,
    customers: &Arc<[Customer]>,
    staff: &Staff,
    plan: &Plan,
) -> anyhow::Result<Mixed> {
    let from = Instant::now() + plan.warmup;
    let until = from + plan.window;
    let mut visitors = tokio::task::JoinSet::new();
    for v in 0..plan.visitors {
        let pace = plan.rate.map(|(r, _)| Duration::from_secs_f64(plan.visitors as f64 / r));
        visitors.spawn(visitor(addr, customers.clone(), v, plan.visitors, pace, from, until));
    }
    let views: Arc<[Probe]> = staff.views(customers).into();
    let mut staffers = tokio::task::JoinSet::new();
    let pace = plan.rate.map(|(_, r)| Duration::from_secs_f64(plan.staff_connections as f64 / r));
    for _ in 0..plan.staff_connections {
        staffers.spawn(client(addr, views.clone(), pace, from, until));
    }
    let mut steps: Vec<Tally> = STEPS.iter().map(|_| Tally::default()).collect();
    let mut visits = 0;
    while let Some(done) = visitors.join_next().await {
        let (tallies, completed) = done.context("a visitor panicked")?;
        visits += completed;
        for (all, t) in steps.iter_mut().zip(tallies) {
            all.absorb(t);
        }
    }
    let mut staff_tally = Tally::default();
    while let Some(done) = staffers.join_next().await {
        staff_tally.absorb(done.context("a staff client panicked")?);
    }
    Ok(Mixed {
        steps: steps.into_iter().map(|t| t.into_load(plan.window)).collect(),
        staff: staff_tally.into_load(plan.window),
        visits,
        window: plan.window,
    })
}

/// One visitor: visits customers `first`, `first + stride`, ... in turn until
/// the window closes; returns each step's tally and the visits completed
/// inside the window.
async fn visitor(
    addr: SocketAddr,
    customers: Arc<[Customer]>,
    first: usize,
    stride: usize,
    pace: Option<Duration>,
    from: Instant,
    until: Instant,
) -> (Vec<Tally>, u64) {
    let mut tallies: Vec<Tally> = STEPS.iter().map(|_| Tally::default()).collect();
    let mut completed = 0;
    let mut conn: Option<Connection> = None;
    let mut pacer = Pacer::new(pace, until);
    for (n, customer) in customers.iter().skip(first).step_by(stride.max(1)).cycle().enumerate() {
        if !pacer.turn().await {
            break;
        }
        let Some(c) = connected(&mut conn, addr, &mut tallies[0]).await else { continue };
        let started = Instant::now();
        match visit(c, customer, n, &mut tallies, from, until).await {
            Ok(()) if started >= from && Instant::now() <= until => completed += 1,
            Ok(()) => {}
            Err(Broken) => conn = None,
        }
    }
    (tallies, completed)
}

/// The connection failed and must be replaced.
struct Broken;

/// One visit. A wrong answer ends it; a transport error also drops the connection.
async fn visit(
    conn: &mut Connection,
    customer: &Customer,
    n: usize,
    tallies: &mut [Tally],
    from: Instant,
    until: Instant,
) -> Result<(), Broken> {
    let mut step = Step { conn, tallies, from, until };
    let Some(form) = step.send(0, Probe::get("/login")).await? else { return Ok(()) };
    let Some(csrf) = hidden(&form, "csrf") else { return Ok(()) };
    let fields = [("csrf", csrf.as_str()), ("login", customer.login.as_str()), ("password", PASSWORD)];
    let login = Probe::post_form("/login", &fields, Expect::SeeOther("/portal"));
    let Some((_, session)) = step.send_keeping_headers(1, login).await? else { return Ok(()) };
    let Some(session) = session_cookie(&session) else {
        step.tallies[1].note(|| "the login set no session cookie".into());
        return Ok(());
    };
    let mut dashboard = Probe::get("/portal");
    dashboard.expect = Expect::OkWith(Bytes::from(customer.marker.clone()));
    let Some(page) = step.send(2, signed(dashboard, &session)).await? else { return Ok(()) };
    let Some(csrf) = hidden(&page, "csrf") else {
        step.tallies[2].note(|| "no csrf field on the dashboard".into());
        return Ok(());
    };
    let department = format!("Afdeling {}", n % 7 + 1);
    let fields = [("csrf", csrf.as_str()), ("department", department.as_str())];
    let edit = Probe::post_form("/portal/edit", &fields, Expect::SeeOther("/portal"));
    if step.send(3, signed(edit, &session)).await?.is_none() {
        return Ok(());
    }
    if step.send(4, signed(Probe::get("/portal/access"), &session)).await?.is_none() {
        return Ok(());
    }
    let logout = Probe::post_form("/logout", &[("csrf", csrf.as_str())], Expect::Ok);
    step.send(5, signed(logout, &session)).await?;
    Ok(())
}

fn signed(mut probe: Probe, session: &HeaderValue) -> Probe {
    probe.headers.push((header::COOKIE, session.clone()));
    probe
}

/// Sends the steps of one visit and counts each in its own tally.
struct Step<'a> {
    conn: &'a mut Connection,
    tallies: &'a mut [Tally],
    from: Instant,
    until: Instant,
}

impl Step<'_> {
    /// The body of a correct answer; `None` after a wrong one.
    async fn send(&mut self, i: usize, probe: Probe) -> Result<Option<Bytes>, Broken> {
        Ok(self.send_keeping_headers(i, probe).await?.map(|(body, _)| body))
    }

    async fn send_keeping_headers(
        &mut self,
        i: usize,
        probe: Probe,
    ) -> Result<Option<(Bytes, hyper::HeaderMap)>, Broken> {
        let t = &mut self.tallies[i];
        let sent = Instant::now();
        match self.conn.send(&probe).await {
            Ok(answer) if probe.accepts(&answer) => {
                let received = Instant::now();
                t.answered += 1;
                if sent >= self.from && received <= self.until {
                    t.latencies.push(received - sent);
                }
                Ok(Some((answer.body, answer.headers)))
            }
            Ok(answer) => {
                t.wrong += 1;
                t.note(|| format!("{}: {}", STEPS[i], answer.describe()));
                Ok(None)
            }
            Err(e) => {
                t.errors += 1;
                t.note(|| format!("{}: {e:#}", STEPS[i]));
                Err(Broken)
            }
        }
    }
}
