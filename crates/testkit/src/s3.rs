//! A real S3-compatible server on loopback for the backup tests: moto's
//! `moto_server` (PyPI `moto[server]`, installed by `scripts/test`). A test that
//! needs it fails, naming the install step, when it is missing.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct S3Server {
    child: Child,
    pub endpoint: String,
    port: u16,
}

impl S3Server {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub async fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]'"));
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}"), port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start listening within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// Creates `bucket` (moto accepts the unsigned request).
    pub async fn create_bucket(&self, bucket: &str) {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect to moto_server");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        s.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket: {}", answer.lines().next().unwrap_or(""));
    }

    /// OpenDAL S3 options for `bucket` on this server.
    pub fn options(&self, bucket: &str) -> BTreeMap<String, String> {
        [
            ("bucket", bucket),
            ("endpoint", &self.endpoint),
            ("region", "us-east-1"),
            ("access_key_id", "testing"),
            ("secret_access_key", "testing"),
            ("disable_config_load", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
