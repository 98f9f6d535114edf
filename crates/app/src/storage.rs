//! Generated-code wiring: the artifact store chosen from configuration (MinIO/S3 when
//! `MINIO_ENDPOINT` is set, else a local directory), a decorator that counts uploads, bytes and
//! failures, the render step run off the async threads with a concurrency bound, and an in-memory
//! cache of preview zips keyed by content hash.

use crate::config::Settings;
use crate::offload::{Offload, OffloadError};
use crate::telemetry::Metrics;
use async_trait::async_trait;
use bytes::Bytes;
use ingenio_app_specs::ports::{BuildError, BuildRequest, BuiltCode, CodeBuilder};
use ingenio_code_gen::archive::ZipIndex;
use ingenio_code_gen::ports::CodeRecord;
use ingenio_code_gen::service::CodeService;
use ingenio_code_gen::{ArtifactStore, ByteStream, StorageError};
use ingenio_embedded::LocalArtifactStore;
use ingenio_minio::{MinioSettings, S3ArtifactStore};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The store in use: S3 (with the endpoint for health), or the local directory (whose signed
/// download URLs the server itself verifies).
#[derive(Clone)]
pub enum Stores {
    S3 { endpoint: String, bucket: String },
    Local(Arc<LocalArtifactStore>),
}

/// Builds the artifact store from configuration. A configured S3 endpoint that does not answer
/// does not stop start-up (the health page shows it and renders fail with 7000 until it is back),
/// but bad settings do.
pub async fn build_store(
    settings: &Settings,
    public_api_url: &str,
    metrics: Metrics,
) -> anyhow::Result<(Arc<dyn ArtifactStore>, Stores)> {
    let m = &settings.ingenio.minio;
    let (store, kind): (Arc<dyn ArtifactStore>, Stores) = if m.endpoint.trim().is_empty() {
        let dir = &settings.ingenio.code_gen.local_dir;
        // Signed URLs must verify on every instance sharing the directory: derive the key from
        // the JWT secret they share.
        let key = Sha256::new()
            .chain_update(b"ingenio-artifacts\n")
            .chain_update(settings.ingenio.jwt.secret.expose_secret().as_bytes())
            .finalize()
            .to_vec();
        let local = Arc::new(
            LocalArtifactStore::new(dir, key, format!("{public_api_url}/v1/artifacts"))
                .map_err(|e| anyhow::anyhow!("open the artifact directory {dir}: {e}"))?,
        );
        tracing::info!(dir = %local.root().display(), "object storage not configured (MINIO_ENDPOINT empty): artifacts are kept in a local directory");
        (local.clone(), Stores::Local(local))
    } else {
        let mut s = MinioSettings::new(
            m.endpoint.trim(),
            m.access_key.clone(),
            m.secret_key.clone(),
            m.bucket.clone(),
        );
        s.region = m.region.clone();
        s.request_timeout = Duration::from_secs(m.request_timeout.max(1));
        s.multipart_threshold =
            usize::try_from(m.multipart_threshold_mb.max(5) * 1024 * 1024).unwrap_or(usize::MAX);
        let store = match S3ArtifactStore::connect(s.clone()).await {
            Ok(store) => store,
            Err(StorageError::Unavailable(e)) => {
                tracing::warn!(endpoint = %m.endpoint, error = format!("{e:#}"), "object store unreachable at start; renders fail with 7000 until it answers");
                S3ArtifactStore::new(&s)
                    .map_err(|e| anyhow::anyhow!("object store settings: {e}"))?
            }
            Err(e) => anyhow::bail!("object store {}: {e}", m.endpoint),
        };
        (
            Arc::new(store),
            Stores::S3 {
                endpoint: m.endpoint.clone(),
                bucket: m.bucket.clone(),
            },
        )
    };
    Ok((
        Arc::new(MeteredStore {
            inner: store,
            metrics,
        }),
        kind,
    ))
}

/// Counts uploads, bytes and failures of the wrapped store
/// (`ingenio_artifact_uploads_total{outcome}`, `ingenio_artifact_upload_bytes_total`,
/// `ingenio_artifact_operations_failed_total{operation}`, `ingenio_artifact_operation_seconds`).
struct MeteredStore {
    inner: Arc<dyn ArtifactStore>,
    metrics: Metrics,
}

impl MeteredStore {
    fn observe<T>(&self, op: &str, started: Instant, r: &Result<T, StorageError>) {
        let backend = self.inner.backend();
        self.metrics.observe_seconds(
            "ingenio_artifact_operation_seconds",
            "Object store operations by kind",
            &[("operation", op), ("backend", backend)],
            started.elapsed().as_secs_f64(),
        );
        if let Err(e) = r {
            if !matches!(e, StorageError::NotFound(_)) {
                self.metrics.inc_counter(
                    "ingenio_artifact_operations_failed_total",
                    "Object store operations that failed (not-found excluded)",
                    &[("operation", op), ("backend", backend)],
                );
            }
        }
    }
}

#[async_trait]
impl ArtifactStore for MeteredStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        let started = Instant::now();
        let size = bytes.len() as f64;
        let r = self.inner.put(key, bytes, content_type).await;
        self.observe("put", started, &r);
        let outcome = if r.is_ok() { "success" } else { "failure" };
        self.metrics.inc_counter(
            "ingenio_artifact_uploads_total",
            "Artifact uploads by outcome",
            &[("outcome", outcome)],
        );
        if r.is_ok() {
            self.metrics.add_counter(
                "ingenio_artifact_upload_bytes_total",
                "Bytes of artifacts uploaded",
                &[],
                size,
            );
        }
        r
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        let started = Instant::now();
        let r = self.inner.get(key).await;
        self.observe("get", started, &r);
        r
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let started = Instant::now();
        let r = self.inner.size(key).await;
        self.observe("head", started, &r);
        r
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let started = Instant::now();
        let r = self.inner.delete(key).await;
        self.observe("delete", started, &r);
        r
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StorageError> {
        self.inner.presign_get(key, expires_in).await
    }

    async fn health(&self) -> Result<(), StorageError> {
        self.inner.health().await
    }
}

