//! The code service: the pipeline's render step (`CodeBuilder`: render a spec version, zip it,
//! store the zip unless an identical artifact is already stored) and the read side of generated
//! code (records with fresh presigned URLs, downloads, preview lookups).

use crate::archive::{self, Artifact, ZipIndex};
use crate::ports::{ArtifactStore, ByteStream, CodeRecord, CodeRepository, StorageError};
use crate::render::{renderer, renderers, Renderer};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use ingenio_app_specs::job::RenderedCode;
use ingenio_app_specs::ports::{BuildError, BuildRequest, BuiltCode, BuiltFile, CodeBuilder};
use ingenio_app_specs::AppSpec;
use ingenio_kernel::chrono::Utc;
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{StoreError, Viewer};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the code service (from configuration).
#[derive(Debug, Clone)]
pub struct CodeSettings {
    /// The renderer used when a request names none.
    pub default_renderer: String,
    /// Where previews are served: `{preview_base_url}/{project_key}/` (no trailing slash).
    pub preview_base_url: String,
    /// How long presigned download URLs stay valid.
    pub presign_ttl: Duration,
    /// Zips larger than this are not loaded for previews (the download still works).
    pub max_preview_zip_bytes: u64,
}

/// Why reading generated code failed.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The spec is not visible to the caller (`3000`, 404 — never 403).
    #[error("app spec not found")]
    SpecNotFound,
    /// The spec has no code for that version and renderer, or no such preview (404).
    #[error("generated code not found")]
    NotFound,
    /// The record exists but its object is gone (`7002`).
    #[error("the stored artifact is missing")]
    ObjectMissing,
    /// The object store could not be reached (`7001`).
    #[error("the object store is unavailable")]
    StorageUnavailable(#[source] anyhow::Error),
    /// The database could not be reached (503).
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for CodeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<StorageError> for CodeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound(_) => Self::ObjectMissing,
            StorageError::Unavailable(e) => Self::StorageUnavailable(e),
            e @ StorageError::InvalidKey { .. } => Self::Unexpected(anyhow::Error::new(e)),
            StorageError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// A rendered artifact ready to store (the CPU part of a build, done before any I/O).
pub struct Rendered {
    pub renderer: &'static dyn Renderer,
    pub artifact: Artifact,
}

/// A record with a fresh presigned download URL.
#[derive(Debug, Clone)]
pub struct CodeView {
    pub record: CodeRecord,
    pub download_url: String,
}

/// Generated code use cases. Cheap to clone.
#[derive(Clone)]
pub struct CodeService {
    store: Arc<dyn ArtifactStore>,
    codes: Arc<dyn CodeRepository>,
    settings: CodeSettings,
}

/// A new unguessable project key: a timestamp for humans, 128 random bits for safety.
pub fn new_project_key() -> String {
    format!(
        "{}_{}",
        Utc::now().format("%Y%m%d%H%M%S"),
        Uuid::new_v4().simple()
    )
}

/// Whether `key` has the shape of a project key (so junk never reaches the database).
pub fn is_project_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl CodeService {
    pub fn new(
        store: Arc<dyn ArtifactStore>,
        codes: Arc<dyn CodeRepository>,
        settings: CodeSettings,
    ) -> Self {
        Self {
            store,
            codes,
            settings,
        }
    }

    pub fn store(&self) -> &Arc<dyn ArtifactStore> {
        &self.store
    }

    pub fn settings(&self) -> &CodeSettings {
        &self.settings
    }

    /// The CPU part of a build: parse, render, zip. Pure; callers may run it off the async threads.
    pub fn render(&self, request: &BuildRequest) -> Result<Rendered, BuildError> {
        let name = request
            .renderer
            .clone()
            .unwrap_or_else(|| self.settings.default_renderer.clone());
        let renderer = renderer(&name).ok_or(BuildError::UnknownRenderer(name))?;
        let spec = AppSpec::parse(&request.spec)
            .map_err(|e| BuildError::Render(format!("the spec does not parse: {e}")))?;
        let artifact =
            archive::build(renderer, &spec).map_err(|e| BuildError::Render(e.to_string()))?;
        Ok(Rendered { renderer, artifact })
    }

    /// The I/O part of a build: stores the zip unless an identical one is already stored.
    pub async fn store_rendered(&self, rendered: Rendered) -> Result<BuiltCode, BuildError> {
        let Rendered { renderer, artifact } = rendered;
        let project_key = new_project_key();
        let reusable = match self.codes.stored_object(&artifact.content_hash).await {
            Ok(Some(key)) => match self.store.exists(&key).await {
                Ok(true) => Some(key),
                Ok(false) => None,
                Err(e) => return Err(storage(e)),
            },
            Ok(None) => None,
            Err(StoreError::Unavailable(e)) | Err(StoreError::Unexpected(e)) => {
                return Err(BuildError::Unexpected(e))
            }
        };
        let reused = reusable.is_some();
        let storage_key = match reusable {
            Some(key) => key,
            None => {
                let key = format!("projects/{project_key}/code.zip");
                self.store
                    .put(&key, Bytes::from(artifact.zip), "application/zip")
                    .await
                    .map_err(storage)?;
                key
            }
        };
        let preview_url = renderer
            .previewable()
            .then(|| format!("{}/{project_key}/", self.settings.preview_base_url));
        let files = artifact
            .files
            .iter()
            .map(|(path, size)| BuiltFile {
                path: path.as_str().to_owned(),
                size: *size,
                group: path.group().to_owned(),
            })
            .collect();
        Ok(BuiltCode {
            code: RenderedCode {
                renderer: renderer.name().to_owned(),
                renderer_version: renderer.version().to_owned(),
                framework: renderer.framework().to_owned(),
                project_key,
                storage_key,
                content_hash: artifact.content_hash,
                file_count: u32::try_from(artifact.file_count).unwrap_or(u32::MAX),
                total_size_bytes: artifact.total_size_bytes,
                zip_size_bytes: artifact.zip_size,
                preview_url,
                reused,
            },
            files,
        })
    }

    /// The records of a spec the viewer owns, each with a fresh presigned URL.
    pub async fn list(
        &self,
        viewer: Viewer,
        app_spec_id: Uuid,
    ) -> Result<Vec<CodeView>, CodeError> {
        let records = self
            .codes
            .list_for_spec(viewer, app_spec_id)
            .await?
            .ok_or(CodeError::SpecNotFound)?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let download_url = self
                .store
                .presign_get(&record.storage_key, self.settings.presign_ttl)
                .await?;
            out.push(CodeView {
                record,
                download_url,
            });
        }
        Ok(out)
    }

    /// The record to download: of `version` (latest when `None`) and `renderer` (any when `None`,
    /// newest first).
    pub async fn find(
        &self,
        viewer: Viewer,
        app_spec_id: Uuid,
        version: Option<i32>,
        renderer: Option<&str>,
    ) -> Result<CodeRecord, CodeError> {
        let records = self
            .codes
            .list_for_spec(viewer, app_spec_id)
            .await?
            .ok_or(CodeError::SpecNotFound)?;
        records
            .into_iter()
            .find(|r| {
                version.is_none_or(|v| r.version_number == v)
                    && renderer.is_none_or(|n| r.renderer == n)
            })
            .ok_or(CodeError::NotFound)
    }

    /// The object of a record as a stream.
    pub async fn open(&self, record: &CodeRecord) -> Result<ByteStream, CodeError> {
        Ok(self.store.get(&record.storage_key).await?)
    }

    /// A fresh presigned URL of a record's object.
    pub async fn presign(&self, record: &CodeRecord) -> Result<String, CodeError> {
        Ok(self
            .store
            .presign_get(&record.storage_key, self.settings.presign_ttl)
            .await?)
    }

    /// The record behind a preview key (`NotFound` for malformed or unknown keys).
    pub async fn preview_record(&self, project_key: &str) -> Result<CodeRecord, CodeError> {
        if !is_project_key(project_key) {
            return Err(CodeError::NotFound);
        }
        self.codes
            .by_project_key(project_key)
            .await?
            .ok_or(CodeError::NotFound)
    }

    /// Loads a record's zip for serving single files (the caller caches it by content hash).
    pub async fn load_zip(&self, record: &CodeRecord) -> Result<ZipIndex, CodeError> {
        let mut stream = self.store.get(&record.storage_key).await?;
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (buf.len() + chunk.len()) as u64 > self.settings.max_preview_zip_bytes {
                return Err(CodeError::Unexpected(anyhow::anyhow!(
                    "artifact {} is larger than the preview limit",
                    record.storage_key
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        ZipIndex::new(buf.freeze()).map_err(|e| CodeError::Unexpected(anyhow::Error::new(e)))
    }

    /// Whether a renderer of that name exists.
    pub fn knows_renderer(&self, name: &str) -> bool {
        renderer(name).is_some()
    }

    /// The names of every renderer.
    pub fn renderer_names(&self) -> Vec<&'static str> {
        renderers().iter().map(|r| r.name()).collect()
    }
}

fn storage(e: StorageError) -> BuildError {
    match e {
        StorageError::Unavailable(e) => BuildError::Storage(e),
        other => BuildError::Storage(anyhow::Error::new(other)),
    }
}

#[async_trait]
impl CodeBuilder for CodeService {
    fn default_renderer(&self) -> String {
        self.settings.default_renderer.clone()
    }

    fn knows(&self, name: &str) -> bool {
        renderer(name).is_some()
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltCode, BuildError> {
        let rendered = self.render(&request)?;
        self.store_rendered(rendered).await
    }
}
