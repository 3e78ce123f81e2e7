//! The `custodian` binary run on a test database, as an operator would:
//! shared by the test binaries that drive the command line next to the store.
// Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use custodian_store::Engine;
use custodian_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

/// Runs the binary on the test database, with its key in the environment.
pub struct Cli {
    url: String,
    key: String,
    config: Option<PathBuf>,
    tmp: tempfile::TempDir,
}

impl Cli {
    pub fn new(db: &TestDb) -> Cli {
        let url = match db.engine {
            Engine::Postgres => db.url.clone(),
            Engine::Sqlite => format!("sqlite://{}", db.dir.as_ref().unwrap().path().join("custodian.db").display()),
        };
        Cli { url, key: db.key.to_hex().to_string(), config: None, tmp: tempfile::tempdir().unwrap() }
    }

    /// A scratch directory of this run, for input files.
    pub fn dir(&self) -> &std::path::Path {
        self.tmp.path()
    }

    /// With a configuration file holding `toml`.
    pub fn configured(mut self, toml: &str) -> Cli {
        let path = self.tmp.path().join("custodian.toml");
        std::fs::write(&path, toml).unwrap();
        self.config = Some(path);
        self
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(self.tmp.path().join("data"));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(args)
            .env("CUSTODIAN_LANGUAGE", "en")
            .env("CUSTODIAN_DATABASE_URL", &self.url)
            .env("CUSTODIAN_MASTER_KEY", &self.key)
            .env_remove("CUSTODIAN_CONFIG")
            .env_remove("CUSTODIAN_DATA_DIR")
            .env_remove("CUSTODIAN_SMTP_PASSWORD")
            .env_remove("CUSTODIAN_SMS_TOKEN")
            .env_remove("CUSTODIAN_STAFF_ACCOUNTS");
        cmd
    }

    /// `serve` on a loopback port of its own, with `env` added; stopped when
    /// the [`Served`] is dropped.
    pub fn serve(&self, env: &[(&str, &str)]) -> Served {
        use std::io::{BufRead, BufReader};
        let mut cmd = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.envs(env.iter().copied()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("custodian listening on ").map(|a| a.split_whitespace().next().unwrap_or("").to_string())
            })
            .expect("serve says where it listens");
        // Drained, so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Served { child, base: format!("http://{addr}") }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code `code`; returns standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    }
}

/// A running `serve`.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
