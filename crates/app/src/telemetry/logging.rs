//! Log levels that can change at run time (`LogControl`, the model behind Spring-style
//! `/actuator/loggers`) and the guide's text line format
//! `2025-01-15 10:00:00.123 [thread] LEVEL target - message fields`.
//!
//! Logger names are `tracing` targets (module paths such as `ingenio_server::http`). For
//! Spring habits, a name without `::` has its dots turned into `::` and dashes into
//! underscores (`ingenio-server.http` → `ingenio_server::http`); `root`/`ROOT` is the default
//! level for every target without a more specific entry. A target's effective level comes from
//! the longest configured name it starts with, exactly as `EnvFilter` matches directives.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::{reload, EnvFilter};

/// The levels `/actuator/loggers` advertises, most severe first (Spring's order).
pub const SUPPORTED_LEVELS: [&str; 6] = ["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// The name the root logger is shown under.
pub const ROOT_LOGGER: &str = "ROOT";

/// Level used for `root` when the configuration names none.
const DEFAULT_ROOT: &str = "INFO";

/// Our own crates' targets, always listed by [`LogControl::levels`] even when not configured.
const KNOWN_TARGETS: [&str; 6] = [
    "ingenio_server",
    "ingenio_kernel",
    "ingenio_users",
    "ingenio_postgres",
    "ingenio_redis",
    "ingenio_embedded",
];

/// One logger as `/actuator/loggers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggerLevel {
    /// The level set explicitly for this logger, `None` when inherited.
    pub configured_level: Option<String>,
    /// The level in force.
    pub effective_level: String,
}

/// Why a level change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogLevelError {
    #[error("unknown log level {0:?}; expected one of OFF, ERROR, WARN, INFO, DEBUG, TRACE")]
    UnknownLevel(String),
    #[error("invalid logger name {0:?}")]
    InvalidLogger(String),
    #[error("cannot apply log levels: {0}")]
    Apply(String),
}

/// Turns a level name (any case; `WARNING` and `FATAL` accepted) into Spring's upper-case name.
pub fn canonical_level(level: &str) -> Result<&'static str, LogLevelError> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok("TRACE"),
        "DEBUG" => Ok("DEBUG"),
        "INFO" => Ok("INFO"),
        "WARN" | "WARNING" => Ok("WARN"),
        "ERROR" | "FATAL" => Ok("ERROR"),
        "OFF" => Ok("OFF"),
        _ => Err(LogLevelError::UnknownLevel(level.to_string())),
    }
}

/// A logger name after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Logger {
    Root,
    Target(String),
}

fn parse_logger(name: &str) -> Result<Logger, LogLevelError> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("root") {
        return Ok(Logger::Root);
    }
    let target = if trimmed.contains("::") {
        trimmed.to_string()
    } else {
        trimmed.replace('.', "::").replace('-', "_")
    };
    let valid = !target.is_empty()
        && !target.starts_with(':')
        && !target.ends_with(':')
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if valid {
        Ok(Logger::Target(target))
    } else {
        Err(LogLevelError::InvalidLogger(name.to_string()))
    }
}

/// The level table behind the filter.
#[derive(Debug, Clone)]
struct LevelState {
    root: String,
    /// Root level to go back to when `ROOT` is reset.
    initial_root: String,
    targets: BTreeMap<String, String>,
    /// Targets that were configured once and reset since: still listed, as inherited.
    seen: BTreeSet<String>,
    /// `RUST_LOG` directives we cannot model (span filters …), kept verbatim.
    raw: Vec<String>,
}

impl LevelState {
    /// From `logging.level`; invalid entries are errors.
    fn from_config(levels: &BTreeMap<String, String>) -> Result<Self, LogLevelError> {
        let mut root = DEFAULT_ROOT.to_string();
        let mut targets = BTreeMap::new();
        for (name, level) in levels {
            let level = canonical_level(level)?.to_string();
            match parse_logger(name)? {
                Logger::Root => root = level,
                Logger::Target(t) => {
                    targets.insert(t, level);
                }
            }
        }
        Ok(Self {
            initial_root: root.clone(),
            root,
            targets,
            seen: BTreeSet::new(),
            raw: Vec::new(),
        })
    }

