//! HTTP load generators for `bench`, on blocking keep-alive connections (one thread each):
//! closed-loop (N connections, each sends its next request when the last one answered) for
//! throughput, and open-loop (requests scheduled at a fixed rate, latency measured from the
//! scheduled time, so a stalled server shows in the tail instead of slowing the generator down:
//! no coordinated omission) for percentiles at a given load.

mod evloop;
mod frame;

use crate::http::Client;
use anyhow::{bail, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to repeat: method, path and headers.
#[derive(Clone)]
pub struct Target {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Target {
    pub fn get(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request as it goes on the wire, built once per run.
    fn bytes(&self, addr: SocketAddr) -> Vec<u8> {
        crate::http::request_bytes("GET", &self.path, addr, &self.header_refs(), None)
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn send(&self, client: &mut Client) -> Result<()> {
        let resp = client.request("GET", &self.path, &self.header_refs(), None)?;
        if resp.status != 200 {
            bail!(
                "{} answered {}: {}",
                self.path,
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        Ok(())
    }
}

/// Latency samples of one run, sorted, and how long the run took.
pub struct Stats {
    pub samples: Vec<Duration>,
    pub total: Duration,
    pub errors: u64,
}

impl Stats {
    fn new(mut samples: Vec<Duration>, total: Duration, errors: u64) -> Self {
        samples.sort_unstable();
        Self {
            samples,
            total,
            errors,
        }
    }

    /// Nearest-rank percentile.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        // the epsilon keeps 99.9 % of 1000 at rank 999 despite binary floating point
        let rank = (p / 100.0 * self.samples.len() as f64 - 1e-9).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }

    pub fn per_second(&self) -> f64 {
        let secs = self.total.as_secs_f64();
        if secs > 0.0 {
            self.samples.len() as f64 / secs
        } else {
            0.0
        }
    }

    pub fn max(&self) -> Duration {
        self.samples.last().copied().unwrap_or_default()
    }

    /// The figures as JSON (milliseconds, requests per second).
    pub fn json(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        serde_json::json!({
            "requests": self.samples.len(),
            "errors": self.errors,
            "seconds": self.total.as_secs_f64(),
            "perSecond": self.per_second().round(),
            "p50Ms": ms(self.percentile(50.0)),
            "p99Ms": ms(self.percentile(99.0)),
            "p999Ms": ms(self.percentile(99.9)),
            "maxMs": ms(self.max()),
        })
    }
}

/// Event-loop threads of the closed-loop generator (as `pgbench -j 2` in the same bench).
const LOOP_THREADS: usize = 2;

/// `concurrency` connections each send `target` back to back for `duration`, driven by at most
/// [`LOOP_THREADS`] event loops.
pub fn closed_loop(
    addr: SocketAddr,
    target: &Target,
    concurrency: usize,
    duration: Duration,
) -> Result<Stats> {
    let concurrency = concurrency.max(1);
    let threads = LOOP_THREADS.min(concurrency);
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // connections dealt out as evenly as they go
            let share = concurrency / threads + usize::from(t < concurrency % threads);
            let target = target.clone();
            std::thread::spawn(move || evloop::drive(addr, &target, share, deadline))
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), 0);
    for h in handles {
        match h.join() {
            Ok(outcome) => {
                let outcome = outcome?;
                samples.extend(outcome.samples);
                errors += outcome.errors;
            }
            Err(_) => bail!("a load thread panicked"),
        }
    }
    let stats = Stats::new(samples, start.elapsed(), errors);
    check_errors(&stats, &target.path)?;
    Ok(stats)
}

/// Sends `target` at a constant `rate` per second for `duration` over up to `connections`
/// connections. Request `i` is due at `start + i / rate`; its latency runs from that moment, so
/// a request that waited for a free connection counts the wait.
pub fn open_loop(
    addr: SocketAddr,
    target: &Target,
    rate: u32,
    connections: usize,
    duration: Duration,
) -> Result<Stats> {
    let rate = f64::from(rate.max(1));
    let total = (duration.as_secs_f64() * rate).ceil() as u64;
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    // Every thread connects before the clock starts.
    let start = Instant::now() + Duration::from_millis(200);
    let handles: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (target, next, errors, failed) =
                (target.clone(), next.clone(), errors.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut client = Client::new(addr);
                let mut samples = Vec::with_capacity(4096);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    match target.send(&mut client) {
                        Ok(()) => samples.push(due.elapsed()),
                        Err(_) => {
                            if errors.fetch_add(1, Ordering::Relaxed) > total / 100 {
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                }
                samples
            })
        })
        .collect();
    let samples = join_all(handles)?;
    let stats = Stats::new(
        samples,
        start.elapsed().max(duration),
        errors.load(Ordering::Relaxed),
    );
    check_errors(&stats, &target.path)?;
    Ok(stats)
}

fn join_all(handles: Vec<std::thread::JoinHandle<Vec<Duration>>>) -> Result<Vec<Duration>> {
    let mut all = Vec::new();
    for h in handles {
        match h.join() {
            Ok(s) => all.extend(s),
            Err(_) => bail!("a load thread panicked"),
        }
    }
    Ok(all)
}

/// More than 1 % failed requests make the figures meaningless.
fn check_errors(stats: &Stats, path: &str) -> Result<()> {
    if stats.errors * 100 > stats.samples.len() as u64 + stats.errors {
        bail!(
            "{path}: {} of {} requests failed",
            stats.errors,
            stats.samples.len() as u64 + stats.errors
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_millis).collect();
        let stats = Stats::new(samples, Duration::from_secs(2), 0);
        assert_eq!(stats.percentile(50.0), Duration::from_millis(500));
        assert_eq!(stats.percentile(99.0), Duration::from_millis(990));
        assert_eq!(stats.percentile(99.9), Duration::from_millis(999));
        assert_eq!(stats.max(), Duration::from_millis(1000));
        assert!((stats.per_second() - 500.0).abs() < 1e-9);
    }

    /// A server answering every request on a connection with 200 after `delay`.
    fn slow_server(delay: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut out = stream;
                    loop {
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        std::thread::sleep(delay);
                        let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn open_loop_counts_the_time_a_request_waited_for_a_connection() {
        // One connection, 20 ms per answer, 200 requests/s: requests queue up, and the latency
        // measured from the schedule grows far past the 20 ms service time.
        let addr = slow_server(Duration::from_millis(20));
        let stats = open_loop(addr, &Target::get("/"), 200, 1, Duration::from_millis(500)).unwrap();
        assert_eq!(stats.samples.len(), 100);
        assert!(
            stats.max() > Duration::from_millis(500),
            "{:?}",
            stats.max()
        );
        assert!(stats.percentile(50.0) >= Duration::from_millis(20));
    }

    #[test]
    fn closed_loop_keeps_every_connection_busy() {
        let addr = slow_server(Duration::from_millis(10));
        let stats = closed_loop(addr, &Target::get("/"), 4, Duration::from_millis(300)).unwrap();
        // 4 connections × ~30 answers each
        assert!(stats.samples.len() >= 40, "{}", stats.samples.len());
        assert!(stats.percentile(50.0) >= Duration::from_millis(10));
    }
}
