//! Loads `Settings` from layered sources: embedded defaults < `application.yml` < `application-{profile}.yml`
//! < environment (with `.env`, Spring `${NAME:default}` placeholders, relaxed binding and `*_FILE` secrets)
//! < `--set key=value`; then validates the result (the prod JWT rule, pool sizes, paths, levels).

use super::dotenv;
use super::settings::Settings;
use super::tree::{self, split_list, Node};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

/// The base configuration compiled into the binary, so it runs without a config directory and every
/// key has a default (and therefore an environment variable that binds to it).
pub const EMBEDDED_APPLICATION_YML: &str = include_str!("../../../../config/application.yml");

/// Minimum JWT secret length in bytes; shorter secrets are refused in `prod`.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

const DEFAULT_PROFILE: &str = "dev";
const DEFAULT_CONFIG_DIR: &str = "config";

/// Everything `load` reads besides the YAML files. Tests build one by hand with their own `env`.
#[derive(Clone, Default)]
pub struct ConfigSources {
    /// Directory holding `application.yml` and `application-{profile}.yml`; `None` means
    /// `INGENIO_CONFIG_DIR` (from `env`) or `./config`.
    pub config_dir: Option<PathBuf>,
    /// The `--profile` command-line value; beats every other way of choosing the profile.
    pub profile: Option<String>,
    /// `--set key=value` overrides, applied last in order.
    pub sets: Vec<(String, String)>,
    /// The environment variables (placeholders, relaxed binding, profile selection).
    pub env: HashMap<String, String>,
    /// Also read `./.env` (its values lose to `env`).
    pub dotenv: bool,
}

impl ConfigSources {
    /// The real process: its environment, `INGENIO_CONFIG_DIR`, and `./.env`.
    pub fn from_process(profile: Option<String>, sets: Vec<(String, String)>) -> Self {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let config_dir = env
            .get("INGENIO_CONFIG_DIR")
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        ConfigSources {
            config_dir,
            profile,
            sets,
            env,
            dotenv: true,
        }
    }
}

/// The loaded settings and the warnings the caller should log once logging is up.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

/// Why the configuration could not be loaded. Messages name the key and the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{origin} is not valid YAML: {source}")]
    Yaml {
        origin: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{origin}: {message}")]
    Structure { origin: String, message: String },
    #[error("{}, line {line}: {message}", path.display())]
    Dotenv {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{key} needs the environment variable {var} (its placeholder has no default); set {var} or {var}_FILE")]
    MissingVariable { key: String, var: String },
    #[error("cannot read the secret file {} named by {var}: {source}", path.display())]
    SecretFile {
        var: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid profile name {name:?}: use letters, digits, '-' and '_'")]
    Profile { name: String },
    #[error("cannot apply --set {key}: {message}")]
    Set { key: String, message: String },
    #[error("invalid configuration value for {key}: {message} (value from {origin}; override with env {env} or --set {key}=...)")]
    Invalid {
        key: String,
        env: String,
        origin: String,
        message: String,
    },
    #[error("{var} is missing or shorter than 32 bytes ({key}); generate one with `openssl rand -base64 32`")]
    WeakJwtSecret { var: String, key: String },
}

/// The relaxed-binding environment variable of a dotted key: upper-cased, `.` and `-` become `_`
/// (`ingenio.rate-limit.requests-per-minute` ⇔ `INGENIO_RATE_LIMIT_REQUESTS_PER_MINUTE`).
pub fn env_name(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '.' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Where each leaf's current value came from, for error messages.
#[derive(Default)]
struct Origins(HashMap<String, String>);

impl Origins {
    fn record_all(&mut self, node: &Node, origin: &str) {
        for path in node.leaf_paths() {
            self.0.insert(path.join("."), origin.to_owned());
        }
    }

    fn set(&mut self, key: String, origin: String) {
        self.0.insert(key, origin);
    }

    fn of(&self, key: &str) -> String {
        let base = key.split('[').next().unwrap_or(key);
        self.0
            .get(base)
            .cloned()
            .unwrap_or_else(|| "no source (the key is not set anywhere)".to_owned())
    }
}

/// Loads, merges, binds and validates the configuration.
pub fn load(sources: &ConfigSources) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let env = effective_env(sources)?;
    let profiles = select_profiles(sources, &env)?;
    let primary = profiles
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());

    let mut origins = Origins::default();
    let mut tree = parse_yaml(EMBEDDED_APPLICATION_YML, "the built-in application.yml")?;
    origins.record_all(&tree, "the built-in defaults");

    let (dir, explicit) = match (&sources.config_dir, env.get("INGENIO_CONFIG_DIR")) {
        (Some(dir), _) => (dir.clone(), true),
        (None, Some(dir)) if !dir.trim().is_empty() => (PathBuf::from(dir), true),
        _ => (PathBuf::from(DEFAULT_CONFIG_DIR), false),
    };
    if dir.is_dir() {
        let base = dir.join("application.yml");
        if !layer_file(&mut tree, &mut origins, &base)? {
            warnings.push(format!(
                "{} not found; using the built-in defaults as the base configuration",
                base.display()
            ));
        }
        for profile in &profiles {
            let path = dir.join(format!("application-{profile}.yml"));
            if !layer_file(&mut tree, &mut origins, &path)? {
                warnings.push(format!(
                    "{} not found; profile {profile} uses the base configuration only",
                    path.display()
                ));
            }
        }
    } else if explicit {
        warnings.push(format!(
            "config directory {} (INGENIO_CONFIG_DIR) does not exist; using the built-in defaults",
            dir.display()
        ));
    }

    resolve_placeholders(&mut tree, &env, &mut origins)?;
    bind_environment(&mut tree, &env, &mut origins)?;
    for (key, value) in &sources.sets {
        apply_set(&mut tree, key, value)?;
        origins.set(canonical_set_path(&tree, key), format!("--set {key}"));
    }

    let (mut settings, mut unknown): (Settings, Vec<String>) =
        tree::deserialize_noting_unknown(tree, "").map_err(|e| {
            let key = e.key.clone().unwrap_or_default();
            invalid(&key, &origins, e.message)
        })?;
    settings.profile = primary;
    // `spring.profiles.*` is read before binding (profile selection), not by `Settings`.
    unknown.retain(|key| !key.starts_with("spring.profiles"));
    unknown.extend(map_java_loggers(&mut settings.logging.level));
    validate(&mut settings, &profiles, &origins, &mut warnings)?;
    if !unknown.is_empty() {
        warnings.push(format!(
            "ignoring configuration keys this server does not use (startup continues): {}",
            unknown.join(", ")
        ));
    }
    Ok(Loaded { settings, warnings })
}

/// The guide's (Spring/Java) logger names and the tracing targets they stand for. A name also
/// covers its sub-packages unless a longer entry matches; the most specific configured name wins.
pub const JAVA_LOGGERS: &[(&str, &[&str])] = &[
    (
        "com.ingenio.backend",
        &[
            "ingenio_server",
            "ingenio_kernel",
            "ingenio_users",
            "ingenio_app_specs",
            "ingenio_code_gen",
            "ingenio_postgres",
            "ingenio_redis",
            "ingenio_embedded",
            "ingenio_deepseek",
            "ingenio_minio",
        ],
    ),
    (
        "com.ingenio.backend.service",
        &[
            "ingenio_users",
            "ingenio_app_specs",
            "ingenio_code_gen",
            "ingenio_server::workers",
        ],
    ),
    ("com.ingenio.backend.controller", &["ingenio_server::http"]),
    ("com.ingenio.backend.mapper", &["ingenio_postgres"]),
    ("com.ingenio.backend.repository", &["ingenio_postgres"]),
    ("org.springframework.web", &["actix_web", "actix_http"]),
    ("org.springframework.boot", &["actix_server"]),
    ("com.baomidou.mybatisplus", &["sqlx"]),
    ("com.zaxxer.hikari", &["sqlx::pool"]),
    ("org.springframework.data.redis", &["redis"]),
];

/// The tracing targets a Java logger name maps to: its own entry, else that of its nearest
/// configured parent package (`com.ingenio.backend.util` → `com.ingenio.backend`).
fn java_logger_targets(name: &str) -> Option<&'static [&'static str]> {
    JAVA_LOGGERS
        .iter()
        .filter(|(java, _)| {
            name.eq_ignore_ascii_case(java)
                || name
                    .to_ascii_lowercase()
                    .starts_with(&format!("{}.", java.to_ascii_lowercase()))
        })
        .max_by_key(|(java, _)| java.len())
        .map(|(_, targets)| *targets)
}

