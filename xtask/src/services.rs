//! Bringing up the backing services: probes for PostgreSQL and Redis, starting the system cluster or
//! a project-local cluster under `.data/postgres`, and a throwaway `redis-server` for tests.

use crate::env::Env;
use crate::util;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether something accepts a TCP connection at host:port within `timeout`.
pub fn tcp_answers(host: &str, port: u16, timeout: Duration) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|addr| TcpStream::connect_timeout(&addr, timeout).is_ok())
}

/// Whether PostgreSQL answers: a TCP connect, confirmed by `pg_isready` when it is installed.
pub fn postgres_ready(host: &str, port: u16) -> bool {
    if !tcp_answers(host, port, Duration::from_secs(1)) {
        return false;
    }
    match util::which("pg_isready") {
        Some(pg_isready) => util::quiet_ok(
            Command::new(pg_isready)
                .args(["-h", host, "-p", &port.to_string(), "-t", "3"])
                .arg("-q"),
        ),
        None => true,
    }
}

/// Sends a RESP `PING` (after `AUTH` when a password is given) and returns whether Redis said `+PONG`.
pub fn redis_pong(host: &str, port: u16, password: Option<&str>) -> bool {
    fn talk(host: &str, port: u16, password: Option<&str>) -> std::io::Result<bool> {
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut line = String::new();
        if let Some(pw) = password {
            write!(writer, "*2\r\n$4\r\nAUTH\r\n${}\r\n{}\r\n", pw.len(), pw)?;
            reader.read_line(&mut line)?;
            if !line.starts_with("+OK") {
                return Ok(false);
            }
            line.clear();
        }
        writer.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        reader.read_line(&mut line)?;
        Ok(line.starts_with("+PONG"))
    }
    talk(host, port, password).unwrap_or(false)
}

/// Polls `check` every 200 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_local(host: &str) -> bool {
    matches!(
        host,
        "localhost" | "127.0.0.1" | "::1" | "[::1]" | "0.0.0.0"
    )
}

/// How hard to try when PostgreSQL does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgStart {
    /// Only a project-local cluster (what `run` does).
    LocalCluster,
    /// First the system cluster via `pg_ctlcluster` (what CI does), then a project-local cluster.
    SystemThenLocal,
}

/// Makes sure PostgreSQL answers at DB_HOST:DB_PORT, starting one if needed. When a project-local
/// cluster is used, DB_HOST/DB_PORT/DB_USER are set in `env` so the server connects to it.
pub fn ensure_postgres(env: &mut Env, how: PgStart) -> Result<()> {
    if env.get("DATABASE_URL").is_some() {
        println!("xtask: DATABASE_URL is set; using it as is");
        return Ok(());
    }
    let host = env.get("DB_HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: u16 = match env.get("DB_PORT") {
        Some(p) => p
            .trim()
            .parse()
            .with_context(|| format!("DB_PORT {p:?} is not a port number"))?,
        None => 5432,
    };
    if postgres_ready(&host, port) {
        println!("xtask: PostgreSQL answers at {host}:{port}");
        return Ok(());
    }
    if !is_local(&host) {
        bail!("PostgreSQL does not answer at {host}:{port} (DB_HOST/DB_PORT); start it or fix the settings");
    }
    println!("xtask: nothing answers at {host}:{port}; trying to start PostgreSQL");

    if how == PgStart::SystemThenLocal && start_system_cluster() {
        if wait_until(Duration::from_secs(30), || postgres_ready(&host, port)) {
            println!("xtask: system PostgreSQL cluster started");
            return Ok(());
        }
        println!(
            "xtask: the system cluster did not answer at {host}:{port}; trying a project-local one"
        );
    }

    let Some(bindir) = find_postgres_bindir() else {
        match util::install_hint("postgresql", "postgresql@15") {
            Some(cmd) => eprintln!("xtask: PostgreSQL is not installed. Install it with:\n\n    {cmd}\n"),
            None => eprintln!(
                "xtask: PostgreSQL is not installed. Install PostgreSQL 15+ with your package manager."
            ),
        }
        bail!("no PostgreSQL server binaries found");
    };
    start_local_cluster(&bindir, port)?;
    if !wait_until(Duration::from_secs(30), || {
        postgres_ready("127.0.0.1", port)
    }) {
        bail!(
            "the project-local PostgreSQL did not answer on 127.0.0.1:{port}; see .data/postgres.log:\n{}",
            util::tail(&util::root().join(".data/postgres.log"), 20)
        );
    }
    env.set("DB_HOST", "127.0.0.1");
    env.set("DB_PORT", port.to_string());
    if env.get("DB_USER").is_none() {
        env.set("DB_USER", "postgres");
    }
    Ok(())
}

