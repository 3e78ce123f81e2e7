//! The load generator and the server under test, shared by the targets that
//! drive the real `custodian serve` over HTTP: plain HTTP/1.1 keep-alive
//! connections on loopback (hyper, no pooling), so each connection is one client.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::import::{clean_command, peak_rss};
use crate::report::{Stats, ms, per_sec, thousands};

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub window: Duration,
}

pub(crate) type Body = Full<Bytes>;

fn uri(path: &str) -> hyper::Uri {
    path.parse().unwrap_or_else(|e| panic!("the bench's own path {path:?} is not a URI: {e}"))
}

/// What one phase sends, and what counts as a correct answer.
#[derive(Clone)]
pub(crate) struct Probe {
    pub(crate) method: Method,
    pub(crate) uri: hyper::Uri,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    pub(crate) expect: Expect,
}

#[derive(Clone)]
pub(crate) enum Expect {
    Ok,
    /// 200 and a body holding these bytes.
    OkWith(Bytes),
    /// 303 to this location.
    SeeOther(&'static str),
}

impl Probe {
    /// `path` is one of the bench's own: a malformed one is a bug here.
    pub(crate) fn get(path: &str) -> Probe {
        Probe { method: Method::GET, uri: uri(path), headers: vec![], body: Bytes::new(), expect: Expect::Ok }
    }

    /// A form posted from one of our own pages, as a browser sends it.
    pub(crate) fn post_form(path: &str, fields: &[(&str, &str)], expect: Expect) -> Probe {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        Probe {
            method: Method::POST,
            uri: uri(path),
            headers: vec![
                (header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded")),
                (HeaderName::from_static("sec-fetch-site"), HeaderValue::from_static("same-origin")),
            ],
            body: Bytes::from(body),
            expect,
        }
    }

    pub(crate) fn request(&self, host: &HeaderValue) -> Request<Body> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        h.insert(header::HOST, host.clone());
        for (name, value) in &self.headers {
            h.insert(name.clone(), value.clone());
        }
        req
    }

    pub(crate) fn accepts(&self, a: &Answer) -> bool {
        match &self.expect {
            Expect::Ok => a.status == StatusCode::OK,
            Expect::OkWith(marker) => a.status == StatusCode::OK && memchr::memmem::find(&a.body, marker).is_some(),
            Expect::SeeOther(to) => {
                a.status == StatusCode::SEE_OTHER && a.headers.get(header::LOCATION).is_some_and(|l| l == to)
            }
        }
    }
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let location = self.headers.get(header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("");
        format!("{} {location} {}", self.status, body.chars().take(300).collect::<String>())
    }
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Connection {
    pub(crate) sender: SendRequest<Body>,
    pub(crate) host: HeaderValue,
}

impl Connection {
    pub(crate) async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, host: HeaderValue::from_str(&addr.to_string())? })
    }

    pub(crate) async fn send(&mut self, probe: &Probe) -> anyhow::Result<Answer> {
        self.sender.ready().await?;
        let (parts, body) = self.sender.send_request(probe.request(&self.host)).await?.into_parts();
        Ok(Answer { status: parts.status, headers: parts.headers, body: body.collect().await?.to_bytes() })
    }
}

/// What one phase measured.
pub(crate) struct Load {
    /// Correct answers over the whole phase, warm-up included.
    pub(crate) answered: u64,
    pub(crate) stats: Stats,
    pub(crate) window: Duration,
    pub(crate) wrong: u64,
    pub(crate) errors: u64,
    /// The first wrong answer or error, to say what went wrong.
    pub(crate) problem: Option<String>,
}

impl Load {
    pub(crate) fn rate(&self) -> f64 {
        self.stats.count as f64 / self.window.as_secs_f64()
    }

    /// answers/s, p50, p99, max, wrong, errors: a row of a table.
    pub(crate) fn cells(&self) -> [String; 6] {
        [
            per_sec(self.rate()),
            ms(self.stats.p50),
            ms(self.stats.p99),
            ms(self.stats.max),
            thousands(self.wrong),
            thousands(self.errors),
        ]
    }

    pub(crate) fn failures(&self) -> u64 {
        self.wrong + self.errors
    }
}

