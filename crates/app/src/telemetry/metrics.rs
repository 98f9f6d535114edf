//! The metrics registry behind `/actuator/prometheus` and `/actuator/metrics`, with
//! Micrometer-compatible names so the guide's dashboards work (guide §6.3–6.4).
//!
//! Prometheus names map to Spring-style dotted names by dropping a `_total` suffix, then a
//! unit suffix (`_seconds` or `_bytes`, which becomes the `baseUnit`), then turning `_` into
//! `.`: `http_server_requests_seconds` → `http.server.requests` (seconds),
//! `process_cpu_seconds_total` → `process.cpu` (seconds), `process_resident_memory_bytes` →
//! `process.resident.memory` (bytes), `hikaricp_connections_active` →
//! `hikaricp.connections.active`, `ingenio_rate_limit_rejected_total` →
//! `ingenio.rate.limit.rejected`. A histogram's `<name>_max` gauge family is shown as the `MAX`
//! statistic of the histogram, not as a name of its own. `describe` also accepts the raw
//! Prometheus name.

use prometheus::core::Collector;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{
    CounterVec, Encoder as _, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry, TextEncoder,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Buckets of the HTTP timer, in seconds (Micrometer's SLO-style spread from 5 ms to 10 s).
pub const HTTP_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// `uri` label used when no route matched (404s, probes of random paths …).
pub const UNKNOWN_URI: &str = "UNKNOWN";

/// How long a `*_max` gauge remembers a peak (Micrometer keeps its max for about 2 minutes).
const MAX_WINDOW: Duration = Duration::from_secs(60);

const HTTP_NAME: &str = "http_server_requests_seconds";
const HTTP_LABELS: [&str; 4] = ["method", "uri", "status", "outcome"];
const POOL_LABELS: [&str; 1] = ["pool"];

/// Micrometer's outcome for an HTTP status.
pub fn outcome(status: u16) -> &'static str {
    match status {
        100..=199 => "INFORMATIONAL",
        200..=299 => "SUCCESS",
        300..=399 => "REDIRECTION",
        400..=499 => "CLIENT_ERROR",
        500..=599 => "SERVER_ERROR",
        _ => "UNKNOWN",
    }
}

/// The Spring-style dotted name and base unit of a Prometheus metric name.
pub fn dotted_name(prometheus_name: &str) -> (String, Option<&'static str>) {
    let base = prometheus_name
        .strip_suffix("_total")
        .unwrap_or(prometheus_name);
    let (base, unit) = if let Some(b) = base.strip_suffix("_seconds") {
        (b, Some("seconds"))
    } else if let Some(b) = base.strip_suffix("_bytes") {
        (b, Some("bytes"))
    } else {
        (base, None)
    };
    (base.replace('_', "."), unit)
}

/// A peak over a sliding pair of windows: the reported max is the larger of this window's and
/// the previous window's, so a peak stays visible for one to two windows and then decays to 0.
#[derive(Debug, Clone, Copy)]
struct WindowMax {
    started: Instant,
    current: f64,
    previous: f64,
}

impl WindowMax {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            current: 0.0,
            previous: 0.0,
        }
    }

    fn rotate(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= MAX_WINDOW * 2 {
            self.previous = 0.0;
            self.current = 0.0;
            self.started = now;
        } else if elapsed >= MAX_WINDOW {
            self.previous = self.current;
            self.current = 0.0;
            self.started += MAX_WINDOW;
        }
    }

    fn value(&self) -> f64 {
        self.current.max(self.previous)
    }
}

/// A metric family created on first use by the generic helpers.
#[derive(Clone)]
enum Dynamic {
    Counter(CounterVec, Vec<String>),
    Gauge(GaugeVec, Vec<String>),
    Histogram(HistogramVec, Vec<String>),
}

struct Inner {
    http: HistogramVec,
    http_max: GaugeVec,
    http_peaks: Mutex<HashMap<[String; 4], WindowMax>>,
    pool_active: GaugeVec,
    pool_idle: GaugeVec,
    pool_max: GaugeVec,
    pool_pending: GaugeVec,
    pool_total: GaugeVec,
    dynamic: Mutex<HashMap<String, Dynamic>>,
}

