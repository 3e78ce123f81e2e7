//! The `custodian` binary.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: per-thread free lists without the
/// arena locks that cost a quarter of a dashboard answer (ARCHITECTURE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod config;
mod jobs;
mod keyfile;

fn main() -> ExitCode {
    let args = cmd::Args::parse();
    let config = match config::load(|k| std::env::var(k).ok(), args.data_dir.clone(), args.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lang = config.language;
    match runtime.block_on(cmd::run(args, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cmd::describe(&e, lang));
            cmd::exit_code(&e)
        }
    }
}

/// Log lines on standard error, as text (coloured only on a terminal, so a
/// file or journald gets no escape codes) or as one JSON object per line.
fn logging(config: &config::Config) {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt().with_env_filter(log_filter(&config.log)).with_writer(std::io::stderr);
    match config.log_format {
        config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        config::LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// The crates whose log lines a bare level (`info`) lets through; other
/// libraries (the backup library's progress, say) log warnings only, so that
/// the command line's output stays ours.
const OWN_CRATES: [&str; 8] = [
    "custodian",
    "custodian_store",
    "custodian_web",
    "custodian_notify",
    "custodian_registry",
    "custodian_backup",
    "custodian_document",
    "custodian_domain",
];

/// The configured log filter, with the EPP library silenced whatever it says:
/// at debug level that library logs whole commands, holder data and all, and
/// at error level a whole response it could not read. Our registry code logs
/// its own failures without the data.
fn log_filter(configured: &str) -> tracing_subscriber::EnvFilter {
    let configured = configured.trim();
    let bare_level = ["trace", "debug", "info", "warn", "error"].contains(&configured.to_ascii_lowercase().as_str());
    let directives = match bare_level {
        true => std::iter::once("warn".to_string())
            .chain(OWN_CRATES.iter().map(|c| format!("{c}={configured}")))
            .collect::<Vec<_>>()
            .join(","),
        false => configured.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(directives).unwrap_or_else(|_| "info".into());
    match "instant_epp=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}
