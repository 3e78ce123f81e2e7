//! A domain registry on loopback: an EPP server (RFC 5730–5734) over TLS with
//! RFC 5734 framing, holding contacts and domains in memory, answering with
//! real result codes, and with faults to inject: connections dropped before or
//! after a command runs, slow answers, 2400 failures and a session limit.
//!
//! It speaks the subset custodian sends: hello, login/logout, contact
//! check/create/info/update/delete, domain check/create/info/update, poll/ack.
//! The `sidn` mode assigns handle IDs itself and expects SIDN's contact
//! extension; the generic mode keeps the IDs the client chooses.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::doubles::{TestCert, test_cert};

/// Faults for the next commands (each counter is used up one command at a time).
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Close the connection without running the command.
    pub drop_before: usize,
    /// Run the command, then close the connection without answering.
    pub drop_after: usize,
    /// Answer 2400 without running the command.
    pub fail_2400: usize,
    /// Wait this long before every answer.
    pub delay: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: String,
    pub sponsor: String,
    pub name: String,
    pub org: Option<String>,
    pub street: Vec<String>,
    pub city: String,
    pub postcode: Option<String>,
    pub country: String,
    pub voice: Option<String>,
    pub email: String,
    pub legal_form: Option<String>,
    pub registration_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub sponsor: String,
    pub registrant: String,
    pub contacts: Vec<(String, String)>,
}

/// Everything the registry holds and counts.
#[derive(Debug, Default)]
pub struct RegistryState {
    pub contacts: BTreeMap<String, Contact>,
    pub domains: BTreeMap<String, Domain>,
    /// Successful logins.
    pub logins: u64,
    /// Sessions logged in right now.
    pub sessions: usize,
    /// Commands answered (logins included).
    pub commands: u64,
    /// Every command document received, in order.
    pub received: Vec<String>,
    pub faults: Faults,
    poll_queue: VecDeque<(u64, String, String)>,
    next_id: u64,
}

#[derive(Debug, Clone)]
pub struct EppOptions {
    pub login: String,
    pub password: String,
    /// SIDN style: the registry assigns contact IDs and knows the SIDN extension.
    pub sidn: bool,
    /// Logged-in sessions allowed at once; one more gets 2502.
    pub max_sessions: usize,
}

impl Default for EppOptions {
    fn default() -> Self {
        EppOptions { login: "registrar1".into(), password: "geheim-epp".into(), sidn: false, max_sessions: 8 }
    }
}

pub struct EppServer {
    pub port: u16,
    pub cert: TestCert,
    pub options: EppOptions,
    state: Arc<Mutex<RegistryState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EppServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EppServer {
    pub async fn start(options: EppOptions) -> EppServer {
        let cert = test_cert();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind EPP server");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(RegistryState::default()));
        let acceptor = cert.acceptor.clone();
        let (st, opts) = (state.clone(), options.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let (acceptor, st, opts) = (acceptor.clone(), st.clone(), opts.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        session(tls, st, opts).await;
                    }
                });
            }
        });
        EppServer { port, cert, options, state, task }
    }

    pub fn state(&self) -> MutexGuard<'_, RegistryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn inject(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Another registrar takes `domain` over; a transfer message is queued for us.
    pub fn transfer_away(&self, domain: &str, to: &str) {
        let mut st = self.state();
        let Some(d) = st.domains.get_mut(domain) else { return };
        d.sponsor = to.to_string();
        st.next_id += 1;
        let id = st.next_id;
        let data = format!(
            r#"<domain:trnData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>{domain}</domain:name><domain:trStatus>serverApproved</domain:trStatus><domain:reID>{to}</domain:reID><domain:reDate>2026-11-20T10:00:00.0Z</domain:reDate><domain:acID>{}</domain:acID><domain:acDate>2026-11-25T10:00:00.0Z</domain:acDate></domain:trnData>"#,
            self.options.login
        );
        st.poll_queue.push_back((id, "Transfer completed.".into(), data));
    }
}

async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let len = s.read_u32().await.ok()? as usize;
    if !(4..=1 << 20).contains(&len) {
        return None;
    }
    let mut buf = vec![0u8; len - 4];
    s.read_exact(&mut buf).await.ok()?;
    String::from_utf8(buf).ok()
}