#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) latencies: Vec<Duration>,
    /// Correct answers over the whole phase, warm-up included.
    pub(crate) answered: u64,
    pub(crate) wrong: u64,
    pub(crate) errors: u64,
    pub(crate) problem: Option<String>,
}

impl Tally {
    pub(crate) fn note(&mut self, problem: impl FnOnce() -> String) {
        if self.problem.is_none() {
            self.problem = Some(problem());
        }
    }
}

/// When a client sends next: back to back, or one every `pace`, until the
/// window closes.
pub(crate) struct Pacer {
    pace: Option<Duration>,
    next: Instant,
    until: Instant,
}

impl Pacer {
    pub(crate) fn new(pace: Option<Duration>, until: Instant) -> Pacer {
        Pacer { pace, next: Instant::now(), until }
    }

    /// Waits for the next turn; `false` once the window has closed.
    pub(crate) async fn turn(&mut self) -> bool {
        if let Some(pace) = self.pace {
            tokio::time::sleep_until(self.next.into()).await;
            self.next += pace;
        }
        Instant::now() < self.until
    }
}

/// The client's connection, opened when it has none; `None` when that failed
/// (counted in `t`, after a short pause).
pub(crate) async fn connected<'c>(
    conn: &'c mut Option<Connection>,
    addr: SocketAddr,
    t: &mut Tally,
) -> Option<&'c mut Connection> {
    if conn.is_none() {
        match Connection::open(addr).await {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                t.errors += 1;
                t.note(|| format!("connect: {e:#}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                return None;
            }
        }
    }
    conn.as_mut()
}

/// One client: sends the probes of `script` in turn, over and over, on one
/// connection (a new one after a transport error) until the window closes;
/// back to back, or one every `pace`.
pub(crate) async fn client(
    addr: SocketAddr,
    script: Arc<[Probe]>,
    pace: Option<Duration>,
    from: Instant,
    until: Instant,
) -> Tally {
    let mut t = Tally::default();
    let mut conn: Option<Connection> = None;
    let mut pacer = Pacer::new(pace, until);
    for probe in script.iter().cycle() {
        if !pacer.turn().await {
            break;
        }
        let Some(c) = connected(&mut conn, addr, &mut t).await else { continue };
        let sent = Instant::now();
        match c.send(probe).await {
            Ok(answer) => {
                let received = Instant::now();
                if !probe.accepts(&answer) {
                    t.wrong += 1;
                    t.note(|| answer.describe());
                } else {
                    t.answered += 1;
                    if sent >= from && received <= until {
                        t.latencies.push(received - sent);
                    }
                }
            }
            Err(e) => {
                t.errors += 1;
                t.note(|| format!("request: {e:#}"));
                conn = None;
            }
        }
    }
    t
}

impl Tally {
    /// Adds another client's tally to this one.
    pub(crate) fn absorb(&mut self, t: Tally) {
        self.latencies.extend(t.latencies);
        self.answered += t.answered;
        self.wrong += t.wrong;
        self.errors += t.errors;
        if let Some(p) = t.problem {
            self.note(|| p);
        }
    }

    pub(crate) fn into_load(mut self, window: Duration) -> Load {
        Load {
            answered: self.answered,
            stats: Stats::of(&mut self.latencies),
            window,
            wrong: self.wrong,
            errors: self.errors,
            problem: self.problem,
        }
    }
}

/// Drives `s.connections` clients; client i sends `probes[i % probes.len()]`.
pub(crate) async fn load(addr: SocketAddr, probes: &[Probe], s: &Settings) -> anyhow::Result<Load> {
    let scripts: Vec<Vec<Probe>> = probes.iter().map(|p| vec![p.clone()]).collect();
    load_scripts(addr, &scripts, s).await
}

/// Drives `s.connections` clients; client i sends the probes of
/// `scripts[i % scripts.len()]` in turn.
pub(crate) async fn load_scripts(addr: SocketAddr, scripts: &[Vec<Probe>], s: &Settings) -> anyhow::Result<Load> {
    let scripts: Vec<Arc<[Probe]>> = scripts.iter().map(|p| p.clone().into()).collect();
    let from = Instant::now() + s.warmup;
    let until = from + s.window;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..s.connections {
        set.spawn(client(addr, scripts[i % scripts.len()].clone(), None, from, until));
    }
    let mut all = Tally::default();
    while let Some(done) = set.join_next().await {
        all.absorb(done.context("a load client panicked")?);
    }
    Ok(all.into_load(s.window))
}

