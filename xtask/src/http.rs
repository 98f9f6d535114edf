//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream` with keep-alive, for `bench`
//! (Content-Length and chunked bodies; reconnects once when a kept-alive connection went stale).

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request as it goes on the wire (`Content-Length` when there is a body).
pub fn request_bytes(
    method: &str,
    path: &str,
    host: SocketAddr,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// A kept-alive connection to one server.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, conn: None }
    }

    /// Sends one request and reads the whole response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response> {
        let bytes = request_bytes(method, path, self.addr, headers, body);

        let reused = self.conn.is_some();
        match self.exchange(&bytes, method) {
            Ok(resp) => Ok(resp),
            // A kept-alive connection may have been closed by the server meanwhile: retry once.
            Err(_) if reused => {
                self.conn = None;
                self.exchange(&bytes, method)
            }
            Err(err) => Err(err),
        }
    }

    fn exchange(&mut self, request: &[u8], method: &str) -> Result<Response> {
        if self.conn.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                .with_context(|| format!("failed to connect to {}", self.addr))?;
            stream
                .set_nodelay(true)
                .context("failed to set TCP_NODELAY")?;
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .context("failed to set a read timeout")?;
            self.conn = Some(BufReader::new(stream));
        }
        let Some(conn) = self.conn.as_mut() else {
            bail!("no connection");
        };
        let result = send_and_read(conn, request, method);
        match &result {
            Ok(resp) if !keep_alive(resp) => self.conn = None,
            Ok(_) => {}
            Err(_) => self.conn = None,
        }
        result
    }
}

fn keep_alive(resp: &Response) -> bool {
    !resp
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

fn send_and_read(
    conn: &mut BufReader<TcpStream>,
    request: &[u8],
    method: &str,
) -> Result<Response> {
    conn.get_mut()
        .write_all(request)
        .context("failed to send the request")?;
    read_response(conn, method)
}

/// Reads one HTTP/1.1 response (status line, headers, body) from the stream.
pub fn read_response(reader: &mut impl BufRead, method: &str) -> Result<Response> {
    let mut line = String::new();
    if reader
        .read_line(&mut line)
        .context("failed to read the status line")?
        == 0
    {
        bail!("connection closed before a response");
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x response: {line:?}");
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;

    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .context("failed to read a header")?
            == 0
        {
            bail!("connection closed inside the headers");
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        resp.body = read_chunked(reader)?;
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().context("bad Content-Length")?;
        let mut body = vec![0; len];
        reader
            .read_exact(&mut body)
            .context("failed to read the body")?;
        resp.body = body;
    } else {
        reader
            .read_to_end(&mut resp.body)
            .context("failed to read the body")?;
        resp.headers
            .push(("connection".to_owned(), "close".to_owned()));
    }
    Ok(resp)
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader
            .read_line(&mut line)
            .context("failed to read a chunk size")?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                line.clear();
                if reader
                    .read_line(&mut line)
                    .context("failed to read a trailer")?
                    == 0
                    || line.trim().is_empty()
                {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .context("failed to read a chunk")?;
        let mut crlf = [0u8; 2];
        reader
            .read_exact(&mut crlf)
            .context("failed to read a chunk end")?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_content_length_and_chunked_bodies_back_to_back() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello\
HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
        let mut reader = BufReader::new(&raw[..]);
        let a = read_response(&mut reader, "GET").unwrap();
        assert_eq!(
            (a.status, a.body.as_slice(), a.header("x-a")),
            (200, &b"hello"[..], Some("b"))
        );
        let b = read_response(&mut reader, "GET").unwrap();
        assert_eq!((b.status, b.body.as_slice()), (404, &b"abcde"[..]));
        let c = read_response(&mut reader, "GET").unwrap();
        assert_eq!((c.status, c.body.len()), (204, 0));
        assert!(read_response(&mut reader, "GET").is_err());
    }

    #[test]
    fn keeps_one_connection_for_many_requests() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            for i in 0..3 {
                let mut line = String::new();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                }
                let body = format!("n{i}");
                write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        let mut client = Client::new(addr);
        for i in 0..3 {
            let resp = client
                .request("GET", "/x", &[("Accept", "*/*")], None)
                .unwrap();
            assert_eq!(resp.body, format!("n{i}").into_bytes());
        }
        server.join().unwrap();
    }
}
