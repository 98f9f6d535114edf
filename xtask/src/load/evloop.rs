//! The closed-loop generator: `threads` event loops (mio), each driving its share of the
//! connections. Each connection sends its next request as soon as the last one is answered. The
//! request bytes are built once; a response is framed in place in a reused buffer. Like
//! `pgbench -j 2`, a few threads drive many connections, so the generator takes as little of the
//! machine's CPU from the server under test as it can (the blocking thread-per-connection client
//! it replaces spent about a fifth of both cores on its own).

use super::frame::{frame, Framed};
use super::Target;
use anyhow::{bail, Context, Result};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Requests sent on one connection, and how each fared.
pub struct Outcome {
    pub samples: Vec<Duration>,
    pub errors: u64,
}

struct Conn {
    stream: TcpStream,
    written: usize,
    buf: Vec<u8>,
    filled: usize,
    sent_at: Instant,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Self> {
        let std = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .with_context(|| format!("failed to connect to {addr}"))?;
        std.set_nodelay(true).context("failed to set TCP_NODELAY")?;
        std.set_nonblocking(true)
            .context("failed to make the socket non-blocking")?;
        Ok(Self {
            stream: TcpStream::from_std(std),
            written: 0,
            buf: vec![0; 16 * 1024],
            filled: 0,
            sent_at: Instant::now(),
        })
    }
}

/// Drives `connections` connections until `deadline`, each sending `target` back to back.
pub fn drive(
    addr: SocketAddr,
    target: &Target,
    connections: usize,
    deadline: Instant,
) -> Result<Outcome> {
    let request = target.bytes(addr);
    let mut poll = Poll::new().context("failed to create a poll")?;
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        let mut c = Conn::open(addr)?;
        poll.registry()
            .register(
                &mut c.stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .context("failed to register a connection")?;
        conns.push(c);
    }
    let mut out = Outcome {
        samples: Vec::with_capacity(1 << 16),
        errors: 0,
    };
    for c in &mut conns {
        c.sent_at = Instant::now();
        write_some(c, &request)?;
    }
    let mut events = Events::with_capacity(connections.max(1) * 2);
    while Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .context("poll failed")?;
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if c.written < request.len() {
                write_some(c, &request)?;
            }
            if !ev.is_readable() && !ev.is_read_closed() {
                continue;
            }
            loop {
                if c.filled == c.buf.len() {
                    let grown = c.buf.len() * 2;
                    c.buf.resize(grown, 0);
                }
                match c.stream.read(&mut c.buf[c.filled..]) {
                    Ok(0) => bail!("{}: the server closed a kept-alive connection", target.path),
                    Ok(n) => c.filled += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e).context("failed to read a response"),
                }
                match frame(&c.buf[..c.filled]) {
                    Framed::Partial => continue,
                    Framed::Bad(why) => bail!("{}: {why}", target.path),
                    Framed::Whole { status, len } => {
                        if len != c.filled {
                            bail!("{}: bytes after a response nobody asked for", target.path);
                        }
                        if status == 200 {
                            out.samples.push(c.sent_at.elapsed());
                        } else {
                            out.errors += 1;
                        }
                        c.filled = 0;
                        c.written = 0;
                        if Instant::now() < deadline {
                            c.sent_at = Instant::now();
                            write_some(c, &request)?;
                        }
                        break;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Writes as much of the request as the socket takes now; the rest goes on the next event.
fn write_some(c: &mut Conn, request: &[u8]) -> Result<()> {
    while c.written < request.len() {
        match c.stream.write(&request[c.written..]) {
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("failed to send a request"),
        }
    }
    Ok(())
}
