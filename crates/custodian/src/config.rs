//! All settings in one place: built-in defaults, then the TOML file, then
//! `CUSTODIAN_*` environment variables, then command-line options. [`KEYS`]
//! documents every key; `custodian config` prints the effective values.

use std::path::{Path, PathBuf};

use custodian_domain::Lang;
use custodian_domain::retention::RetentionPolicy;
use secrecy::SecretString;
use serde::Deserialize;

/// (TOML key, environment variable, default, meaning) for every setting.
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "data_dir",
        "CUSTODIAN_DATA_DIR",
        "./custodian-data",
        "Holds the SQLite database and the master key file. Also `--data-dir`.",
    ),
    (
        "database_url",
        "CUSTODIAN_DATABASE_URL",
        "sqlite://<data_dir>/custodian.db",
        "sqlite://PATH (embedded, default) or postgres://USER@HOST:PORT/DB.",
    ),
    (
        "master_key_file",
        "CUSTODIAN_MASTER_KEY_FILE",
        "<data_dir>/master.key",
        "The master key file (mode 0600), created by `custodian init`.",
    ),
    (
        "-",
        "CUSTODIAN_MASTER_KEY",
        "(unset)",
        "The master key itself; overrides the key file. Environment only, never in the TOML file.",
    ),
    ("db_max_connections", "CUSTODIAN_DB_MAX_CONNECTIONS", "8", "Size of the database connection pool."),
    ("language", "CUSTODIAN_LANGUAGE", "nl", "Language of messages: nl or en."),
    (
        "login_attempts_per_minute",
        "CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE",
        "10",
        "Password, code and token attempts per client address per minute before 429 (1 to 1000000).",
    ),
    ("listen", "CUSTODIAN_LISTEN", "127.0.0.1:8080", "Address `serve` listens on. Also `serve --listen`."),
    (
        "public_url",
        "CUSTODIAN_PUBLIC_URL",
        "http://<listen>",
        "The address people use: links in messages and the origin check of forms.",
    ),
    (
        "tls_cert, tls_key",
        "CUSTODIAN_TLS_CERT, _KEY",
        "(unset)",
        "PEM files: serve HTTPS directly (rustls), with HSTS and Secure cookies.",
    ),
    (
        "behind_tls_proxy",
        "CUSTODIAN_BEHIND_TLS_PROXY",
        "false",
        "A reverse proxy terminates HTTPS: Secure cookies and HSTS.",
    ),
    (
        "staff_accounts",
        "CUSTODIAN_STAFF_ACCOUNTS",
        "true",
        "Whether the company has staff with access to personal data (statute A, A14). false: only the owner and the bookkeeper (protocol M, M6); no staff account or token can be made.",
    ),
    (
        "read_cache",
        "CUSTODIAN_READ_CACHE",
        "true",
        "`serve` answers session checks and customers' own dashboards from memory while the database says nothing they were read from changed.",
    ),
    (
        "trusted_proxy",
        "CUSTODIAN_TRUSTED_PROXY",
        "(unset)",
        "IP address of the proxy whose X-Forwarded-For is believed (rate limits, audit).",
    ),
    ("company_name", "CUSTODIAN_COMPANY_NAME", "custodian", "Shown on pages, in messages and in authenticator apps."),
    (
        "[company]",
        "-",
        "none",
        "address, phone, email: shown in the footer of every page and wherever a page says to call or write us.",
    ),
    (
        "[invoicing]",
        "-",
        "none",
        "street, postcode, city, country (NL), kvk, vat_id, iban, bic: the company's details that its invoices must show.",
    ),
    (
        "[http]",
        "-",
        "see right",
        "header_read_timeout_secs 10, request_timeout_secs 30 (then 408), idle_timeout_secs 60, max_connections 512 (more wait).",
    ),
    (
        "[smtp]",
        "CUSTODIAN_SMTP_PASSWORD",
        "no e-mail",
        "host, port, security (implicit_tls or start_tls), username, password, from, reply_to, extra_ca_file, timeout_secs.",
    ),
    (
        "[sms]",
        "CUSTODIAN_SMS_TOKEN",
        "no SMS",
        "provider = \"cm\" with product_token, sender; or provider = \"webhook\" with url, bearer_token.",
    ),
    (
        "[outbox]",
        "-",
        "see right",
        "lease_secs 300, batch 20, poll_interval_secs 5, retry_first_delay_secs 30, retry_max_delay_secs 3600, max_attempts 10.",
    ),
    (
        "[jobs]",
        "-",
        "see right",
        "lease_secs 120, retention_interval_secs 300, backup_interval_secs 15, retry_secs 300: each job runs in one instance at a time, taken over when its lease runs out.",
    ),
    (
        "[registries.NAME]",
        "CUSTODIAN_REGISTRY_<NAME>_PASSWORD",
        "none",
        "An EPP registry: host, port 700, login, password, tlds, flavour (sidn or generic), passthrough, sessions, ca_file, client_cert, client_key, timeout_secs, keepalive_secs.",
    ),
    (
        "[registry_worker]",
        "-",
        "see right",
        "lease_secs 120, retry_first_delay_secs 30, retry_max_delay_secs 3600, max_attempts 12, poll_interval_secs 5, message_interval_secs 300.",
    ),
    (
        "[retention]",
        "-",
        "see right",
        "relationship_years 1, erasure first_working_day_of_january (or days_after_end), days_after_end 30, unused_handle_min_age_days 30, invoice_years 7, notice_days 30 (0: none), batch 500.",
    ),
    (
        "[backup]",
        "-",
        "no backups",
        "service (fs, s3, dropbox, webdav, sftp), [backup.options] for it, password_file, keep_days 14, max_days 60, hour 2 (UTC).",
    ),
    ("-", "CUSTODIAN_BACKUP_PASSWORD", "(unset)", "The backup repository password; overrides [backup] password_file."),
    (
        "-",
        "CUSTODIAN_BACKUP_SECRET",
        "(unset)",
        "The storage secret: S3 secret_access_key, Dropbox access_token, WebDAV password (SFTP signs in with a key file).",
    ),
    (
        "log",
        "CUSTODIAN_LOG",
        "info",
        "Log filter (tracing syntax, e.g. `info` or `custodian=debug`). A bare level is custodian's own; other libraries log warnings only. Logs never contain personal data.",
    ),
    (
        "log_format",
        "CUSTODIAN_LOG_FORMAT",
        "text",
        "`text` (one line per event; colours only on a terminal) or `json` (one JSON object per line, for journald and log shippers).",
    ),
];

