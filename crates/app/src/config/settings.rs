//! The typed settings tree. Keys are kebab-case in YAML (`ingenio.rate-limit.requests-per-minute`)
//! and every key can be overridden from the environment by relaxed binding (see `loader.rs`).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use uuid::Uuid;

/// Everything the server reads at start. Loaded once in `main` and passed down.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Settings {
    /// The active profile (`dev`, `test`, `prod`, ...); filled by the loader.
    #[serde(default)]
    pub profile: String,
    pub server: ServerSettings,
    /// Spring's `management.*`: where the actuator is served.
    #[serde(default)]
    pub management: ManagementSettings,
    pub spring: SpringSettings,
    pub logging: LoggingSettings,
    pub ingenio: IngenioSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServerSettings {
    pub address: String,
    pub port: u16,
    /// Always `/api` unless configured otherwise.
    pub context_path: String,
    /// Largest accepted request body, in bytes.
    pub max_body_size: usize,
    /// Seconds to let in-flight requests drain after SIGTERM.
    pub shutdown_timeout: u64,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Trust `X-Forwarded-For` / `X-Real-IP` for the client address (behind nginx).
    pub forward_headers: bool,
    /// Peers whose forwarded headers are believed (IPs or CIDR blocks); headers from any other
    /// peer are ignored.
    pub forward_headers_trusted_proxies: TrustedProxies,
    pub cors: CorsSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ManagementSettings {
    #[serde(default)]
    pub server: ManagementServerSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ManagementServerSettings {
    /// `management.server.port`: when non-zero, a second listener on this port serves the whole
    /// actuator, and the API port keeps only health, liveness, readiness and info (so load
    /// balancers and probes keep working) — metrics, Prometheus and loggers leave it. 0 = off.
    #[serde(default)]
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser; empty means no cross-origin access.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SpringSettings {
    pub datasource: DatasourceSettings,
    pub data: SpringDataSettings,
    /// Spring's `spring.mail.*`: the SMTP server that delivers password-reset mail.
    pub mail: SpringMailSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SpringMailSettings {
    /// `MAIL_HOST`; empty = no mail transport (reset tokens are not delivered).
    pub host: String,
    pub port: u16,
    /// Empty = no SMTP authentication.
    pub username: String,
    pub password: SecretString,
}

impl SpringMailSettings {
    pub fn is_configured(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SpringDataSettings {
    pub redis: RedisSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatasourceSettings {
    /// A full `postgres://` URL; when empty the URL is built from the parts below.
    pub url: SecretString,
    pub host: String,
    pub port: u16,
    pub name: String,
    pub username: String,
    pub password: SecretString,
    /// libpq's `sslmode` (`DB_SSLMODE`): `disable`, `prefer`, `require` or `verify-full`;
    /// normalised by the loader. An `sslmode` in `url` wins.
    pub sslmode: String,
    /// `DB_SSLROOTCERT`: PEM bundle of the CA(s) `verify-full` trusts instead of the Mozilla roots.
    pub sslrootcert: String,
    pub hikari: HikariSettings,
}

impl DatasourceSettings {
    /// The connection URL for `name`, or for another database on the same server, carrying
    /// `sslmode` / `sslrootcert` as query parameters unless the configured URL already has them
    /// (`prefer` without a root bundle is the default and adds nothing).
    pub fn url_for(&self, database: &str) -> SecretString {
        let url = self.url.expose_secret();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        if !path.is_empty() {
            if let Some((base, _)) = path.rsplit_once('/') {
                let with_db = if database == self.name {
                    path.to_owned()
                } else {
                    format!("{base}/{database}")
                };
                return SecretString::from(self.with_tls_params(with_db, query));
            }
        }
        let password = self.password.expose_secret();
        let auth = if password.is_empty() {
            pct(&self.username)
        } else {
            format!("{}:{}", pct(&self.username), pct(password))
        };
        SecretString::from(self.with_tls_params(
            format!("postgres://{auth}@{}:{}/{}", self.host, self.port, database),
            "",
        ))
    }

    fn with_tls_params(&self, base: String, query: &str) -> String {
        let mut params: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let has =
            |params: &[String], key: &str| params.iter().any(|p| p.split('=').next() == Some(key));
        let mode = self.sslmode.trim();
        if !mode.is_empty() && mode != "prefer" && !has(&params, "sslmode") {
            params.push(format!("sslmode={mode}"));
        }
        let root = self.sslrootcert.trim();
        if !root.is_empty() && !has(&params, "sslrootcert") {
            params.push(format!("sslrootcert={}", pct(root)));
        }
        if params.is_empty() {
            base
        } else {
            format!("{base}?{}", params.join("&"))
        }
    }

    /// The connection URL of the configured database.
    pub fn database_url(&self) -> SecretString {
        self.url_for(&self.name)
    }
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The guide's Hikari keys, mapped onto the bb8 pool. Times are milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HikariSettings {
    pub maximum_pool_size: u32,
    pub minimum_idle: u32,
    pub connection_timeout: u64,
    pub idle_timeout: u64,
    pub max_lifetime: u64,
    /// Not a Hikari key: each HTTP worker thread gets its share of the pool, opened and driven on
    /// its own runtime, and borrows from the shared rest when its own are all out (true, the
    /// default, measured faster than one shared pool; see docs/performance.md).
    #[serde(default = "yes")]
    pub per_worker_pools: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RedisSettings {
    /// Empty means "not configured": the embedded in-process fallbacks are used.
    pub host: String,
    pub port: u16,
    pub password: SecretString,
    pub database: u32,
    /// Milliseconds to wait for a connection or a command before treating Redis as down.
    pub timeout: u64,
    /// Prefix for every key this server writes (lets tests and tenants share one Redis).
    pub key_prefix: String,
}

impl RedisSettings {
    pub fn is_configured(&self) -> bool {
        !self.host.trim().is_empty()
    }

    pub fn url(&self) -> SecretString {
        let password = self.password.expose_secret();
        let auth = if password.is_empty() {
            String::new()
        } else {
            format!(":{}@", pct(password))
        };
        SecretString::from(format!(
            "redis://{auth}{}:{}/{}",
            self.host, self.port, self.database
        ))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LoggingSettings {
    /// Level per target; `root` is the default for everything else.
    pub level: BTreeMap<String, String>,
    /// `text` or `json`.
    pub format: String,
    /// Write to standard output.
    pub console: bool,
    pub file: LogFileSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LogFileSettings {
    pub enabled: bool,
    /// Directory of the log files (`logs`).
    pub path: String,
    /// Main log file name (`ingenio-backend.log`).
    pub name: String,
    /// Errors only (`error.log`).
    pub error_name: String,
    /// Roll the file when it grows past this many bytes (`100MB`, `512kb`, `1GB` or plain bytes).
    #[serde(deserialize_with = "byte_size")]
    pub max_size: u64,
    /// Keep rolled files for this many days.
    pub max_history: u32,
    /// Delete the oldest rolled files when all of them together exceed this many bytes (units as
    /// `max-size`).
    #[serde(deserialize_with = "byte_size")]
    pub total_size_cap: u64,
}

/// Parses a logback-style size: a whole number of bytes, or a number followed by `B`, `KB`, `MB`,
/// `GB` (also `K`/`M`/`G` and `KiB`/`MiB`/`GiB`), any case, optional space. Units are powers of
/// 1024, as in logback (`100MB` = 104857600).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let number: u64 = digits.parse().map_err(|_| {
        format!("expected a size such as 100MB, 512KB, 3GB or a number of bytes, found {text:?}")
    })?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?}: use B, KB, MB or GB"
            ))
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("the size {text:?} is too large"))
}

fn byte_size<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_byte_size(&text).map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IngenioSettings {
    pub tenant: TenantSettings,
    pub jwt: JwtSettings,
    pub rate_limit: RateLimitSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub deepseek: DeepseekSettings,
    pub minio: MinioSettings,
    pub preview: PreviewSettings,
    pub code_gen: CodeGenSettings,
    pub otel: OtelSettings,
    pub generation: GenerationSettings,
    /// `ingenio.spec-limits.*`: the size limits of a spec (defaults when absent; see docs/api.md).
    #[serde(default)]
    pub spec_limits: ingenio_app_specs::SpecLimits,
    /// `ingenio.spec-work.*`: the bound on CPU-heavy spec work of requests.
    #[serde(default)]
    pub spec_work: SpecWorkSettings,
    #[serde(default)]
    pub moderation: ModerationSettings,
    #[serde(default)]
    pub social: SocialSettings,
    pub mail: MailSettings,
    /// `ingenio.kept-reads.*`: sessions and projects kept in process (defaults when absent).
    #[serde(default)]
    pub kept_reads: KeptReadsSettings,
}

/// Verified sessions and single projects kept per HTTP worker, exact through LISTEN/NOTIFY sync
/// rounds (the postgres adapter's `kept_reads`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct KeptReadsSettings {
    /// Off: every request reads its session and project rows.
    pub enabled: bool,
    /// Most reads of each kind kept per worker.
    pub max_entries: usize,
}

impl Default for KeptReadsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
        }
    }
}

