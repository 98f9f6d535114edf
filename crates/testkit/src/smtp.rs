//! An in-process SMTP sink for tests: plain SMTP on 127.0.0.1 (any free port) that accepts
//! every message (EHLO/HELO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps it
//! for assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One message as received: envelope and raw DATA (dot-unstuffed, CRLF line ends).
#[derive(Debug, Clone)]
pub struct CapturedMail {
    /// `MAIL FROM` address (without `<>`).
    pub from: String,
    /// Every `RCPT TO` address.
    pub to: Vec<String>,
    /// The message as sent: headers, blank line, body.
    pub data: String,
    /// The user name of `AUTH`, when the client authenticated.
    pub auth_user: Option<String>,
}

impl CapturedMail {
    /// The first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(value) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                if key.trim().eq_ignore_ascii_case(name) {
                    found = Some(value.trim().to_owned());
                }
            }
        }
        found
    }

    /// The body after the blank line, as sent (still transfer-encoded).
    pub fn raw_body(&self) -> &str {
        self.split().1
    }

    /// The body decoded by its `Content-Transfer-Encoding` (quoted-printable, base64, or
    /// 7bit/8bit as is) as UTF-8 text with `\n` line ends. Single-part messages only.
    pub fn text(&self) -> String {
        let raw = self.raw_body();
        let encoding = self
            .header("content-transfer-encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => quoted_printable_decode(raw),
            "base64" => base64_decode(&raw.replace("\r\n", "")).unwrap_or_default(),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }

    fn split(&self) -> (&str, &str) {
        self.data
            .split_once("\r\n\r\n")
            .unwrap_or((self.data.as_str(), ""))
    }
}

#[derive(Default)]
struct Shared {
    mails: Mutex<Vec<CapturedMail>>,
    arrived: Notify,
}