    /// From a `RUST_LOG` value: a bare level is the root (ERROR when absent, as `EnvFilter`
    /// does), `target=level` entries become targets, anything fancier is kept verbatim.
    fn from_env_filter(spec: &str) -> Self {
        let mut state = Self {
            root: "ERROR".to_string(),
            initial_root: "ERROR".to_string(),
            targets: BTreeMap::new(),
            seen: BTreeSet::new(),
            raw: Vec::new(),
        };
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let parsed = match directive.split_once('=') {
                None => canonical_level(directive).ok().map(|l| (Logger::Root, l)),
                Some((target, level)) => match (parse_logger(target), canonical_level(level)) {
                    (Ok(t @ Logger::Target(_)), Ok(l)) if !target.contains('[') => Some((t, l)),
                    _ => None,
                },
            };
            match parsed {
                Some((Logger::Root, l)) => {
                    state.root = l.to_string();
                    state.initial_root = l.to_string();
                }
                Some((Logger::Target(t), l)) => {
                    state.targets.insert(t, l.to_string());
                }
                None => state.raw.push(directive.to_string()),
            }
        }
        state
    }

    /// The `EnvFilter` directive string for this table.
    fn directives(&self) -> String {
        let mut parts = vec![self.root.to_ascii_lowercase()];
        parts.extend(self.raw.iter().cloned());
        parts.extend(
            self.targets
                .iter()
                .map(|(t, l)| format!("{t}={}", l.to_ascii_lowercase())),
        );
        parts.join(",")
    }

    fn filter(&self) -> Result<EnvFilter, LogLevelError> {
        EnvFilter::builder()
            .parse(self.directives())
            .map_err(|e| LogLevelError::Apply(e.to_string()))
    }

    fn effective(&self, target: &str) -> String {
        self.targets
            .iter()
            .filter(|(t, _)| target.starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len())
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| self.root.clone())
    }
}

/// Where level changes go: the live filter of the global subscriber, or nowhere (detached).
type FilterHandle = reload::Handle<EnvFilter, Registry>;

struct ControlInner {
    state: Mutex<LevelState>,
    handle: Option<FilterHandle>,
}

/// Reads and changes log levels at run time. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct LogControl {
    inner: Arc<ControlInner>,
}

impl fmt::Debug for LogControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogControl")
            .field("directives", &self.lock().directives())
            .field("live", &self.inner.handle.is_some())
            .finish()
    }
}

impl LogControl {
    /// A control that only keeps its own table (tests, or when another global subscriber is
    /// already installed). Invalid entries in `levels` are skipped.
    pub fn detached(levels: &BTreeMap<String, String>) -> Self {
        let valid: BTreeMap<String, String> = levels
            .iter()
            .filter(|(n, l)| parse_logger(n).is_ok() && canonical_level(l).is_ok())
            .map(|(n, l)| (n.clone(), l.clone()))
            .collect();
        let state = LevelState::from_config(&valid).unwrap_or_else(|_| LevelState {
            root: DEFAULT_ROOT.to_string(),
            initial_root: DEFAULT_ROOT.to_string(),
            targets: BTreeMap::new(),
            seen: BTreeSet::new(),
            raw: Vec::new(),
        });
        Self::from_state(state, None)
    }

