//! A built `ingenio-server` started by xtask on a free port (for `bench` and `browser-e2e`): wait
//! for readiness while watching for an early exit, stop it with SIGTERM, kill it on drop; and the
//! JSON calls both make (register a throwaway user, `data` of an envelope).

use crate::http::Client;
use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const LIVENESS: &str = "/api/actuator/health/liveness";
pub const READINESS: &str = "/api/actuator/health/readiness";

/// A port nothing listens on right now (the OS picks it; the server binds it a moment later).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener
        .local_addr()
        .context("failed to read the bound address")?
        .port())
}

/// The running server; killed on drop if `stop` was not reached.
pub struct ServerProcess {
    child: Child,
    stopped: bool,
    log_path: PathBuf,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Spawns `cmd` (the server with its arguments and environment) with stdout and stderr in
    /// `log_path`; it must listen on 127.0.0.1:`port`.
    pub fn spawn(cmd: &mut Command, port: u16, log_path: &Path) -> Result<Self> {
        let log = File::create(log_path)
            .with_context(|| format!("failed to create {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .context("failed to clone the log file handle")?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = cmd
            .spawn()
            .with_context(|| format!("failed to start {}", util::describe(cmd)))?;
        Ok(Self {
            child,
            stopped: false,
            log_path: log_path.to_path_buf(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `n` lines the server logged.
    pub fn log_tail(&self, n: usize) -> String {
        format!(
            "last lines of {}:\n{}",
            self.log_path.display(),
            util::tail(&self.log_path, n)
        )
    }

    /// Fails (with the log's tail) when the server has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait().context("failed to poll the server")? {
            self.stopped = true;
            bail!("the server exited ({status}); {}", self.log_tail(30));
        }
        Ok(())
    }

    /// Polls readiness until it answers 200, the server exits, or `timeout` passes; returns how
    /// long it took.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        let mut probe = Client::new(self.addr);
        loop {
            self.check_alive().context("the server did not start")?;
            if probe
                .request("GET", READINESS, &[], None)
                .is_ok_and(|resp| resp.status == 200)
            {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!(
                    "the server was not ready within {}; {}",
                    util::fmt_duration(timeout),
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then up to 20 s for a graceful stop, then SIGKILL. Returns how long it took.
    pub fn stop(&mut self) -> Result<Duration> {
        if self.stopped {
            return Ok(Duration::ZERO);
        }
        self.stopped = true;
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self
                .child
                .try_wait()
                .context("failed to poll the server")?
                .is_some()
            {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().context("failed to kill the server")?;
        let _ = self.child.wait();
        bail!("the server did not stop within 20 s of SIGTERM (killed)")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends a JSON request (with a bearer token when given) and returns the status and parsed body
/// (`null` when the body is empty or not JSON).
pub fn call(
    client: &mut Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Accept", "application/json")];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    let bytes = body.map(Value::to_string);
    let resp = client
        .request(method, path, &headers, bytes.as_deref().map(str::as_bytes))
        .with_context(|| format!("{method} {path}"))?;
    let json = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    Ok((resp.status, json))
}

/// Like [`call`], but fails unless the status is 2xx, and returns the envelope's `data`.
pub fn call_data(
    client: &mut Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Value> {
    let (status, json) = call(client, method, path, token, body)?;
    if !(200..300).contains(&status) {
        bail!("{method} {path} answered {status}: {json}");
    }
    Ok(json["data"].clone())
}

/// Registers a throwaway user `<prefix>_<digits>` and returns its name and access token.
pub fn register(client: &mut Client, prefix: &str) -> Result<(String, String)> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let username = format!("{prefix}_{}", nanos % 10_000_000_000_000);
    let body = serde_json::json!({
        "username": username,
        "email": format!("{username}@example.org"),
        "password": "Xtask-Passw0rd!2024",
    });
    let data = call_data(client, "POST", "/api/v1/auth/register", None, Some(&body))?;
    let token = data["token"]
        .as_str()
        .context("register response has no data.token")?
        .to_owned();
    Ok((username, token))
}
