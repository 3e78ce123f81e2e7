//! The second factor through the real server: the enrolment page (a QR code
//! that decodes to the key's otpauth URL, the key in blocks of four, one key
//! per session), the recovery codes shown once, and logging in with one.
//! SQLite always, PostgreSQL when configured.

mod common;

use common::{COMPANY, Client, PASSWORD, Page, Server, totp_code};
use custodian_testkit::databases;
use custodian_testkit::doubles::SmtpMode;
use reqwest::StatusCode;

const OWNER: &str = "eigenaar@hoster.nl";

/// Creates the owner through the setup page; the client stops at the enrolment step.
async fn owner_at_enrolment(server: &Server) -> Client {
    let code = server.store.issue_setup_code().await.unwrap();
    let c = server.client();
    let page = c.get(&format!("/setup?code={}", code.as_str())).await;
    let fields = [("code", code.as_str()), ("login", OWNER), ("name", "Eigenaar"), ("password", PASSWORD)];
    let r = c.post_form("/setup", &page, &fields).await;
    assert_eq!(r.location(), "/second-factor/enrol", "{}", r.body);
    c
}

/// A new browser that logs in as the owner and stops at the second-factor step.
async fn login_again(server: &Server) -> Client {
    let c = server.client();
    let form = c.get("/login").await;
    let r = c.post_form("/login", &form, &[("login", OWNER), ("password", PASSWORD)]).await;
    assert_eq!(r.location(), "/second-factor", "{}", r.body);
    c
}

/// The text between `start` and the next `end` after it.
fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = body.find(start)? + start.len();
    Some(&body[from..from + body[from..].find(end)?])
}