/// Rewrites Java logger names in `logging.level` into our targets (longer names applied last, so
/// they win); Java-style names (`com.*`, `org.*`, `io.*`, `net.*`) with no mapping are removed and
/// returned as `logging.level.<name>` for the unknown-keys warning. Rust targets are kept as they are.
fn map_java_loggers(levels: &mut BTreeMap<String, String>) -> Vec<String> {
    let is_java = |name: &str| {
        ["com.", "org.", "io.", "net."].iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
    };
    let mut java: Vec<(String, String)> = Vec::new();
    levels.retain(|name, level| {
        if is_java(name) {
            java.push((name.clone(), level.clone()));
            false
        } else {
            true
        }
    });
    java.sort_by_key(|(name, _)| name.len());
    let mut unknown = Vec::new();
    for (name, level) in java {
        match java_logger_targets(&name) {
            Some(targets) => {
                for target in targets {
                    levels.insert((*target).to_owned(), level.clone());
                }
            }
            None => unknown.push(format!("logging.level.{name}")),
        }
    }
    unknown
}

fn invalid(key: &str, origins: &Origins, message: impl Into<String>) -> ConfigError {
    let base = key.split('[').next().unwrap_or(key);
    ConfigError::Invalid {
        key: key.to_owned(),
        env: env_name(base),
        origin: origins.of(key),
        message: message.into(),
    }
}

/// Process environment over `./.env`.
fn effective_env(sources: &ConfigSources) -> Result<HashMap<String, String>, ConfigError> {
    let dotenv_path = sources.dotenv.then(|| PathBuf::from(".env"));
    merge_env(dotenv_path.as_deref(), &sources.env)
}

/// The variables of the `.env` file at `dotenv_path` (if given and present), overridden by `env`.
fn merge_env(
    dotenv_path: Option<&Path>,
    env: &HashMap<String, String>,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut merged = HashMap::new();
    if let Some(path) = dotenv_path {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let pairs =
                    dotenv::parse(&text).map_err(|(line, message)| ConfigError::Dotenv {
                        path: path.to_owned(),
                        line,
                        message,
                    })?;
                merged.extend(pairs);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    merged.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(merged)
}

/// `--profile`, then `--set spring.profiles.active=…` (command line beats environment, as in the
/// guide), then `INGENIO_PROFILE`, then `SPRING_PROFILES_ACTIVE`, then `dev`. Comma-separated lists
/// activate several profiles in order; the first is the one reported as `Settings::profile`.
fn select_profiles(
    sources: &ConfigSources,
    env: &HashMap<String, String>,
) -> Result<Vec<String>, ConfigError> {
    let from_set = sources
        .sets
        .iter()
        .rev()
        .find(|(k, _)| canonical(k) == canonical("spring.profiles.active"))
        .map(|(_, v)| v.clone());
    let chosen = [
        sources.profile.clone(),
        from_set,
        env.get("INGENIO_PROFILE").cloned(),
        env.get("SPRING_PROFILES_ACTIVE").cloned(),
    ]
    .into_iter()
    .flatten()
    .find(|v| !v.trim().is_empty())
    .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());

    let mut profiles = Vec::new();
    for name in chosen.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(ConfigError::Profile {
                name: name.to_owned(),
            });
        }
        if !profiles.iter().any(|p| p == name) {
            profiles.push(name.to_owned());
        }
    }
    if profiles.is_empty() {
        profiles.push(DEFAULT_PROFILE.to_owned());
    }
    Ok(profiles)
}

fn parse_yaml(text: &str, origin: &str) -> Result<Node, ConfigError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|source| ConfigError::Yaml {
            origin: origin.to_owned(),
            source,
        })?;
    let node = Node::from_yaml(value).map_err(|message| ConfigError::Structure {
        origin: origin.to_owned(),
        message,
    })?;
    match node {
        Node::Null => Ok(Node::Map(BTreeMap::new())),
        Node::Map(_) => Ok(node),
        _ => Err(ConfigError::Structure {
            origin: origin.to_owned(),
            message: "the top level must be a mapping of keys".to_owned(),
        }),
    }
}

/// Merges a YAML file over the tree; `Ok(false)` when the file does not exist.
fn layer_file(tree: &mut Node, origins: &mut Origins, path: &Path) -> Result<bool, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let origin = path.display().to_string();
    let overlay = parse_yaml(&text, &origin)?;
    origins.record_all(&overlay, &origin);
    tree.merge(overlay);
    Ok(true)
}

/// Reads `name`, or the file named by `name_FILE` (trailing newline trimmed). Returns the value and
/// the variable it came from.
fn lookup(
    env: &HashMap<String, String>,
    name: &str,
) -> Result<Option<(String, String)>, ConfigError> {
    if let Some(value) = env.get(name) {
        return Ok(Some((value.clone(), name.to_owned())));
    }
    let file_var = format!("{name}_FILE");
    let Some(path) = env.get(&file_var).filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path.trim());
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
        var: file_var.clone(),
        path,
        source,
    })?;
    let value = text.trim_end_matches(['\n', '\r']).to_owned();
    Ok(Some((value, file_var)))
}