/// Spec validation and diffs of HTTP requests run off the async threads, this many at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SpecWorkSettings {
    /// At once per instance; 0 = two per core.
    pub max_concurrent: usize,
    /// Milliseconds a request waits for a slot before answering 503 with `Retry-After`.
    pub wait_ms: u64,
}

impl Default for SpecWorkSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 0,
            wait_ms: 500,
        }
    }
}

/// `ingenio.moderation.*`: reports and the blocked-word list for comments.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ModerationSettings {
    /// Distinct users whose open reports hide a project or comment until an admin reviews it.
    pub report_threshold: u32,
    /// Words refused in comments (matched after NFKC folding, ignoring case, spaces and
    /// punctuation).
    pub blocked_words: Vec<String>,
    /// A file of more blocked words, one per line (`#` comments); empty = none.
    pub blocked_words_file: String,
}

impl Default for ModerationSettings {
    fn default() -> Self {
        Self {
            report_threshold: 3,
            blocked_words: Vec::new(),
            blocked_words_file: String::new(),
        }
    }
}

/// `ingenio.social.*`: comments and views.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SocialSettings {
    /// Longest comment, in characters (not bytes).
    pub comment_max_chars: usize,
    /// Hours within which a viewer's repeated views of a project count once.
    pub view_window_hours: u32,
}

