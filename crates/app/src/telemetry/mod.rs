//! Telemetry for the server: console and rolling-file logging with run-time levels
//! (guide §6.2), the Prometheus metrics registry (§6.3) and OTLP trace export.
//!
//! [`init`] installs one global `tracing` subscriber made of
//! - a reloadable `EnvFilter` built from `logging.level` (or `RUST_LOG` when set), driven by
//!   [`LogControl`];
//! - console output, text (`2025-01-15 10:00:00.123 [thread] LEVEL target - message`) or JSON;
//! - `<path>/<name>` (e.g. `logs/ingenio-backend.log`), rolled by day and size with retention;
//! - `<path>/<error-name>` (`logs/error.log`) with ERROR events only, rolled the same way with
//!   half the size limit and twice the history (the guide's 50 MB / 60 days);
//! - the OpenTelemetry layer when `ingenio.otel.endpoint` is set.

pub mod logging;
pub mod metrics;
pub mod otel;
pub mod rolling;

pub use logging::{LogControl, LogLevelError, LoggerLevel, ROOT_LOGGER, SUPPORTED_LEVELS};
pub use metrics::Metrics;

use crate::config::settings::{LogFileSettings, LoggingSettings, OtelSettings};
use rolling::{RollingFileWriter, RollingPolicy};
use std::io::IsTerminal as _;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};

/// Lines each log writer's queue holds before a file writer makes the logging thread wait (the
/// console drops instead). tracing-appender's default, 128,000, preallocates about 5 MiB per
/// writer — 15 MiB of an idle server with file logging on; 16,384 lines are still several seconds
/// of the busiest access log.
const LOG_QUEUE_LINES: usize = 16_384;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layered, SubscriberExt as _};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Layer};

/// The subscriber the output layers sit on: the registry under the reloadable filter.
type Base = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type BoxedLayer = Box<dyn Layer<Base> + Send + Sync + 'static>;

/// What [`init`] set up; keep it alive for the life of the process. Dropping it (or
/// [`Telemetry::shutdown`]) flushes queued log lines and exports pending spans.
pub struct Telemetry {
    /// Reads and changes log levels (`/actuator/loggers`).
    pub log_control: LogControl,
    _guards: Vec<WorkerGuard>,
    otel: Option<otel::OtelGuard>,
    installed: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("log_control", &self.log_control)
            .field("installed", &self.installed)
            .field("otel", &self.otel.is_some())
            .finish()
    }
}

impl Telemetry {
    /// True when this call installed the process-wide subscriber (false when one existed).
    pub fn is_installed(&self) -> bool {
        self.installed
    }

    /// True when spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        self.otel.is_some()
    }

    /// Exports queued spans now (best effort; errors are returned, not logged).
    pub fn flush_traces(&self) -> anyhow::Result<()> {
        match &self.otel {
            Some(o) => o.force_flush(),
            None => Ok(()),
        }
    }

    /// Exports pending spans and flushes log files; call on SIGTERM before exiting.
    pub fn shutdown(mut self) {
        self.shutdown_inner();
    }

    fn shutdown_inner(&mut self) {
        if let Some(mut o) = self.otel.take() {
            if let Err(e) = o.shutdown() {
                eprintln!("{e:#}");
            }
        }
        // Dropping the guards joins the writer threads after they drained their queues.
        self._guards.clear();
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
}

/// Installs the global subscriber described in the module docs. When a global subscriber is
/// already set (tests start many servers in one process) nothing is installed and the
/// returned [`LogControl`] works on its own table only.
pub fn init(logging: &LoggingSettings, otel_settings: &OtelSettings) -> anyhow::Result<Telemetry> {
    let rust_log = std::env::var("RUST_LOG").ok();
    init_with(logging, otel_settings, rust_log.as_deref())
}