/// One write per frame, as a registry does: a header written on its own would
/// wait for the peer's delayed acknowledgement.
async fn write_frame<S: AsyncWrite + Unpin>(s: &mut S, xml: &str) -> bool {
    let mut frame = Vec::with_capacity(xml.len() + 4);
    frame.extend_from_slice(&((xml.len() + 4) as u32).to_be_bytes());
    frame.extend_from_slice(xml.as_bytes());
    s.write_all(&frame).await.is_ok() && s.flush().await.is_ok()
}

fn greeting() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>custodian loopback registry</svID><svDate>2026-11-23T12:00:00.0Z</svDate><svcMenu><version>1.0</version><lang>en</lang><objURI>urn:ietf:params:xml:ns:contact-1.0</objURI><objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><svcExtension><extURI>{SIDN}</extURI></svcExtension></svcMenu><dcp><access><all/></access><statement><purpose><admin/><prov/></purpose><recipient><ours/><public/></recipient><retention><stated/></retention></statement></dcp></greeting></epp>"#
    )
}

const SIDN: &str = "http://rxsd.domain-registry.nl/sidn-ext-epp-1.0";

struct Answer {
    code: u16,
    res_data: String,
    msg_q: String,
    close: bool,
}

impl Answer {
    fn code(code: u16) -> Answer {
        Answer { code, res_data: String::new(), msg_q: String::new(), close: false }
    }
    fn data(code: u16, res_data: String) -> Answer {
        Answer { code, res_data, msg_q: String::new(), close: false }
    }
    fn closing(code: u16) -> Answer {
        Answer { close: true, ..Answer::code(code) }
    }
}

fn message(code: u16) -> &'static str {
    match code {
        1000 => "Command completed successfully",
        1300 => "Command completed successfully; no messages",
        1301 => "Command completed successfully; ack to dequeue",
        1500 => "Command completed successfully; ending session",
        2002 => "Command use error",
        2003 => "Required parameter missing",
        2200 => "Authentication error",
        2201 => "Authorization error",
        2302 => "Object exists",
        2303 => "Object does not exist",
        2305 => "Object association prohibits operation",
        2400 => "Command failed",
        2502 => "Session limit exceeded; server closing connection",
        _ => "Command failed",
    }
}

fn render(a: &Answer, cltrid: &str, sv: u64) -> String {
    let res = if a.res_data.is_empty() { String::new() } else { format!("<resData>{}</resData>", a.res_data) };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="{}"><msg>{}</msg></result>{}{res}<trID><clTRID>{}</clTRID><svTRID>SV-{sv}</svTRID></trID></response></epp>"#,
        a.code,
        message(a.code),
        a.msg_q,
        esc(cltrid)
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, state: Arc<Mutex<RegistryState>>, opts: EppOptions) {
    if !write_frame(&mut s, &greeting()).await {
        return;
    }
    let mut logged_in = false;
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let Some(xml) = read_frame(&mut s).await else { break };
        let (drop_before, drop_after, fail, delay) = {
            let mut st = lock();
            st.received.push(xml.clone());
            let f = &mut st.faults;
            let take = |n: &mut usize| {
                let hit = *n > 0;
                *n = n.saturating_sub(usize::from(hit));
                hit
            };
            let is_hello = xml.contains("<hello");
            if is_hello {
                (false, false, false, f.delay)
            } else {
                (take(&mut f.drop_before), take(&mut f.drop_after), take(&mut f.fail_2400), f.delay)
            }
        };
        if drop_before {
            break;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let Ok(doc) = roxmltree::Document::parse(&xml) else { break };
        if first(doc.root(), "hello").is_some() {
            if !write_frame(&mut s, &greeting()).await {
                break;
            }
            continue;
        }
        let cltrid = first(doc.root(), "clTRID").map(text).unwrap_or_default();
        let answer = if fail {
            Answer::code(2400)
        } else {
            let mut st = lock();
            let a = command(&doc, &mut st, &opts, &mut logged_in);
            st.commands += 1;
            a
        };
        if drop_after {
            break;
        }
        let sv = lock().commands;
        if !write_frame(&mut s, &render(&answer, &cltrid, sv)).await || answer.close {
            break;
        }
    }
    if logged_in {
        let mut st = lock();
        st.sessions = st.sessions.saturating_sub(1);
    }
}

