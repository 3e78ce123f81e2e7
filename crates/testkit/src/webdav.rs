//! A real WebDAV server on loopback for the backup tests: the `dav-server`
//! crate serving a temporary directory over HTTP/1.1, behind Basic auth, on a
//! runtime of its own (the backup code blocks threads of the test's runtime).

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use dav_server::DavHandler;
use dav_server::fakels::FakeLs;
use dav_server::localfs::LocalFs;

pub const USER: &str = "custodian";

pub struct WebDavServer {
    pub endpoint: String,
    pub password: String,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Dav {
    handler: DavHandler,
    authorization: String,
}

impl WebDavServer {
    /// Serves a fresh temporary directory on a free loopback port; every
    /// request must carry user [`USER`] and [`WebDavServer::password`].
    pub fn start() -> WebDavServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let password = format!("dav-{:016x}", rand::random::<u64>());
        let dav = Dav {
            handler: DavHandler::builder()
                .filesystem(LocalFs::new(dir.path(), false, false, false))
                .locksystem(FakeLs::new())
                .build_handler(),
            authorization: format!("Basic {}", BASE64_STANDARD.encode(format!("{USER}:{password}"))),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        listener.set_nonblocking(true).expect("non-blocking listener");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = axum::Router::new().fallback(serve).with_state(dav);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("WebDAV server");
            });
        });
        WebDavServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            password,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The directory the server stores into.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// OpenDAL WebDAV options for a repository under `root` on this server.
    pub fn options(&self, root: &str) -> BTreeMap<String, String> {
        [("endpoint", self.endpoint.as_str()), ("username", USER), ("password", &self.password), ("root", root)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for WebDavServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(State(dav): State<Dav>, request: Request) -> Response {
    let authorized = request.headers().get(header::AUTHORIZATION).is_some_and(|v| v == dav.authorization.as_str());
    if !authorized {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"backups\"")]).into_response();
    }
    dav.handler.handle(request).await.map(axum::body::Body::new)
}