/// [`init`] with an explicit `RUST_LOG` value (tests must not depend on the environment).
fn init_with(
    logging: &LoggingSettings,
    otel_settings: &OtelSettings,
    rust_log: Option<&str>,
) -> anyhow::Result<Telemetry> {
    let (filter, pending) = logging::initial_filter(&logging.level, rust_log)?;
    if tracing::dispatcher::has_been_set() {
        return Ok(Telemetry {
            log_control: pending.detached(),
            _guards: Vec::new(),
            otel: None,
            installed: false,
        });
    }
    let (filter_layer, handle) = reload::Layer::new(filter);
    let mut guards = Vec::new();
    let mut layers: Vec<BoxedLayer> = Vec::new();

    if logging.console {
        let (writer, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .thread_name("log-console")
            .finish(std::io::stdout());
        guards.push(guard);
        let layer = if logging.format.trim().eq_ignore_ascii_case("json") {
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_thread_names(true)
                .with_writer(writer)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .event_format(logging::SpringFormat)
                .with_ansi(std::io::stdout().is_terminal())
                .with_writer(writer)
                .boxed()
        };
        layers.push(layer);
    }

    if logging.file.enabled {
        let file = &logging.file;
        let main = RollingFileWriter::new(&file.path, &file.name, main_policy(file))?;
        let (writer, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .lossy(false)
            .thread_name("log-file")
            .finish(main);
        guards.push(guard);
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(logging::SpringFormat)
                .with_ansi(false)
                .with_writer(writer)
                .boxed(),
        );
        let errors = RollingFileWriter::new(&file.path, &file.error_name, error_policy(file))?;
        let (writer, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .lossy(false)
            .thread_name("log-error-file")
            .finish(errors);
        guards.push(guard);
        layers.push(
            tracing_subscriber::fmt::layer()
                .event_format(logging::SpringFormat)
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(LevelFilter::ERROR)
                .boxed(),
        );
    }

    let mut otel_guard = None;
    if let Some((layer, guard)) = otel::layer::<Base>(otel_settings)? {
        layers.push(layer.boxed());
        otel_guard = Some(guard);
    }

    let subscriber = tracing_subscriber::registry()
        .with(filter_layer)
        .with(layers);
    let installed = subscriber.try_init().is_ok();
    // If another thread won the race, the handle points at a dropped filter and the control
    // behaves as detached.
    let log_control = if installed {
        pending.live(handle)
    } else {
        pending.detached()
    };
    Ok(Telemetry {
        log_control,
        _guards: guards,
        otel: otel_guard,
        installed,
    })
}

/// Policy of the main log file, straight from the settings.
fn main_policy(file: &LogFileSettings) -> RollingPolicy {
    RollingPolicy {
        max_size: file.max_size,
        max_history_days: file.max_history,
        total_size_cap: file.total_size_cap,
    }
}

/// Policy of the error log: the guide's logback file uses 50 MB / 60 days next to
/// 100 MB / 30 days, so half the size and twice the history of the main file, same cap.
fn error_policy(file: &LogFileSettings) -> RollingPolicy {
    RollingPolicy {
        max_size: file.max_size / 2,
        max_history_days: file.max_history.saturating_mul(2),
        total_size_cap: file.total_size_cap,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::collections::BTreeMap;

    fn settings(dir: &std::path::Path) -> LoggingSettings {
        LoggingSettings {
            level: BTreeMap::from([
                ("root".to_string(), "info".to_string()),
                ("ingenio_server".to_string(), "debug".to_string()),
            ]),
            format: "text".into(),
            console: false,
            file: LogFileSettings {
                enabled: true,
                path: dir.to_string_lossy().into_owned(),
                name: "ingenio-backend.log".into(),
                error_name: "error.log".into(),
                max_size: 1 << 20,
                max_history: 30,
                total_size_cap: 1 << 30,
            },
        }
    }

    /// The only test in this crate's unit tests that installs the global subscriber.
    #[test]
    fn init_writes_main_and_error_logs_and_levels_change_live() {
        let dir = std::env::temp_dir().join(format!(
            "ingenio-telemetry-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let logs = dir.join("logs");
        let otel = OtelSettings {
            endpoint: String::new(),
            service_name: "ingenio-backend".into(),
        };
        let telemetry = init_with(&settings(&logs), &otel, None).unwrap();
        if !telemetry.is_installed() {
            // Another test binary setup installed a subscriber first; nothing to check here.
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        assert!(!telemetry.exports_traces());
        let control = telemetry.log_control.clone();
        assert!(control.is_live());
        tracing::info!(target: "ingenio_server::probe", marker = "m1", "info line");
        tracing::error!(target: "ingenio_server::probe", "error line");
        tracing::trace!(target: "ingenio_server::probe", "trace line hidden");
        control
            .set_level("ingenio_server::probe", Some("TRACE"))
            .unwrap();
        tracing::trace!(target: "ingenio_server::probe", "trace line shown");
        control.set_level("ROOT", Some("OFF")).unwrap();
        control.set_level("ingenio_server", Some("off")).unwrap();
        control.set_level("ingenio_server::probe", None).unwrap();
        tracing::error!(target: "ingenio_server::probe", "silenced");
        telemetry.shutdown();

        let main = std::fs::read_to_string(logs.join("ingenio-backend.log")).unwrap();
        let errors = std::fs::read_to_string(logs.join("error.log")).unwrap();
        assert!(
            main.contains(" INFO  ingenio_server::probe - info line marker=\"m1\""),
            "{main}"
        );
        assert!(main.contains(" ERROR ingenio_server::probe - error line"));
        assert!(main.contains("trace line shown"));
        assert!(!main.contains("trace line hidden"));
        assert!(!main.contains("silenced"));
        assert!(errors.contains("error line"), "{errors}");
        assert!(!errors.contains("info line"));
        // A second init in the same process does not fail and gives a detached control.
        let again = init_with(&settings(&logs), &otel, None).unwrap();
        assert!(!again.is_installed());
        assert!(!again.log_control.is_live());
        again.log_control.set_level("x", Some("debug")).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn error_policy_follows_the_guide_ratio() {
        let file = LogFileSettings {
            enabled: true,
            path: "logs".into(),
            name: "ingenio-backend.log".into(),
            error_name: "error.log".into(),
            max_size: 100 << 20,
            max_history: 30,
            total_size_cap: 3 << 30,
        };
        assert_eq!(error_policy(&file).max_size, 50 << 20);
        assert_eq!(error_policy(&file).max_history_days, 60);
        assert_eq!(main_policy(&file).total_size_cap, 3 << 30);
    }
}