fn first<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.descendants().find(|n| n.is_element() && n.tag_name().name() == name)
}

fn all<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    node.descendants().filter(|n| n.is_element() && n.tag_name().name() == name).collect()
}

fn text(n: roxmltree::Node) -> String {
    n.text().unwrap_or_default().trim().to_string()
}

fn child_text(node: roxmltree::Node, name: &str) -> Option<String> {
    first(node, name).map(text).filter(|t| !t.is_empty())
}

fn command(doc: &roxmltree::Document, st: &mut RegistryState, opts: &EppOptions, logged_in: &mut bool) -> Answer {
    let root = doc.root();
    let Some(cmd) = first(root, "command") else { return Answer::code(2001) };
    let Some(verb) = cmd.children().find(|n| n.is_element()) else { return Answer::code(2001) };
    let verb_name = verb.tag_name().name();
    if verb_name == "login" {
        if *logged_in {
            return Answer::code(2002);
        }
        if child_text(verb, "clID").as_deref() != Some(&opts.login)
            || child_text(verb, "pw").as_deref() != Some(&opts.password)
        {
            return Answer::code(2200);
        }
        if st.sessions >= opts.max_sessions {
            return Answer::closing(2502);
        }
        st.sessions += 1;
        st.logins += 1;
        *logged_in = true;
        return Answer::code(1000);
    }
    if !*logged_in {
        return Answer::code(2002);
    }
    if verb_name == "logout" {
        return Answer::closing(1500);
    }
    if verb_name == "poll" {
        return poll(verb, st);
    }
    let Some(object) = verb.children().find(|n| n.is_element()) else { return Answer::code(2001) };
    let me = opts.login.as_str();
    match (object.tag_name().namespace(), verb_name) {
        (Some("urn:ietf:params:xml:ns:contact-1.0"), v) => contact_command(v, object, cmd, st, opts, me),
        (Some("urn:ietf:params:xml:ns:domain-1.0"), v) => domain_command(v, object, st, me),
        _ => Answer::code(2000),
    }
}