    fn from_state(state: LevelState, handle: Option<FilterHandle>) -> Self {
        Self {
            inner: Arc::new(ControlInner {
                state: Mutex::new(state),
                handle,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LevelState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when changes reach the process-wide subscriber.
    pub fn is_live(&self) -> bool {
        self.inner.handle.is_some()
    }

    /// Every known logger: `ROOT`, each configured target, our own crates and targets that
    /// were reset, with their configured and effective levels.
    pub fn levels(&self) -> BTreeMap<String, LoggerLevel> {
        let state = self.lock();
        let mut out = BTreeMap::new();
        out.insert(
            ROOT_LOGGER.to_string(),
            LoggerLevel {
                configured_level: Some(state.root.clone()),
                effective_level: state.root.clone(),
            },
        );
        let names: BTreeSet<&str> = state
            .targets
            .keys()
            .map(String::as_str)
            .chain(state.seen.iter().map(String::as_str))
            .chain(KNOWN_TARGETS)
            .collect();
        for name in names {
            out.insert(
                name.to_string(),
                LoggerLevel {
                    configured_level: state.targets.get(name).cloned(),
                    effective_level: state.effective(name),
                },
            );
        }
        out
    }

    /// One logger's levels, by any accepted spelling of its name.
    pub fn level(&self, name: &str) -> Result<LoggerLevel, LogLevelError> {
        let state = self.lock();
        Ok(match parse_logger(name)? {
            Logger::Root => LoggerLevel {
                configured_level: Some(state.root.clone()),
                effective_level: state.root.clone(),
            },
            Logger::Target(t) => LoggerLevel {
                configured_level: state.targets.get(&t).cloned(),
                effective_level: state.effective(&t),
            },
        })
    }

    /// Sets `target` to `level`, or with `None` makes it inherit again (for `ROOT`: back to the
    /// level configured at startup). Takes effect immediately when live.
    pub fn set_level(&self, target: &str, level: Option<&str>) -> Result<(), LogLevelError> {
        let logger = parse_logger(target)?;
        let level = level.map(canonical_level).transpose()?;
        let mut state = self.lock();
        let mut next = state.clone();
        match (logger, level) {
            (Logger::Root, Some(l)) => next.root = l.to_string(),
            (Logger::Root, None) => next.root = next.initial_root.clone(),
            (Logger::Target(t), Some(l)) => {
                next.targets.insert(t, l.to_string());
            }
            (Logger::Target(t), None) => {
                next.targets.remove(&t);
                next.seen.insert(t);
            }
        }
        if let Some(handle) = &self.inner.handle {
            let filter = next.filter()?;
            match handle.reload(filter) {
                Ok(()) => {}
                // The subscriber this handle belonged to was never installed or is gone:
                // behave like a detached control.
                Err(e) if e.is_dropped() => {}
                Err(e) => return Err(LogLevelError::Apply(e.to_string())),
            }
        }
        *state = next;
        Ok(())
    }

    /// The `EnvFilter` directives currently in force, e.g. `warn,ingenio_server=info`.
    pub fn directives(&self) -> String {
        self.lock().directives()
    }
}

/// Builds the startup filter and its level table: from `RUST_LOG` when set and non-empty,
/// otherwise from `logging.level`. Returns the table's control once the reload handle exists.
pub(crate) fn initial_filter(
    levels: &BTreeMap<String, String>,
    rust_log: Option<&str>,
) -> anyhow::Result<(EnvFilter, PendingControl)> {
    let state = match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(spec) => LevelState::from_env_filter(spec),
        None => LevelState::from_config(levels)
            .map_err(|e| anyhow::anyhow!("invalid logging.level configuration: {e}"))?,
    };
    let filter = match state.filter() {
        Ok(f) => f,
        Err(e) => anyhow::bail!("invalid log filter {:?}: {e}", state.directives()),
    };
    Ok((filter, PendingControl { state }))
}

/// A level table waiting for the reload handle of the filter built from it.
#[derive(Debug)]
pub(crate) struct PendingControl {
    state: LevelState,
}

impl PendingControl {
    pub(crate) fn live(self, handle: FilterHandle) -> LogControl {
        LogControl::from_state(self.state, Some(handle))
    }

    pub(crate) fn detached(self) -> LogControl {
        LogControl::from_state(self.state, None)
    }
}

/// The guide's line format: `2025-01-15 10:00:00.123 [thread] LEVEL target - span{..}: message k=v`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpringFormat;

impl<S, N> FormatEvent<S, N> for SpringFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let now = chrono::Local::now();
        let thread = std::thread::current();
        write!(writer, "{} [", now.format("%Y-%m-%d %H:%M:%S%.3f"))?;
        match thread.name() {
            Some(name) => write!(writer, "{name}")?,
            None => write!(writer, "{:?}", thread.id())?,
        }
        write!(writer, "] {:<5} {} - ", meta.level(), meta.target())?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{{{fields}}}")?;
                    }
                }
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::io;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn levels_report_configured_and_effective() {
        let c = LogControl::detached(&map(&[
            ("root", "warn"),
            ("ingenio_server", "info"),
            ("ingenio_server::http", "debug"),
        ]));
        let levels = c.levels();
        assert_eq!(
            levels["ROOT"],
            LoggerLevel {
                configured_level: Some("WARN".into()),
                effective_level: "WARN".into()
            }
        );
        assert_eq!(levels["ingenio_server::http"].effective_level, "DEBUG");
        assert_eq!(
            levels["ingenio_users"],
            LoggerLevel {
                configured_level: None,
                effective_level: "WARN".into()
            }
        );
        assert_eq!(
            c.level("ingenio_server::http::users").unwrap(),
            LoggerLevel {
                configured_level: None,
                effective_level: "DEBUG".into()
            }
        );
        assert_eq!(
            c.level("ingenio_server::auth").unwrap().effective_level,
            "INFO"
        );
        assert_eq!(
            c.directives(),
            "warn,ingenio_server=info,ingenio_server::http=debug"
        );
    }