/// `pg_ctlcluster --skip-systemctl-redirect <version> main start` for every installed version.
fn start_system_cluster() -> bool {
    let Some(pg_ctlcluster) = util::which("pg_ctlcluster") else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir("/etc/postgresql") else {
        return false;
    };
    let mut started = false;
    for entry in entries.flatten() {
        let version = entry.file_name().to_string_lossy().into_owned();
        let mut cmd = Command::new(&pg_ctlcluster);
        cmd.args(["--skip-systemctl-redirect", &version, "main", "start"]);
        println!("xtask: $ {}", util::describe(&cmd));
        match cmd.status() {
            Ok(st) if st.success() => started = true,
            Ok(st) => println!("xtask: pg_ctlcluster {version} main start: {st}"),
            Err(err) => println!("xtask: cannot run pg_ctlcluster: {err}"),
        }
    }
    started
}

/// The directory holding `initdb` and `pg_ctl`: the newest /usr/lib/postgresql/*/bin, then PATH,
/// then `pg_config --bindir`, then the usual Homebrew and Postgres.app locations.
pub fn find_postgres_bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();

    let mut versioned: Vec<(u32, PathBuf)> = Vec::new();
    for base in ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("postgresql@").unwrap_or(&name);
            let Ok(major) = version.split('.').next().unwrap_or("").parse::<u32>() else {
                continue;
            };
            let bin = entry.path().join("bin");
            if has_tools(&bin) {
                versioned.push((major, bin));
            }
        }
    }
    versioned.sort();
    if let Some((_, bin)) = versioned.pop() {
        return Some(bin);
    }
    if let Some(initdb) = util::which("initdb") {
        let dir = std::fs::canonicalize(&initdb)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        if let Some(dir) = dir.filter(|d| has_tools(d)) {
            return Some(dir);
        }
        if let Some(dir) = initdb.parent().filter(|d| has_tools(d)) {
            return Some(dir.to_path_buf());
        }
    }
    if let Some(dir) = util::capture(Command::new("pg_config").arg("--bindir")) {
        let dir = PathBuf::from(dir);
        if has_tools(&dir) {
            return Some(dir);
        }
    }
    let app = PathBuf::from("/Applications/Postgres.app/Contents/Versions/latest/bin");
    has_tools(&app).then_some(app)
}

/// A command that runs as `user` (via runuser, else su) or as ourselves when `user` is None.
fn command_as(user: Option<&str>, program: &Path, args: &[String]) -> Command {
    match user {
        None => {
            let mut cmd = Command::new(program);
            cmd.args(args);
            cmd
        }
        Some(user) => {
            if let Some(runuser) = util::which("runuser") {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", user, "--"]).arg(program).args(args);
                cmd
            } else {
                let mut line = util::shell_quote(&program.to_string_lossy());
                for arg in args {
                    line.push(' ');
                    line.push_str(&util::shell_quote(arg));
                }
                let mut cmd = Command::new("su");
                cmd.args([user, "-s", "/bin/sh", "-c", &line]);
                cmd
            }
        }
    }
}

/// initdb (once) and `pg_ctl start` for the cluster in `.data/postgres`, listening on 127.0.0.1:port.
fn start_local_cluster(bindir: &Path, port: u16) -> Result<()> {
    let data = util::root().join(".data");
    let pgdata = data.join("postgres");
    let log = data.join("postgres.log");
    std::fs::create_dir_all(&data).context("failed to create .data")?;

    // initdb and postgres refuse to run as root: use the `postgres` system user then.
    let run_as = if util::is_root() {
        if !util::user_exists("postgres") {
            bail!(
                "running as root and there is no `postgres` user to run the project-local cluster as; \
                 start PostgreSQL yourself (e.g. `pg_ctlcluster 15 main start`) or run xtask as a normal user"
            );
        }
        Some("postgres")
    } else {
        None
    };
    let initdb = bindir.join("initdb");
    let pg_ctl = bindir.join("pg_ctl");
    let pgdata_s = pgdata.to_string_lossy().into_owned();

    if !pgdata.join("PG_VERSION").is_file() {
        std::fs::create_dir_all(&pgdata).context("failed to create .data/postgres")?;
        if let Some(user) = run_as {
            chown(user, &data, false)?;
            chown(user, &pgdata, true)?;
        }
        let locale = if cfg!(target_os = "macos") {
            "en_US.UTF-8"
        } else {
            "C.UTF-8"
        };
        let args: Vec<String> = vec![
            "-D".into(),
            pgdata_s.clone(),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "--encoding=UTF8".into(),
            format!("--locale={locale}"),
        ];
        let mut cmd = command_as(run_as, &initdb, &args);
        println!("xtask: $ {}", util::describe(&cmd));
        util::run_checked(&mut cmd).context(
            "initdb failed (when running as root, every directory above .data must be readable by `postgres`)",
        )?;
    } else if let Some(user) = run_as {
        chown(user, &data, false)?;
    }

    let status_args = vec!["-D".to_owned(), pgdata_s.clone(), "status".to_owned()];
    if util::quiet_ok(&mut command_as(run_as, &pg_ctl, &status_args)) {
        bail!(
            "the project-local cluster in .data/postgres is running but does not answer on port {port}; \
             stop it with `pg_ctl -D .data/postgres stop` or set DB_PORT to its port"
        );
    }
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        util::shell_quote(&data.to_string_lossy())
    );
    let args: Vec<String> = vec![
        "-D".into(),
        pgdata_s.clone(),
        "-o".into(),
        options,
        "-l".into(),
        log.to_string_lossy().into_owned(),
        "start".into(),
        "-w".into(),
        "-t".into(),
        "60".into(),
    ];
    let mut cmd = command_as(run_as, &pg_ctl, &args);
    println!("xtask: $ {}", util::describe(&cmd));
    if let Err(err) = util::run_checked(&mut cmd) {
        bail!(
            "{err:#}; last lines of .data/postgres.log:\n{}",
            util::tail(&log, 20)
        );
    }
    let stop = command_as(run_as, &pg_ctl, &["-D".into(), pgdata_s, "stop".into()]);
    println!(
        "xtask: started a project-local PostgreSQL on 127.0.0.1:{port} (data in .data/postgres); stop it with:\n    {}",
        util::describe(&stop)
    );
    Ok(())
}