/// The key as the page shows it for typing.
fn grouped_key(page: &Page) -> String {
    between(&page.body, r#"<code class="secret" id="key">"#, "</code>")
        .unwrap_or_else(|| panic!("no key on the page: {}", page.body))
        .to_string()
}

/// The otpauth URL the page links to (for the app on the same phone).
fn otpauth_link(page: &Page) -> String {
    let escaped = between(&page.body, r#"<a href="otpauth://"#, "\"").expect("a link to the app");
    // An attribute value, HTML-escaped: `&` is written `&#38;` or `&amp;`.
    format!("otpauth://{}", escaped.replace("&#38;", "&").replace("&amp;", "&"))
}

/// The recovery codes on a page: `<code class="secret">` items of its list.
fn recovery_codes(page: &Page) -> Vec<String> {
    let Some(list) = between(&page.body, r#"<ol class="recovery-codes">"#, "</ol>") else { return vec![] };
    list.split(r#"<code class="secret">"#).skip(1).map(|s| s.split("</code>").next().unwrap().to_string()).collect()
}

/// Whether the page says that `n` recovery codes are left (in either language).
fn left(page: &Page, n: u32) -> bool {
    page.body.contains(&format!("U hebt nog {n} herstelcodes."))
        || page.body.contains(&format!("You have {n} recovery codes left."))
}

/// Draws the page's `<svg>` with a real SVG renderer and reads the QR code in
/// the picture; returns what it holds.
fn decode_qr(page: &Page) -> String {
    let svg = format!("<svg{}</svg>", between(&page.body, "<svg", "</svg>").expect("an inline <svg> on the page"));
    let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).expect("the SVG parses");
    let scale = 3.0;
    let size = tree.size().to_int_size().scale_by(scale).unwrap();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let grey: Vec<u8> =
        pixmap.pixels().iter().map(|p| ((p.red() as u16 + p.green() as u16 + p.blue() as u16) / 3) as u8).collect();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("the QR code decodes").1
}

#[tokio::test]
async fn the_enrolment_page_shows_the_key_as_a_qr_code_and_keeps_it_until_a_right_code() {
    for db in databases().await {
        let name = db.name();
        let config =
            custodian_web::WebConfig { attempts_per_minute: 10_000, company: COMPANY.into(), ..Default::default() };
        let server = Server::start_with(&db, config).await;
        let c = owner_at_enrolment(&server).await;

        let page = c.get("/second-factor/enrol").await;
        assert_eq!(page.status, StatusCode::OK, "{name}: {}", page.body);
        assert!(page.body.contains("<svg"), "{name}: an inline SVG QR code");
        assert!(!page.body.contains("<script"), "{name}");
        let grouped = grouped_key(&page);
        let blocks: Vec<&str> = grouped.split(' ').collect();
        assert_eq!(blocks.len(), 8, "{name}: 32 Base32 characters in blocks of four: {grouped}");
        assert!(
            blocks
                .iter()
                .all(|b| b.len() == 4 && b.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))),
            "{name}: {grouped}"
        );
        let key = blocks.concat();
        let expected =
            format!("otpauth://totp/Voorbeeld%20Hosting:eigenaar%40hoster.nl?secret={key}&issuer=Voorbeeld%20Hosting");
        assert_eq!(decode_qr(&page), expected, "{name}: the QR code holds the key's otpauth URL");
        assert_eq!(otpauth_link(&page), expected, "{name}");

        // A reload shows the same key; so does a wrong code, with an error.
        let reload = c.get("/second-factor/enrol").await;
        assert_eq!(grouped_key(&reload), grouped, "{name}: a reload keeps the key");
        let wrong = if totp_code(&key, 0) == "000000" { "111111" } else { "000000" };
        let refused = c.post_form("/second-factor/enrol", &reload, &[("code", wrong)]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(grouped_key(&refused), grouped, "{name}: a wrong code keeps the key on the page");
        assert!(
            refused.body.contains(r##"<a href="#code">This code is not right"##)
                || refused.body.contains(r##"<a href="#code">Deze code klopt niet"##),
            "{name}: {}",
            refused.body
        );
        assert!(recovery_codes(&refused).is_empty(), "{name}");
        assert_eq!(c.get("/staff").await.location(), "/second-factor/enrol", "{name}: not enrolled yet");

        // Asked for, a new key replaces it, and only the new key's code counts.
        let renewed = c.post_form("/second-factor/enrol/new-key", &refused, &[]).await;
        assert_eq!(renewed.location(), "/second-factor/enrol", "{name}");
        let page = c.get("/second-factor/enrol").await;
        let new_key = grouped_key(&page).replace(' ', "");
        assert_ne!(new_key, key, "{name}");
        assert!(decode_qr(&page).contains(&format!("secret={new_key}&")), "{name}");
        let old = c.post_form("/second-factor/enrol", &page, &[("code", &totp_code(&key, 0))]).await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{name}: the replaced key no longer counts");

        // The right code (computed here from the key on the page) turns it on
        // and shows ten recovery codes, once.
        let done = c.post_form("/second-factor/enrol", &page, &[("code", &totp_code(&new_key, 0))]).await;
        assert_eq!(done.status, StatusCode::OK, "{name}: {}", done.body);
        let codes = recovery_codes(&done);
        assert_eq!(codes.len(), 10, "{name}: {}", done.body);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{name}: {codes:?}");
        assert!(done.body.contains(r#"<a href="/staff">"#), "{name}: a way on once they are stored");
        assert_eq!(c.get("/staff").await.status, StatusCode::OK, "{name}: enrolled and through");
        let later = c.get("/second-factor/enrol").await;
        let again = c.post_form("/second-factor/enrol", &later, &[("code", &totp_code(&new_key, 1))]).await;
        for shown in [&later, &again] {
            assert!(codes.iter().all(|code| !shown.body.contains(code.as_str())), "{name}: codes shown twice");
            assert!(!shown.body.contains("<svg"), "{name}: no key once enrolled");
        }
        let status = ["U hebt nog 10 van de 10 herstelcodes.", "You have 10 of your 10 recovery codes left."];
        assert!(status.iter().any(|s| later.body.contains(s)), "{name}: tells how many are left: {}", later.body);
        server.stop().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_and_the_holder_is_told_by_e_mail() {
    for db in databases().await {
        let name = db.name();
        let (server, outside) = Server::start_messaging(&db, SmtpMode::TlsFromTheStart).await;
        let c = owner_at_enrolment(&server).await;
        let page = c.get("/second-factor/enrol").await;
        let key = grouped_key(&page).replace(' ', "");
        let done = c.post_form("/second-factor/enrol", &page, &[("code", &totp_code(&key, 0))]).await;
        let codes = recovery_codes(&done);
        assert_eq!(codes.len(), 10, "{name}");

        let phone_lost = login_again(&server).await;
        let step = phone_lost.get("/second-factor").await;
        assert!(step.body.contains(r#"name="recovery""#), "{name}: the step offers a recovery code");
        // Typed in lower case with spaces, as people do.
        let typed = codes[0].replace('-', " ").to_lowercase();
        let used = phone_lost.post_form("/second-factor", &step, &[("recovery", &typed)]).await;
        assert_eq!(used.status, StatusCode::OK, "{name}: {}", used.body);
        assert!(left(&used, 9), "{name}: tells how many are left: {}", used.body);
        assert_eq!(phone_lost.get("/staff").await.status, StatusCode::OK, "{name}: logged in");

        // The same code a second time gets nowhere.
        let thief = login_again(&server).await;
        let step = thief.get("/second-factor").await;
        let reused = thief.post_form("/second-factor", &step, &[("recovery", &codes[0])]).await;
        assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(reused.body.contains(r##"<a href="#recovery">"##), "{name}: the error points at the input");
        assert_eq!(thief.get("/staff").await.location(), "/second-factor", "{name}: not let in");
        let next = thief.post_form("/second-factor", &step, &[("recovery", &codes[1])]).await;
        assert_eq!(next.status, StatusCode::OK, "{name}");
        assert!(left(&next, 8), "{name}: {}", next.body);

        // Audited twice (never the code), and the holder gets an e-mail each time.
        let trail: Vec<String> =
            sqlx::query_scalar("SELECT fields FROM audit_log WHERE action = 'auth.recovery_code_used'")
                .fetch_all(server.store.pool())
                .await
                .unwrap();
        assert_eq!(trail.len(), 2, "{name}");
        assert!(trail.iter().all(|f| codes.iter().all(|c| !f.contains(&c[..5]))), "{name}");
        let mail = outside.smtp.wait_for(2).await;
        assert!(mail.iter().all(|m| m.rcpt_to == [OWNER.to_string()]), "{name}: {mail:?}");
        assert!(mail.iter().all(|m| codes.iter().all(|c| !m.data.contains(c.as_str()))), "{name}: no code by e-mail");
        server.stop().await;
        db.finish().await;
    }
}
