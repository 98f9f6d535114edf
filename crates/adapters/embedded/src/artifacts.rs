//! `LocalArtifactStore`: the `ArtifactStore` port over a local directory (objects are files
//! under `root/<key>`), with atomic puts and HMAC-signed download URLs served by the app.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use ingenio_code_gen::ports::{check_key, encode_key};
use ingenio_code_gen::{ArtifactStore, ByteStream, StorageError};
use sha2::Sha256;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of the chunks `get` streams.
pub const READ_CHUNK: usize = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Artifacts as files in a directory. Download URLs point at the app
/// (`{public_base_url}/{key}?expires=<unix>&signature=<hex>`), which checks them with
/// [`verify_presigned`](Self::verify_presigned) before streaming the file.
pub struct LocalArtifactStore {
    /// Canonical (symlinks resolved) root directory.
    root: PathBuf,
    /// HMAC-SHA256 keyed with the signing key, cloned for each signature.
    mac: HmacSha256,
    public_base_url: String,
    temp_counter: AtomicU64,
}

impl std::fmt::Debug for LocalArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalArtifactStore")
            .field("root", &self.root)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

fn unexpected(e: std::io::Error, what: String) -> StorageError {
    StorageError::Unexpected(anyhow::Error::new(e).context(what))
}

impl LocalArtifactStore {
    /// Creates `root_dir` when missing. `signing_key` signs download URLs (must not be empty);
    /// `public_base_url` is where the app serves artifacts, e.g.
    /// `http://localhost:8080/api/v1/artifacts`.
    pub fn new(
        root_dir: impl AsRef<Path>,
        signing_key: Vec<u8>,
        public_base_url: String,
    ) -> Result<Self, StorageError> {
        if signing_key.is_empty() {
            return Err(StorageError::Unexpected(anyhow::anyhow!(
                "the artifact signing key is empty"
            )));
        }
        let mac = HmacSha256::new_from_slice(&signing_key)
            .map_err(|e| StorageError::Unexpected(anyhow::anyhow!("artifact signing key: {e}")))?;
        let root_dir = root_dir.as_ref();
        std::fs::create_dir_all(root_dir)
            .map_err(|e| unexpected(e, format!("create artifact dir {}", root_dir.display())))?;
        let root = root_dir
            .canonicalize()
            .map_err(|e| unexpected(e, format!("resolve artifact dir {}", root_dir.display())))?;
        Ok(Self {
            root,
            mac,
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            temp_counter: AtomicU64::new(0),
        })
    }