/// The running sink; stops when dropped.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on 127.0.0.1 with a free port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    // a client that goes away mid-session is not the sink's problem
                    let _ = session(stream, &shared).await;
                });
            }
        });
        Ok(Self { port, shared, task })
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<CapturedMail> {
        lock(&self.shared.mails).clone()
    }

    /// The messages addressed to `rcpt` (case-insensitive).
    pub fn mails_to(&self, rcpt: &str) -> Vec<CapturedMail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(rcpt)))
            .collect()
    }

    /// Waits until a message for `rcpt` arrived, up to `timeout`.
    pub async fn wait_for(&self, rcpt: &str, timeout: Duration) -> Option<CapturedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            if let Some(m) = self.mails_to(rcpt).into_iter().next() {
                return Some(m);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.mails_to(rcpt).into_iter().next();
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The address inside `FROM:<a@b> SIZE=1` / `TO:<a@b>`.
fn path_arg(arg: &str) -> String {
    let arg = arg.split_once(':').map_or(arg, |(_, rest)| rest).trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(open), Some(close)) if open < close => arg[open + 1..close].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

/// The user of an `AUTH PLAIN` initial response (`\0user\0password`, base64).
fn plain_user(b64: &str) -> Option<String> {
    let bytes = base64_decode(b64)?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = parts.next()?;
    Some(String::from_utf8_lossy(user).into_owned())
}

/// RFC 2045 quoted-printable: `=XX` bytes, `=` at a line end joins lines.
fn quoted_printable_decode(text: &str) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1..i + 3) == Some(b"\r\n") {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim().bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)?;
        acc = (acc << 6) | u32::try_from(v).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 127.0.0.1 ingenio test sink ESMTP\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut auth_user: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = command.split_once(' ').unwrap_or((command, ""));
        let reply: &[u8] = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => b"250-127.0.0.1\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n",
            "HELO" => b"250 127.0.0.1\r\n",
            "AUTH" => {
                let mut words = arg.split_whitespace();
                match (
                    words.next().map(str::to_ascii_uppercase).as_deref(),
                    words.next(),
                ) {
                    (Some("PLAIN"), Some(initial)) => {
                        auth_user = plain_user(initial);
                        b"235 2.7.0 accepted\r\n"
                    }
                    (Some("LOGIN"), _) => {
                        write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                        line.clear();
                        lines.read_line(&mut line).await?;
                        auth_user = base64_decode(line.trim())
                            .map(|u| String::from_utf8_lossy(&u).into_owned());
                        write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                        line.clear();
                        lines.read_line(&mut line).await?;
                        b"235 2.7.0 accepted\r\n"
                    }
                    _ => b"504 5.5.4 mechanism not supported\r\n",
                }
            }
            "MAIL" => {
                from = Some(path_arg(arg));
                to.clear();
                b"250 2.1.0 ok\r\n"
            }
            "RCPT" if from.is_none() => b"503 5.5.1 MAIL first\r\n",
            "RCPT" => {
                to.push(path_arg(arg));
                b"250 2.1.5 ok\r\n"
            }
            "DATA" if to.is_empty() => b"503 5.5.1 RCPT first\r\n",
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    let text = line.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    data.push_str(text.strip_prefix('.').unwrap_or(text));
                    data.push_str("\r\n");
                }
                let mail = CapturedMail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                    auth_user: auth_user.clone(),
                };
                lock(&shared.mails).push(mail);
                shared.arrived.notify_waiters();
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from = None;
                to.clear();
                b"250 2.0.0 ok\r\n"
            }
            "NOOP" => b"250 2.0.0 ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn mail(headers: &str, body: &str) -> CapturedMail {
        CapturedMail {
            from: String::new(),
            to: Vec::new(),
            data: format!("{headers}\r\n\r\n{body}"),
            auth_user: None,
        }
    }

    #[test]
    fn bodies_are_decoded_by_their_transfer_encoding() {
        let qp = mail(
            "Content-Transfer-Encoding: quoted-printable",
            "=E6=82=A8=E5=A5=BD, a long=\r\n line=3D1\r\n",
        );
        assert_eq!(qp.text(), "您好, a long line=1\n");
        // "您好\r\nok" in base64, wrapped
        let b64 = mail(
            "content-transfer-encoding: BASE64",
            "5oKo5aW9\r\nDQpvaw==\r\n",
        );
        assert_eq!(b64.text(), "您好\nok");
        assert_eq!(mail("X: y", "plain\r\n").text(), "plain\n");
    }

    async fn say(
        lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: &mut tokio::net::tcp::OwnedWriteHalf,
        text: &str,
    ) -> String {
        write.write_all(text.as_bytes()).await.unwrap();
        let mut reply = String::new();
        loop {
            let mut l = String::new();
            lines.read_line(&mut l).await.unwrap();
            reply.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    #[tokio::test]
    async fn a_session_is_captured_with_envelope_headers_and_unstuffed_body() {
        let sink = SmtpSink::start().await.unwrap();
        let stream = TcpStream::connect(("127.0.0.1", sink.port()))
            .await
            .unwrap();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut greeting = String::new();
        r.read_line(&mut greeting).await.unwrap();
        assert!(greeting.starts_with("220"));
        assert!(say(&mut r, &mut w, "EHLO me\r\n")
            .await
            .contains("8BITMIME"));
        assert!(say(&mut r, &mut w, "RCPT TO:<x@y>\r\n")
            .await
            .starts_with("503"));
        // AUTH PLAIN of "\0user\0pw"
        assert!(say(&mut r, &mut w, "AUTH PLAIN AHVzZXIAcHc=\r\n")
            .await
            .starts_with("235"));
        assert!(say(&mut r, &mut w, "MAIL FROM:<a@x> BODY=8BITMIME\r\n")
            .await
            .starts_with("250"));
        assert!(say(&mut r, &mut w, "RSET\r\n").await.starts_with("250"));
        assert!(say(&mut r, &mut w, "NOOP\r\n").await.starts_with("250"));
        assert!(say(&mut r, &mut w, "DATA\r\n").await.starts_with("503"));
        say(&mut r, &mut w, "MAIL FROM:<a@x>\r\n").await;
        say(&mut r, &mut w, "RCPT TO:<B@Y>\r\n").await;
        assert!(say(&mut r, &mut w, "DATA\r\n").await.starts_with("354"));
        let reply = say(
            &mut r,
            &mut w,
            "Subject: hi\r\n =?utf-8?q?there?=\r\n\r\n您好\r\n..dot\r\n.\r\n",
        )
        .await;
        assert!(reply.starts_with("250"), "{reply}");
        assert!(say(&mut r, &mut w, "QUIT\r\n").await.starts_with("221"));
        let mail = sink.wait_for("b@y", Duration::from_secs(2)).await.unwrap();
        assert_eq!(mail.from, "a@x");
        assert_eq!(mail.auth_user.as_deref(), Some("user"));
        assert_eq!(mail.header("subject").unwrap(), "hi =?utf-8?q?there?=");
        assert_eq!(mail.raw_body(), "您好\r\n.dot\r\n");
        assert_eq!(mail.text(), "您好\n.dot\n");
        assert!(sink.mails_to("nobody@y").is_empty());
        assert!(sink
            .wait_for("nobody@y", Duration::from_millis(50))
            .await
            .is_none());
    }
}
