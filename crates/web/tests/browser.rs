//! End to end in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver). The public pages leave no cookie and load nothing
//! from another origin; a customer logs in, is refused an invalid phone number
//! with nothing saved (the error summary focused and linking to the field), sees
//! who looked at their data, corrects the number, downloads their data and logs
//! out. The menu marks the current page.
//!
//! Every request the page made is read back from Chromium's performance log
//! (`Network.requestWillBeSent`), and the cookie jar of the whole browser is read
//! through the DevTools protocol, not only the current page's cookies.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`.ci/run` installs them);
//! without them the test fails, it never skips. Set `CUSTODIAN_BROWSER_SCREENSHOTS`
//! to a directory to keep the screenshots it takes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use custodian_domain::inventory::Role;
use custodian_store::{Access, AccessPurpose, Actor};
use custodian_testkit::databases;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for chromedriver, a page or an element before failing.
const WAIT: Duration = Duration::from_secs(20);
/// Set to a directory to keep the screenshots the test takes.
const SCREENSHOTS_ENV: &str = "CUSTODIAN_BROWSER_SCREENSHOTS";

#[tokio::test]
async fn a_customer_corrects_and_exports_their_data_in_a_real_browser() {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).is_file(),
            "chromium and chromium-driver are needed: apt-get install -y chromium chromium-driver \
             ({path} from {package} is missing)"
        );
    }
    // Dropped in reverse order: chromedriver and its browsers end before their files go.
    let scratch = Scratch::new();
    let driver = Driver::start(&scratch.0).await;
    for db in databases().await {
        let server = Server::start(&db).await;
        let mut browser = Browser::open(&driver, &scratch.0.join(db.name()), &server.url, db.name()).await;
        public_pages(&mut browser).await;
        customer_journey(&mut browser, &server, db.name()).await;
        browser.assert_same_origin_only("after the customer's visit").await;
        browser.close().await;
        server.stop().await;
        db.finish().await;
    }
}

/// A fresh browser visits the public pages: no cookie, nothing from elsewhere.
async fn public_pages(b: &mut Browser) {
    for path in ["/", "/login", "/privacy", "/activate"] {
        b.goto(path).await;
        b.wait_for(&format!("{path}: the page's heading"), "main h1").await;
        let lang = b.find("html").await.attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("nl"), "{}: {path} is in Dutch for a Dutch browser", b.engine);
        let styled = b.find("body").await.css_value("margin").await.unwrap();
        assert!(!styled.is_empty(), "{}: {path} has computed styles", b.engine);
    }
    b.goto("/login").await;
    b.wait_for("the login form", "#login").await;
    b.screenshot("public-login").await;
    let cookies = b.client.get_all_cookies().await.unwrap();
    assert!(cookies.is_empty(), "{}: the public pages set cookies: {cookies:?}", b.engine);
    let all = b.browser_cookies().await;
    assert!(all.is_empty(), "{}: the browser holds cookies after the public pages: {all:?}", b.engine);
    let storage = b.client.execute("return localStorage.length + sessionStorage.length", vec![]).await.unwrap();
    assert_eq!(storage, json!(0), "{}: the public pages stored something in the browser", b.engine);
    b.assert_same_origin_only("after the public pages").await;
    for path in ["/", "/login", "/privacy", "/activate", "/style.css"] {
        let url = format!("{}{path}", b.origin);
        assert!(b.requests.contains(&url), "{}: the network log misses {url}: {:?}", b.engine, b.requests);
    }
}

