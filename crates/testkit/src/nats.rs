//! A private `nats-server` per test.
//!
//! The port is chosen before the server starts (bind `127.0.0.1:0`, release, pass it with `-p`)
//! rather than with `-p -1` and read back from the log: `restart` needs a fixed port anyway, and
//! the race of a released port is closed by retrying on a fresh port when the server exits, and
//! by recognising our server by its `server_name` in the `INFO` greeting.

use std::{
    fs,
    io::{BufRead, BufReader},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// The server binary, looked up on `PATH`.
const BINARY: &str = "nats-server";
/// How long a server may take to accept connections. It starts in well under a second; the
/// margin is for a loaded two-core CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Timeout of one readiness probe (connect, then read the `INFO` line).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Fresh ports tried when another process takes the chosen one between probe and server start.
const PORT_ATTEMPTS: usize = 5;
/// Lines of the server log quoted in a panic message.
const LOG_TAIL_LINES: usize = 40;

/// A `nats-server -js` of this test's own, on a free port of 127.0.0.1, with its store in a
/// temporary directory.
///
/// Dropping it kills the server and removes the directory.
#[derive(Debug)]
pub struct TestNats {
    child: Option<Child>,
    port: u16,
    /// Passed as `--server_name` and checked in the server's `INFO` line, so a readiness probe
    /// never mistakes another process that took the port for this server.
    name: String,
    dir: TempDir,
}

/// Why a launch did not produce a ready server.
enum LaunchError {
    /// The process ended before it was ready, typically because the port was taken.
    Exited(ExitStatus),
    /// Still not ready at the deadline.
    TimedOut,
}

impl TestNats {
    /// Starts a server and waits until it accepts connections.
    ///
    /// The port comes from binding `127.0.0.1:0` and releasing it just before the server starts;
    /// should another process take it in between, the server exits and a fresh port is tried.
    ///
    /// # Panics
    /// When `nats-server` is not on `PATH`, or the server is not ready within 10 s; the message
    /// then quotes the end of the server log.
    pub fn start() -> Self {
        let dir =
            tempfile::Builder::new().prefix("koofill-nats-").tempdir().expect("create a temp dir for nats-server");
        let name = format!("koofill-test-{}", uuid::Uuid::new_v4().simple());
        let mut nats = TestNats { child: None, port: 0, name, dir };
        for _ in 0..PORT_ATTEMPTS {
            nats.port = free_port();
            match nats.launch() {
                Ok(()) => return nats,
                Err(LaunchError::Exited(_)) => continue,
                Err(LaunchError::TimedOut) => nats.fail("did not accept connections in time"),
            }
        }
        nats.fail(&format!("exited early on {PORT_ATTEMPTS} ports in a row"))
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port; it stays the same across [`stop`](Self::stop) and [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory, kept across restarts.
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    /// The last lines of the server log (and of its stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        let mut tail = tail_of(&self.log_path(), LOG_TAIL_LINES);
        let stderr = tail_of(&self.stderr_path(), LOG_TAIL_LINES);
        if !stderr.is_empty() {
            tail.push_str("\n--- stderr ---\n");
            tail.push_str(&stderr);
        }
        tail
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops the server, for tests that take NATS away. Connections are refused until
    /// [`restart`](Self::restart).
    ///
    /// The server is asked to shut down first (SIGINT, through `nats-server --signal`), so that
    /// JetStream flushes its store and a restart finds every acknowledged message; it is killed
    /// if it has not exited within 5 s. Stopping a stopped server does nothing.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let asked = Command::new(BINARY)
            .arg("--signal")
            .arg(format!("quit={}", child.id()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if asked {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                thread::sleep(POLL_INTERVAL);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port with the same store, so streams, consumers and
    /// their messages survive and clients that were connected before reconnect by themselves.
    /// A running server is stopped first.
    ///
    /// # Panics
    /// When the server is not ready within 10 s, for instance because another process took the
    /// port meanwhile; the message quotes the end of the server log.
    pub fn restart(&mut self) {
        self.stop();
        match self.launch() {
            Ok(()) => {}
            Err(LaunchError::Exited(status)) => self.fail(&format!("exited on restart ({status})")),
            Err(LaunchError::TimedOut) => self.fail("did not accept connections in time after restart"),
        }
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// Spawns the server on `self.port` and waits until it is ready.
    fn launch(&mut self) -> Result<(), LaunchError> {
        // Only fatal start-up errors reach stderr (the log goes to the file); keep them for `fail`.
        let stderr = fs::File::create(self.stderr_path()).expect("create the nats-server stderr file");
        let child = Command::new(BINARY)
            .arg("-js")
            .args(["-a", "127.0.0.1"])
            .args(["-p", &self.port.to_string()])
            .args(["--server_name", &self.name])
            .arg("--store_dir")
            .arg(self.dir.path())
            .arg("-l")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `{BINARY}` ({e}); install it (Debian package `nats-server`) and put it on PATH")
            });
        let child = self.child.insert(child);
        let result = wait_ready(child, self.port, &self.name);
        if result.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            self.child = None;
        }
        result
    }

    fn fail(&self, what: &str) -> ! {
        panic!("nats-server on port {} {what}; end of its log:\n{}", self.port, self.log_tail())
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        // The store is thrown away with the directory, so there is nothing to flush: kill at once.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// Polls until our server (recognised by its name in the `INFO` line) answers on `port`.
fn wait_ready(child: &mut Child, port: u16, name: &str) -> Result<(), LaunchError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LaunchError::Exited(status));
        }
        if probe(addr, name) {
            return Ok(());
        }
        thread::sleep(POLL_INTERVAL);
    }
    Err(LaunchError::TimedOut)
}

/// Connects and reads the greeting: a NATS server sends `INFO {...}` first.
fn probe(addr: SocketAddr, name: &str) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else { return false };
    if stream.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() {
        return false;
    }
    let mut line = String::new();
    if BufReader::new(stream).read_line(&mut line).is_err() {
        return false;
    }
    line.starts_with("INFO ") && line.contains(&format!("\"server_name\":\"{name}\""))
}

/// The last `n` lines of a file, or an empty string when it cannot be read.
fn tail_of(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