/// The render step as the pipeline sees it: the CPU part (render + zip) through the shared
/// [`Offload`] helper, at most `max_concurrent` at once per instance (jobs queue for a slot: they
/// run in the background), then the upload.
pub struct OffloadedBuilder {
    code: CodeService,
    pool: Offload,
    metrics: Metrics,
}

impl OffloadedBuilder {
    pub fn new(code: CodeService, max_concurrent: usize, metrics: Metrics) -> Self {
        Self {
            code,
            pool: Offload::new("render", max_concurrent.max(1), None),
            metrics,
        }
    }
}

#[async_trait]
impl CodeBuilder for OffloadedBuilder {
    fn default_renderer(&self) -> String {
        self.code.default_renderer()
    }

    fn knows(&self, name: &str) -> bool {
        self.code.knows(name)
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltCode, BuildError> {
        let rendered = {
            let code = self.code.clone();
            let started = Instant::now();
            let rendered = self
                .pool
                .run(move || code.render(&request))
                .await
                .map_err(|e| match e {
                    // a panicking renderer is contained by the job: re-raise it there
                    OffloadError::Panicked { payload, .. } => std::panic::resume_unwind(payload),
                    OffloadError::Failed { cause, .. } => BuildError::Unexpected(cause),
                    // jobs queue for a slot, so this is not expected; retried like a hiccup
                    saturated @ OffloadError::Saturated { .. } => {
                        BuildError::Unexpected(anyhow::anyhow!("{saturated}"))
                    }
                })??;
            self.metrics.observe_seconds(
                "ingenio_render_seconds",
                "Time to render and zip a spec",
                &[("renderer", rendered.renderer.name())],
                started.elapsed().as_secs_f64(),
            );
            rendered
        };
        self.code.store_rendered(rendered).await
    }
}

/// What previews keep in memory: project key → record for a short time (records never change,
/// but a deleted spec's preview should disappear within `KEY_TTL`), and per content hash the zip
/// index with every file already decompressed on its first request, bounded by total size (least
/// recently used out first). A zip's bytes identify it, so file entries never go stale.
pub struct PreviewCache {
    budget: u64,
    keys: Mutex<HashMap<String, (Arc<CodeRecord>, Instant)>>,
    inner: Mutex<CacheInner>,
}

/// How long a project key's record is trusted without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(30);
/// At most this many project keys are remembered.
const MAX_KEYS: usize = 10_000;

/// One cached zip: its index and the files served from it so far.
pub struct PreviewZip {
    index: ZipIndex,
    files: Mutex<HashMap<String, Option<Bytes>>>,
}

impl PreviewZip {
    /// The file's bytes, decompressed once; `None` when the zip has no such file.
    pub fn file(&self, path: &str) -> Option<Bytes> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = files.get(path) {
            return hit.clone();
        }
        let bytes = self.index.get(path).map(Bytes::from);
        // only names in the zip are remembered, so junk paths cannot grow the map
        if bytes.is_some() {
            files.insert(path.to_owned(), bytes.clone());
        }
        bytes
    }
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, (Arc<PreviewZip>, u64, u64)>,
    used: u64,
    tick: u64,
}

impl PreviewCache {
    pub fn new(budget_bytes: u64) -> Self {
        Self {
            budget: budget_bytes,
            keys: Mutex::new(HashMap::new()),
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// The record of a project key seen less than [`KEY_TTL`] ago.
    pub fn record(&self, key: &str) -> Option<Arc<CodeRecord>> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key)
            .filter(|(_, at)| at.elapsed() < KEY_TTL)
            .map(|(r, _)| r.clone())
    }

    pub fn remember(&self, key: &str, record: Arc<CodeRecord>) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        keys.insert(key.to_owned(), (record, Instant::now()));
    }

    pub fn get(&self, hash: &str) -> Option<Arc<PreviewZip>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        inner.entries.get_mut(hash).map(|(zip, _, used)| {
            *used = tick;
            zip.clone()
        })
    }

    /// Caches a zip (charged at `size`, about its unpacked size) and returns the cached handle.
    pub fn insert(&self, hash: &str, index: ZipIndex, size: u64) -> Arc<PreviewZip> {
        let zip = Arc::new(PreviewZip {
            index,
            files: Mutex::new(HashMap::new()),
        });
        if size > self.budget {
            return zip;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while inner.used + size > self.budget {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone());
            match oldest.and_then(|k| inner.entries.remove(&k)) {
                Some((_, s, _)) => inner.used -= s,
                None => break,
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((_, old, _)) = inner
            .entries
            .insert(hash.to_owned(), (zip.clone(), size, tick))
        {
            inner.used -= old;
        }
        inner.used += size;
        zip
    }
}
