//! The edges of the server over real sockets: timeouts, the connection limit,
//! and which host and origin it answers.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use custodian_web::{Limits, WebConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far beyond anything the tests configure: only a server that never acts
/// runs into it.
const PATIENCE: Duration = Duration::from_secs(60);

async fn start(limits: Limits) -> (custodian_testkit::TestDb, Server) {
    let db = custodian_testkit::sqlite();
    let server = Server::start_with(&db, WebConfig { limits, ..Default::default() }).await;
    (db, server)
}

fn authority(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(authority(server)).await.unwrap()
}

/// Reads until the end of a response head; `None` when the connection closed first.
async fn response_head(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// Waits until the server closes `stream`, reading (and discarding) whatever it sends.
async fn closed(stream: &mut tokio::net::tcp::ReadHalf<'_>) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn get(server: &Server, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", authority(server))
}

#[tokio::test]
async fn a_client_sending_its_head_a_byte_at_a_time_is_cut_off() {
    let limits = Limits { header_read_timeout_secs: 1, idle_timeout_secs: 3600, ..Default::default() };
    let (_db, server) = start(limits).await;
    // A whole request at once is answered.
    let mut normal = connect(&server).await;
    normal.write_all(get(&server, "/healthz").as_bytes()).await.unwrap();
    let head = response_head(&mut normal).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(normal);

    // A head that never ends, one byte every 50 ms: bytes keep moving, so only
    // the header timeout can end it.
    let mut slow = connect(&server).await;
    let (mut read, mut write) = slow.split();
    let trickle = async {
        let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Padding: ", authority(&server));
        for byte in head.bytes().chain(std::iter::repeat(b'a')) {
            if write.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let started = Instant::now();
    tokio::select! {
        _ = closed(&mut read) => {}
        _ = trickle => {}
        _ = tokio::time::sleep(PATIENCE) => panic!("the slow client was still connected after {PATIENCE:?}"),
    }
    // Not a measurement, only a sanity bound: well past one second, well before the patience.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    drop(slow);
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let limits = Limits { header_read_timeout_secs: 300, idle_timeout_secs: 1, ..Default::default() };
    let (_db, server) = start(limits).await;
    let mut silent = connect(&server).await;
    let (mut read, _write) = silent.split();
    tokio::time::timeout(PATIENCE, closed(&mut read)).await.expect("the idle connection is closed");
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_place() {
    let limits =
        Limits { max_connections: 2, header_read_timeout_secs: 300, idle_timeout_secs: 300, ..Default::default() };
    let (_db, server) = start(limits).await;
    // Two kept-alive connections, each answered once and then held open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&server).await;
        c.write_all(get(&server, "/healthz").as_bytes()).await.unwrap();
        let head = response_head(&mut c).await.expect("an answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(c);
    }
    // A third gets no answer while both are held...
    let mut third = connect(&server).await;
    third.write_all(get(&server, "/healthz").as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut byte)).await;
    assert!(early.is_err(), "the third connection was served while two were held: {early:?}");
    // ...and is answered once one of them closes.
    drop(held.remove(0));
    let head = tokio::time::timeout(PATIENCE, response_head(&mut third)).await.expect("served in time");
    let head = head.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The held one still works.
    held[0].write_all(get(&server, "/healthz").as_bytes()).await.unwrap();
    let head = response_head(&mut held[0]).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop((held, third));
    server.stop().await;
}

/// A whole exchange on a connection of its own: the status line and the body.
async fn exchange(server: &Server, request: &str) -> (String, String) {
    let mut c = connect(server).await;
    c.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, c.read_to_end(&mut got)).await.expect("answered in time").unwrap();
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text.lines().next().unwrap_or("").to_string();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn only_the_public_host_is_answered() {
    let (_db, server) = start(Limits::default()).await;
    let ask = |host: &str| format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let (status, _) = exchange(&server, &ask(&authority(&server))).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let port = authority(&server).rsplit_once(':').unwrap().1.to_string();
    for host in
        ["evil.example".to_string(), format!("evil.example:{port}"), format!("127.0.0.1.nip.io:{port}"), "".into()]
    {
        let (status, body) = exchange(&server, &ask(&host)).await;
        assert!(status.contains(" 421 "), "{host:?}: {status}");
        assert_eq!(body, "Misdirected Request\n", "{host:?}");
    }
    // No Host at all (HTTP/1.0).
    let (status, _) = exchange(&server, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(status.contains(" 421 "), "{status}");
    // A client on loopback may name a loopback address (monitoring does).
    let (status, _) = exchange(&server, &ask("localhost")).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn forms_are_taken_only_from_the_public_origin() {
    let db = custodian_testkit::sqlite();
    let server = Server::start(&db).await;
    let page = server.client().get("/login").await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |headers: &[(&str, String)]| {
        let mut req = http.post(format!("{}/login", server.url)).form(&[
            ("csrf", page.csrf()),
            ("login", "iemand@voorbeeld.nl".into()),
            ("password", "niet het wachtwoord".into()),
        ]);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        async move { req.send().await.unwrap().status() }
    };
    let ours = server.url.clone();
    let evil = "https://evil.example".to_string();
    for refused in [
        vec![("origin", evil.clone())],
        vec![("referer", format!("{evil}/login"))],
        vec![("origin", "null".into())],
        vec![("origin", ours.replace("127.0.0.1", "localhost"))],
        vec![("sec-fetch-site", "cross-site".into()), ("origin", ours.clone())],
        vec![("sec-fetch-site", "same-origin".into()), ("origin", evil.clone())],
    ] {
        assert_eq!(post(&refused).await, reqwest::StatusCode::FORBIDDEN, "{refused:?}");
    }
    for accepted in [
        vec![("origin", ours.clone())],
        vec![("referer", format!("{ours}/login"))],
        // Browsers under `Referrer-Policy: no-referrer` send `Origin: null`
        // with our own forms, and say where the form came from.
        vec![("sec-fetch-site", "same-origin".into()), ("origin", "null".into())],
        vec![("sec-fetch-site", "same-origin".into()), ("origin", ours.clone())],
    ] {
        let status = post(&accepted).await;
        assert!(status != reqwest::StatusCode::FORBIDDEN && status.as_u16() != 421, "{accepted:?}: {status}");
    }
    server.stop().await;
}