async fn customer_journey(b: &mut Browser, server: &Server, engine: &str) {
    let n = 3;
    let (id, _activated) = server.customer(n).await;
    let data = custodian_testkit::customer_fields(n);
    let (login, company) = (&data["email"], &data["company_name"]);
    let phone_before = stored_phone(server, id).await;

    // Log in through the form, as a person would.
    b.goto("/login").await;
    b.fill("#login", login).await;
    b.fill("#password", common::PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/portal").await;
    b.wait_for("the logout button", "header form[action=\"/logout\"] button").await;
    let page = b.text().await;
    assert!(page.contains(company.as_str()) && page.contains(&phone_before), "{engine}: the dashboard shows: {page}");
    let session = b.client.get_named_cookie("custodian").await.expect("the login set the session cookie");
    assert_eq!(session.http_only(), Some(true), "{engine}: the session cookie is HttpOnly");
    assert_eq!(session.same_site().map(|s| s.to_string()).as_deref(), Some("Strict"), "{engine}: SameSite");
    assert_eq!(session.path(), Some("/"));

    // An invalid phone number: the error next to the field, nothing saved.
    b.click_link("/portal/edit").await;
    b.wait_path("/portal/edit").await;
    // The menu marks where we are, and shows it.
    let here = b.find("header nav a[aria-current=page]").await;
    assert_eq!(here.attr("href").await.unwrap().as_deref(), Some("/portal/edit"), "{engine}: aria-current");
    let bold = here.css_value("font-weight").await.unwrap();
    let plain = b.find("header nav a[href=\"/portal\"]").await.css_value("font-weight").await.unwrap();
    assert_eq!((bold.as_str(), plain.as_str()), ("700", "400"), "{engine}: the current page stands out");
    b.fill("#f-phone", "0612").await;
    b.click("main form button[type=submit]").await;
    let error = b.wait_for("the phone number's error", "#e-phone").await;
    let message = error.text().await.unwrap();
    assert!(!message.trim().is_empty() && !message.contains("0612"), "{engine}: the error says {message:?}");
    let field = b.find("#f-phone").await;
    assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"), "{engine}: aria-invalid");
    assert_eq!(field.attr("aria-describedby").await.unwrap().as_deref(), Some("e-phone"), "{engine}: described");
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some("0612"), "{engine}: the input is kept");
    // The error summary: announced, focused on load (no script needed), and its
    // line leads to the field.
    let summary = b.find("main .error-summary[role=alert]").await;
    assert!(!summary.text().await.unwrap().is_empty(), "{engine}: the page says nothing was saved");
    let focused = b.client.execute("return document.activeElement.className", vec![]).await.unwrap();
    assert_eq!(focused, json!("error-summary"), "{engine}: the summary has the focus");
    b.screenshot("portal-edit-invalid").await;
    b.click("main .error-summary a[href=\"#f-phone\"]").await;
    let target = b.client.execute("return document.querySelector(':target').id", vec![]).await.unwrap();
    assert_eq!(target, json!("f-phone"), "{engine}: the summary's link leads to the phone field");
    b.screenshot_of("portal-edit-invalid-phone", ".field.invalid").await;
    assert_eq!(stored_phone(server, id).await, phone_before, "{engine}: the invalid phone number was saved");
    b.click_link("/portal").await;
    b.wait_path("/portal").await;
    b.wait_for("the dashboard", "main table").await;
    let page = b.text().await;
    assert!(page.contains(&phone_before), "{engine}: after the refusal the old number is still shown: {page}");

    // Who looked: a table with a header per column.
    let staff = Access::new(Actor::staff("1", Role::Staff), AccessPurpose::Support);
    server.store.read_customer(&staff, id).await.unwrap();
    b.click_link("/portal/access").await;
    b.wait_path("/portal/access").await;
    b.wait_for("the access log", "main table").await;
    let headers = b.client.find_all(Locator::Css("main table thead th[scope=col]")).await.unwrap();
    assert_eq!(headers.len(), 5, "{engine}: the access log has a header per column");
    b.screenshot("portal-access").await;

    // Corrected: saved, normalised, and confirmed.
    b.click_link("/portal/edit").await;
    b.wait_path("/portal/edit").await;
    b.fill("#f-phone", "06 12345678").await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/portal").await;
    b.wait_for("the saved notice", "main p.notice[role=status]").await;
    let page = b.text().await;
    assert!(page.contains("+31612345678") && !page.contains(&phone_before), "{engine}: after saving: {page}");
    assert_eq!(stored_phone(server, id).await, "+31612345678");
    b.screenshot("portal-saved").await;

    // The printable export, then the JSON download from the dashboard's link.
    b.click_link("/portal/export").await;
    b.wait_path("/portal/export").await;
    b.wait_for("the export", "main table").await;
    let page = b.text().await;
    for shown in [company.as_str(), login.as_str(), "+31612345678", &id.to_string()] {
        assert!(page.contains(shown), "{engine}: the printable export lacks {shown}: {page}");
    }
    b.screenshot("portal-export").await;
    b.click_link("/portal").await;
    b.wait_path("/portal").await;
    b.click_link("/portal/export.json").await;
    let file = b.downloaded(&format!("custodian-export-{id}.json")).await;
    let export: Value = serde_json::from_slice(&file).expect("the download is JSON");
    assert_eq!(export["customer"]["fields"]["phone"], "+31612345678", "{engine}: {export}");
    assert_eq!(export["customer"]["fields"]["company_name"], company.as_str(), "{engine}: {export}");

    // Logging out ends the session and removes the cookie.
    b.click("header form[action=\"/logout\"] button").await;
    b.wait_path("/logout").await;
    b.wait_for("the logged-out page", "main h1").await;
    b.screenshot("logged-out").await;
    let cookies = b.client.get_all_cookies().await.unwrap();
    assert!(cookies.is_empty(), "{engine}: cookies left after logging out: {cookies:?}");
    let all = b.browser_cookies().await;
    assert!(all.is_empty(), "{engine}: the browser still holds cookies after logging out: {all:?}");
    b.goto("/portal").await;
    b.wait_path("/login").await;
    b.wait_for("the login form", "#login").await;
    assert!(server.store.session(session.value()).await.unwrap().is_none(), "{engine}: the session still exists");
}

