//! A real SFTP server on loopback for the backup tests: Debian's OpenSSH
//! server (`sshd`, package openssh-server, installed by `scripts/test`) with a
//! configuration, host key, client key and storage directory of its own in a
//! temporary directory, serving SFTP in-process (`internal-sftp`) to the user
//! the tests run as. OpenDAL's SFTP service drives the `ssh` client
//! (package openssh-client). A test that needs them fails, naming the install
//! step, when either is missing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server; sshd must be started by absolute path.
const SSHD: &str = "/usr/sbin/sshd";
const INSTALL: &str = "install Debian's OpenSSH with: apt-get install openssh-server openssh-client";

pub struct SftpServer {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
}

impl SftpServer {
    /// Starts `sshd` on a free loopback port and waits until it greets.
    pub fn start() -> SftpServer {
        assert!(Path::new(SSHD).exists(), "{SSHD} is missing; {INSTALL}");
        let ssh = Command::new("ssh").arg("-V").output();
        assert!(ssh.is_ok_and(|o| o.status.success()), "the ssh client is missing; {INSTALL}");
        let user = command_output("id", &["-un"]);
        if command_output("id", &["-u"]) == "0" {
            // sshd started by root separates privileges into this directory,
            // which the system's ssh service creates when it starts.
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }

        let dir = tempfile::tempdir().expect("temp dir");
        let at = |name: &str| dir.path().join(name);
        for key in ["host_key", "client_key"] {
            let done = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "custodian-test", "-f"])
                .arg(at(key))
                .status()
                .expect("run ssh-keygen");
            assert!(done.success(), "ssh-keygen failed");
        }
        std::fs::copy(at("client_key.pub"), at("authorized_keys")).expect("authorized_keys");
        std::fs::create_dir(at("storage")).expect("storage directory");

        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let config = format!(
            "ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {host_key}\n\
             PidFile none\n\
             AuthorizedKeysFile {authorized_keys}\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             AllowUsers {user}\n\
             UsePAM no\n\
             StrictModes no\n\
             MaxStartups 64\n\
             MaxSessions 64\n\
             PrintMotd no\n\
             Subsystem sftp internal-sftp\n",
            host_key = at("host_key").display(),
            authorized_keys = at("authorized_keys").display(),
        );
        std::fs::write(at("sshd_config"), config).expect("sshd_config");
        let log = std::fs::File::create(at("sshd.log")).expect("sshd.log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(at("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD} ({e}); {INSTALL}"));
        let mut server = SftpServer { child, dir, port, user };

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("sshd exited ({status}): {}", server.log());
            }
            if greets(port) {
                return server;
            }
            assert!(Instant::now() < deadline, "sshd did not answer within 30 s: {}", server.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The directory repositories are stored under.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// OpenDAL SFTP options for a repository in directory `name` of
    /// [`SftpServer::storage`]. OpenDAL offers no known-hosts file of our own,
    /// and the host key is new with every server: `accept` takes it as it is
    /// (ssh still records it in the user's `~/.ssh/known_hosts`).
    pub fn options(&self, name: &str) -> BTreeMap<String, String> {
        [
            ("endpoint", format!("ssh://127.0.0.1:{}", self.port)),
            ("user", self.user.clone()),
            ("key", self.dir.path().join("client_key").display().to_string()),
            ("known_hosts_strategy", "accept".to_string()),
            ("root", self.storage().join(name).display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether an SSH server answers on `port` with its identification string.
fn greets(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

fn command_output(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