/// The settings as read from the TOML file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    master_key_file: Option<PathBuf>,
    db_max_connections: Option<u32>,
    language: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    login_attempts_per_minute: Option<u32>,
    listen: Option<String>,
    public_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    behind_tls_proxy: Option<bool>,
    read_cache: Option<bool>,
    staff_accounts: Option<bool>,
    trusted_proxy: Option<String>,
    company_name: Option<String>,
    company: Option<custodian_web::CompanyContact>,
    invoicing: Option<custodian_web::documents::Invoicing>,
    http: Option<custodian_web::Limits>,
    smtp: Option<custodian_notify::SmtpConfig>,
    sms: Option<custodian_notify::SmsConfig>,
    outbox: Option<custodian_notify::WorkerConfig>,
    retention: Option<RetentionPolicy>,
    /// No longer a setting: said so when a file still has it.
    calendar: Option<toml::Table>,
    registries: Option<custodian_registry::Registries>,
    registry_worker: Option<custodian_registry::WorkerSettings>,
    backup: Option<custodian_backup::BackupConfig>,
    jobs: Option<crate::jobs::JobsConfig>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key_file: PathBuf,
    /// Set from `CUSTODIAN_MASTER_KEY`; wins over the key file.
    pub master_key_env: Option<SecretString>,
    pub db_max_connections: u32,
    pub language: Lang,
    pub log: String,
    pub log_format: LogFormat,
    /// Attempts at a password, code or token per client address per minute.
    pub login_attempts_per_minute: u32,
    /// Where the TOML file was read from, if any.
    pub file: Option<PathBuf>,
    pub listen: std::net::SocketAddr,
    pub public_url: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_tls_proxy: bool,
    pub read_cache: bool,
    /// Whether staff accounts may exist at all (the policy's setting).
    pub staff_accounts: bool,
    pub trusted_proxy: Option<std::net::IpAddr>,
    pub company_name: String,
    /// How people reach the company (`[company]`), shown on the pages.
    pub company: custodian_web::CompanyContact,
    /// The company's details on its invoices (`[invoicing]`).
    pub invoicing: custodian_web::documents::Invoicing,
    /// Timeouts and the connection limit of `serve` (`[http]`).
    pub http: custodian_web::Limits,
    /// E-mail relay; `None`: no e-mail is sent (staff use post or phone).
    pub smtp: Option<custodian_notify::SmtpConfig>,
    /// SMS provider; `None`: activation codes are read out by phone.
    pub sms: Option<custodian_notify::SmsConfig>,
    pub outbox: custodian_notify::WorkerConfig,
    /// The retention rules, with the calendar of working days in them.
    pub retention: RetentionPolicy,
    /// Registries by name (`[registries.NAME]`), with the TLDs routed to each.
    pub registries: custodian_registry::Registries,
    pub registry_worker: custodian_registry::WorkerSettings,
    /// Backups (`[backup]`); secrets only from the environment or a file.
    pub backup: custodian_backup::BackupConfig,
    pub backup_password: Option<SecretString>,
    pub backup_secret: Option<SecretString>,
    /// How often the scheduled jobs look and how long their leases hold (`[jobs]`).
    pub jobs: crate::jobs::JobsConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Value { key: &'static str, message: String },
}