/// The application's metrics. Cheap to clone; every clone feeds the same registry.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> anyhow::Result<C> {
    registry
        .register(Box::new(c.clone()))
        .map_err(|e| anyhow::anyhow!("cannot register metric: {e}"))?;
    Ok(c)
}

fn pool_gauge(registry: &Registry, name: &str, help: &str) -> anyhow::Result<GaugeVec> {
    register(
        registry,
        GaugeVec::new(Opts::new(name, help), &POOL_LABELS)?,
    )
}

impl Metrics {
    /// A fresh registry (never the process-global one) with the process collector, the HTTP
    /// timer and the connection pool gauges.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(|e| anyhow::anyhow!("cannot register the process collector: {e}"))?;
        let http = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(HTTP_NAME, "Duration of HTTP server request handling")
                    .buckets(HTTP_BUCKETS.to_vec()),
                &HTTP_LABELS,
            )?,
        )?;
        let http_max = register(
            &registry,
            GaugeVec::new(
                Opts::new(
                    "http_server_requests_seconds_max",
                    "Longest HTTP server request of the recent past",
                ),
                &HTTP_LABELS,
            )?,
        )?;
        let inner = Inner {
            http,
            http_max,
            http_peaks: Mutex::new(HashMap::new()),
            pool_active: pool_gauge(
                &registry,
                "hikaricp_connections_active",
                "Active connections",
            )?,
            pool_idle: pool_gauge(&registry, "hikaricp_connections_idle", "Idle connections")?,
            pool_max: pool_gauge(&registry, "hikaricp_connections_max", "Max connections")?,
            pool_pending: pool_gauge(&registry, "hikaricp_connections_pending", "Pending threads")?,
            pool_total: pool_gauge(&registry, "hikaricp_connections", "Total connections")?,
            dynamic: Mutex::new(HashMap::new()),
        };
        Ok(Self {
            registry,
            inner: Arc::new(inner),
        })
    }

    /// Records one HTTP request. `uri` is the route template (`/api/v1/users/{id}`); pass an
    /// empty string when no route matched and it is recorded as `UNKNOWN`.
    pub fn observe_http(&self, method: &str, uri: &str, status: u16, seconds: f64) {
        let uri = if uri.is_empty() { UNKNOWN_URI } else { uri };
        let status_text = status.to_string();
        let outcome = outcome(status);
        let labels = [method, uri, status_text.as_str(), outcome];
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            0.0
        };
        self.inner.http.with_label_values(&labels).observe(seconds);
        let now = Instant::now();
        let mut peaks = lock(&self.inner.http_peaks);
        let key = labels.map(str::to_string);
        let peak = peaks.entry(key).or_insert_with(|| WindowMax::new(now));
        peak.rotate(now);
        peak.current = peak.current.max(seconds);
        self.inner
            .http_max
            .with_label_values(&labels)
            .set(peak.value());
    }

    /// Publishes a connection pool's state (Hikari's gauge names, label `pool`).
    pub fn set_pool_state(&self, pool: &str, active: u64, idle: u64, max: u64, pending: u64) {
        let l = [pool];
        self.inner
            .pool_active
            .with_label_values(&l)
            .set(active as f64);
        self.inner.pool_idle.with_label_values(&l).set(idle as f64);
        self.inner.pool_max.with_label_values(&l).set(max as f64);
        self.inner
            .pool_pending
            .with_label_values(&l)
            .set(pending as f64);
        self.inner
            .pool_total
            .with_label_values(&l)
            .set((active + idle) as f64);
    }

    /// Adds 1 to the counter `name` (created on first use with these label names, e.g.
    /// `ingenio_rate_limit_rejected_total{scope}`).
    pub fn inc_counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) {
        self.add_counter(name, help, labels, 1.0);
    }

    /// Adds `value` (≥ 0) to the counter `name`.
    pub fn add_counter(&self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if !(value.is_finite() && value >= 0.0) {
            return;
        }
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if let Some(Dynamic::Counter(c, _)) = self.dynamic(name, help, labels, "counter") {
            c.with_label_values(&values).inc_by(value);
        }
    }

    /// Sets the gauge `name` (created on first use), e.g. `ingenio_jobs_queued{kind}`.
    pub fn set_gauge(&self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if let Some(Dynamic::Gauge(g, _)) = self.dynamic(name, help, labels, "gauge") {
            g.with_label_values(&values).set(value);
        }
    }

    /// Records a duration in the histogram `name` (created on first use with the HTTP buckets),
    /// e.g. `ingenio_llm_request_seconds{model,outcome}`.
    pub fn observe_seconds(&self, name: &str, help: &str, labels: &[(&str, &str)], seconds: f64) {
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if let Some(Dynamic::Histogram(h, _)) = self.dynamic(name, help, labels, "histogram") {
            h.with_label_values(&values).observe(seconds.max(0.0));
        }
    }

    /// Finds or creates a dynamic family. A name reused with another kind or other label names
    /// is refused with a warning rather than panicking in a request path.
    fn dynamic(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        kind: &str,
    ) -> Option<Dynamic> {
        let names: Vec<String> = labels.iter().map(|(k, _)| (*k).to_string()).collect();
        let mut map = lock(&self.inner.dynamic);
        if let Some(existing) = map.get(name) {
            let (same_kind, existing_names) = match existing {
                Dynamic::Counter(_, n) => (kind == "counter", n),
                Dynamic::Gauge(_, n) => (kind == "gauge", n),
                Dynamic::Histogram(_, n) => (kind == "histogram", n),
            };
            if same_kind && *existing_names == names {
                return Some(existing.clone());
            }
            tracing::warn!(
                metric = name,
                kind,
                labels = ?names,
                "metric used with a different kind or label names; ignored"
            );
            return None;
        }
        let label_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let help = if help.is_empty() { name } else { help };
        let created: Result<Dynamic, prometheus::Error> = match kind {
            "counter" => CounterVec::new(Opts::new(name, help), &label_refs)
                .and_then(|c| {
                    self.registry.register(Box::new(c.clone()))?;
                    Ok(c)
                })
                .map(|c| Dynamic::Counter(c, names.clone())),
            "gauge" => GaugeVec::new(Opts::new(name, help), &label_refs)
                .and_then(|g| {
                    self.registry.register(Box::new(g.clone()))?;
                    Ok(g)
                })
                .map(|g| Dynamic::Gauge(g, names.clone())),
            _ => HistogramVec::new(
                HistogramOpts::new(name, help).buckets(HTTP_BUCKETS.to_vec()),
                &label_refs,
            )
            .and_then(|h| {
                self.registry.register(Box::new(h.clone()))?;
                Ok(h)
            })
            .map(|h| Dynamic::Histogram(h, names.clone())),
        };
        match created {
            Ok(d) => {
                map.insert(name.to_string(), d.clone());
                Some(d)
            }
            Err(e) => {
                tracing::warn!(metric = name, error = %e, "cannot create metric");
                None
            }
        }
    }

    /// Lets old HTTP peaks decay before they are read.
    fn refresh_peaks(&self) {
        let now = Instant::now();
        let mut peaks = lock(&self.inner.http_peaks);
        for (labels, peak) in peaks.iter_mut() {
            peak.rotate(now);
            let l = [
                labels[0].as_str(),
                labels[1].as_str(),
                labels[2].as_str(),
                labels[3].as_str(),
            ];
            self.inner.http_max.with_label_values(&l).set(peak.value());
        }
    }

    fn gather(&self) -> Vec<MetricFamily> {
        self.refresh_peaks();
        self.registry.gather()
    }

    /// Everything in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let families = self.gather();
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    /// The `Content-Type` of [`Metrics::render`].
    pub fn content_type(&self) -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }

    /// Spring-style dotted names of every metric with data, sorted (`/actuator/metrics`).
    pub fn names(&self) -> Vec<String> {
        let families = self.gather();
        let present: BTreeSet<&str> = families.iter().map(MetricFamily::get_name).collect();
        let mut names: BTreeSet<String> = families
            .iter()
            .filter(|f| !is_max_companion(f.get_name(), &families))
            .map(|f| dotted_name(f.get_name()).0)
            .collect();
        // The HTTP timer is always listed, even before the first request.
        if !present.contains(HTTP_NAME) {
            names.insert(dotted_name(HTTP_NAME).0);
        }
        names.into_iter().collect()
    }

    /// One metric in the shape of Spring's `/actuator/metrics/{name}?tag=k:v`, restricted to
    /// the series carrying every given tag. `None` when the name is unknown or no series
    /// matches the tags (Spring answers 404 then).
    pub fn describe(&self, name: &str, tags: &[(String, String)]) -> Option<Value> {
        let families = self.gather();
        let family = families.iter().find(|f| {
            !is_max_companion(f.get_name(), &families)
                && (f.get_name() == name || dotted_name(f.get_name()).0 == name)
        });
        let Some(family) = family else {
            // Known but still empty: the HTTP timer before its first request.
            if tags.is_empty() && (name == HTTP_NAME || name == dotted_name(HTTP_NAME).0) {
                return Some(json!({
                    "name": dotted_name(HTTP_NAME).0,
                    "description": "Duration of HTTP server request handling",
                    "baseUnit": "seconds",
                    "measurements": [
                        {"statistic": "COUNT", "value": 0.0},
                        {"statistic": "TOTAL_TIME", "value": 0.0},
                        {"statistic": "MAX", "value": 0.0},
                    ],
                    "availableTags": [],
                }));
            }
            return None;
        };
        let matches = |m: &prometheus::proto::Metric| {
            tags.iter().all(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.get_name() == k && l.get_value() == v)
            })
        };
        let series: Vec<&prometheus::proto::Metric> =
            family.get_metric().iter().filter(|m| matches(m)).collect();
        if series.is_empty() && !tags.is_empty() {
            return None;
        }
        let (dotted, unit) = dotted_name(family.get_name());
        let measurements = match family.get_field_type() {
            MetricType::HISTOGRAM => {
                let count: u64 = series
                    .iter()
                    .map(|m| m.get_histogram().get_sample_count())
                    .sum();
                let total: f64 = series
                    .iter()
                    .map(|m| m.get_histogram().get_sample_sum())
                    .sum();
                let max_name = format!("{}_max", family.get_name());
                let max = families
                    .iter()
                    .find(|f| f.get_name() == max_name)
                    .map(|f| {
                        f.get_metric()
                            .iter()
                            .filter(|m| matches(m))
                            .map(|m| m.get_gauge().get_value())
                            .fold(0.0_f64, f64::max)
                    })
                    .unwrap_or(0.0);
                let total_stat = if unit == Some("seconds") {
                    "TOTAL_TIME"
                } else {
                    "TOTAL"
                };
                json!([
                    {"statistic": "COUNT", "value": count as f64},
                    {"statistic": total_stat, "value": total},
                    {"statistic": "MAX", "value": max},
                ])
            }
            MetricType::COUNTER => {
                let sum: f64 = series.iter().map(|m| m.get_counter().get_value()).sum();
                json!([{"statistic": "COUNT", "value": sum}])
            }
            // This registry never produces untyped families.
            MetricType::GAUGE | MetricType::UNTYPED => {
                let sum: f64 = series.iter().map(|m| m.get_gauge().get_value()).sum();
                json!([{"statistic": "VALUE", "value": sum}])
            }
            MetricType::SUMMARY => {
                let count: u64 = series
                    .iter()
                    .map(|m| m.get_summary().get_sample_count())
                    .sum();
                let total: f64 = series
                    .iter()
                    .map(|m| m.get_summary().get_sample_sum())
                    .sum();
                json!([
                    {"statistic": "COUNT", "value": count as f64},
                    {"statistic": "TOTAL", "value": total},
                ])
            }
        };
        let mut available: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for m in &series {
            for l in m.get_label() {
                if !tags.iter().any(|(k, _)| k == l.get_name()) {
                    available
                        .entry(l.get_name())
                        .or_default()
                        .insert(l.get_value());
                }
            }
        }
        let available_tags: Vec<Value> = available
            .into_iter()
            .map(|(tag, values)| json!({"tag": tag, "values": values.into_iter().collect::<Vec<_>>()}))
            .collect();
        let help = family.get_help();
        Some(json!({
            "name": dotted,
            "description": if help.is_empty() { Value::Null } else { Value::from(help) },
            "baseUnit": unit,
            "measurements": measurements,
            "availableTags": available_tags,
        }))
    }
}