/// Replaces `${NAME}` and `${NAME:default}` in every YAML string with the environment's value.
fn resolve_placeholders(
    tree: &mut Node,
    env: &HashMap<String, String>,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    fn resolve_node(
        node: &mut Node,
        key: &str,
        env: &HashMap<String, String>,
        used: &mut Option<String>,
    ) -> Result<(), ConfigError> {
        match node {
            Node::Str(s) if s.contains("${") => {
                *s = resolve_str(s, key, env, used)?;
            }
            Node::Seq(items) => {
                for item in items {
                    resolve_node(item, key, env, used)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    for path in tree.leaf_paths() {
        let key = path.join(".");
        if let Some(node) = tree.get_mut(&path) {
            let mut used = None;
            resolve_node(node, &key, env, &mut used)?;
            if let Some(var) = used {
                origins.set(key, format!("env {var}"));
            }
        }
    }
    Ok(())
}

fn resolve_str(
    text: &str,
    key: &str,
    env: &HashMap<String, String>,
    used: &mut Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let body = &rest[start + 2..];
        // Find the matching `}` (defaults may nest placeholders).
        let mut depth = 1usize;
        let mut end = None;
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                depth += 1;
                i += 2;
                continue;
            }
            if bytes[i] == b'}' {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                    break;
                }
            }
            i += 1;
        }
        let Some(end) = end else {
            // Unterminated: keep the rest literally.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &body[..end];
        let (name, default) = match inner.split_once(':') {
            Some((name, default)) => (name.trim(), Some(default)),
            None => (inner.trim(), None),
        };
        match lookup(env, name)? {
            Some((value, var)) => {
                out.push_str(&value);
                if used.is_none() {
                    *used = Some(var);
                }
            }
            None => match default {
                Some(default) => out.push_str(&resolve_str(default, key, env, used)?),
                None => {
                    return Err(ConfigError::MissingVariable {
                        key: key.to_owned(),
                        var: name.to_owned(),
                    })
                }
            },
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Relaxed binding: every existing leaf key is overridden by its upper-snake-case variable
/// (or that variable with `_FILE`). Lists take comma-separated values.
fn bind_environment(
    tree: &mut Node,
    env: &HashMap<String, String>,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    for path in tree.leaf_paths() {
        let key = path.join(".");
        let name = env_name(&key);
        let Some((value, var)) = lookup(env, &name)? else {
            continue;
        };
        if let Some(node) = tree.get_mut(&path) {
            *node = match node {
                Node::Seq(_) => split_list(&value),
                _ => Node::Str(value),
            };
            origins.set(key, format!("env {var}"));
        }
    }
    Ok(())
}

/// Spring-style loose key comparison: case, `-` and `_` do not matter.
fn canonical(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The existing map key matching `segment` exactly, else loosely.
fn find_key(map: &BTreeMap<String, Node>, segment: &str) -> Option<String> {
    if map.contains_key(segment) {
        return Some(segment.to_owned());
    }
    let wanted = canonical(segment);
    map.keys().find(|k| canonical(k) == wanted).cloned()
}

/// The dotted path a `--set` key ends up at (its existing spelling where the key exists).
fn canonical_set_path(tree: &Node, key: &str) -> String {
    let mut node = Some(tree);
    let mut out = Vec::new();
    for segment in key.split('.') {
        let found = match node {
            Some(Node::Map(map)) => find_key(map, segment),
            _ => None,
        };
        match found {
            Some(k) => {
                node = match node {
                    Some(Node::Map(map)) => map.get(&k),
                    _ => None,
                };
                out.push(k);
            }
            None => {
                node = None;
                out.push(segment.to_owned());
            }
        }
    }
    out.join(".")
}

/// Sets any dotted path, creating sections as needed. Surrounding quotes are removed; an existing
/// list takes a comma-separated value.
fn apply_set(tree: &mut Node, key: &str, value: &str) -> Result<(), ConfigError> {
    let set_err = |message: String| ConfigError::Set {
        key: key.to_owned(),
        message,
    };
    let segments: Vec<&str> = key.trim().split('.').collect();
    if segments.iter().any(|s| s.trim().is_empty()) {
        return Err(set_err(
            "the key must be a dotted path like server.port".to_owned(),
        ));
    }
    let value = unquote(value.trim());
    let mut node = tree;
    for (i, segment) in segments.iter().enumerate() {
        if matches!(node, Node::Null | Node::Str(_)) && i > 0 {
            if matches!(node, Node::Str(s) if !s.is_empty()) {
                return Err(set_err(format!(
                    "{} is a single value, not a section",
                    segments[..i].join(".")
                )));
            }
            *node = Node::Map(BTreeMap::new());
        }
        let Node::Map(map) = node else {
            return Err(set_err(format!(
                "{} is a list, not a section",
                segments[..i].join(".")
            )));
        };
        let k = find_key(map, segment).unwrap_or_else(|| (*segment).to_owned());
        node = map.entry(k).or_insert(Node::Null);
    }
    *node = match node {
        Node::Seq(_) => split_list(value),
        Node::Map(m) if !m.is_empty() => {
            return Err(set_err(
                "this is a section; set one of its keys instead".to_owned(),
            ))
        }
        _ => Node::Str(value.to_owned()),
    };
    Ok(())
}

fn unquote(value: &str) -> &str {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        if first == last && (first == b'"' || first == b'\'') {
            return &value[1..value.len() - 1];
        }
    }
    value
}

fn validate(
    settings: &mut Settings,
    profiles: &[String],
    origins: &Origins,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let prod = profiles.iter().any(|p| p == "prod");

    // JWT secrets.
    let jwt = &mut settings.ingenio.jwt;
    let secret_len = jwt.secret.expose_secret().len();
    if prod && secret_len < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError::WeakJwtSecret {
            var: "JWT_SECRET".to_owned(),
            key: "ingenio.jwt.secret".to_owned(),
        });
    }
    if secret_len == 0 {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        jwt.secret = SecretString::from(hex::encode(bytes));
        warnings.push(format!(
            "JWT_SECRET is not set (ingenio.jwt.secret); using a random per-process secret, so tokens \
             do not survive a restart or work across instances (profile {} allows this; prod refuses it)",
            settings.profile
        ));
    } else if secret_len < MIN_JWT_SECRET_BYTES {
        warnings.push(format!(
            "JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes (ingenio.jwt.secret); prod would refuse \
             to start; generate one with `openssl rand -base64 32`"
        ));
    }
    let previous_len = jwt.secret_previous.expose_secret().len();
    if previous_len > 0 && previous_len < MIN_JWT_SECRET_BYTES {
        let message = format!("shorter than {MIN_JWT_SECRET_BYTES} bytes");
        if prod {
            return Err(invalid("ingenio.jwt.secret-previous", origins, message));
        }
        warnings.push(format!(
            "JWT_SECRET_PREVIOUS (ingenio.jwt.secret-previous) is {message}; prod would refuse to start"
        ));
    }
    if settings.ingenio.jwt.access_token_ttl == 0 || settings.ingenio.jwt.refresh_token_ttl == 0 {
        let key = if settings.ingenio.jwt.access_token_ttl == 0 {
            "ingenio.jwt.access-token-ttl"
        } else {
            "ingenio.jwt.refresh-token-ttl"
        };
        return Err(invalid(key, origins, "must be greater than 0 seconds"));
    }

    // Server.
    let server = &mut settings.server;
    if !server.context_path.starts_with('/') {
        return Err(invalid(
            "server.context-path",
            origins,
            format!("must start with '/', found {:?}", server.context_path),
        ));
    }
    while server.context_path.len() > 1 && server.context_path.ends_with('/') {
        server.context_path.pop();
    }
    if server.address.trim().is_empty() {
        return Err(invalid("server.address", origins, "must not be empty"));
    }
    if server.max_body_size == 0 {
        return Err(invalid(
            "server.max-body-size",
            origins,
            "must be greater than 0",
        ));
    }

    // Pool.
    let hikari = &settings.spring.datasource.hikari;
    if hikari.maximum_pool_size == 0 {
        return Err(invalid(
            "spring.datasource.hikari.maximum-pool-size",
            origins,
            "must be greater than 0",
        ));
    }
    if hikari.minimum_idle > hikari.maximum_pool_size {
        return Err(invalid(
            "spring.datasource.hikari.minimum-idle",
            origins,
            format!(
                "{} is larger than maximum-pool-size {}",
                hikari.minimum_idle, hikari.maximum_pool_size
            ),
        ));
    }
    if hikari.connection_timeout == 0 {
        return Err(invalid(
            "spring.datasource.hikari.connection-timeout",
            origins,
            "must be greater than 0 milliseconds",
        ));
    }
    let ds = &settings.spring.datasource;
    let url = ds.url.expose_secret();
    if !url.is_empty() {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "spring.datasource.url",
                origins,
                "must start with postgres:// or postgresql://",
            ));
        }
    } else {
        if ds.host.trim().is_empty() {
            return Err(invalid(
                "spring.datasource.host",
                origins,
                "must not be empty",
            ));
        }
        if ds.name.trim().is_empty() {
            return Err(invalid(
                "spring.datasource.name",
                origins,
                "must not be empty",
            ));
        }
    }

    // Database TLS.
    let ds = &mut settings.spring.datasource;
    match ds.sslmode.parse::<ingenio_postgres::SslMode>() {
        Ok(mode) => ds.sslmode = mode.as_str().to_owned(),
        Err(message) => {
            return Err(invalid(
                "spring.datasource.sslmode",
                origins,
                format!("{message} (DB_SSLMODE)"),
            ))
        }
    }
    let root = ds.sslrootcert.trim();
    if !root.is_empty() {
        if !Path::new(root).is_file() {
            return Err(invalid(
                "spring.datasource.sslrootcert",
                origins,
                format!("{root:?} is not a readable file (DB_SSLROOTCERT: a PEM bundle of CA certificates)"),
            ));
        }
        if ds.sslmode != ingenio_postgres::SslMode::VerifyFull.as_str() {
            warnings.push(format!(
                "DB_SSLROOTCERT (spring.datasource.sslrootcert) is only used with sslmode=verify-full; sslmode is {}",
                ds.sslmode
            ));
        }
    }
    if let Err(message) = ingenio_postgres::tls::PgTarget::parse(ds.database_url().expose_secret())
    {
        let key = if ds.url.expose_secret().is_empty() {
            "spring.datasource.host"
        } else {
            "spring.datasource.url"
        };
        return Err(invalid(key, origins, message));
    }

    // Mail and reset tokens.
    let mail = &mut settings.ingenio.mail;
    match mail.starttls.parse::<ingenio_mail::SmtpSecurity>() {
        Ok(mode) => mail.starttls = mode.as_str().to_owned(),
        Err(message) => {
            return Err(invalid(
                "ingenio.mail.starttls",
                origins,
                format!("{message} (MAIL_STARTTLS)"),
            ))
        }
    }
    let mail_configured = settings.spring.mail.is_configured();
    if mail_configured {
        if settings.spring.mail.port == 0 {
            return Err(invalid(
                "spring.mail.port",
                origins,
                "must be greater than 0 (MAIL_PORT)",
            ));
        }
        if mail.timeout == 0 {
            return Err(invalid(
                "ingenio.mail.timeout",
                origins,
                "must be greater than 0 seconds",
            ));
        }
        if mail.from.trim().is_empty() {
            return Err(invalid(
                "ingenio.mail.from",
                origins,
                "must be set when spring.mail.host (MAIL_HOST) is: the sender of reset mail (MAIL_FROM)",
            ));
        }
        if let Err(message) = ingenio_mail::parse_mailbox(&mail.from) {
            return Err(invalid(
                "ingenio.mail.from",
                origins,
                format!("{message} (MAIL_FROM)"),
            ));
        }
    }
    if prod && settings.ingenio.auth.log_reset_tokens {
        return Err(invalid(
            "ingenio.auth.log-reset-tokens",
            origins,
            "true would write password-reset tokens to the log, which the prod profile refuses; \
             set it to false and deliver tokens by mail (MAIL_HOST, MAIL_FROM)",
        ));
    }
    if prod && !mail_configured {
        warnings.push(
            "no mail transport (MAIL_HOST / spring.mail.host is empty): password-reset requests are \
             answered as usual but no token is delivered"
                .to_owned(),
        );
    }

    // Logging.
    let logging = &mut settings.logging;
    logging.format = logging.format.trim().to_ascii_lowercase();
    if logging.format != "text" && logging.format != "json" {
        return Err(invalid(
            "logging.format",
            origins,
            format!("must be text or json, found {:?}", logging.format),
        ));
    }
    for (target, level) in logging.level.iter_mut() {
        let normalised = match level.trim().to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" | "warning" => "warn",
            "error" | "fatal" => "error",
            "off" => "off",
            _ => {
                return Err(invalid(
                    &format!("logging.level.{target}"),
                    origins,
                    format!("must be one of trace, debug, info, warn, error, off; found {level:?}"),
                ))
            }
        };
        *level = normalised.to_owned();
    }
    // Spring's `logging.file.name` may carry its directory (`logs/ingenio-backend.log`).
    let file_name = Path::new(logging.file.name.trim()).to_owned();
    if let (Some(dir), Some(name)) = (file_name.parent(), file_name.file_name()) {
        if !dir.as_os_str().is_empty() {
            logging.file.path = dir.to_string_lossy().into_owned();
            logging.file.name = name.to_string_lossy().into_owned();
        }
    }
    if logging.file.enabled {
        if logging.file.name.trim().is_empty() {
            return Err(invalid("logging.file.name", origins, "must not be empty"));
        }
        if logging.file.error_name.trim().is_empty() {
            return Err(invalid(
                "logging.file.error-name",
                origins,
                "must not be empty",
            ));
        }
    }

    // Rate limits.
    let rl = &settings.ingenio.rate_limit;
    if rl.enabled && rl.requests_per_minute == 0 {
        return Err(invalid(
            "ingenio.rate-limit.requests-per-minute",
            origins,
            "must be greater than 0 while rate limiting is enabled",
        ));
    }
    if rl.enabled && rl.ai_calls_per_hour == 0 {
        return Err(invalid(
            "ingenio.rate-limit.ai-calls-per-hour",
            origins,
            "must be greater than 0 while rate limiting is enabled",
        ));
    }

    // Tracing.
    let endpoint = settings.ingenio.otel.endpoint.trim();
    let is_http = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !endpoint.is_empty() && !is_http {
        return Err(invalid(
            "ingenio.otel.endpoint",
            origins,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const STRONG: &str = "0123456789abcdef0123456789abcdef-strong";

    /// A fresh, empty directory under the system temp dir.
    fn temp_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ingenio-config-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Sources with no config dir on disk (built-in defaults only), no `.env`, and the given env.
    fn sources(env: &[(&str, &str)]) -> ConfigSources {
        ConfigSources {
            config_dir: Some(PathBuf::from("/nonexistent/ingenio-config")),
            profile: None,
            sets: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dotenv: false,
        }
    }

    fn repo_config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config")
    }

    #[test]
    fn env_name_is_relaxed_binding() {
        assert_eq!(
            env_name("ingenio.rate-limit.requests-per-minute"),
            "INGENIO_RATE_LIMIT_REQUESTS_PER_MINUTE"
        );
        assert_eq!(
            env_name("spring.datasource.hikari.maximum-pool-size"),
            "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"
        );
        assert_eq!(env_name("logging.level.root"), "LOGGING_LEVEL_ROOT");
    }

    #[test]
    fn built_in_defaults_alone_produce_settings() {
        let loaded = load(&sources(&[])).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.profile, "dev");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.server.context_path, "/api");
        assert_eq!(s.server.max_body_size, 1_048_576);
        assert_eq!(s.spring.datasource.hikari.maximum_pool_size, 20);
        assert_eq!(s.spring.datasource.hikari.minimum_idle, 5);
        assert_eq!(s.spring.datasource.hikari.connection_timeout, 5000);
        assert_eq!(s.spring.datasource.host, "localhost");
        assert_eq!(s.spring.datasource.port, 5432);
        assert_eq!(s.spring.datasource.name, "ingenio_dev");
        assert!(!s.spring.data.redis.is_configured());
        assert_eq!(s.spring.data.redis.key_prefix, "ingenio:");
        assert_eq!(
            s.logging.level.get("root").map(String::as_str),
            Some("info")
        );
        assert_eq!(s.ingenio.jwt.access_token_ttl, 7200);
        assert_eq!(
            s.ingenio.tenant.default_id.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
        // No JWT secret in dev: a random one and a warning.
        assert_eq!(s.ingenio.jwt.secret.expose_secret().len(), 64);
        assert!(loaded.warnings.iter().any(|w| w.contains("JWT_SECRET")));
    }

    #[test]
    fn random_dev_secret_differs_per_load() {
        let a = load(&sources(&[])).unwrap().settings;
        let b = load(&sources(&[])).unwrap().settings;
        assert_ne!(
            a.ingenio.jwt.secret.expose_secret(),
            b.ingenio.jwt.secret.expose_secret()
        );
    }

    #[test]
    fn precedence_chain() {
        let dir = temp_dir("precedence");
        std::fs::write(
            dir.join("application.yml"),
            "server:\n  port: 1001\n  workers: 3\n  address: 10.0.0.1\n  shutdown-timeout: 11\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("application-staging.yml"),
            "server:\n  port: 1002\n  workers: 4\n  address: 10.0.0.2\n",
        )
        .unwrap();
        let mut src = sources(&[("SERVER_PORT", "1003"), ("SERVER_WORKERS", "5")]);
        src.config_dir = Some(dir.clone());
        src.profile = Some("staging".to_owned());
        src.sets = vec![("server.port".to_owned(), "1004".to_owned())];
        let s = load(&src).unwrap().settings;
        assert_eq!(s.profile, "staging");
        assert_eq!(s.server.port, 1004, "--set beats env");
        assert_eq!(s.server.workers, 5, "env beats profile file");
        assert_eq!(s.server.address, "10.0.0.2", "profile file beats base file");
        assert_eq!(s.server.shutdown_timeout, 11, "base file beats built-in");
        assert_eq!(
            s.server.max_body_size, 1_048_576,
            "built-in default remains"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn relaxed_binding_for_nested_kebab_keys() {
        let s = load(&sources(&[
            ("INGENIO_RATE_LIMIT_REQUESTS_PER_MINUTE", "77"),
            ("SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "9"),
            ("SPRING_DATASOURCE_HIKARI_MINIMUM_IDLE", "2"),
            ("LOGGING_LEVEL_ROOT", "WARN"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(s.ingenio.rate_limit.requests_per_minute, 77);
        assert_eq!(s.spring.datasource.hikari.maximum_pool_size, 9);
        assert_eq!(s.spring.datasource.hikari.minimum_idle, 2);
        assert_eq!(
            s.logging.level.get("root").map(String::as_str),
            Some("warn")
        );
    }

    #[test]
    fn relaxed_binding_beats_placeholder() {
        let s = load(&sources(&[("PORT", "7001"), ("SERVER_PORT", "7002")]))
            .unwrap()
            .settings;
        assert_eq!(s.server.port, 7002);
    }

    #[test]
    fn placeholders_use_default_or_env() {
        let s = load(&sources(&[])).unwrap().settings;
        assert_eq!(s.spring.datasource.host, "localhost");
        assert_eq!(s.ingenio.deepseek.base_url, "https://api.deepseek.com");

        let s = load(&sources(&[
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "6543"),
            ("PORT", "9999"),
            ("DEEPSEEK_BASE_URL", "http://mock:1234"),
            ("REDIS_HOST", "cache"),
            ("MINIO_BUCKET", "bucket-x"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(s.spring.datasource.host, "db.internal");
        assert_eq!(s.spring.datasource.port, 6543);
        assert_eq!(s.server.port, 9999);
        assert_eq!(s.ingenio.deepseek.base_url, "http://mock:1234");
        assert!(s.spring.data.redis.is_configured());
        assert_eq!(s.spring.data.redis.host, "cache");
        assert_eq!(s.ingenio.minio.bucket, "bucket-x");
    }

    #[test]
    fn placeholder_resolution_details() {
        let env: HashMap<String, String> = [("A", "1"), ("EMPTY", "")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut used = None;
        let r = |t: &str, used: &mut Option<String>| resolve_str(t, "k", &env, used);
        assert_eq!(r("x-${A}-${B:two}-y", &mut used).unwrap(), "x-1-two-y");
        assert_eq!(used.as_deref(), Some("A"));
        assert_eq!(r("${B:${A}}", &mut None).unwrap(), "1");
        assert_eq!(r("${B:http://h:1}", &mut None).unwrap(), "http://h:1");
        assert_eq!(r("${EMPTY:default}", &mut None).unwrap(), "");
        assert_eq!(r("${B:}", &mut None).unwrap(), "");
        assert_eq!(r("open ${A", &mut None).unwrap(), "open ${A");
        let err = r("${B}", &mut None).unwrap_err();
        assert!(matches!(err, ConfigError::MissingVariable { ref var, .. } if var == "B"));
        assert!(err
            .to_string()
            .contains("k needs the environment variable B"));
    }

    #[test]
    fn file_variants_supply_secrets() {
        let dir = temp_dir("secrets");
        let jwt = dir.join("jwt");
        std::fs::write(&jwt, format!("{STRONG}\n")).unwrap();
        let db = dir.join("db");
        std::fs::write(&db, "s3cret\r\n").unwrap();
        let jwt_path = jwt.to_string_lossy().into_owned();
        let db_path = db.to_string_lossy().into_owned();
        let mut src = sources(&[
            ("JWT_SECRET_FILE", jwt_path.as_str()),
            ("SPRING_DATASOURCE_PASSWORD_FILE", db_path.as_str()),
        ]);
        src.profile = Some("prod".to_owned());
        let s = load(&src).unwrap().settings;
        assert_eq!(s.ingenio.jwt.secret.expose_secret(), STRONG);
        assert_eq!(s.spring.datasource.password.expose_secret(), "s3cret");

        // The plain variable wins over its _FILE variant.
        let mut src = sources(&[
            ("JWT_SECRET", "from-env-from-env-from-env-from-env"),
            ("JWT_SECRET_FILE", jwt_path.as_str()),
        ]);
        src.profile = Some("prod".to_owned());
        let s = load(&src).unwrap().settings;
        assert_eq!(
            s.ingenio.jwt.secret.expose_secret(),
            "from-env-from-env-from-env-from-env"
        );

        // A missing file is a clear error naming the variable.
        let err = load(&sources(&[("DB_PASSWORD_FILE", "/nonexistent/ingenio/pw")])).unwrap_err();
        assert!(err.to_string().contains("DB_PASSWORD_FILE"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn type_coercion_and_errors_name_key_and_variable() {
        let s = load(&sources(&[
            ("INGENIO_RATE_LIMIT_ENABLED", "false"),
            (
                "SERVER_CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("SERVER_MAX_BODY_SIZE", "2048"),
        ]))
        .unwrap()
        .settings;
        assert!(!s.ingenio.rate_limit.enabled);
        assert_eq!(
            s.server.cors.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(s.server.max_body_size, 2048);

        let err = load(&sources(&[("PORT", "eighty")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("server.port"), "{text}");
        assert!(text.contains("SERVER_PORT"), "{text}");
        assert!(text.contains("env PORT"), "{text}");
        assert!(text.contains("eighty"), "{text}");

        let err = load(&sources(&[("INGENIO_RATE_LIMIT_ENABLED", "maybe")])).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref key, .. } if key == "ingenio.rate-limit.enabled")
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_blocks() {
        let s = load(&sources(&[])).unwrap().settings;
        assert!(s
            .server
            .forward_headers_trusted_proxies
            .contains("127.0.0.9".parse().unwrap()));
        assert!(s
            .server
            .forward_headers_trusted_proxies
            .contains("::1".parse().unwrap()));
        assert!(!s
            .server
            .forward_headers_trusted_proxies
            .contains("10.0.0.1".parse().unwrap()));
        let s = load(&sources(&[(
            "SERVER_FORWARD_HEADERS_TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.7",
        )]))
        .unwrap()
        .settings;
        assert!(s
            .server
            .forward_headers_trusted_proxies
            .contains("10.3.2.1".parse().unwrap()));
        assert!(!s
            .server
            .forward_headers_trusted_proxies
            .contains("127.0.0.1".parse().unwrap()));
        let err = load(&sources(&[(
            "SERVER_FORWARD_HEADERS_TRUSTED_PROXIES",
            "nginx",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("server.forward-headers-trusted-proxies"),
            "{err}"
        );
        assert!(err.contains("nginx"), "{err}");
    }

    #[test]
    fn prod_refuses_short_or_missing_jwt_secret() {
        for secret in [None, Some("too-short")] {
            let mut env = vec![("SPRING_PROFILES_ACTIVE", "prod")];
            if let Some(secret) = secret {
                env.push(("JWT_SECRET", secret));
            }
            let err = load(&sources(&env)).unwrap_err();
            assert!(matches!(err, ConfigError::WeakJwtSecret { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains("JWT_SECRET"), "{text}");
            assert!(text.contains("ingenio.jwt.secret"), "{text}");
            assert!(text.contains("openssl rand -base64 32"), "{text}");
        }
        let loaded = load(&sources(&[
            ("SPRING_PROFILES_ACTIVE", "prod"),
            ("JWT_SECRET", STRONG),
        ]))
        .unwrap();
        assert_eq!(loaded.settings.profile, "prod");
        assert_eq!(loaded.settings.ingenio.jwt.secret.expose_secret(), STRONG);
        assert!(!loaded.warnings.iter().any(|w| w.contains("JWT_SECRET")));
    }

    #[test]
    fn profile_selection_order() {
        let s = load(&sources(&[("SPRING_PROFILES_ACTIVE", "test")]))
            .unwrap()
            .settings;
        assert_eq!(s.profile, "test");

        let s = load(&sources(&[
            ("SPRING_PROFILES_ACTIVE", "test"),
            ("INGENIO_PROFILE", "qa"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(s.profile, "qa");

        let mut src = sources(&[("INGENIO_PROFILE", "qa")]);
        src.sets = vec![("spring.profiles.active".to_owned(), "demo".to_owned())];
        assert_eq!(load(&src).unwrap().settings.profile, "demo");
        src.profile = Some("cli".to_owned());
        assert_eq!(load(&src).unwrap().settings.profile, "cli");

        let err = load(&sources(&[("INGENIO_PROFILE", "../etc")])).unwrap_err();
        assert!(matches!(err, ConfigError::Profile { .. }));
    }

    #[test]
    fn repository_profile_files_apply() {
        let mut src = sources(&[("SPRING_PROFILES_ACTIVE", "test")]);
        src.config_dir = Some(repo_config_dir());
        let s = load(&src).unwrap().settings;
        assert_eq!(s.spring.datasource.name, "ingenio_test");
        assert_eq!(s.spring.datasource.hikari.connection_timeout, 1000);
        assert!(!s.logging.file.enabled);

        let mut src = sources(&[("SPRING_PROFILES_ACTIVE", "prod"), ("JWT_SECRET", STRONG)]);
        src.config_dir = Some(repo_config_dir());
        let s = load(&src).unwrap().settings;
        assert_eq!(s.spring.datasource.hikari.maximum_pool_size, 50);
        assert_eq!(s.spring.datasource.hikari.minimum_idle, 10);
        assert_eq!(s.spring.datasource.name, "ingenio_prod");
        assert_eq!(s.ingenio.rate_limit.requests_per_minute, 30);
        assert_eq!(s.ingenio.rate_limit.ai_calls_per_hour, 50);
        assert_eq!(s.logging.format, "json");
        assert_eq!(
            s.logging.level.get("root").map(String::as_str),
            Some("warn")
        );
        assert!(!s.ingenio.auth.log_reset_tokens);

        let mut src = sources(&[]);
        src.config_dir = Some(repo_config_dir());
        let loaded = load(&src).unwrap();
        let s = loaded.settings;
        assert_eq!(s.profile, "dev");
        assert!(s.ingenio.database.create_if_missing);
        assert!(s.ingenio.database.migrate_on_startup);
        assert!(s.ingenio.auth.log_reset_tokens);
        assert!(
            !loaded
                .warnings
                .iter()
                .any(|w| w.contains("not found") || w.contains("does not use")),
            "{:?}",
            loaded.warnings
        );
    }

    /// The guide's own `application.yml` / `application-prod.yml` blocks, each fixture file one
    /// block copied verbatim (YAML forbids repeating `logging:` in one file, so the blocks are
    /// layered as extra profiles, exactly as Spring would merge them).
    #[test]
    fn guide_blocks_load_with_units_logger_names_and_unknown_keys() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guide-config");
        let mut src = sources(&[("JWT_SECRET", STRONG)]);
        src.config_dir = Some(dir.clone());
        src.profile = Some("prod,levels,logfile,pool".to_owned());
        let loaded = load(&src).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.profile, "prod");

        let file = &s.logging.file;
        assert_eq!(file.max_size, 100 * 1024 * 1024);
        assert_eq!(file.total_size_cap, 3 * 1024 * 1024 * 1024);
        assert_eq!(file.max_history, 30);
        assert_eq!(file.path, "logs");
        assert_eq!(file.name, "ingenio-backend.log");

        let level = |t: &str| s.logging.level.get(t).map(String::as_str);
        assert_eq!(level("root"), Some("warn"));
        assert_eq!(level("ingenio_server"), Some("info"));
        assert_eq!(level("ingenio_postgres"), Some("info"));
        // com.ingenio.backend.service: DEBUG is more specific and wins over com.ingenio.backend.
        assert_eq!(level("ingenio_users"), Some("debug"));
        assert_eq!(level("ingenio_server::workers"), Some("debug"));
        assert_eq!(level("actix_web"), Some("warn"));
        assert_eq!(level("sqlx"), Some("warn"));
        assert!(
            !s.logging.level.keys().any(|k| k.contains('.')),
            "{:?}",
            s.logging.level
        );

        let hikari = &s.spring.datasource.hikari;
        assert_eq!(hikari.maximum_pool_size, 50);
        assert_eq!(hikari.minimum_idle, 10);
        assert_eq!(hikari.connection_timeout, 30000);
        assert_eq!(hikari.idle_timeout, 600000);
        assert_eq!(hikari.max_lifetime, 1_800_000);
        assert_eq!(s.ingenio.rate_limit.requests_per_minute, 30);

        // Keys we do not use: one warning listing all of them, startup goes on.
        let unknown: Vec<&String> = loaded
            .warnings
            .iter()
            .filter(|w| w.contains("does not use"))
            .collect();
        assert_eq!(unknown.len(), 1, "{:?}", loaded.warnings);
        for key in [
            "spring.datasource.hikari.leak-detection-threshold",
            "logging.pattern",
        ] {
            assert!(unknown[0].contains(key), "{key}: {}", unknown[0]);
        }

        // Hikari keys the guide's readers commonly add, and an unmapped Java logger.
        let extra = temp_dir("guide-extra");
        std::fs::copy(
            dir.join("application-prod.yml"),
            extra.join("application-prod.yml"),
        )
        .unwrap();
        std::fs::write(
            extra.join("application-extra.yml"),
            "spring:\n  datasource:\n    hikari:\n      pool-name: IngenioHikariCP\n      \
             auto-commit: true\nlogging:\n  level:\n    org.hibernate.SQL: DEBUG\n  file:\n    \
             max-size: 512kb\n",
        )
        .unwrap();
        let mut src = sources(&[("JWT_SECRET", STRONG)]);
        src.config_dir = Some(extra.clone());
        src.profile = Some("prod,extra".to_owned());
        let loaded = load(&src).unwrap();
        std::fs::remove_dir_all(extra).unwrap();
        assert_eq!(loaded.settings.logging.file.max_size, 512 * 1024);
        let line = loaded
            .warnings
            .iter()
            .find(|w| w.contains("does not use"))
            .unwrap();
        for key in [
            "spring.datasource.hikari.pool-name",
            "spring.datasource.hikari.auto-commit",
            "logging.level.org.hibernate.SQL",
        ] {
            assert!(line.contains(key), "{key}: {line}");
        }
        assert!(!loaded
            .settings
            .logging
            .level
            .contains_key("org.hibernate.SQL"));

        let mut src = sources(&[("LOGGING_FILE_TOTAL_SIZE_CAP", "3TB")]);
        src.profile = Some("dev".to_owned());
        let err = load(&src).unwrap_err().to_string();
        assert!(err.contains("logging.file.total-size-cap"), "{err}");
        assert!(err.contains("TB"), "{err}");
    }

    #[test]
    fn java_logger_names_map_to_nearest_package() {
        assert_eq!(
            java_logger_targets("com.ingenio.backend.util"),
            java_logger_targets("com.ingenio.backend")
        );
        assert_eq!(
            java_logger_targets("COM.INGENIO.BACKEND.CONTROLLER"),
            Some(&["ingenio_server::http"][..])
        );
        assert_eq!(java_logger_targets("com.ingenio.backendx"), None);
        assert_eq!(java_logger_targets("org.hibernate"), None);
        let mut levels: BTreeMap<String, String> =
            [("co\u{e9}.x", "info"), ("ingenio_server", "debug")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        assert!(map_java_loggers(&mut levels).is_empty());
        assert_eq!(levels.len(), 2);
    }

    #[test]
    fn every_built_in_leaf_has_a_distinct_env_name() {
        let tree = parse_yaml(EMBEDDED_APPLICATION_YML, "built-in").unwrap();
        let mut seen = HashMap::new();
        for path in tree.leaf_paths() {
            let key = path.join(".");
            if let Some(other) = seen.insert(env_name(&key), key.clone()) {
                panic!("{key} and {other} share an environment variable");
            }
        }
        assert!(seen.len() > 50, "{}", seen.len());
    }

    #[test]
    fn set_handles_unknown_paths_lists_quotes_and_loose_keys() {
        let mut src = sources(&[]);
        src.sets = vec![
            ("logging.level.actix_server".to_owned(), "debug".to_owned()),
            ("brand.new.key".to_owned(), "x".to_owned()),
            (
                "server.cors.allowed-origins".to_owned(),
                "https://x, https://y".to_owned(),
            ),
            (
                "ingenio.rate_limit.requestsPerMinute".to_owned(),
                "'55'".to_owned(),
            ),
            ("server.context-path".to_owned(), "/v2/".to_owned()),
        ];
        let s = load(&src).unwrap().settings;
        assert_eq!(
            s.logging.level.get("actix_server").map(String::as_str),
            Some("debug")
        );
        assert_eq!(s.server.cors.allowed_origins, ["https://x", "https://y"]);
        assert_eq!(s.ingenio.rate_limit.requests_per_minute, 55);
        assert_eq!(s.server.context_path, "/v2");

        let mut src = sources(&[]);
        src.sets = vec![("server.port.deeper".to_owned(), "1".to_owned())];
        assert!(matches!(load(&src).unwrap_err(), ConfigError::Set { .. }));
        src.sets = vec![("server".to_owned(), "1".to_owned())];
        assert!(matches!(load(&src).unwrap_err(), ConfigError::Set { .. }));
        src.sets = vec![("a..b".to_owned(), "1".to_owned())];
        assert!(matches!(load(&src).unwrap_err(), ConfigError::Set { .. }));
    }

    #[test]
    fn validation_rules() {
        let err = load(&sources(&[("SERVER_CONTEXT_PATH", "api")])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { ref key, ref env, .. }
            if key == "server.context-path" && env == "SERVER_CONTEXT_PATH"));

        let err = load(&sources(&[
            ("SPRING_DATASOURCE_HIKARI_MINIMUM_IDLE", "30"),
            ("SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE", "10"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("minimum-idle"), "{err}");

        let err = load(&sources(&[(
            "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE",
            "0",
        )]))
        .unwrap_err();
        assert!(err.to_string().contains("maximum-pool-size"), "{err}");

        let err = load(&sources(&[("LOGGING_LEVEL_ROOT", "loud")])).unwrap_err();
        assert!(err.to_string().contains("logging.level.root"), "{err}");

        let err = load(&sources(&[("LOGGING_FORMAT", "xml")])).unwrap_err();
        assert!(err.to_string().contains("logging.format"), "{err}");
    }

    #[test]
    fn dotenv_file_is_read_and_loses_to_process_env() {
        let dir = temp_dir("dotenv");
        let path = dir.join(".env");
        std::fs::write(
            &path,
            "# local settings\nexport DB_HOST=from-dotenv\nDB_PORT='6000' # c\nDB_NAME=\"dotenv_db\"\n",
        )
        .unwrap();
        let process: HashMap<String, String> = [("DB_PORT".to_owned(), "7000".to_owned())]
            .into_iter()
            .collect();
        let mut src = sources(&[]);
        src.env = merge_env(Some(&path), &process).unwrap();
        let s = load(&src).unwrap().settings;
        assert_eq!(s.spring.datasource.host, "from-dotenv");
        assert_eq!(s.spring.datasource.port, 7000, "process env beats .env");
        assert_eq!(s.spring.datasource.name, "dotenv_db");

        // A missing .env is fine; a malformed one names the file and line.
        assert!(merge_env(Some(&dir.join("absent")), &process).is_ok());
        std::fs::write(&path, "A=1\nbroken line\n").unwrap();
        let err = merge_env(Some(&path), &process).unwrap_err();
        assert!(matches!(err, ConfigError::Dotenv { line: 2, .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn env_example_parses_and_documents_every_placeholder() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let example = std::fs::read_to_string(root.join(".env.example")).unwrap();
        dotenv::parse(&example).unwrap();
        let docs = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
        for file in [
            "application.yml",
            "application-dev.yml",
            "application-test.yml",
            "application-prod.yml",
        ] {
            let yml = std::fs::read_to_string(root.join("config").join(file)).unwrap();
            for piece in yml.split("${").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    example.contains(&name),
                    "{name} ({file}) not in .env.example"
                );
                assert!(
                    docs.contains(&name),
                    "{name} ({file}) not in docs/configuration.md"
                );
            }
        }
        // Every built-in key is documented with its relaxed name.
        let tree = parse_yaml(EMBEDDED_APPLICATION_YML, "built-in").unwrap();
        for path in tree.leaf_paths() {
            let key = path.join(".");
            assert!(
                docs.contains(&env_name(&key)),
                "{key} not in docs/configuration.md"
            );
        }
    }

    #[test]
    fn database_url_overrides_parts() {
        let s = load(&sources(&[("DATABASE_URL", "postgres://u:p@h:1/dbx")]))
            .unwrap()
            .settings;
        assert_eq!(
            s.spring.datasource.database_url().expose_secret(),
            "postgres://u:p@h:1/dbx"
        );
        let err = load(&sources(&[("DATABASE_URL", "mysql://h/db")])).unwrap_err();
        assert!(err.to_string().contains("spring.datasource.url"), "{err}");
    }

    #[test]
    fn prod_refuses_logging_reset_tokens_and_warns_without_mail() {
        let prod = |extra: &[(&str, &str)]| {
            let mut env = vec![("SPRING_PROFILES_ACTIVE", "prod"), ("JWT_SECRET", STRONG)];
            env.extend_from_slice(extra);
            let mut src = sources(&env);
            src.config_dir = Some(repo_config_dir());
            load(&src)
        };
        let err = prod(&[("INGENIO_AUTH_LOG_RESET_TOKENS", "true")]).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref key, .. } if key == "ingenio.auth.log-reset-tokens"),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("prod") && text.contains("INGENIO_AUTH_LOG_RESET_TOKENS"),
            "{text}"
        );
        let mut src = sources(&[("JWT_SECRET", STRONG)]);
        src.profile = Some("prod".to_owned());
        src.sets = vec![("ingenio.auth.log-reset-tokens".to_owned(), "yes".to_owned())];
        assert!(load(&src).is_err());

        // no mail in prod: starts, warns once, logs no token
        let loaded = prod(&[]).unwrap();
        assert!(!loaded.settings.ingenio.auth.log_reset_tokens);
        let mail_warnings = loaded
            .warnings
            .iter()
            .filter(|w| w.contains("MAIL_HOST"))
            .count();
        assert_eq!(mail_warnings, 1, "{:?}", loaded.warnings);
        let loaded = prod(&[
            ("MAIL_HOST", "smtp.example.com"),
            ("MAIL_FROM", "noreply@example.com"),
        ])
        .unwrap();
        assert!(
            !loaded.warnings.iter().any(|w| w.contains("MAIL_HOST")),
            "{:?}",
            loaded.warnings
        );
        // dev keeps logging them
        let mut dev = sources(&[]);
        dev.config_dir = Some(repo_config_dir());
        let loaded = load(&dev).unwrap();
        assert!(loaded.settings.ingenio.auth.log_reset_tokens);
        assert!(!loaded.warnings.iter().any(|w| w.contains("MAIL_HOST")));
    }

    #[test]
    fn mail_settings_bind_from_the_guide_style_variables() {
        let dir = temp_dir("mail");
        let pw = dir.join("mail_pw");
        std::fs::write(&pw, "m@il-secret\n").unwrap();
        let pw_path = pw.to_string_lossy().into_owned();
        let s = load(&sources(&[
            ("MAIL_HOST", "smtp.example.com"),
            ("MAIL_PORT", "465"),
            ("MAIL_USERNAME", "apikey"),
            ("MAIL_PASSWORD_FILE", pw_path.as_str()),
            ("MAIL_FROM", "Ingenio <noreply@example.com>"),
            ("MAIL_STARTTLS", "TLS"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(s.spring.mail.host, "smtp.example.com");
        assert_eq!(s.spring.mail.port, 465);
        assert_eq!(s.spring.mail.username, "apikey");
        assert_eq!(s.spring.mail.password.expose_secret(), "m@il-secret");
        assert_eq!(s.ingenio.mail.starttls, "tls");
        assert_eq!(s.ingenio.mail.timeout, 10);
        // defaults: not configured, STARTTLS on 587
        let d = load(&sources(&[])).unwrap().settings;
        assert!(!d.spring.mail.is_configured());
        assert_eq!(
            (d.spring.mail.port, d.ingenio.mail.starttls.as_str()),
            (587, "starttls")
        );

        for (env, key, var) in [
            (
                vec![("MAIL_STARTTLS", "maybe")],
                "ingenio.mail.starttls",
                "MAIL_STARTTLS",
            ),
            (
                vec![("MAIL_HOST", "smtp.example.com")],
                "ingenio.mail.from",
                "MAIL_FROM",
            ),
            (
                vec![
                    ("MAIL_HOST", "smtp.example.com"),
                    ("MAIL_FROM", "not-an-address"),
                ],
                "ingenio.mail.from",
                "MAIL_FROM",
            ),
            (
                vec![
                    ("MAIL_HOST", "h"),
                    ("MAIL_FROM", "a@b.c"),
                    ("MAIL_PORT", "0"),
                ],
                "spring.mail.port",
                "MAIL_PORT",
            ),
        ] {
            let err = load(&sources(&env)).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { key: ref k, .. } if k == key),
                "{env:?}: {err}"
            );
            assert!(err.to_string().contains(var), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sslmode_is_validated_and_carried_in_the_url() {
        let s = load(&sources(&[])).unwrap().settings;
        assert_eq!(s.spring.datasource.sslmode, "prefer");
        assert!(!s
            .spring
            .datasource
            .database_url()
            .expose_secret()
            .contains('?'));
        let s = load(&sources(&[
            ("DB_SSLMODE", "Verify-Full"),
            ("DB_HOST", "db.internal"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(s.spring.datasource.sslmode, "verify-full");
        assert_eq!(
            s.spring.datasource.database_url().expose_secret(),
            "postgres://postgres@db.internal:5432/ingenio_dev?sslmode=verify-full"
        );
        assert_eq!(
            s.spring.datasource.url_for("postgres").expose_secret(),
            "postgres://postgres@db.internal:5432/postgres?sslmode=verify-full"
        );
        // a URL's own sslmode wins and survives switching databases
        let s = load(&sources(&[
            (
                "DATABASE_URL",
                "postgres://u@h:1/dbx?sslmode=require&application_name=a",
            ),
            ("DB_SSLMODE", "disable"),
        ]))
        .unwrap()
        .settings;
        assert_eq!(
            s.spring.datasource.url_for("postgres").expose_secret(),
            "postgres://u@h:1/postgres?sslmode=require&application_name=a"
        );
        let err = load(&sources(&[(
            "DATABASE_URL",
            "postgres://u@h/db?sslmode=sometimes",
        )]))
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref key, .. } if key == "spring.datasource.url"),
            "{err}"
        );
        assert!(err.to_string().contains("verify-full"), "{err}");
        let err = load(&sources(&[("DB_SSLROOTCERT", "/nonexistent/ca.pem")])).unwrap_err();
        assert!(err.to_string().contains("DB_SSLROOTCERT"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn sslmode_accepts_any_case_and_names_the_variable_otherwise(
            mode in 0usize..4,
            upper in proptest::collection::vec(proptest::prelude::any::<bool>(), 11),
            junk in "[a-z]{1,8}",
        ) {
            let name = ["disable", "prefer", "require", "verify-full"][mode];
            let cased: String = name
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            let s = load(&sources(&[("DB_SSLMODE", cased.as_str())])).unwrap().settings;
            proptest::prop_assert_eq!(s.spring.datasource.sslmode.as_str(), name);
            let url = s.spring.datasource.database_url();
            proptest::prop_assert_eq!(
                url.expose_secret().contains(&format!("sslmode={name}")),
                name != "prefer"
            );

            let bad = format!("{junk}-x");
            let err = load(&sources(&[("DB_SSLMODE", bad.as_str())])).unwrap_err();
            let text = err.to_string();
            proptest::prop_assert!(
                matches!(err, ConfigError::Invalid { ref key, .. } if key == "spring.datasource.sslmode"),
                "{}", text
            );
            proptest::prop_assert!(text.contains("DB_SSLMODE") && text.contains(&bad), "{}", text);
        }
    }
}
