//! Test support for the code-gen ports (feature `testing`): an in-memory [`ArtifactStore`] fake
//! that can simulate an outage, and the contract suite every `ArtifactStore` adapter must pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::ports::{check_key, encode_key, ArtifactStore, ByteStream, StorageError};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Size of the chunks the in-memory store streams back, small enough that any non-trivial
/// object arrives in several chunks (callers must not assume one chunk).
pub const MEMORY_CHUNK: usize = 64 * 1024;

#[derive(Clone)]
struct Object {
    bytes: Bytes,
    content_type: String,
}

/// An [`ArtifactStore`] in a map. Keys are checked like every adapter does; while
/// [`set_unavailable`](Self::set_unavailable) is on, every call with a valid key (and `health`)
/// answers `Unavailable`, as a real store that cannot be reached would.
#[derive(Default)]
pub struct InMemoryArtifactStore {
    objects: Mutex<BTreeMap<String, Object>>,
    unavailable: AtomicBool,
}

impl InMemoryArtifactStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Switches the simulated outage on or off.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The stored keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The content type the object was stored with, `None` when missing.
    pub fn content_type(&self, key: &str) -> Option<String> {
        self.lock().get(key).map(|o| o.content_type.clone())
    }

    /// The whole object, `None` when missing (a test shortcut around the stream).
    pub fn bytes(&self, key: &str) -> Option<Bytes> {
        self.lock().get(key).map(|o| o.bytes.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Object>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts).
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self, key: Option<&str>) -> Result<(), StorageError> {
        if let Some(key) = key {
            check_key(key)?;
        }
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable(anyhow::anyhow!(
                "in-memory store switched to unavailable"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl ArtifactStore for InMemoryArtifactStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        self.available(Some(key))?;
        let object = Object {
            bytes,
            content_type: content_type.to_owned(),
        };
        self.lock().insert(key.to_owned(), object);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        self.available(Some(key))?;
        let bytes = self
            .bytes(key)
            .ok_or_else(|| StorageError::NotFound(key.to_owned()))?;
        let chunks: Vec<Result<Bytes, StorageError>> = (0..bytes.len())
            .step_by(MEMORY_CHUNK)
            .map(|start| Ok(bytes.slice(start..bytes.len().min(start + MEMORY_CHUNK))))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        self.available(Some(key))?;
        Ok(self.lock().get(key).map(|o| o.bytes.len() as u64))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.available(Some(key))?;
        self.lock().remove(key);
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, StorageError> {
        self.available(Some(key))?;
        let encoded = encode_key(key);
        Ok(format!(
            "memory://artifacts/{encoded}?expires_in={}",
            expires_in.as_secs()
        ))
    }

    async fn health(&self) -> Result<(), StorageError> {
        self.available(None)
    }
}

/// Reads a stream to its end: the bytes and how many chunks carried them.
pub async fn read_to_end(mut stream: ByteStream) -> Result<(Vec<u8>, usize), StorageError> {
    let mut out = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        chunks += 1;
        out.extend_from_slice(&chunk);
    }
    Ok((out, chunks))
}

/// Deterministic pseudo-random bytes (xorshift), so a reordered or corrupted chunk is noticed.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// The behaviour every [`ArtifactStore`] adapter must show. Each case panics with a message on
/// failure, uses keys under its own fresh prefix (so cases can share a store) and leaves its
/// objects behind only where that is the point.
pub mod contract {
    use super::{pattern, read_to_end};
    use crate::ports::{ArtifactStore, StorageError};
    use bytes::Bytes;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// Larger than 20 MiB, so real adapters stream it back in several chunks and S3 uploads it
    /// in parts.
    pub const LARGE: usize = 20 * 1024 * 1024 + 12_345;

    /// Keys every adapter must refuse with `InvalidKey`.
    pub const INVALID_KEYS: &[&str] = &[
        "",
        "../x",
        "a/../../x",
        "./a",
        "/abs",
        "a//b",
        "a/",
        "a\\b",
        "..\\x",
        "a\u{0}b",
        "a\nb",
        "a\u{7f}b",
    ];

    /// Valid keys with non-ASCII characters and spaces.
    pub const UNICODE_KEYS: &[&str] = &[
        "projects/中文_键/code.zip",
        "projects/with space/my app.zip",
        "projects/ünïcødé 🚀/código fuente.zip",
    ];

    /// A fresh key prefix, unique within the process and across runs.
    pub fn prefix(case: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("contract/{case}-{}-{nanos}-{n}", std::process::id())
    }

    /// Runs every case in order.
    pub async fn run_all(store: &dyn ArtifactStore) {
        health_ok(store).await;
        round_trip_small(store).await;
        round_trip_empty(store).await;
        round_trip_large(store).await;
        overwrite_replaces(store).await;
        missing_is_not_found(store).await;
        delete_is_idempotent(store).await;
        invalid_keys_refused(store).await;
        unicode_and_space_keys(store).await;
        presign_returns_url(store).await;
        concurrent_puts(store).await;
    }

    async fn put_get(store: &dyn ArtifactStore, key: &str, body: Bytes) -> usize {
        store
            .put(key, body.clone(), "application/zip")
            .await
            .unwrap_or_else(|e| panic!("{}: put {key:?} failed: {e:?}", store.backend()));
        let stream = store
            .get(key)
            .await
            .unwrap_or_else(|e| panic!("{}: get {key:?} failed: {e:?}", store.backend()));
        let (read, chunks) = read_to_end(stream)
            .await
            .unwrap_or_else(|e| panic!("{}: reading {key:?} failed: {e:?}", store.backend()));
        assert_eq!(read.len(), body.len(), "{key:?}: length read back");
        assert!(read == body, "{key:?}: bytes read back differ");
        let size = store.size(key).await.expect("size");
        assert_eq!(size, Some(body.len() as u64), "{key:?}: size");
        assert!(store.exists(key).await.expect("exists"), "{key:?}: exists");
        chunks
    }

    pub async fn health_ok(store: &dyn ArtifactStore) {
        store.health().await.expect("health of a working store");
    }

    pub async fn round_trip_small(store: &dyn ArtifactStore) {
        let key = format!("{}/small.txt", prefix("small"));
        put_get(store, &key, Bytes::from("hello, 世界\n")).await;
    }

    pub async fn round_trip_empty(store: &dyn ArtifactStore) {
        let key = format!("{}/empty.zip", prefix("empty"));
        let chunks = put_get(store, &key, Bytes::new()).await;
        assert!(chunks <= 1, "an empty object came back in {chunks} chunks");
    }

    pub async fn round_trip_large(store: &dyn ArtifactStore) {
        let key = format!("{}/large.zip", prefix("large"));
        let chunks = put_get(store, &key, pattern(LARGE, 0x5eed)).await;
        assert!(
            chunks > 1,
            "{}: a {LARGE}-byte object came back in one chunk (not streamed)",
            store.backend()
        );
        store.delete(&key).await.expect("delete large object");
    }

    pub async fn overwrite_replaces(store: &dyn ArtifactStore) {
        let key = format!("{}/code.zip", prefix("overwrite"));
        put_get(store, &key, pattern(100_000, 1)).await;
        put_get(store, &key, Bytes::from("shorter replacement")).await;
        put_get(store, &key, pattern(70_000, 2)).await;
    }

    pub async fn missing_is_not_found(store: &dyn ArtifactStore) {
        let key = format!("{}/never-written.zip", prefix("missing"));
        match store.get(&key).await {
            Err(StorageError::NotFound(_)) => {}
            Err(other) => panic!("{}: get of a missing object: {other:?}", store.backend()),
            Ok(_) => panic!("{}: get of a missing object succeeded", store.backend()),
        }
        assert_eq!(store.size(&key).await.expect("size of missing"), None);
        assert!(!store.exists(&key).await.expect("exists of missing"));
    }

    pub async fn delete_is_idempotent(store: &dyn ArtifactStore) {
        let prefix = prefix("delete");
        let key = format!("{prefix}/code.zip");
        let neighbour = format!("{prefix}/kept.zip");
        put_get(store, &key, Bytes::from("to be deleted")).await;
        put_get(store, &neighbour, Bytes::from("kept")).await;
        store.delete(&key).await.expect("delete");
        assert!(!store.exists(&key).await.expect("exists after delete"));
        assert!(
            matches!(store.get(&key).await, Err(StorageError::NotFound(_))),
            "get after delete must be NotFound"
        );
        store.delete(&key).await.expect("second delete");
        store
            .delete(&format!("{prefix}/never-written.zip"))
            .await
            .expect("delete of a never-written object");
        assert_eq!(
            store.size(&neighbour).await.expect("neighbour size"),
            Some(4),
            "deleting one object touched another"
        );
    }

    pub async fn invalid_keys_refused(store: &dyn ArtifactStore) {
        fn refused<T>(op: &str, key: &str, r: Result<T, StorageError>) {
            match r {
                Err(StorageError::InvalidKey { .. }) => {}
                Err(other) => panic!("{op} {key:?}: expected InvalidKey, got {other:?}"),
                Ok(_) => panic!("{op} {key:?}: expected InvalidKey, got Ok"),
            }
        }
        let long = "k".repeat(1025);
        let keys = INVALID_KEYS
            .iter()
            .copied()
            .chain(std::iter::once(long.as_str()));
        for key in keys {
            refused(
                "put",
                key,
                store.put(key, Bytes::from("x"), "text/plain").await,
            );
            refused("get", key, store.get(key).await);
            refused("size", key, store.size(key).await);
            refused("exists", key, store.exists(key).await);
            refused("delete", key, store.delete(key).await);
            refused(
                "presign_get",
                key,
                store.presign_get(key, Duration::from_secs(60)).await,
            );
        }
    }

    pub async fn unicode_and_space_keys(store: &dyn ArtifactStore) {
        let prefix = prefix("unicode");
        for (i, key) in UNICODE_KEYS.iter().enumerate() {
            let key = format!("{prefix}/{key}");
            put_get(store, &key, Bytes::from(format!("body {i} of {key}"))).await;
            store
                .presign_get(&key, Duration::from_secs(60))
                .await
                .unwrap_or_else(|e| panic!("presign {key:?}: {e:?}"));
            store.delete(&key).await.expect("delete unicode key");
            assert!(!store.exists(&key).await.expect("exists after delete"));
        }
    }

    /// Checks the shape of presigned URLs; fetching them is adapter-specific (HTTP), see each
    /// adapter's tests.
    pub async fn presign_returns_url(store: &dyn ArtifactStore) {
        let prefix = prefix("presign");
        let key = format!("{prefix}/my app/code.zip");
        store
            .put(&key, Bytes::from("zip"), "application/zip")
            .await
            .expect("put");
        for k in [key.as_str(), &format!("{prefix}/not-yet.zip")] {
            let url = store
                .presign_get(k, Duration::from_secs(300))
                .await
                .unwrap_or_else(|e| panic!("presign {k:?}: {e:?}"));
            assert!(url.contains("://"), "{url:?} is not an absolute URL");
            assert!(
                !url.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{url:?} is not encoded"
            );
        }
        let a = store
            .presign_get(&key, Duration::from_secs(300))
            .await
            .expect("presign");
        let b = store
            .presign_get(&format!("{prefix}/other.zip"), Duration::from_secs(300))
            .await
            .expect("presign");
        assert_ne!(a, b, "two keys got the same URL");
    }

    pub async fn concurrent_puts(store: &dyn ArtifactStore) {
        let prefix = prefix("concurrent");
        let bodies: Vec<(String, Bytes)> = (0..12u64)
            .map(|i| {
                let len = 1000 + 37_000 * i as usize;
                (format!("{prefix}/{i}.zip"), pattern(len, i + 10))
            })
            .collect();
        let puts = bodies
            .iter()
            .map(|(key, body)| store.put(key, body.clone(), "application/zip"));
        for result in futures::future::join_all(puts).await {
            result.expect("concurrent put");
        }
        for (key, body) in &bodies {
            let (read, _) = read_to_end(store.get(key).await.expect("get"))
                .await
                .expect("read");
            assert!(
                read == *body,
                "{key}: concurrent put stored the wrong bytes"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_memory_store_passes_the_contract() {
        contract::run_all(&InMemoryArtifactStore::new()).await;
    }

    #[tokio::test]
    async fn an_outage_makes_every_call_unavailable_and_ends_when_switched_off() {
        let store = InMemoryArtifactStore::new();
        store
            .put("a/b.zip", Bytes::from("x"), "application/zip")
            .await
            .unwrap();
        store.set_unavailable(true);
        let down = |r: Result<(), StorageError>| matches!(r, Err(StorageError::Unavailable(_)));
        assert!(down(store.health().await));
        assert!(down(store.put("a/b.zip", Bytes::new(), "x").await));
        assert!(down(store.get("a/b.zip").await.map(|_| ())));
        assert!(down(store.size("a/b.zip").await.map(|_| ())));
        assert!(down(store.exists("a/b.zip").await.map(|_| ())));
        assert!(down(store.delete("a/b.zip").await));
        assert!(down(
            store
                .presign_get("a/b.zip", Duration::from_secs(1))
                .await
                .map(|_| ())
        ));
        // Invalid keys are refused before the store is reached.
        assert!(matches!(
            store.get("../x").await.map(|_| ()),
            Err(StorageError::InvalidKey { .. })
        ));
        store.set_unavailable(false);
        assert_eq!(store.bytes("a/b.zip"), Some(Bytes::from("x")));
        assert_eq!(
            store.content_type("a/b.zip").as_deref(),
            Some("application/zip")
        );
        assert_eq!(store.keys(), vec!["a/b.zip".to_owned()]);
    }

    #[test]
    fn keys_are_percent_encoded_per_byte_keeping_separators() {
        use crate::ports::encode_key;
        assert_eq!(
            encode_key("projects/中文 键/a+b~c.zip"),
            "projects/%E4%B8%AD%E6%96%87%20%E9%94%AE/a%2Bb~c.zip"
        );
        assert_eq!(encode_key("a?b#c%d"), "a%3Fb%23c%25d");
    }

    #[test]
    fn pattern_is_deterministic_and_seed_dependent() {
        assert_eq!(pattern(1000, 3), pattern(1000, 3));
        assert_ne!(pattern(1000, 3), pattern(1000, 4));
        assert_eq!(pattern(13, 1).len(), 13);
    }
}