/// True for `<histogram>_max` gauge families that belong to a histogram.
fn is_max_companion(name: &str, families: &[MetricFamily]) -> bool {
    name.strip_suffix("_max").is_some_and(|base| {
        families
            .iter()
            .any(|f| f.get_name() == base && f.get_field_type() == MetricType::HISTOGRAM)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn tag(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn renders_micrometer_style_http_series() {
        let m = Metrics::new().unwrap();
        m.observe_http("GET", "/api/v1/auth/me", 200, 0.012);
        let text = m.render();
        assert!(
            text.contains(
                "http_server_requests_seconds_count{method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/api/v1/auth/me\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "http_server_requests_seconds_bucket{method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/api/v1/auth/me\",le=\"0.025\"} 1\n"
        ));
        assert!(text.contains(
            "http_server_requests_seconds_bucket{method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/api/v1/auth/me\",le=\"0.01\"} 0\n"
        ));
        assert!(text.contains(
            "http_server_requests_seconds_max{method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/api/v1/auth/me\"} 0.012\n"
        ));
        assert!(text.contains("# TYPE http_server_requests_seconds histogram"));
        #[cfg(target_os = "linux")]
        {
            assert!(text.contains("process_resident_memory_bytes "), "{text}");
            assert!(text.contains("process_start_time_seconds "));
            assert!(text.contains("process_cpu_seconds_total "));
        }
    }

    #[test]
    fn unmatched_routes_collapse_into_unknown() {
        let m = Metrics::new().unwrap();
        m.observe_http("GET", "", 404, 0.001);
        m.observe_http("POST", "", 404, 0.001);
        let text = m.render();
        assert!(text.contains(
            "http_server_requests_seconds_count{method=\"GET\",outcome=\"CLIENT_ERROR\",status=\"404\",uri=\"UNKNOWN\"} 1\n"
        ));
    }

    #[test]
    fn outcomes_follow_micrometer() {
        assert_eq!(outcome(101), "INFORMATIONAL");
        assert_eq!(outcome(204), "SUCCESS");
        assert_eq!(outcome(302), "REDIRECTION");
        assert_eq!(outcome(429), "CLIENT_ERROR");
        assert_eq!(outcome(503), "SERVER_ERROR");
        assert_eq!(outcome(42), "UNKNOWN");
    }

    #[test]
    fn describe_sums_counts_and_filters_by_tag() {
        let m = Metrics::new().unwrap();
        m.observe_http("GET", "/api/v1/auth/me", 200, 0.5);
        m.observe_http("GET", "/api/v1/auth/me", 200, 0.25);
        m.observe_http("POST", "/api/v1/auth/login", 401, 2.0);
        let all = m.describe("http.server.requests", &[]).unwrap();
        assert_eq!(all["name"], "http.server.requests");
        assert_eq!(all["baseUnit"], "seconds");
        let stat = |v: &Value, s: &str| {
            v["measurements"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["statistic"] == s)
                .unwrap()["value"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(stat(&all, "COUNT"), 3.0);
        assert!((stat(&all, "TOTAL_TIME") - 2.75).abs() < 1e-9);
        assert_eq!(stat(&all, "MAX"), 2.0);
        let methods = all["availableTags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == "method")
            .unwrap();
        assert_eq!(methods["values"], json!(["GET", "POST"]));

        let gets = m
            .describe("http.server.requests", &[tag("method", "GET")])
            .unwrap();
        assert_eq!(stat(&gets, "COUNT"), 2.0);
        assert_eq!(stat(&gets, "MAX"), 0.5);
        let tag_names: Vec<&str> = gets["availableTags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap())
            .collect();
        assert_eq!(tag_names, vec!["outcome", "status", "uri"]);

        // The raw Prometheus name works too; unmatched tags and unknown names are None.
        assert!(m
            .describe("http_server_requests_seconds", &[tag("status", "401")])
            .is_some());
        assert!(m
            .describe("http.server.requests", &[tag("method", "DELETE")])
            .is_none());
        assert!(m.describe("no.such.metric", &[]).is_none());
    }

    #[test]
    fn names_are_dotted_and_hide_the_max_companion() {
        let m = Metrics::new().unwrap();
        assert!(m.names().contains(&"http.server.requests".to_string()));
        m.observe_http("GET", "/x", 200, 0.1);
        m.set_pool_state("HikariPool-1", 2, 3, 10, 0);
        m.inc_counter(
            "ingenio_rate_limit_rejected_total",
            "Requests refused by the rate limiter",
            &[("scope", "user")],
        );
        let names = m.names();
        for expected in [
            "http.server.requests",
            "hikaricp.connections.active",
            "hikaricp.connections",
            "ingenio.rate.limit.rejected",
        ] {
            assert!(
                names.contains(&expected.to_string()),
                "{expected} in {names:?}"
            );
        }
        assert!(!names
            .iter()
            .any(|n| n.ends_with(".max") && n.starts_with("http")));
        #[cfg(target_os = "linux")]
        assert!(names.contains(&"process.resident.memory".to_string()));
        assert_eq!(
            dotted_name("process_cpu_seconds_total"),
            ("process.cpu".to_string(), Some("seconds"))
        );
    }

    #[test]
    fn pool_gauges_and_dynamic_metrics() {
        let m = Metrics::new().unwrap();
        m.set_pool_state("HikariPool-1", 4, 6, 20, 1);
        let text = m.render();
        assert!(text.contains("hikaricp_connections_active{pool=\"HikariPool-1\"} 4\n"));
        assert!(text.contains("hikaricp_connections_idle{pool=\"HikariPool-1\"} 6\n"));
        assert!(text.contains("hikaricp_connections_max{pool=\"HikariPool-1\"} 20\n"));
        assert!(text.contains("hikaricp_connections_pending{pool=\"HikariPool-1\"} 1\n"));
        assert!(text.contains("hikaricp_connections{pool=\"HikariPool-1\"} 10\n"));

        m.inc_counter("ingenio_redis_fallback_total", "Redis fallbacks", &[]);
        m.inc_counter("ingenio_redis_fallback_total", "Redis fallbacks", &[]);
        // Wrong label names are refused, not a panic.
        m.inc_counter("ingenio_redis_fallback_total", "x", &[("a", "b")]);
        m.observe_seconds(
            "ingenio_llm_request_seconds",
            "LLM call latency",
            &[("model", "deepseek-chat")],
            1.5,
        );
        m.set_gauge(
            "ingenio_jobs_queued",
            "Queued jobs",
            &[("kind", "generate")],
            3.0,
        );
        let text = m.render();
        assert!(text.contains("ingenio_redis_fallback_total 2\n"), "{text}");
        assert!(text.contains("ingenio_llm_request_seconds_count{model=\"deepseek-chat\"} 1\n"));
        assert!(text.contains("ingenio_jobs_queued{kind=\"generate\"} 3\n"));
        let d = m.describe("ingenio.redis.fallback", &[]).unwrap();
        assert_eq!(d["measurements"][0]["value"], 2.0);
        let g = m
            .describe(
                "hikaricp.connections.active",
                &[tag("pool", "HikariPool-1")],
            )
            .unwrap();
        assert_eq!(g["measurements"][0]["statistic"], "VALUE");
        assert_eq!(g["measurements"][0]["value"], 4.0);
    }

    #[test]
    fn registries_are_independent() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.observe_http("GET", "/a", 200, 0.1);
        assert!(!b.render().contains("uri=\"/a\""));
    }

    #[test]
    fn window_max_decays() {
        let t0 = Instant::now();
        let mut w = WindowMax::new(t0);
        w.current = 3.0;
        w.rotate(t0 + MAX_WINDOW + Duration::from_secs(1));
        assert_eq!(w.value(), 3.0);
        w.rotate(t0 + MAX_WINDOW * 2 + Duration::from_secs(2));
        assert_eq!(w.value(), 0.0);
        w.current = 1.0;
        w.rotate(t0 + MAX_WINDOW * 10);
        assert_eq!(w.value(), 0.0);
    }
}