fn poll(verb: roxmltree::Node, st: &mut RegistryState) -> Answer {
    match verb.attribute("op") {
        Some("ack") => {
            let id: u64 = verb.attribute("msgID").and_then(|i| i.parse().ok()).unwrap_or(0);
            if st.poll_queue.front().map(|m| m.0) != Some(id) {
                return Answer::code(2303);
            }
            st.poll_queue.pop_front();
            let mut a = Answer::code(1000);
            a.msg_q = format!(r#"<msgQ count="{}" id="{id}"/>"#, st.poll_queue.len());
            a
        }
        _ => match st.poll_queue.front() {
            None => Answer::code(1300),
            Some((id, msg, data)) => {
                let mut a = Answer::data(1301, data.clone());
                a.msg_q = format!(
                    r#"<msgQ count="{}" id="{id}"><qDate>2026-11-25T10:00:00.0Z</qDate><msg>{}</msg></msgQ>"#,
                    st.poll_queue.len(),
                    esc(msg)
                );
                a
            }
        },
    }
}

fn contact_from(object: roxmltree::Node, cmd: roxmltree::Node, id: &str, sponsor: &str) -> Option<Contact> {
    let postal = first(object, "postalInfo")?;
    let legal = first(cmd, "extension");
    Some(Contact {
        id: id.to_string(),
        sponsor: sponsor.to_string(),
        name: child_text(postal, "name")?,
        org: child_text(postal, "org"),
        street: all(postal, "street").into_iter().map(text).collect(),
        city: child_text(postal, "city")?,
        postcode: child_text(postal, "pc"),
        country: child_text(postal, "cc")?,
        voice: child_text(object, "voice"),
        email: child_text(object, "email")?,
        legal_form: legal.and_then(|e| child_text(e, "legalForm")),
        registration_number: legal.and_then(|e| child_text(e, "legalFormRegNo")),
    })
}

fn in_use(st: &RegistryState, id: &str) -> bool {
    st.domains.values().any(|d| d.registrant == id || d.contacts.iter().any(|(_, c)| c == id))
}

fn contact_command(
    verb: &str,
    object: roxmltree::Node,
    cmd: roxmltree::Node,
    st: &mut RegistryState,
    opts: &EppOptions,
    me: &str,
) -> Answer {
    let ids: Vec<String> = all(object, "id").into_iter().map(text).collect();
    let Some(id) = ids.first().cloned() else { return Answer::code(2003) };
    match verb {
        "check" => {
            let cds: String = ids
                .iter()
                .map(|i| {
                    format!(
                        r#"<contact:cd><contact:id avail="{}">{}</contact:id></contact:cd>"#,
                        u8::from(!st.contacts.contains_key(i)),
                        esc(i)
                    )
                })
                .collect();
            Answer::data(
                1000,
                format!(
                    r#"<contact:chkData xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">{cds}</contact:chkData>"#
                ),
            )
        }
        "create" => {
            let id = if opts.sidn {
                st.next_id += 1;
                format!("SRV{:06}-TEST", st.next_id)
            } else {
                id
            };
            if st.contacts.contains_key(&id) {
                return Answer::code(2302);
            }
            if opts.sidn && first(cmd, "legalForm").is_none() {
                return Answer::code(2003);
            }
            let Some(c) = contact_from(object, cmd, &id, me) else { return Answer::code(2003) };
            st.contacts.insert(id.clone(), c);
            Answer::data(
                1000,
                format!(
                    r#"<contact:creData xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"><contact:id>{}</contact:id><contact:crDate>2026-11-23T12:00:00.0Z</contact:crDate></contact:creData>"#,
                    esc(&id)
                ),
            )
        }
        "info" => match st.contacts.get(&id) {
            None => Answer::code(2303),
            Some(c) if c.sponsor != me => Answer::code(2201),
            Some(c) => Answer::data(1000, contact_info(c)),
        },
        "update" => match st.contacts.get(&id) {
            None => Answer::code(2303),
            Some(c) if c.sponsor != me => Answer::code(2201),
            Some(_) => {
                let Some(chg) = first(object, "chg") else { return Answer::code(1000) };
                match contact_from(chg, cmd, &id, me) {
                    Some(mut c) => {
                        let old = st.contacts.get(&id).cloned();
                        if c.legal_form.is_none() {
                            c.legal_form = old.as_ref().and_then(|o| o.legal_form.clone());
                            c.registration_number = old.and_then(|o| o.registration_number);
                        }
                        st.contacts.insert(id, c);
                        Answer::code(1000)
                    }
                    None => Answer::code(2003),
                }
            }
        },
        "delete" => match st.contacts.get(&id) {
            None => Answer::code(2303),
            Some(c) if c.sponsor != me => Answer::code(2201),
            Some(_) if in_use(st, &id) => Answer::code(2305),
            Some(_) => {
                st.contacts.remove(&id);
                Answer::code(1000)
            }
        },
        _ => Answer::code(2101),
    }
}

fn contact_info(c: &Contact) -> String {
    let street: String = c.street.iter().map(|s| format!("<contact:street>{}</contact:street>", esc(s))).collect();
    let org = c.org.as_ref().map(|o| format!("<contact:org>{}</contact:org>", esc(o))).unwrap_or_default();
    let pc = c.postcode.as_ref().map(|p| format!("<contact:pc>{}</contact:pc>", esc(p))).unwrap_or_default();
    let voice = c.voice.as_ref().map(|v| format!("<contact:voice>{}</contact:voice>", esc(v))).unwrap_or_default();
    format!(
        r#"<contact:infData xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"><contact:id>{id}</contact:id><contact:roid>{id}-ROID</contact:roid><contact:status s="ok"/><contact:postalInfo type="loc"><contact:name>{name}</contact:name>{org}<contact:addr>{street}<contact:city>{city}</contact:city>{pc}<contact:cc>{cc}</contact:cc></contact:addr></contact:postalInfo>{voice}<contact:email>{email}</contact:email><contact:clID>{sponsor}</contact:clID><contact:crID>{sponsor}</contact:crID><contact:crDate>2026-11-23T12:00:00.0Z</contact:crDate></contact:infData>"#,
        id = esc(&c.id),
        name = esc(&c.name),
        city = esc(&c.city),
        cc = esc(&c.country),
        email = esc(&c.email),
        sponsor = esc(&c.sponsor),
    )
}

fn domain_command(verb: &str, object: roxmltree::Node, st: &mut RegistryState, me: &str) -> Answer {
    let names: Vec<String> = all(object, "name").into_iter().map(|n| text(n).to_lowercase()).collect();
    let Some(name) = names.first().cloned() else { return Answer::code(2003) };
    match verb {
        "check" => {
            let cds: String = names
                .iter()
                .map(|n| {
                    format!(
                        r#"<domain:cd><domain:name avail="{}">{}</domain:name></domain:cd>"#,
                        u8::from(!st.domains.contains_key(n)),
                        esc(n)
                    )
                })
                .collect();
            Answer::data(
                1000,
                format!(r#"<domain:chkData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">{cds}</domain:chkData>"#),
            )
        }
        "create" => {
            if st.domains.contains_key(&name) {
                return Answer::code(2302);
            }
            let Some(registrant) = child_text(object, "registrant") else { return Answer::code(2003) };
            let contacts: Vec<(String, String)> = all(object, "contact")
                .into_iter()
                .map(|c| (c.attribute("type").unwrap_or_default().to_string(), text(c)))
                .collect();
            let mine = |id: &String| st.contacts.get(id).is_some_and(|c| c.sponsor == me);
            if !mine(&registrant) || !contacts.iter().all(|(_, c)| mine(c)) {
                return Answer::code(2303);
            }
            st.domains
                .insert(name.clone(), Domain { name: name.clone(), sponsor: me.to_string(), registrant, contacts });
            Answer::data(
                1000,
                format!(
                    r#"<domain:creData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>{}</domain:name><domain:crDate>2026-11-23T12:00:00.0Z</domain:crDate><domain:exDate>2027-11-23T12:00:00.0Z</domain:exDate></domain:creData>"#,
                    esc(&name)
                ),
            )
        }
        "info" => match st.domains.get(&name) {
            None => Answer::code(2303),
            Some(d) => {
                let contacts: String = d
                    .contacts
                    .iter()
                    .map(|(t, c)| format!(r#"<domain:contact type="{}">{}</domain:contact>"#, esc(t), esc(c)))
                    .collect();
                Answer::data(
                    1000,
                    format!(
                        r#"<domain:infData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>{}</domain:name><domain:roid>{}-ROID</domain:roid><domain:status s="ok"/><domain:registrant>{}</domain:registrant>{contacts}<domain:clID>{}</domain:clID></domain:infData>"#,
                        esc(&d.name),
                        esc(&d.name),
                        esc(&d.registrant),
                        esc(&d.sponsor)
                    ),
                )
            }
        },
        "update" => {
            let Some(d) = st.domains.get(&name).cloned() else { return Answer::code(2303) };
            if d.sponsor != me {
                return Answer::code(2201);
            }
            let mut d = d;
            let pairs = |tag: &str| -> Vec<(String, String)> {
                first(object, tag)
                    .map(|n| {
                        all(n, "contact")
                            .into_iter()
                            .map(|c| (c.attribute("type").unwrap_or_default().to_string(), text(c)))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (add, rem) = (pairs("add"), pairs("rem"));
            let new_registrant = first(object, "chg").and_then(|c| child_text(c, "registrant"));
            let mine = |id: &String| st.contacts.get(id).is_some_and(|c| c.sponsor == me);
            if !add.iter().all(|(_, c)| mine(c)) || new_registrant.as_ref().is_some_and(|r| !mine(r)) {
                return Answer::code(2303);
            }
            d.contacts.retain(|c| !rem.contains(c));
            d.contacts.extend(add);
            if let Some(r) = new_registrant {
                d.registrant = r;
            }
            st.domains.insert(name, d);
            Answer::code(1000)
        }
        _ => Answer::code(2101),
    }
}