fn chown(user: &str, path: &Path, recursive: bool) -> Result<()> {
    let mut cmd = Command::new("chown");
    if recursive {
        cmd.arg("-R");
    }
    cmd.arg(format!("{user}:{user}")).arg(path);
    util::run_checked(&mut cmd)
}

/// Where Redis is expected: REDIS_HOST (or 127.0.0.1) and REDIS_PORT (or 6379).
pub fn redis_target(env: &Env) -> (String, u16) {
    let host = env
        .get("REDIS_HOST")
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env
        .get("REDIS_PORT")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(6379);
    (host, port)
}

/// Makes sure Redis answers (for tests), starting a non-persistent `redis-server` when it does not.
pub fn ensure_redis(env: &Env) -> Result<()> {
    let (host, port) = redis_target(env);
    let password = env.get("REDIS_PASSWORD");
    if redis_pong(&host, port, password.as_deref()) {
        println!("xtask: Redis answers at {host}:{port}");
        return Ok(());
    }
    if !is_local(&host) {
        bail!("Redis does not answer at {host}:{port} (REDIS_HOST/REDIS_PORT)");
    }
    let Some(redis_server) = util::which("redis-server") else {
        match util::install_hint("redis-server", "redis") {
            Some(cmd) => {
                eprintln!("xtask: Redis is not installed. Install it with:\n\n    {cmd}\n")
            }
            None => eprintln!(
                "xtask: Redis is not installed. Install Redis 7 with your package manager."
            ),
        }
        bail!("Redis does not answer at {host}:{port} and redis-server is not installed");
    };
    let mut cmd = Command::new(redis_server);
    cmd.args(["--daemonize", "yes", "--bind", "127.0.0.1", "-::1"])
        .args(["--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"]);
    println!("xtask: $ {}", util::describe(&cmd));
    util::run_checked(&mut cmd)?;
    if !wait_until(Duration::from_secs(10), || {
        redis_pong("127.0.0.1", port, password.as_deref())
    }) {
        bail!("redis-server was started but does not answer PING on 127.0.0.1:{port}");
    }
    println!("xtask: Redis started on 127.0.0.1:{port}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn tcp_probe_sees_a_listener_and_not_a_closed_port() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(tcp_answers("127.0.0.1", port, Duration::from_secs(1)));
        drop(listener);
        assert!(!tcp_answers("127.0.0.1", port, Duration::from_millis(300)));
    }

    #[test]
    fn redis_probe_requires_a_pong() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for reply in [&b"+PONG\r\n"[..], &b"-ERR nope\r\n"[..]] {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                for _ in 0..3 {
                    reader.read_line(&mut request).unwrap();
                }
                assert_eq!(request, "*1\r\n$4\r\nPING\r\n");
                let mut writer = stream;
                writer.write_all(reply).unwrap();
            }
        });
        assert!(redis_pong("127.0.0.1", port, None));
        assert!(!redis_pong("127.0.0.1", port, None));
        server.join().unwrap();
    }

    #[test]
    fn only_loopback_hosts_count_as_local() {
        assert!(is_local("localhost"));
        assert!(is_local("127.0.0.1"));
        assert!(!is_local("db.internal"));
    }
}
