//! A small static file server for rendered apps: serves one directory under a path prefix on
//! 127.0.0.1 with the headers of the preview route (sandboxing CSP, nosniff), for development and
//! for the browser checks. Never serves anything outside its root (no `..`, no dot files, no
//! symlinks that leave it).

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The Content-Security-Policy of the preview route.
pub const PREVIEW_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'self'";

/// Longest request head read before answering 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A running server; it stops when dropped.
pub struct StaticServer {
    addr: SocketAddr,
    prefix: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` at `http://127.0.0.1:<free port><prefix>` (`prefix` like `/preview/app/`).
    pub fn start(root: &Path, prefix: &str) -> Result<Self> {
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot open the directory to serve: {}", root.display()))?;
        anyhow::ensure!(root.is_dir(), "{} is not a directory", root.display());
        let prefix = normalize_prefix(prefix);
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).context("bind the static server to 127.0.0.1")?;
        let addr = listener
            .local_addr()
            .context("read the static server address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, prefix) = (Arc::clone(&stop), prefix.clone());
            std::thread::Builder::new()
                .name("static-server".into())
                .spawn(move || accept_loop(&listener, &root, &prefix, &stop))
                .context("start the static server thread")?
        };
        Ok(Self {
            addr,
            prefix,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL of the served directory, ending in `/`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    #[cfg(test)]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

fn accept_loop(listener: &TcpListener, root: &Path, prefix: &str, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (root, prefix) = (root.to_path_buf(), prefix.to_owned());
        let _ = std::thread::Builder::new()
            .name("static-conn".into())
            .spawn(move || {
                if let Err(err) = serve_connection(stream, &root, &prefix) {
                    eprintln!("static server: {err:#}");
                }
            });
    }
}

/// One response: status, extra headers and body (`Connection: close` after it).
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn text(status: &'static str, message: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: format!("{message}\n").into_bytes(),
        }
    }
}

fn serve_connection(stream: TcpStream, root: &Path, prefix: &str) -> Result<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("set the read timeout")?;
    let mut reader = BufReader::new(stream.try_clone().context("clone the connection")?);
    let mut request_line = String::new();
    reader
        .read_line(&mut request_line)
        .context("read the request line")?;
    let mut head = request_line.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).context("read a header")?;
        head += n;
        if n == 0 || line == "\r\n" || line == "\n" || head > MAX_HEAD_BYTES {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let reply = if head > MAX_HEAD_BYTES {
        Reply::text(
            "431 Request Header Fields Too Large",
            "request head too large",
        )
    } else {
        respond(root, prefix, method, target)
    };
    write_reply(stream, method == "HEAD", reply)
}

fn respond(root: &Path, prefix: &str, method: &str, target: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        let mut reply = Reply::text("405 Method Not Allowed", "only GET and HEAD");
        reply.headers.push(("Allow", "GET, HEAD".into()));
        return reply;
    }
    match resolve(prefix, target) {
        Target::Redirect(location) => {
            let mut reply = Reply::text("301 Moved Permanently", "moved");
            reply.headers.push(("Location", location));
            reply
        }
        Target::NotFound => Reply::text("404 Not Found", "not found"),
        Target::File {
            relative,
            dir_slash,
        } => serve_file(root, &relative, target, dir_slash),
    }
}

fn serve_file(root: &Path, relative: &Path, target: &str, dir_slash: bool) -> Reply {
    let path = root.join(relative);
    // A symlink may point anywhere: only serve what really lies under the root.
    let Ok(real) = path.canonicalize() else {
        return Reply::text("404 Not Found", "not found");
    };
    if !real.starts_with(root) {
        return Reply::text("404 Not Found", "not found");
    }
    if real.is_dir() {
        if dir_slash {
            return serve_file(root, &relative.join("index.html"), target, false);
        }
        let mut reply = Reply::text("301 Moved Permanently", "moved");
        let path_only = target.split(['?', '#']).next().unwrap_or(target);
        reply.headers.push(("Location", format!("{path_only}/")));
        return reply;
    }
    match std::fs::read(&real) {
        Ok(body) => Reply {
            status: "200 OK",
            headers: vec![("Content-Type", content_type(&real).into())],
            body,
        },
        Err(_) => Reply::text("404 Not Found", "not found"),
    }
}

fn write_reply(mut stream: TcpStream, head_only: bool, reply: Reply) -> Result<()> {
    let mut out = format!("HTTP/1.1 {}\r\n", reply.status);
    for (name, value) in reply.headers.iter().map(|(n, v)| (*n, v.as_str())).chain([
        ("Content-Security-Policy", PREVIEW_CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
    ]) {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
    stream
        .write_all(out.as_bytes())
        .context("write the response head")?;
    if !head_only {
        stream
            .write_all(&reply.body)
            .context("write the response body")?;
    }
    stream.flush().context("flush the response")
}

/// What a request target names.
#[derive(Debug, PartialEq)]
enum Target {
    /// A path relative to the root (made only of normal components); `dir_slash` when it ended in `/`.
    File {
        relative: PathBuf,
        dir_slash: bool,
    },
    Redirect(String),
    NotFound,
}

/// Maps a request target to a path under the root: the prefix is required, the query and fragment
/// are ignored, `%XX` is decoded, and `..`, dot files, backslashes and NULs are refused.
fn resolve(prefix: &str, target: &str) -> Target {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        return Target::NotFound;
    }
    if format!("{path}/") == prefix {
        return Target::Redirect(prefix.to_owned());
    }
    let Some(rest) = path.strip_prefix(prefix) else {
        return Target::NotFound;
    };
    let Some(decoded) = percent_decode(rest) else {
        return Target::NotFound;
    };
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains(['\\', '\0']) {
            return Target::NotFound;
        }
        relative.push(segment);
    }
    // `push` of one plain segment can only add normal components; keep the guarantee explicit.
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Target::NotFound;
    }
    let dir_slash = decoded.is_empty() || decoded.ends_with('/');
    Target::File {
        relative,
        dir_slash,
    }
}

