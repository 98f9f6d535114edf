//! Response framing for the event-loop load generator: where one HTTP/1.1 response ends in a
//! buffer that may hold only part of it (Content-Length or chunked bodies), read without copying.

/// What the start of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// Not a whole response yet: read more.
    Partial,
    /// A whole response of `len` bytes with this status.
    Whole { status: u16, len: usize },
    /// Not an HTTP/1.x response this generator can frame.
    Bad(&'static str),
}

/// Frames the response at the start of `buf`, answering a GET (a body unless 1xx/204/304).
pub fn frame(buf: &[u8]) -> Framed {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Framed::Partial;
    };
    let head = &buf[..head_end];
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let status_line = lines.next().unwrap_or_default();
    if !status_line.starts_with(b"HTTP/1.") {
        return Framed::Bad("not an HTTP/1.x response");
    }
    let status = match status_line.get(9..12).and_then(parse_u16) {
        Some(s) => s,
        None => return Framed::Bad("bad status line"),
    };
    let body_start = head_end + 4;
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Framed::Whole {
            status,
            len: body_start,
        };
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            match parse_usize(value) {
                Some(n) => length = Some(n),
                None => return Framed::Bad("bad Content-Length"),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
        }
    }
    if chunked {
        return match chunked_end(&buf[body_start..]) {
            Ok(Some(n)) => Framed::Whole {
                status,
                len: body_start + n,
            },
            Ok(None) => Framed::Partial,
            Err(why) => Framed::Bad(why),
        };
    }
    match length {
        Some(n) if buf.len() >= body_start + n => Framed::Whole {
            status,
            len: body_start + n,
        },
        Some(_) => Framed::Partial,
        None => Framed::Bad("a response without Content-Length on a kept-alive connection"),
    }
}

/// Where a chunked body ends (after the last chunk and an empty trailer), if it is all there.
fn chunked_end(body: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut at = 0;
    loop {
        let Some(eol) = find(&body[at..], b"\r\n") else {
            return Ok(None);
        };
        let size_text = body[at..at + eol]
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        let size = std::str::from_utf8(trim(size_text))
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or("bad chunk size")?;
        at += eol + 2;
        if size == 0 {
            // trailer lines, then an empty line
            loop {
                let Some(eol) = find(&body[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        if &body[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF");
        }
        at += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn parse_u16(s: &[u8]) -> Option<u16> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn parse_usize(s: &[u8]) -> Option<usize> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn with_length(status: u16, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn chunked(status: u16, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut r =
            format!("HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            r.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
            r.extend_from_slice(c);
            r.extend_from_slice(b"\r\n");
        }
        r.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        r
    }

    proptest! {
        /// Every proper prefix is partial; the whole is framed at its exact length even with the
        /// next response already behind it (pipelined bytes are never swallowed).
        #[test]
        fn frames_exactly_at_any_split(
            status in prop_oneof![Just(200u16), Just(404), Just(500), Just(201)],
            body in proptest::collection::vec(any::<u8>(), 0..300),
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            is_chunked in any::<bool>(),
        ) {
            let resp = if is_chunked { chunked(status, &parts) } else { with_length(status, &body) };
            for cut in 0..resp.len() {
                prop_assert_eq!(frame(&resp[..cut]), Framed::Partial, "cut {}", cut);
            }
            let mut two = resp.clone();
            two.extend_from_slice(&with_length(200, b"next"));
            prop_assert_eq!(frame(&two), Framed::Whole { status, len: resp.len() });
        }
    }

    #[test]
    fn bodiless_statuses_and_bad_input() {
        assert_eq!(
            frame(b"HTTP/1.1 204 No Content\r\n\r\n"),
            Framed::Whole {
                status: 204,
                len: 27
            }
        );
        assert!(matches!(frame(b"SSH-2.0\r\n\r\n"), Framed::Bad(_)));
        assert!(matches!(frame(b"HTTP/1.1 2x0 OK\r\n\r\n"), Framed::Bad(_)));
        assert!(matches!(
            frame(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Framed::Bad(_)
        ));
    }
}
