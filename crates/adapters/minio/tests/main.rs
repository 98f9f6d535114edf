//! Tests of the S3 artifact store against a real S3 server (s3s, in process, signatures checked):
//! the port's contract suite, presigned URLs over HTTP, what an independent client sees,
//! bucket creation, and outages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use ingenio_code_gen::testing::{contract, pattern, read_to_end};
use ingenio_code_gen::{ArtifactStore, StorageError};
use ingenio_minio::{MinioSettings, S3ArtifactStore};
use ingenio_testkit_s3::{closed_endpoint, S3Server};
use s3::creds::Credentials;
use s3::{Bucket, Region};
use secrecy::SecretString;
use std::time::{Duration, Instant};

fn settings(server: &S3Server, bucket: &str) -> MinioSettings {
    let mut s = MinioSettings::new(
        server.endpoint.clone(),
        SecretString::from(server.access_key.clone()),
        SecretString::from(server.secret_key.clone()),
        bucket,
    );
    s.request_timeout = Duration::from_secs(10);
    s
}

async fn connected(server: &S3Server) -> (S3ArtifactStore, String) {
    let bucket = S3Server::random_bucket();
    let store = S3ArtifactStore::connect(settings(server, &bucket))
        .await
        .expect("connect");
    (store, bucket)
}

/// A client configured on its own from the server's coordinates, not through the adapter.
fn independent_client(server: &S3Server, bucket: &str) -> Box<Bucket> {
    let region = Region::Custom {
        region: server.region.clone(),
        endpoint: server.endpoint.clone(),
    };
    let creds = Credentials::new(
        Some(&server.access_key),
        Some(&server.secret_key),
        None,
        None,
        None,
    )
    .unwrap();
    Bucket::new(bucket, region, creds)
        .unwrap()
        .with_path_style()
}

#[tokio::test]
async fn the_s3_store_passes_the_contract() {
    let server = S3Server::start().await.unwrap();
    let (store, _) = connected(&server).await;
    contract::run_all(&store).await;
}

#[tokio::test]
async fn presigned_urls_serve_the_object_and_refuse_tampering() {
    let server = S3Server::start().await.unwrap();
    let (store, _) = connected(&server).await;
    let http = reqwest::Client::new();
    let key = "projects/中文 键/code.zip";
    let body = pattern(300_000, 7);
    store
        .put(key, body.clone(), "application/zip")
        .await
        .unwrap();

    let url = store
        .presign_get(key, Duration::from_secs(600))
        .await
        .unwrap();
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.bytes().await.unwrap(), body);

    // The URL must be the only credential: the same URL with its signature changed fails.
    let (base, signature) = url.rsplit_once("X-Amz-Signature=").unwrap();
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' {
                    '1'
                } else {
                    '0'
                }
            } else {
                c
            }
        })
        .collect();
    let tampered = format!("{base}X-Amz-Signature={flipped}");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);

    // A URL for one key does not open another.
    let other = "projects/other/code.zip";
    store
        .put(other, Bytes::from("secret"), "application/zip")
        .await
        .unwrap();
    let encoded_key = url
        .split_once("/projects/")
        .map(|(_, rest)| rest.split_once('?').unwrap().0)
        .unwrap();
    let retargeted = url.replacen(encoded_key, "other/code.zip", 1);
    assert_ne!(retargeted, url);
    assert_eq!(http.get(&retargeted).send().await.unwrap().status(), 403);

    // A URL for a missing object is valid and answers 404.
    let missing = store
        .presign_get("projects/none/code.zip", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(http.get(&missing).send().await.unwrap().status(), 404);

    // An expired URL is refused.
    let short = store
        .presign_get(key, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let status = http.get(&short).send().await.unwrap().status();
    assert!(
        status == 403 || status == 400,
        "expired URL answered {status}"
    );
}

#[tokio::test]
async fn an_independent_client_sees_the_objects_and_large_ones_went_in_parts() {
    let server = S3Server::start().await.unwrap();
    let (store, bucket) = connected(&server).await;
    let large = pattern(contract::LARGE, 11);
    store
        .put("p/large.zip", large.clone(), "application/zip")
        .await
        .unwrap();
    store
        .put("p/small.zip", Bytes::from("small"), "application/zip")
        .await
        .unwrap();

    let client = independent_client(&server, &bucket);
    let listed = client.list("p/".to_owned(), None).await.unwrap();
    let mut keys: Vec<(String, u64)> = listed
        .iter()
        .flat_map(|page| page.contents.iter())
        .map(|o| (o.key.clone(), o.size))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            ("p/large.zip".to_owned(), large.len() as u64),
            ("p/small.zip".to_owned(), 5)
        ]
    );

    let (head, _) = client.head_object("p/large.zip").await.unwrap();
    let etag = head.e_tag.unwrap();
    let parts = contract::LARGE.div_ceil(ingenio_minio::DEFAULT_MULTIPART_THRESHOLD);
    assert!(
        etag.trim_matches('"').ends_with(&format!("-{parts}")),
        "ETag {etag} is not a {parts}-part multipart ETag"
    );
    assert_eq!(head.content_type.as_deref(), Some("application/zip"));
    let (small_head, _) = client.head_object("p/small.zip").await.unwrap();
    assert!(!small_head.e_tag.unwrap().contains('-'));

    let got = client.get_object("p/large.zip").await.unwrap();
    assert!(got.bytes() == &large, "independent read differs");

    // And the adapter reads what the other client wrote.
    client
        .put_object_with_content_type("p/from-other.txt", b"written elsewhere", "text/plain")
        .await
        .unwrap();
    let (read, _) = read_to_end(store.get("p/from-other.txt").await.unwrap())
        .await
        .unwrap();
    assert_eq!(read, b"written elsewhere");
}

