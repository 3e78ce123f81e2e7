//! The browser harness of the end-to-end tests: Debian's `chromium`, headless,
//! driven through `chromedriver` (WebDriver) on loopback, with the pages' network
//! requests read back from Chromium's performance log and the whole browser's
//! cookie jar through the DevTools protocol. Included by path from each browser
//! test, so the other tests do not link it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for chromedriver, a page or an element before failing.
pub const WAIT: Duration = Duration::from_secs(20);
/// Set to a directory to keep the screenshots the test takes.
pub const SCREENSHOTS_ENV: &str = "CUSTODIAN_BROWSER_SCREENSHOTS";

/// Fails (never skips) without Chromium and its driver.
pub fn require_chromium() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).is_file(),
            "chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver \
             ({path} from {package} is missing)"
        );
    }
}

/// A directory of our own under the system's temporary directory, removed on drop:
/// chromedriver's log, and per browser its profile, downloads and screenshots.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("custodian-browser-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// chromedriver on a free loopback port, in its own process group so that the
/// browsers it starts end with it, also when the test panics.
pub struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    pub async fn start(dir: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = Driver { child, url: format!("http://127.0.0.1:{port}"), log };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
                && let Ok(status) = r.json::<Value>().await
                && status["value"]["ready"] == json!(true)
            {
                return driver;
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!("chromedriver stopped ({exit}) before it was ready:\n{}", driver.log_tail());
            }
            assert!(Instant::now() < deadline, "chromedriver not ready after {WAIT:?}:\n{}", driver.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group is the one started above (process_group(0): its id is the child's).
        let group = format!("kill -KILL -{} 2>/dev/null", self.child.id());
        let _ = Command::new("sh").arg("-c").arg(group).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session on a fresh headless Chromium profile.
pub struct Browser {
    pub client: Client,
    pub engine: &'static str,
    pub origin: String,
    driver: String,
    session: String,
    http: reqwest::Client,
    /// Every URL the page requested so far, from the performance log.
    pub requests: Vec<String>,
    downloads: PathBuf,
    shots: PathBuf,
}

impl Browser {
    pub async fn open(driver: &Driver, dir: &Path, origin: &str, engine: &'static str) -> Browser {
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let shots = match std::env::var_os(SCREENSHOTS_ENV) {
            Some(dir) => PathBuf::from(dir).join(engine),
            None => dir.join("screenshots"),
        };
        std::fs::create_dir_all(&shots).unwrap();
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            format!("--user-data-dir={}", dir.join("profile").display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    // Start on a blank page rather than the new-tab page (which loads chrome:// resources).
                    "session.restore_on_startup": 4,
                    "session.startup_urls": ["about:blank"],
                    "intl.accept_languages": "nl-NL,nl",
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
            "goog:loggingPrefs": { "performance": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("Chromium did not start through chromedriver: {e}\n{}", driver.log_tail()));
        let session = client.session_id().await.unwrap().expect("a WebDriver session id");
        client.set_window_size(1280, 900).await.unwrap();
        Browser {
            client,
            engine,
            origin: origin.to_string(),
            driver: driver.url.clone(),
            session,
            http: reqwest::Client::new(),
            requests: Vec::new(),
            downloads,
            shots,
        }
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.origin);
        self.client.goto(&url).await.unwrap_or_else(|e| panic!("{}: loading {url} failed: {e}", self.engine));
    }

    /// Waits until the browser shows `path` (the query string does not count).
    pub async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.path() == path {
                return;
            }
            if Instant::now() > deadline {
                let text = self.text().await;
                panic!(
                    "{}: expected to arrive at {path}, still at {url} after {WAIT:?}, showing:\n{text}",
                    self.engine
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_for(&self, what: &str, css: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                panic!("{}: {what} ({css}) did not appear on {url}: {e}\n{}", self.engine, self.text().await)
            }
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css, css).await
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("{}: clicking {css} failed: {e}", self.engine));
    }

    /// Follows a link on the page, as a person would, rather than typing the address.
    pub async fn click_link(&self, href: &str) {
        self.click(&format!("a[href=\"{href}\"]")).await;
    }

    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => self.client.source().await.unwrap_or_default(),
        }
    }

    /// A screenshot of the viewport: checked to be a real PNG of about the window's size.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        self.keep_png(name, &png, (640, 480));
    }

    /// A screenshot of one element (scrolled into view).
    pub async fn screenshot_of(&self, name: &str, css: &str) {
        let png = self.find(css).await.screenshot().await.unwrap();
        self.keep_png(name, &png, (100, 20));
    }

    pub fn keep_png(&self, name: &str, png: &[u8], (min_width, min_height): (u32, u32)) {
        assert!(png.len() > 1024 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}: {name} is no PNG", self.engine);
        assert_eq!(&png[12..16], b"IHDR", "{}: {name} is no PNG", self.engine);
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(width >= min_width && height >= min_height, "{}: {name} is {width}×{height}", self.engine);
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits for a finished download named `name` and returns its contents.
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.join(name);
        let deadline = Instant::now() + WAIT;
        loop {
            let partial = std::fs::read_dir(&self.downloads)
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
            if !partial && let Ok(bytes) = std::fs::read(&path) {
                return bytes;
            }
            if Instant::now() > deadline {
                let there: Vec<_> = std::fs::read_dir(&self.downloads)
                    .unwrap()
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                panic!("{}: no download {name} after {WAIT:?}; the directory holds {there:?}", self.engine);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A chromedriver endpoint of this session that fantoccini does not wrap.
    pub async fn session_post(&self, endpoint: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{endpoint}", self.driver, self.session);
        let r = self.http.post(&url).json(&body).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = r.status();
        let mut answer: Value = r.json().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(status.is_success(), "POST {url} {body}: {status} {answer}");
        answer["value"].take()
    }

    /// Every cookie the browser holds, for any site (DevTools `Storage.getCookies`).
    pub async fn browser_cookies(&self) -> Vec<Value> {
        let r = self.session_post("goog/cdp/execute", json!({ "cmd": "Storage.getCookies", "params": {} })).await;
        r["cookies"].as_array().cloned().expect("Storage.getCookies answers with cookies")
    }

    /// Reads the new entries of the performance log and records the URLs requested.
    pub async fn drain_network_log(&mut self) {
        let entries = self.session_post("se/log", json!({ "type": "performance" })).await;
        for entry in entries.as_array().expect("the performance log is a list") {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap_or("{}")).unwrap();
            let event = &message["message"];
            if event["method"] == "Network.requestWillBeSent"
                && let Some(url) = event["params"]["request"]["url"].as_str()
            {
                self.requests.push(url.to_string());
            }
        }
    }

    /// Every request the page made so far went to the server's own origin
    /// (`data:` URLs excepted: they are not requests).
    pub async fn assert_same_origin_only(&mut self, when: &str) {
        self.drain_network_log().await;
        assert!(!self.requests.is_empty(), "{}: the performance log recorded no requests", self.engine);
        let elsewhere: Vec<&String> = self
            .requests
            .iter()
            .filter(|u| !u.starts_with("data:"))
            .filter(|u| !(u.starts_with(&self.origin) && u[self.origin.len()..].starts_with('/')))
            .collect();
        assert!(
            elsewhere.is_empty(),
            "{}: {when}, the browser made requests to other origins than {}: {elsewhere:?}",
            self.engine,
            self.origin
        );
    }
}