/// Reads the configuration. `env` is the environment (a function so tests can
/// supply their own); `data_dir_flag` and `config_flag` come from the command line.
pub fn load(
    env: impl Fn(&str) -> Option<String>,
    data_dir_flag: Option<PathBuf>,
    config_flag: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let data_dir_env = env("CUSTODIAN_DATA_DIR").map(PathBuf::from);
    let explicit_file = config_flag.or_else(|| env("CUSTODIAN_CONFIG").map(PathBuf::from));
    let provisional_dir =
        data_dir_flag.clone().or(data_dir_env.clone()).unwrap_or_else(|| PathBuf::from("./custodian-data"));
    let file_path = explicit_file.clone().or_else(|| {
        let p = provisional_dir.join("custodian.toml");
        p.exists().then_some(p)
    });
    let file = match &file_path {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };

    let data_dir =
        data_dir_flag.or(data_dir_env).or(file.data_dir).unwrap_or_else(|| PathBuf::from("./custodian-data"));
    let database_url = env("CUSTODIAN_DATABASE_URL")
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("custodian.db").display()));
    let master_key_file = env("CUSTODIAN_MASTER_KEY_FILE")
        .map(PathBuf::from)
        .or(file.master_key_file)
        .unwrap_or_else(|| data_dir.join("master.key"));
    let db_max_connections = match env("CUSTODIAN_DB_MAX_CONNECTIONS") {
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Value {
            key: "db_max_connections",
            message: "must be a whole number from 1 to 1000".into(),
        })?,
        None => file.db_max_connections.unwrap_or(8),
    };
    if !(1..=1000).contains(&db_max_connections) {
        return Err(ConfigError::Value { key: "db_max_connections", message: "must be from 1 to 1000".into() });
    }
    let login_attempts_per_minute = match env("CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE") {
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Value {
            key: "login_attempts_per_minute",
            message: "must be a whole number from 1 to 1000000".into(),
        })?,
        None => file.login_attempts_per_minute.unwrap_or(10),
    };
    if !(1..=1_000_000).contains(&login_attempts_per_minute) {
        return Err(ConfigError::Value {
            key: "login_attempts_per_minute",
            message: "must be from 1 to 1000000".into(),
        });
    }
    let language_raw = env("CUSTODIAN_LANGUAGE").or(file.language).unwrap_or_else(|| "nl".into());
    let language =
        Lang::parse(&language_raw).ok_or(ConfigError::Value { key: "language", message: "must be nl or en".into() })?;
    let log_format =
        LogFormat::parse(&env("CUSTODIAN_LOG_FORMAT").or(file.log_format).unwrap_or_else(|| "text".into()))?;
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres:")
        || database_url.starts_with("postgresql:"))
    {
        return Err(ConfigError::Value { key: "database_url", message: "must start with sqlite: or postgres:".into() });
    }
    let listen_raw = env("CUSTODIAN_LISTEN").or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_raw.trim().parse().map_err(|_| ConfigError::Value {
        key: "listen",
        message: "must be an address with a port, like 127.0.0.1:8080".into(),
    })?;
    let tls_cert = env("CUSTODIAN_TLS_CERT").map(PathBuf::from).or(file.tls_cert);
    let tls_key = env("CUSTODIAN_TLS_KEY").map(PathBuf::from).or(file.tls_key);
    if tls_cert.is_some() != tls_key.is_some() {
        return Err(ConfigError::Value { key: "tls_cert", message: "tls_cert and tls_key go together".into() });
    }
    let behind_tls_proxy = match env("CUSTODIAN_BEHIND_TLS_PROXY") {
        Some(v) => switch("behind_tls_proxy", &v)?,
        None => file.behind_tls_proxy.unwrap_or(false),
    };
    let read_cache = match env("CUSTODIAN_READ_CACHE") {
        Some(v) => switch("read_cache", &v)?,
        None => file.read_cache.unwrap_or(true),
    };
    let staff_accounts = match env("CUSTODIAN_STAFF_ACCOUNTS") {
        Some(v) => switch("staff_accounts", &v)?,
        None => file.staff_accounts.unwrap_or(true),
    };
    let trusted_proxy = match env("CUSTODIAN_TRUSTED_PROXY").or(file.trusted_proxy) {
        Some(v) => Some(
            v.trim()
                .parse()
                .map_err(|_| ConfigError::Value { key: "trusted_proxy", message: "must be an IP address".into() })?,
        ),
        None => None,
    };
    let scheme = if tls_cert.is_some() { "https" } else { "http" };
    let public_url = env("CUSTODIAN_PUBLIC_URL")
        .or(file.public_url)
        .unwrap_or_else(|| format!("{scheme}://{listen}"))
        .trim_end_matches('/')
        .to_string();
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        return Err(ConfigError::Value { key: "public_url", message: "must start with http:// or https://".into() });
    }
    let http = file.http.unwrap_or_default();
    if let Some(message) = http.problem() {
        return Err(ConfigError::Value { key: "http", message });
    }
    // Secrets may come from the environment instead of the file.
    let mut smtp = file.smtp;
    if let (Some(smtp), Some(pw)) = (smtp.as_mut(), env("CUSTODIAN_SMTP_PASSWORD")) {
        smtp.password = Some(pw.into());
    }
    let mut sms = file.sms;
    if let Some(token) = env("CUSTODIAN_SMS_TOKEN") {
        match sms.as_mut() {
            Some(custodian_notify::SmsConfig::Cm(cm)) => cm.product_token = token.into(),
            Some(custodian_notify::SmsConfig::Webhook(w)) => w.bearer_token = Some(token.into()),
            None => {}
        }
    }
    let mut registries = file.registries.unwrap_or_default();
    for (name, r) in registries.0.iter_mut() {
        if let Some(pw) = env(&format!("CUSTODIAN_REGISTRY_{}_PASSWORD", name.to_ascii_uppercase().replace('-', "_"))) {
            r.password = pw.into();
        }
    }
    if let Some(problem) = registries.problem() {
        return Err(ConfigError::Value { key: "registries", message: problem });
    }
    if file.calendar.is_some() {
        return Err(ConfigError::Value {
            key: "calendar",
            message: "[calendar] is no longer a setting: the yearly erasure is on the first working day of January, always 2, 3 or 4 January, whichever days a company gives off; remove the section".into(),
        });
    }
    let retention = file.retention.unwrap_or_default();
    if let Some(&(key, rule)) = retention.problems().first() {
        return Err(ConfigError::Value { key, message: format!("in [retention] {rule}") });
    }
    let backup = file.backup.unwrap_or_default();
    if let Some(message) = backup.problem() {
        return Err(ConfigError::Value { key: "backup", message });
    }
    let jobs = file.jobs.unwrap_or_default();
    if let Some(message) = jobs.problem() {
        return Err(ConfigError::Value { key: "jobs", message });
    }
    Ok(Config {
        jobs,
        registries,
        registry_worker: file.registry_worker.unwrap_or_default(),
        backup,
        backup_password: env("CUSTODIAN_BACKUP_PASSWORD").map(SecretString::from),
        backup_secret: env("CUSTODIAN_BACKUP_SECRET").map(SecretString::from),
        retention,
        smtp,
        sms,
        outbox: file.outbox.unwrap_or_default(),
        listen,
        public_url,
        tls_cert,
        tls_key,
        behind_tls_proxy,
        read_cache,
        staff_accounts,
        trusted_proxy,
        http,
        company_name: env("CUSTODIAN_COMPANY_NAME").or(file.company_name).unwrap_or_else(|| "custodian".into()),
        company: file.company.unwrap_or_default(),
        invoicing: file.invoicing.unwrap_or_default(),
        data_dir,
        database_url,
        master_key_file,
        master_key_env: env("CUSTODIAN_MASTER_KEY").map(SecretString::from),
        db_max_connections,
        language,
        log: env("CUSTODIAN_LOG").or(file.log).unwrap_or_else(|| "info".into()),
        log_format,
        login_attempts_per_minute,
        file: file_path,
    })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event, coloured only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    fn parse(value: &str) -> Result<LogFormat, ConfigError> {
        match value.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => {
                Err(ConfigError::Value { key: "log_format", message: format!("must be text or json, not {other:?}") })
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// An on/off setting from the environment; anything else is refused, not read as off.
fn switch(key: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Value { key, message: format!("must be true or false, not {:?}", value.trim()) }),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.message().to_string() })
}