#[tokio::test]
async fn connect_creates_a_missing_bucket_and_tolerates_a_concurrent_creation() {
    let server = S3Server::start().await.unwrap();
    let bucket = S3Server::random_bucket();
    assert!(!server.root().join(&bucket).exists());
    let (a, b) = tokio::join!(
        S3ArtifactStore::connect(settings(&server, &bucket)),
        S3ArtifactStore::connect(settings(&server, &bucket)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(server.root().join(&bucket).is_dir());
    a.put("k/1", Bytes::from("one"), "text/plain")
        .await
        .unwrap();
    assert_eq!(b.size("k/1").await.unwrap(), Some(3));
    // Connecting to the now existing bucket keeps its objects.
    let again = S3ArtifactStore::connect(settings(&server, &bucket))
        .await
        .unwrap();
    assert_eq!(again.size("k/1").await.unwrap(), Some(3));
    assert_eq!(again.bucket_name(), bucket);
}

#[tokio::test]
async fn wrong_credentials_are_an_unexpected_error_not_an_outage() {
    let server = S3Server::start().await.unwrap();
    let mut s = settings(&server, &S3Server::random_bucket());
    s.secret_key = SecretString::from("not-the-secret".to_owned());
    match S3ArtifactStore::connect(s).await {
        Err(StorageError::Unexpected(e)) => assert!(e.to_string().contains("403"), "{e:#}"),
        other => panic!("expected Unexpected, got {other:?}"),
    }
}

fn assert_unavailable<T: std::fmt::Debug>(what: &str, r: Result<T, StorageError>) {
    assert!(
        matches!(r, Err(StorageError::Unavailable(_))),
        "{what}: expected Unavailable, got {r:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unavailable_quickly() {
    let endpoint = closed_endpoint().await.unwrap();
    let mut s = MinioSettings::new(
        endpoint,
        SecretString::from("ak".to_owned()),
        SecretString::from("sk".to_owned()),
        "artifacts",
    );
    s.request_timeout = Duration::from_secs(2);
    let started = Instant::now();
    assert_unavailable("connect", S3ArtifactStore::connect(s.clone()).await);
    let store = S3ArtifactStore::new(&s).unwrap();
    assert_unavailable("health", store.health().await);
    assert_unavailable("put", store.put("a/b", Bytes::from("x"), "x").await);
    assert_unavailable(
        "multipart put",
        store.put("a/b", pattern(9 << 20, 1), "x").await,
    );
    assert_unavailable("get", store.get("a/b").await.map(|_| ()));
    assert_unavailable("size", store.size("a/b").await);
    assert_unavailable("delete", store.delete("a/b").await);
    // https endpoints go through rustls (a client without TLS would fail with a builder error,
    // which maps to Unexpected).
    let tls = MinioSettings {
        endpoint: s.endpoint.replace("http://", "https://"),
        ..s.clone()
    };
    let tls_store = S3ArtifactStore::new(&tls).unwrap();
    assert_unavailable(
        "https put",
        tls_store.put("a/b", Bytes::from("x"), "x").await,
    );
    // Bounded by the timeouts (rust-s3 retries a failed read once, after 1 s).
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_timeout() {
    // Accepts connections and reads nothing back: every request hangs until the timeout.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut s = MinioSettings::new(
        format!("http://{addr}"),
        SecretString::from("ak".to_owned()),
        SecretString::from("sk".to_owned()),
        "artifacts",
    );
    s.request_timeout = Duration::from_millis(300);
    let store = S3ArtifactStore::new(&s).unwrap();
    let started = Instant::now();
    assert_unavailable("put", store.put("a/b", Bytes::from("x"), "x").await);
    let put_took = started.elapsed();
    assert!(put_took < Duration::from_secs(3), "put took {put_took:?}");
    let started = Instant::now();
    assert_unavailable("health", store.health().await);
    // A read may be retried once by rust-s3 (1 s pause); the outer bound is timeout + 2 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test]
async fn settings_do_not_print_secrets_and_bad_endpoints_are_refused() {
    let s = MinioSettings::new(
        "minio:9000",
        SecretString::from("the-access-key".to_owned()),
        SecretString::from("the-secret-key".to_owned()),
        "artifacts",
    );
    let printed = format!("{s:?}");
    assert!(!printed.contains("the-secret-key") && !printed.contains("the-access-key"));
    assert!(matches!(
        S3ArtifactStore::new(&s),
        Err(StorageError::Unexpected(_))
    ));
}

mod keys {
    //! Arbitrary valid keys (punctuation that URLs and SigV4 treat specially, Unicode, spaces)
    //! survive a round trip and a presigned download.
    //!
    //! Each case writes under its own prefix: a filesystem-backed S3 server (s3s-fs) keeps the
    //! directory of a deleted `a/b`, so a later case putting the key `a` would collide with it.
    //! Real S3 and MinIO have no such limit; the unique prefix keeps the test about encoding.
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn segment() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 +&=%?#'!$()*,;:@~._\\-\\[\\]中文é🚀]{1,12}"
            .prop_filter("not a dot segment", |s| s != "." && s != "..")
    }

    fn key() -> impl Strategy<Value = String> {
        prop::collection::vec(segment(), 1..4).prop_map(|segments| segments.join("/"))
    }

    #[test]
    fn arbitrary_keys_round_trip_and_presign() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime.block_on(S3Server::start()).unwrap();
        let (store, _) = runtime.block_on(connected(&server));
        let http = reqwest::Client::new();
        let config = ProptestConfig {
            cases: 48,
            ..ProptestConfig::default()
        };
        let cases = AtomicUsize::new(0);
        proptest!(config, |(key in key(), n in 0usize..2000)| {
            let key = format!("case-{}/{key}", cases.fetch_add(1, Ordering::Relaxed));
            runtime.block_on(async {
                let body = pattern(n, n as u64);
                store.put(&key, body.clone(), "application/octet-stream").await.unwrap();
                assert_eq!(store.size(&key).await.unwrap(), Some(n as u64), "{key:?}");
                let (read, _) = read_to_end(store.get(&key).await.unwrap()).await.unwrap();
                assert!(read == body, "{key:?}: read back differs");
                let url = store.presign_get(&key, Duration::from_secs(60)).await.unwrap();
                let response = http.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200, "{key:?}: {url}");
                assert!(response.bytes().await.unwrap() == body, "{key:?}: download differs");
                store.delete(&key).await.unwrap();
                assert!(!store.exists(&key).await.unwrap(), "{key:?}");
            });
        });
    }
}