/// The customer's phone number as stored (read as the customer, so unaudited).
async fn stored_phone(server: &Server, id: i64) -> String {
    let access = Access::new(Actor::customer(id), AccessPurpose::DataSubjectRequest);
    let record = server.store.read_customer(&access, id).await.unwrap();
    record.fields.get("phone").cloned().unwrap_or_default()
}

/// A directory of our own under the system's temporary directory, removed on drop:
/// chromedriver's log, and per browser its profile, downloads and screenshots.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
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
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    async fn start(dir: &Path) -> Driver {
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

    fn log_tail(&self) -> String {
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
struct Browser {
    client: Client,
    engine: &'static str,
    origin: String,
    driver: String,
    session: String,
    http: reqwest::Client,
    /// Every URL the page requested so far, from the performance log.
    requests: Vec<String>,
    downloads: PathBuf,
    shots: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver, dir: &Path, origin: &str, engine: &'static str) -> Browser {
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

    async fn close(self) {
        self.client.close().await.unwrap();
    }

    async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.origin);
        self.client.goto(&url).await.unwrap_or_else(|e| panic!("{}: loading {url} failed: {e}", self.engine));
    }

    /// Waits until the browser shows `path` (the query string does not count).
    async fn wait_path(&self, path: &str) {
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

    async fn wait_for(&self, what: &str, css: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                panic!("{}: {what} ({css}) did not appear on {url}: {e}\n{}", self.engine, self.text().await)
            }
        }
    }

    async fn find(&self, css: &str) -> Element {
        self.wait_for(css, css).await
    }

    async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("{}: clicking {css} failed: {e}", self.engine));
    }

    /// Follows a link on the page, as a person would, rather than typing the address.
    async fn click_link(&self, href: &str) {
        self.click(&format!("a[href=\"{href}\"]")).await;
    }

    async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => self.client.source().await.unwrap_or_default(),
        }
    }

    /// A screenshot of the viewport: checked to be a real PNG of about the window's size.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        self.keep_png(name, &png, (640, 480));
    }

    /// A screenshot of one element (scrolled into view).
    async fn screenshot_of(&self, name: &str, css: &str) {
        let png = self.find(css).await.screenshot().await.unwrap();
        self.keep_png(name, &png, (100, 20));
    }

    fn keep_png(&self, name: &str, png: &[u8], (min_width, min_height): (u32, u32)) {
        assert!(png.len() > 1024 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}: {name} is no PNG", self.engine);
        assert_eq!(&png[12..16], b"IHDR", "{}: {name} is no PNG", self.engine);
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(width >= min_width && height >= min_height, "{}: {name} is {width}×{height}", self.engine);
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits for a finished download named `name` and returns its contents.
    async fn downloaded(&self, name: &str) -> Vec<u8> {
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
    async fn session_post(&self, endpoint: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{endpoint}", self.driver, self.session);
        let r = self.http.post(&url).json(&body).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = r.status();
        let mut answer: Value = r.json().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(status.is_success(), "POST {url} {body}: {status} {answer}");
        answer["value"].take()
    }

    /// Every cookie the browser holds, for any site (DevTools `Storage.getCookies`).
    async fn browser_cookies(&self) -> Vec<Value> {
        let r = self.session_post("goog/cdp/execute", json!({ "cmd": "Storage.getCookies", "params": {} })).await;
        r["cookies"].as_array().cloned().expect("Storage.getCookies answers with cookies")
    }

    /// Reads the new entries of the performance log and records the URLs requested.
    async fn drain_network_log(&mut self) {
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
    async fn assert_same_origin_only(&mut self, when: &str) {
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