    #[test]
    fn root_defaults_to_info() {
        let c = LogControl::detached(&BTreeMap::new());
        assert_eq!(c.levels()["ROOT"].effective_level, "INFO");
    }

    #[test]
    fn set_and_reset_levels() {
        let c = LogControl::detached(&map(&[("root", "INFO")]));
        c.set_level("ingenio_server.auth", Some("debug")).unwrap();
        assert_eq!(
            c.level("ingenio_server::auth")
                .unwrap()
                .configured_level
                .as_deref(),
            Some("DEBUG")
        );
        c.set_level("ingenio_server::auth", None).unwrap();
        let l = &c.levels()["ingenio_server::auth"];
        assert_eq!(l.configured_level, None);
        assert_eq!(l.effective_level, "INFO");
        c.set_level("ROOT", Some("ERROR")).unwrap();
        assert_eq!(c.levels()["ROOT"].effective_level, "ERROR");
        assert_eq!(c.levels()["ingenio_kernel"].effective_level, "ERROR");
        c.set_level("root", None).unwrap();
        assert_eq!(c.levels()["ROOT"].effective_level, "INFO");
    }

    #[test]
    fn rejects_unknown_levels_and_bad_names() {
        let c = LogControl::detached(&BTreeMap::new());
        assert_eq!(
            c.set_level("ingenio_server", Some("LOUD")),
            Err(LogLevelError::UnknownLevel("LOUD".into()))
        );
        assert!(matches!(
            c.set_level("a=b,c", Some("INFO")),
            Err(LogLevelError::InvalidLogger(_))
        ));
        assert!(matches!(
            c.set_level("", Some("INFO")),
            Err(LogLevelError::InvalidLogger(_))
        ));
        // Nothing changed.
        assert_eq!(c.directives(), "info");
    }

    #[test]
    fn rust_log_overrides_config() {
        let (_f, pending) = initial_filter(
            &map(&[("root", "debug")]),
            Some("ingenio_server=trace,hyper[conn]=off"),
        )
        .unwrap();
        let c = pending.detached();
        let levels = c.levels();
        assert_eq!(levels["ROOT"].effective_level, "ERROR");
        assert_eq!(levels["ingenio_server"].effective_level, "TRACE");
        assert_eq!(c.directives(), "error,hyper[conn]=off,ingenio_server=trace");
    }

    #[test]
    fn invalid_config_level_fails_startup() {
        let err = initial_filter(&map(&[("root", "chatty")]), None).unwrap_err();
        assert!(err.to_string().contains("logging.level"), "{err}");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn live_control_changes_what_is_logged() {
        let buf = Buf::default();
        let (filter, pending) = initial_filter(&map(&[("root", "info")]), None).unwrap();
        let (filter, handle) = reload::Layer::new(filter);
        let control = pending.live(handle);
        let writer = buf.clone();
        let subscriber = tracing_subscriber::registry().with(filter).with(
            tracing_subscriber::fmt::layer()
                .event_format(SpringFormat)
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "ingenio_server::demo", "hidden");
            control
                .set_level("ingenio_server.demo", Some("DEBUG"))
                .unwrap();
            let span = tracing::info_span!("request", id = 7);
            let _g = span.enter();
            tracing::debug!(target: "ingenio_server::demo", user = "ann", "shown");
        });
        let out = buf.text();
        assert!(!out.contains("hidden"), "{out}");
        let line = out.lines().find(|l| l.contains("shown")).expect(&out);
        // 2025-01-15 10:00:00.123 [thread] DEBUG ingenio_server::demo - request{id=7}: shown user="ann"
        let bytes = line.as_bytes();
        assert_eq!(bytes[4], b'-');
        assert_eq!(bytes[10], b' ');
        assert_eq!(bytes[19], b'.');
        assert_eq!(bytes[23], b' ');
        assert_eq!(bytes[24], b'[');
        assert!(
            line.contains("] DEBUG ingenio_server::demo - request{id=7}: shown user=\"ann\""),
            "{line}"
        );
    }
}