/// `%XX` decoding into UTF-8; None for a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::http::Client;
    use proptest::prelude::*;

    const PREFIX: &str = "/preview/app/";

    fn fixture() -> PathBuf {
        crate::util::root().join("xtask/browser/fixture")
    }

    fn file(relative: &str, dir_slash: bool) -> Target {
        Target::File {
            relative: PathBuf::from(relative),
            dir_slash,
        }
    }

    #[test]
    fn targets_map_under_the_prefix_only() {
        assert_eq!(resolve(PREFIX, "/preview/app/"), file("", true));
        assert_eq!(resolve(PREFIX, "/preview/app/?x=1#top"), file("", true));
        assert_eq!(
            resolve(PREFIX, "/preview/app/css/a%20b.css"),
            file("css/a b.css", false)
        );
        assert_eq!(resolve(PREFIX, "/preview/app/sub/"), file("sub", true));
        assert_eq!(
            resolve(PREFIX, "/preview/app"),
            Target::Redirect(PREFIX.into())
        );
        assert_eq!(resolve(PREFIX, "/app.js"), Target::NotFound);
        assert_eq!(resolve(PREFIX, "/preview/other/"), Target::NotFound);
    }

    #[test]
    fn escapes_and_dot_files_are_refused() {
        for target in [
            "/preview/app/../Cargo.toml",
            "/preview/app/%2e%2e/Cargo.toml",
            "/preview/app/a/%2E%2E/%2E%2E/x",
            "/preview/app/.git/config",
            "/preview/app/a%5c..%5cb",
            "/preview/app/a%00b",
            "/preview/app/%zz",
            "/preview/app/%ff%fe",
        ] {
            assert_eq!(resolve(PREFIX, target), Target::NotFound, "{target}");
        }
    }

    proptest! {
        #[test]
        fn no_target_leaves_the_root(segments in proptest::collection::vec(
            prop_oneof![
                Just("..".to_owned()), Just("%2e%2e".to_owned()), Just(".".to_owned()),
                Just("%2f".to_owned()), Just("%5c".to_owned()), Just("".to_owned()),
                "[a-zA-Z0-9_.%-]{1,8}", "\\PC{1,4}",
            ],
            0..8,
        )) {
            let target = format!("{PREFIX}{}", segments.join("/"));
            if let Target::File { relative, .. } = resolve(PREFIX, &target) {
                prop_assert!(relative.components().all(|c| matches!(c, Component::Normal(_))));
                prop_assert!(relative.iter().all(|s| !s.to_string_lossy().starts_with('.')));
                prop_assert!(!relative.is_absolute());
            }
        }
    }

    #[test]
    fn serves_the_fixture_with_the_preview_headers() {
        let server = StaticServer::start(&fixture(), "preview/app").unwrap();
        assert!(server.url().ends_with("/preview/app/"));
        let mut client = Client::new(server.addr());

        let index = client.request("GET", PREFIX, &[], None).unwrap();
        assert_eq!(index.status, 200);
        assert_eq!(
            index.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(index.header("content-security-policy"), Some(PREVIEW_CSP));
        assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
        assert!(String::from_utf8_lossy(&index.body).contains("data-page=\"home\""));

        let script = client
            .request("GET", "/preview/app/app.js", &[], None)
            .unwrap();
        assert_eq!(
            script.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        let head = client
            .request("HEAD", "/preview/app/styles.css", &[], None)
            .unwrap();
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_ne!(head.header("content-length"), Some("0"));

        let moved = client.request("GET", "/preview/app", &[], None).unwrap();
        assert_eq!(moved.status, 301);
        assert_eq!(moved.header("location"), Some(PREFIX));
        for target in [
            "/preview/app/%2e%2e/spec.json",
            "/app.js",
            "/preview/app/nope.js",
        ] {
            let missing = client.request("GET", target, &[], None).unwrap();
            assert_eq!(missing.status, 404, "{target}");
        }
        let post = client
            .request("POST", PREFIX, &[], Some(b"x".as_slice()))
            .unwrap();
        assert_eq!(post.status, 405);
    }

    #[test]
    fn symlinks_out_of_the_root_are_not_followed() {
        let dir =
            crate::util::target_dir().join(format!("static-server-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("site")).unwrap();
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        std::fs::write(dir.join("site/index.html"), "<!doctype html>").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("site/leak.txt")).unwrap();
        let server = StaticServer::start(&dir.join("site"), "/").unwrap();
        let mut client = Client::new(server.addr());
        assert_eq!(client.request("GET", "/", &[], None).unwrap().status, 200);
        assert_eq!(
            client
                .request("GET", "/leak.txt", &[], None)
                .unwrap()
                .status,
            404
        );
        drop(server);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