    /// The directory objects live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `root/<key>` for a valid key; every component of the key is a plain name.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        let relative = Path::new(key);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(StorageError::InvalidKey {
                key: key.chars().take(100).collect(),
                reason: "not a plain relative path",
            });
        }
        Ok(self.root.join(relative))
    }

    /// Refuses a path whose existing part resolves (through symlinks) outside the root.
    async fn confine(&self, key: &str, existing: &Path) -> Result<(), StorageError> {
        match tokio::fs::canonicalize(existing).await {
            Ok(real) if real.starts_with(&self.root) => Ok(()),
            Ok(_) => Err(StorageError::InvalidKey {
                key: key.chars().take(100).collect(),
                reason: "resolves outside the store",
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unexpected(e, format!("resolve {}", existing.display()))),
        }
    }

    /// Resolves an existing object's path (`None` when missing or not a file).
    async fn existing(&self, key: &str) -> Result<Option<(PathBuf, u64)>, StorageError> {
        let path = self.path_of(key)?;
        self.confine(key, &path).await?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some((path, meta.len()))),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(e) => Err(unexpected(e, format!("stat {}", path.display()))),
        }
    }

    fn signature(&self, key: &str, expires: u64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Whether a download URL's `expires` and `signature` (hex) were issued by this store for
    /// `key` and are still valid at `now`. The signature is compared in constant time.
    pub fn verify_presigned(
        &self,
        key: &str,
        expires: u64,
        signature: &str,
        now: SystemTime,
    ) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if now > expires || check_key(key).is_err() {
            return false;
        }
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        self.signature(key, expires)
            .verify_slice(&signature)
            .is_ok()
    }

    async fn write_atomically(
        &self,
        key: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        let parent = path.parent().unwrap_or(&self.root);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| unexpected(e, format!("create dir {}", parent.display())))?;
        self.confine(key, parent).await?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = parent.join(format!(".{file_name}.{}-{n}.partial", std::process::id()));
        let written = async {
            let mut file = tokio::fs::File::create(&temp).await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&temp, path).await?;
            // Persist the rename itself.
            tokio::fs::File::open(parent).await?.sync_all().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(unexpected(e, format!("write {}", path.display())));
        }
        Ok(())
    }
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        self.write_atomically(key, &path, &bytes).await
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        let Some((path, _)) = self.existing(key).await? else {
            return Err(StorageError::NotFound(key.to_owned()));
        };
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            // Deleted between the stat and the open.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StorageError::NotFound(key.to_owned()))
            }
            Err(e) => return Err(unexpected(e, format!("open {}", path.display()))),
        };
        let stream = futures::stream::try_unfold((file, path), |(mut file, path)| async move {
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            while buf.len() < READ_CHUNK {
                let n = file
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| unexpected(e, format!("read {}", path.display())))?;
                if n == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                Ok(None)
            } else {
                Ok(Some((buf.freeze(), (file, path))))
            }
        });
        Ok(stream.boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.existing(key).await?.map(|(_, len)| len))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        if let Some(parent) = path.parent() {
            self.confine(key, parent).await?;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(()),
            // A directory is not an object: nothing to delete.
            Err(_) if path.is_dir() => Ok(()),
            Err(e) => Err(unexpected(e, format!("delete {}", path.display()))),
        }
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StorageError> {
        check_key(key)?;
        let expires = SystemTime::now()
            .checked_add(expires_in)
            .unwrap_or(SystemTime::now())
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signature = hex::encode(self.signature(key, expires).finalize().into_bytes());
        Ok(format!(
            "{}/{}?expires={expires}&signature={signature}",
            self.public_base_url,
            encode_key(key)
        ))
    }

    async fn health(&self) -> Result<(), StorageError> {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let probe = self
            .root
            .join(format!(".health-{}-{n}.partial", std::process::id()));
        let written = tokio::fs::write(&probe, b"ok").await;
        let _ = tokio::fs::remove_file(&probe).await;
        written.map_err(|e| {
            StorageError::Unavailable(anyhow::Error::new(e).context(format!(
                "artifact dir {} is not writable",
                self.root.display()
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ingenio_code_gen::testing::{contract, read_to_end};
    use proptest::prelude::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch() -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "ingenio-artifacts-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        Scratch(std::env::temp_dir().join(name))
    }

    fn store(dir: &Scratch) -> LocalArtifactStore {
        LocalArtifactStore::new(
            dir.0.join("artifacts"),
            b"test signing key".to_vec(),
            "http://localhost:8080/api/v1/artifacts/".to_owned(),
        )
        .unwrap()
    }

    fn query(url: &str) -> (String, u64, String) {
        let (path, query) = url.split_once('?').unwrap();
        let key = path
            .strip_prefix("http://localhost:8080/api/v1/artifacts/")
            .unwrap()
            .to_owned();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("signature", v) => signature = v.to_owned(),
                other => panic!("unexpected query pair {other:?}"),
            }
        }
        (key, expires, signature)
    }

    #[tokio::test]
    async fn the_local_store_passes_the_contract() {
        let dir = scratch();
        contract::run_all(&store(&dir)).await;
    }

    #[tokio::test]
    async fn presigned_urls_verify_only_for_their_key_signature_and_time() {
        let dir = scratch();
        let store = store(&dir);
        let key = "projects/中文 键/code.zip";
        let url = store
            .presign_get(key, Duration::from_secs(600))
            .await
            .unwrap();
        let (encoded, expires, signature) = query(&url);
        assert_eq!(encoded, "projects/%E4%B8%AD%E6%96%87%20%E9%94%AE/code.zip");
        let now = SystemTime::now();
        let in_secs = expires - now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!((599..=601).contains(&in_secs), "expires in {in_secs}s");

        assert!(store.verify_presigned(key, expires, &signature, now));
        assert!(store.verify_presigned(key, expires, &signature.to_uppercase(), now));
        // Expired.
        let later = UNIX_EPOCH + Duration::from_secs(expires + 1);
        assert!(!store.verify_presigned(key, expires, &signature, later));
        // Expiry moved: the signature covers it.
        assert!(!store.verify_presigned(key, expires + 3600, &signature, now));
        // Another key.
        assert!(!store.verify_presigned("projects/other/code.zip", expires, &signature, now));
        // Tampered or malformed signatures.
        let mut flipped = signature.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(!store.verify_presigned(key, expires, &flipped, now));
        assert!(!store.verify_presigned(key, expires, &signature[..10], now));
        assert!(!store.verify_presigned(key, expires, "not hex", now));
        assert!(!store.verify_presigned(key, expires, "", now));
        // Another store's key does not verify this one's URLs.
        let other = LocalArtifactStore::new(
            dir.0.join("other"),
            b"another key".to_vec(),
            "http://x".to_owned(),
        )
        .unwrap();
        assert!(!other.verify_presigned(key, expires, &signature, now));
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let dir = scratch();
        let store = store(&dir);
        std::fs::write(dir.0.join("outside.txt"), b"secret").unwrap();
        for key in [
            "../outside.txt",
            "a/../../outside.txt",
            "/etc/passwd",
            "..\\outside.txt",
        ] {
            assert!(matches!(
                store.get(key).await.map(|_| ()),
                Err(StorageError::InvalidKey { .. })
            ));
            assert!(matches!(
                store.put(key, Bytes::from("x"), "x").await,
                Err(StorageError::InvalidKey { .. })
            ));
            assert!(matches!(
                store.delete(key).await,
                Err(StorageError::InvalidKey { .. })
            ));
        }
        assert_eq!(std::fs::read(dir.0.join("outside.txt")).unwrap(), b"secret");

        // A symlink inside the root that points out of it is not followed.
        std::os::unix::fs::symlink(&dir.0, store.root().join("link")).unwrap();
        assert!(matches!(
            store.get("link/outside.txt").await.map(|_| ()),
            Err(StorageError::InvalidKey { .. })
        ));
        assert!(matches!(
            store.put("link/planted.txt", Bytes::from("x"), "x").await,
            Err(StorageError::InvalidKey { .. })
        ));
        assert!(matches!(
            store.delete("link/outside.txt").await,
            Err(StorageError::InvalidKey { .. })
        ));
        assert!(!dir.0.join("planted.txt").exists());
        assert!(dir.0.join("outside.txt").exists());
    }

    #[tokio::test]
    async fn puts_leave_no_partial_files_and_land_where_expected() {
        let dir = scratch();
        let store = store(&dir);
        store
            .put("projects/p1/code.zip", Bytes::from("v1"), "application/zip")
            .await
            .unwrap();
        store
            .put(
                "projects/p1/code.zip",
                Bytes::from("version 2"),
                "application/zip",
            )
            .await
            .unwrap();
        store.health().await.unwrap();
        let names: Vec<String> = std::fs::read_dir(store.root().join("projects/p1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["code.zip".to_owned()]);
        assert_eq!(
            std::fs::read(store.root().join("projects/p1/code.zip")).unwrap(),
            b"version 2"
        );
        let top: Vec<_> = std::fs::read_dir(store.root()).unwrap().collect();
        assert_eq!(top.len(), 1, "health probe left a file behind");
        let (bytes, _) = read_to_end(store.get("projects/p1/code.zip").await.unwrap())
            .await
            .unwrap();
        assert_eq!(bytes, b"version 2");
        // A directory is not an object.
        assert_eq!(store.size("projects/p1").await.unwrap(), None);
        assert!(matches!(
            store.get("projects").await.map(|_| ()),
            Err(StorageError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn an_unwritable_root_is_unhealthy() {
        let dir = scratch();
        let store = store(&dir);
        std::fs::remove_dir_all(store.root()).unwrap();
        std::fs::write(store.root(), b"a file where the directory was").unwrap();
        assert!(matches!(
            store.health().await,
            Err(StorageError::Unavailable(_))
        ));
    }

    #[test]
    fn an_empty_signing_key_is_refused() {
        let dir = scratch();
        assert!(LocalArtifactStore::new(&dir.0, Vec::new(), "http://x".to_owned()).is_err());
    }

    proptest! {
        #[test]
        fn accepted_keys_resolve_strictly_below_the_root(key in "[a-z./\\\\ 中\u{0}]{0,24}") {
            let dir = scratch();
            let store = store(&dir);
            match store.path_of(&key) {
                Ok(path) => {
                    prop_assert!(path.starts_with(store.root()));
                    let below = path.strip_prefix(store.root()).unwrap();
                    prop_assert_eq!(below.components().count(), key.split('/').count());
                    prop_assert!(below.components().all(|c| matches!(c, Component::Normal(_))));
                }
                Err(StorageError::InvalidKey { .. }) => {
                    let bad = key.is_empty()
                        || key.split('/').any(|s| s.is_empty() || s == "." || s == "..")
                        || key.contains('\\')
                        || key.contains(char::is_control);
                    prop_assert!(bad, "refused a good key");
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }

    /// Percent-decodes a URL path (what the app's router hands the download route).
    fn decode(path: &str) -> String {
        let bytes = path.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn arbitrary_keys_round_trip_and_their_urls_verify(
            segments in prop::collection::vec("[a-zA-Z0-9 +&=%?#'!$(),;:@~._\\-中文é🚀]{1,10}", 1..4),
            n in 0usize..5000,
        ) {
            let key = segments.join("/");
            prop_assume!(check_key(&key).is_ok());
            let dir = scratch();
            let store = store(&dir);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let body = Bytes::from(vec![7u8; n]);
                store.put(&key, body.clone(), "application/zip").await.unwrap();
                let (read, _) = read_to_end(store.get(&key).await.unwrap()).await.unwrap();
                assert!(read == body, "{key:?}");
                let url = store.presign_get(&key, Duration::from_secs(60)).await.unwrap();
                let (encoded, expires, signature) = query(&url);
                assert_eq!(decode(&encoded), key);
                assert!(store.verify_presigned(&decode(&encoded), expires, &signature, SystemTime::now()));
            });
        }
    }
}