/// The `custodian serve` child process; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) stderr: Arc<Mutex<String>>,
    pub(crate) stdout: Arc<Mutex<String>>,
}

fn append(to: &Mutex<String>, line: &str) {
    let mut s = to.lock().unwrap_or_else(|e| e.into_inner());
    s.push_str(line);
    s.push('\n');
}

impl Server {
    /// Starts `bin serve` on the database at `url` with the master key `key_hex`.
    pub(crate) async fn start(
        bin: &Path,
        url: &str,
        key_hex: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        Server::start_under(&[], bin, url, key_hex, data_dir, env).await
    }

    /// As [`Server::start`], run by the program and arguments of `wrapper`
    /// (a profiler) when it is not empty.
    pub(crate) async fn start_under(
        wrapper: &[&str],
        bin: &Path,
        url: &str,
        key_hex: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = clean_command(Path::new(program));
                cmd.args(args).arg(bin);
                cmd
            }
            None => clean_command(bin),
        };
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CUSTODIAN_DATABASE_URL", url)
            .env("CUSTODIAN_MASTER_KEY", key_hex);
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let stderr_pipe = child.stderr.take().context("server stderr")?;
        // Both pipes are drained for the server's whole life, so it never blocks
        // on a full pipe; stderr is kept to explain a failure, stdout for what
        // the server offers at start (the owner setup link).
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                append(&kept, &line);
            }
        });
        let said = Arc::new(Mutex::new(String::new()));
        let kept = said.clone();
        let (bound, listening) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut bound = Some(bound);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                append(&kept, &line);
                if let Some(rest) = line.strip_prefix("custodian listening on ")
                    && let Some(tx) = bound.take()
                {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        });
        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stderr, stdout: said };
        // A profiler slows start-up (migrations, key derivation) fifty-fold.
        let patience = Duration::from_secs(if wrapper.is_empty() { 60 } else { 600 });
        match tokio::time::timeout(patience, listening).await {
            Ok(Ok(addr)) => server.addr = addr.parse().with_context(|| format!("server address {addr:?}"))?,
            _ => bail!("the server did not start:\n{}", server.stderr()),
        }
        Ok(server)
    }

    /// What the server printed on stdout so far.
    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// CPU time the server has used so far, user and system, all threads.
    pub(crate) fn cpu(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("unreadable /proc stat")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<u64> { Ok(fields.get(i).context("short /proc stat")?.parse()?) };
        // utime and stime are fields 14 and 15 of the whole line, 11 and 12 here,
        // in clock ticks of 1/100 s (USER_HZ on Linux).
        Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
    }

    pub(crate) fn peak_rss(&mut self) -> anyhow::Result<u64> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited with {status}:\n{}", self.stderr());
        }
        peak_rss(self.child.id()).context("reading the server's VmHWM")
    }

    /// The read cache's lookups so far, hits and misses, from `/metrics`
    /// (zero when the cache is off).
    pub(crate) async fn cache_lookups(&self) -> anyhow::Result<(u64, u64)> {
        let answer = Connection::open(self.addr).await?.send(&Probe::get("/metrics")).await?;
        let text = String::from_utf8_lossy(&answer.body);
        let count = |result: &str| {
            let name = format!("custodian_read_cache_lookups_total{{result=\"{result}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(name.as_str())).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
        };
        Ok((count("hit"), count("miss")))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the hidden form field `name` on a page.
pub(crate) fn hidden(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].replace("&#x2f;", "/").replace("&#x3d;", "="))
}

/// Sends `probe` once and insists on a correct answer, so a broken setup stops
/// the bench instead of showing up as a table full of errors.
pub(crate) async fn check_once(addr: SocketAddr, probe: &Probe) -> anyhow::Result<()> {
    let answer = Connection::open(addr).await?.send(probe).await?;
    if !probe.accepts(&answer) {
        bail!("{} {} is not answered as expected: {}", probe.method, probe.uri, answer.describe());
    }
    Ok(())
}