impl Config {
    /// The SQLite database file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The database URL without any password, for display.
    pub fn database_url_redacted(&self) -> String {
        match (self.database_url.find("://"), self.database_url.find('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &self.database_url[s + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &self.database_url[..s + 3], &self.database_url[at..]),
                    None => self.database_url.clone(),
                }
            }
            _ => self.database_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    /// Every secret the configuration holds, from the file and the
    /// environment, is absent from its `Debug` text (as in a log line or a
    /// panic message), and still there for the code that uses it.
    #[test]
    fn debug_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[smtp]\nhost = \"smtp.example.nl\"\nfrom = \"a@example.nl\"\nusername = \"u\"\n\
             [sms]\nprovider = \"webhook\"\nurl = \"https://sms.example.nl/send\"\n\
             [registries.sidn]\nhost = \"drs.example.nl\"\nlogin = \"100\"\ntlds = [\"nl\"]\n",
        )
        .unwrap();
        let secrets = [
            ("CUSTODIAN_MASTER_KEY", "0f".repeat(32)),
            ("CUSTODIAN_SMTP_PASSWORD", "smtp-geheim-1".into()),
            ("CUSTODIAN_SMS_TOKEN", "sms-geheim-2".into()),
            ("CUSTODIAN_REGISTRY_SIDN_PASSWORD", "epp-geheim3".into()),
            ("CUSTODIAN_BACKUP_PASSWORD", "backup-geheim-4".into()),
            ("CUSTODIAN_BACKUP_SECRET", "s3-geheim-5".into()),
        ];
        let pairs: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = load(env_of(&pairs), None, Some(file)).unwrap();
        let shown = format!("{c:?}");
        for (name, value) in &secrets {
            assert!(!shown.contains(value.as_str()), "{name} in {shown}");
        }
        let smtp = c.smtp.as_ref().and_then(|s| s.password.as_ref()).unwrap();
        assert_eq!(smtp.expose_secret(), "smtp-geheim-1");
        assert_eq!(c.registries.0["sidn"].password.expose_secret(), "epp-geheim3");
        assert_eq!(c.master_key_env.as_ref().unwrap().expose_secret(), "0f".repeat(32));
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_follow_the_data_dir() {
        let c = load(env_of(&[]), Some("/tmp/x".into()), None).unwrap();
        assert_eq!(c.database_url, "sqlite:///tmp/x/custodian.db?mode=rwc");
        assert_eq!(c.master_key_file, PathBuf::from("/tmp/x/master.key"));
        assert_eq!(c.sqlite_path(), Some(PathBuf::from("/tmp/x/custodian.db")));
        assert_eq!(c.language, Lang::Nl);
        assert_eq!(c.login_attempts_per_minute, 10);
        assert!(c.read_cache && !c.behind_tls_proxy);
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/a\"\ndb_max_connections = 3\nlanguage = \"en\"\nlogin_attempts_per_minute = 30\n",
        )
        .unwrap();
        let c = load(env_of(&[("CUSTODIAN_DB_MAX_CONNECTIONS", "5")]), None, Some(file.clone())).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/a"));
        assert_eq!(c.db_max_connections, 5);
        assert_eq!(c.language, Lang::En);
        assert_eq!(c.login_attempts_per_minute, 30);
        let c = load(env_of(&[("CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE", "500")]), None, Some(file.clone())).unwrap();
        assert_eq!(c.login_attempts_per_minute, 500);
        let c = load(env_of(&[("CUSTODIAN_DATA_DIR", "/srv/b")]), Some("/srv/c".into()), Some(file)).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/c"));
        for (value, on) in [("false", false), ("OFF", false), ("0", false), ("yes", true), (" true ", true)] {
            let c = load(env_of(&[("CUSTODIAN_READ_CACHE", value)]), None, None).unwrap();
            assert_eq!(c.read_cache, on, "{value:?}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        let e = load(env_of(&[]), None, Some(file)).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let e = load(env_of(&[("CUSTODIAN_DB_MAX_CONNECTIONS", "many")]), None, None).unwrap_err().to_string();
        assert!(e.contains("db_max_connections"), "{e}");
        let e = load(env_of(&[("CUSTODIAN_DATABASE_URL", "mysql://x")]), None, None).unwrap_err().to_string();
        assert!(e.contains("database_url"), "{e}");
        // An on/off setting that is neither is refused, not read as off.
        for key in ["CUSTODIAN_READ_CACHE", "CUSTODIAN_BEHIND_TLS_PROXY"] {
            let e = load(env_of(&[(key, "sometimes")]), None, None).unwrap_err().to_string();
            assert!(e.contains(&key["CUSTODIAN_".len()..].to_lowercase()) && e.contains("sometimes"), "{e}");
        }
        for bad in ["0", "1000001", "-1", "lots"] {
            let e = load(env_of(&[("CUSTODIAN_LOGIN_ATTEMPTS_PER_MINUTE", bad)]), None, None).unwrap_err().to_string();
            assert!(e.contains("login_attempts_per_minute"), "{bad}: {e}");
        }
    }

    #[test]
    fn backup_comes_from_its_section_and_secrets_from_the_environment() {
        let c = load(env_of(&[]), Some("/tmp/x".into()), None).unwrap();
        assert_eq!(c.backup.service, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[backup]\nservice = \"s3\"\nkeep_days = 21\n[backup.options]\nbucket = \"b\"\n")
            .unwrap();
        let env = env_of(&[("CUSTODIAN_BACKUP_PASSWORD", "pw"), ("CUSTODIAN_BACKUP_SECRET", "s")]);
        let c = load(env, None, Some(file.clone())).unwrap();
        assert_eq!((c.backup.service.as_deref(), c.backup.keep_days, c.backup.max_days), (Some("s3"), 21, 60));
        assert_eq!(c.backup.options["bucket"], "b");
        let shown = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_string());
        assert_eq!((shown(&c.backup_password), shown(&c.backup_secret)), (Some("pw".into()), Some("s".into())));
        for (bad, key) in [
            ("[backup]\nservice = \"ftp\"\n", "service"),
            ("[backup]\nkeep_days = 90\n", "keep_days"),
            ("[backup]\nhour = 24\n", "hour"),
            ("[backup]\npassword = \"x\"\n", "password"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let e = load(env_of(&[]), None, Some(file.clone())).unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn retention_comes_from_its_section_and_calendar_is_refused() {
        let c = load(env_of(&[]), Some("/tmp/x".into()), None).unwrap();
        assert_eq!(c.retention, RetentionPolicy::default());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[retention]\nerasure = \"days_after_end\"\ndays_after_end = 14\nbatch = 50\n").unwrap();
        let c = load(env_of(&[]), None, Some(file.clone())).unwrap();
        assert_eq!(c.retention.erasure, custodian_domain::retention::ErasureSchedule::DaysAfterEnd);
        assert_eq!((c.retention.days_after_end, c.retention.batch, c.retention.invoice_years), (14, 50, 7));
        for (bad, key) in [
            ("[retention]\ninvoice_years = 0\n", "invoice_years"),
            ("[retention]\nsweep = \"monthly\"\n", "sweep"),
            ("[calendar]\ngood_friday = true\n", "no longer a setting"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let e = load(env_of(&[]), None, Some(file.clone())).unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn http_limits_come_from_their_section() {
        let c = load(env_of(&[]), Some("/tmp/x".into()), None).unwrap();
        assert_eq!(c.http, custodian_web::Limits::default());
        assert_eq!((c.http.header_read_timeout_secs, c.http.max_connections), (10, 512));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[http]\nheader_read_timeout_secs = 5\nmax_connections = 64\n").unwrap();
        let c = load(env_of(&[]), None, Some(file.clone())).unwrap();
        assert_eq!((c.http.header_read_timeout_secs, c.http.request_timeout_secs), (5, 30));
        assert_eq!((c.http.idle_timeout_secs, c.http.max_connections), (60, 64));
        for (bad, key) in [
            ("[http]\nheader_read_timeout_secs = 0\n", "header_read_timeout_secs"),
            ("[http]\nrequest_timeout_secs = 100000\n", "request_timeout_secs"),
            ("[http]\nmax_connections = 0\n", "max_connections"),
            ("[http]\nkeepalive = 3\n", "keepalive"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let e = load(env_of(&[]), None, Some(file.clone())).unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let c = load(env_of(&[("CUSTODIAN_DATABASE_URL", "postgres://app:s3cret@db:5432/c")]), None, None).unwrap();
        assert_eq!(c.database_url_redacted(), "postgres://app:***@db:5432/c");
    }
}