impl Default for SocialSettings {
    fn default() -> Self {
        Self {
            comment_max_chars: 1000,
            view_window_hours: 24,
        }
    }
}

/// `ingenio.mail.*`: what Spring's `spring.mail` does not cover.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MailSettings {
    /// `MAIL_FROM`: the sender (`noreply@example.com` or `Ingenio <noreply@example.com>`).
    pub from: String,
    /// `MAIL_STARTTLS`: `none`, `starttls` or `tls` (normalised by the loader).
    pub starttls: String,
    /// Seconds one send may take in all (connection and every command).
    pub timeout: u64,
    /// `MAIL_RESET_URL`: the web page that takes `?token=`; empty = the mail carries the token only.
    pub reset_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GenerationSettings {
    /// Job workers per instance (0 = accept jobs only).
    pub workers: usize,
    /// Seconds a claim lasts without a heartbeat.
    pub lease_seconds: u64,
    /// Idle polling interval in milliseconds.
    pub poll_interval_ms: u64,
    /// Default quality gate (0–100).
    pub quality_threshold: u8,
    /// Days the SSE events of a finished job are kept (0 = forever); the job itself stays.
    pub event_retention_days: u32,
    /// Open SSE streams one user may hold on one instance (more answer 429).
    pub sse_max_streams_per_user: usize,
    /// Open SSE streams one instance serves in all (more answer 429).
    pub sse_max_streams_per_instance: usize,
    /// Seconds between checks that an open stream's session is still valid (logout, suspension,
    /// password change end the stream at the next check).
    pub sse_session_check_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TenantSettings {
    pub default_id: Uuid,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JwtSettings {
    /// Signs every new token (`JWT_SECRET`).
    pub secret: SecretString,
    /// Still verifies tokens signed before a rotation (`JWT_SECRET_PREVIOUS`); may be empty.
    pub secret_previous: SecretString,
    /// Access token lifetime in seconds (default 2 h).
    pub access_token_ttl: u64,
    /// Refresh token lifetime in seconds (default 7 d).
    pub refresh_token_ttl: u64,
    pub issuer: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub requests_per_minute: u32,
    pub ai_calls_per_hour: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatabaseSettings {
    /// Create the configured database at start when it does not exist.
    pub create_if_missing: bool,
    /// Apply pending migrations at start (under the advisory lock, so N instances may do it).
    pub migrate_on_startup: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthSettings {
    /// Lifetime of a password-reset token in seconds.
    pub password_reset_ttl: u64,
    /// Log reset tokens instead of mailing them (dev only).
    pub log_reset_tokens: bool,
    /// Failed logins per name within `login-failure-window` after which the name is locked.
    pub login_max_failures: u32,
    /// Seconds failed logins are remembered (from the first one).
    pub login_failure_window: u64,
    /// Seconds of the first lock; each further failure doubles it, up to the window.
    pub login_lock: u64,
    /// Seconds a spent refresh token still yields the pair it was traded for (refresh races).
    pub refresh_grace: u64,
    /// Password hashes (argon2id, 19 MiB each) running at once; 0 = two per core.
    pub hash_max_concurrent: usize,
    /// Milliseconds a login, register or password change waits for a hashing slot before
    /// answering 503 with `Retry-After`.
    pub hash_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DeepseekSettings {
    pub api_key: SecretString,
    pub base_url: String,
    pub model: String,
    /// Seconds per plan call.
    pub plan_timeout: u64,
    /// Seconds per execute call.
    pub execute_timeout: u64,
    /// Seconds per review call.
    pub review_timeout: u64,
    pub max_retries: u32,
    pub max_concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MinioSettings {
    /// `MINIO_ENDPOINT`; empty = the local-directory store (`ingenio.code-gen.local-dir`).
    pub endpoint: String,
    pub access_key: SecretString,
    pub secret_key: SecretString,
    pub bucket: String,
    /// S3 region for signatures (MinIO accepts any; `us-east-1` by default).
    pub region: String,
    /// Seconds one object-store request may take before it counts as a failure.
    pub request_timeout: u64,
    /// Zips larger than this many MiB are uploaded in parts.
    pub multipart_threshold_mb: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PreviewSettings {
    /// `PREVIEW_BASE_URL`: previews live at `{base-url}/{project_key}/`.
    pub base_url: String,
    /// A second listener that serves only previews (at `/{project_key}/…`), so that
    /// `PREVIEW_BASE_URL` can name an origin apart from the API's; 0 = none.
    pub port: u16,
    /// MiB of unpacked zip indexes kept in memory for previews (LRU by content hash).
    pub cache_mb: u64,
    /// Zips larger than this many MiB are not previewed (they can still be downloaded).
    pub max_zip_mb: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CodeGenSettings {
    /// `static-web`, `react-next` or `vue-vite`: the renderer when a request names none.
    pub default_renderer: String,
    /// Where artifacts are kept when no object store endpoint is configured.
    pub local_dir: String,
    /// Seconds a presigned download URL stays valid.
    pub presign_ttl_seconds: u64,
    /// Concurrent renders per instance (CPU-bound work runs off the async threads).
    pub max_concurrent_renders: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OtelSettings {
    /// OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); empty disables trace export.
    pub endpoint: String,
    pub service_name: String,
}

impl Settings {
    /// The users service's settings (`ingenio.tenant`, `ingenio.auth`).
    pub fn user_service_config(&self) -> ingenio_users::UserServiceConfig {
        let auth = &self.ingenio.auth;
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        ingenio_users::UserServiceConfig {
            default_tenant: ingenio_kernel::TenantId::from_uuid(self.ingenio.tenant.default_id),
            reset_token_ttl: secs(auth.password_reset_ttl),
            login_max_failures: auth.login_max_failures,
            login_failure_window: secs(auth.login_failure_window),
            login_lock: secs(auth.login_lock),
            refresh_grace: secs(auth.refresh_grace),
        }
    }
}

/// One IP address or CIDR block (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `addr` or `addr/prefix`; host bits of the address are ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{text:?} has a prefix length outside 0..={max}")),
            },
        };
        Ok(Self { network, prefix })
    }

    /// Whether `ip` lies in this block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)) << 96, self.prefix)
                    == masked(u128::from(u32::from(a)) << 96, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.prefix) == masked(u128::from(a), self.prefix)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of `bits`.
fn masked(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

impl<'de> Deserialize<'de> for IpBlock {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlockVisitor;
        impl serde::de::Visitor<'_> for BlockVisitor {
            type Value = IpBlock;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an IP address or CIDR block")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IpBlock, E> {
                IpBlock::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_string(BlockVisitor)
    }
}

/// The proxies whose `X-Forwarded-For` / `X-Real-IP` headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(Vec<IpBlock>);

impl TrustedProxies {
    /// Parses each item as an address or CIDR block.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        items
            .iter()
            .map(|s| IpBlock::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn byte_sizes_take_logback_units() {
        assert_eq!(parse_byte_size("100MB"), Ok(100 << 20));
        assert_eq!(parse_byte_size("3GB"), Ok(3 << 30));
        assert_eq!(parse_byte_size(" 512 kb "), Ok(512 << 10));
        assert_eq!(parse_byte_size("104857600"), Ok(104_857_600));
        assert_eq!(parse_byte_size("7b"), Ok(7));
        assert!(parse_byte_size("MB").is_err());
        assert!(parse_byte_size("10TB").unwrap_err().contains("TB"));
        assert!(parse_byte_size("-1").is_err());
        assert!(parse_byte_size("99999999999999GB")
            .unwrap_err()
            .contains("too large"));
    }

    proptest! {
        #[test]
        fn byte_size_units_scale_and_ignore_case(n in 0u64..1_000_000, unit in 0usize..4, upper: bool) {
            let (name, shift) = [("", 0), ("kb", 10), ("mb", 20), ("gb", 30)][unit];
            let name = if upper { name.to_ascii_uppercase() } else { name.to_owned() };
            prop_assert_eq!(parse_byte_size(&format!("{n}{name}")), Ok(n << shift));
        }

        #[test]
        fn byte_size_never_panics(text in "\\PC{0,12}") {
            let _ = parse_byte_size(&text);
        }
    }

    fn proxies(items: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(items).unwrap()
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let p = proxies(&["127.0.0.1/8", "::1", "10.1.0.0/16", "fd00::/8"]);
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "10.1.200.3",
            "fd12::1",
            "::ffff:127.0.0.2",
        ] {
            assert!(p.contains(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "128.0.0.1",
            "::2",
            "10.2.0.1",
            "fe80::1",
            "203.0.113.9",
            "::ffff:10.2.0.1",
        ] {
            assert!(!p.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(proxies(&["0.0.0.0/0"]).contains("8.8.8.8".parse().unwrap()));
        assert!(!proxies(&["0.0.0.0/0"]).contains("2001:db8::1".parse().unwrap()));
        assert!(!proxies(&[]).contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "::1/129",
            "1.2.3.4/-1",
            "1.2.3/8",
            "1.2.3.4/x",
        ] {
            assert!(IpBlock::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_block_contains_exactly_the_addresses_sharing_its_prefix(
            net in any::<u32>(), ip in any::<u32>(), prefix in 0u8..=32,
        ) {
            let block = IpBlock::parse(&format!("{}/{prefix}", std::net::Ipv4Addr::from(net))).unwrap();
            let shift = 32 - u32::from(prefix);
            let same = prefix == 0 || (net >> shift) == (ip >> shift);
            prop_assert_eq!(block.contains(IpAddr::V4(ip.into())), same);
        }

        #[test]
        fn v6_blocks_agree_with_a_bitwise_prefix(
            net in any::<u128>(), ip in any::<u128>(), prefix in 0u8..=128,
        ) {
            let block = IpBlock::parse(&format!("{}/{prefix}", std::net::Ipv6Addr::from(net))).unwrap();
            let shift = 128 - u32::from(prefix);
            let same = prefix == 0 || (net >> shift) == (ip >> shift);
            // IPv4-mapped addresses are compared as IPv4, so keep to the plain IPv6 space
            let mapped = |x: u128| (x >> 32) == 0xffff;
            prop_assume!(!mapped(net) && !mapped(ip));
            prop_assert_eq!(block.contains(IpAddr::V6(ip.into())), same);
        }
    }
}
