//! `sslmode` against real servers: the local PostgreSQL (which may or may not offer TLS), a
//! front that refuses TLS (answers the SSLRequest with `N`, like a server with `ssl = off`), and a
//! TLS-terminating front with a certificate from a throwaway CA (rcgen), so `require`, `prefer`,
//! `disable` and `verify-full` are each seen to do what libpq does. The pool and the LISTEN
//! connection go through the same connector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::Bool;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_postgres::notify::JobWakeups;
use ingenio_postgres::pool::{build_pool, ping};
use ingenio_postgres::tls::{connect, establish, PgTarget};
use ingenio_postgres::PgPoolSettings;
use ingenio_testkit::db::database_url;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The SSLRequest packet: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// `host:port` of the test server.
fn upstream() -> String {
    let target = PgTarget::parse(&database_url("postgres")).unwrap();
    let host = match target.config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = target.config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// A front on 127.0.0.1 that answers the SSLRequest itself — `N` without `tls`, `S` and a TLS
/// handshake with it — and relays the rest to the test server in plain text.
async fn front(tls: Option<Arc<rustls::ServerConfig>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = upstream();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let tls = tls.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                client.read_exact(&mut first).await?;
                let mut server = TcpStream::connect(&upstream).await?;
                if first != SSL_REQUEST {
                    server.write_all(&first).await?;
                    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                    return Ok::<_, std::io::Error>(());
                }
                match tls {
                    None => {
                        client.write_all(b"N").await?;
                        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                    }
                    Some(config) => {
                        client.write_all(b"S").await?;
                        let mut client = tokio_rustls::TlsAcceptor::from(config)
                            .accept(client)
                            .await?;
                        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                    }
                }
                Ok(())
            });
        }
    });
    port
}

/// A CA and a server certificate for `localhost` signed by it; returns the server's TLS config
/// and the CA in PEM.
fn tls_config() -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ingenio test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(ca.der().to_vec()),
        ],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    (Arc::new(config), ca.pem())
}

#[derive(QueryableByName)]
struct SslRow {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

/// Whether the session of `url` is encrypted, as the server sees it.
async fn session_ssl(url: &str) -> anyhow::Result<bool> {
    let mut conn = establish(url).await?;
    let row: SslRow = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut conn)
        .await?;
    Ok(row.ssl)
}

fn url(host: &str, port: u16, query: &str) -> String {
    format!("postgres://postgres@{host}:{port}/postgres?{query}")
}

async fn local_offers_tls() -> bool {
    session_ssl(&with_mode(&database_url("postgres"), "prefer"))
        .await
        .unwrap()
}

fn with_mode(url: &str, mode: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sslmode={mode}")
}

#[tokio::test]
async fn disable_and_prefer_work_against_the_local_server() {
    let local = database_url("postgres");
    assert!(!session_ssl(&with_mode(&local, "disable")).await.unwrap());
    // prefer takes TLS exactly when the server offers it
    let offers = local_offers_tls().await;
    assert_eq!(
        session_ssl(&with_mode(&local, "PREFER")).await.unwrap(),
        offers
    );
    if offers {
        assert!(session_ssl(&with_mode(&local, "require")).await.unwrap());
    }
}

#[tokio::test]
async fn against_a_server_without_tls_prefer_falls_back_and_require_fails_fast() {
    let port = front(None).await;
    assert!(!session_ssl(&url("127.0.0.1", port, "sslmode=prefer"))
        .await
        .unwrap());
    assert!(!session_ssl(&url("127.0.0.1", port, "sslmode=disable"))
        .await
        .unwrap());
    for mode in ["require", "verify-full"] {
        let start = Instant::now();
        let err = connect(&url("127.0.0.1", port, &format!("sslmode={mode}")))
            .await
            .err()
            .expect("TLS was required");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let text = format!("{err:#}");
        assert!(text.contains(&format!("sslmode={mode}")), "{text}");
        assert!(text.contains("127.0.0.1:"), "{text}");
        assert!(text.to_lowercase().contains("tls"), "{text}");
    }
}

#[tokio::test]
async fn a_real_handshake_require_encrypts_and_verify_full_checks_chain_and_name() {
    let (config, ca_pem) = tls_config();
    let port = front(Some(config)).await;
    // require: encrypted, the certificate is not checked
    assert!(session_ssl(&url("127.0.0.1", port, "sslmode=require"))
        .await
        .is_ok());
    assert!(session_ssl(&url("localhost", port, "sslmode=prefer"))
        .await
        .is_ok());

    // verify-full: refused without a trust anchor for the throwaway CA…
    let err = connect(&url("localhost", port, "sslmode=verify-full"))
        .await
        .err()
        .expect("an untrusted certificate");
    let text = format!("{err:#}");
    assert!(text.contains("sslmode=verify-full"), "{text}");
    assert!(text.contains("certificate"), "{text}");

    // …accepted with it as sslrootcert and the right name…
    let dir = std::env::temp_dir().join(format!("ingenio-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join(format!("ca-{port}.pem"));
    std::fs::write(&ca, &ca_pem).unwrap();
    let root = ca.to_string_lossy().into_owned();
    let trusted = url(
        "localhost",
        port,
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let (client, connection) = connect(&trusted).await.unwrap();
    tokio::spawn(connection);
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    // …and refused again when the host name is not the certificate's
    let err = connect(&url(
        "127.0.0.1",
        port,
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await
    .err()
    .expect("a certificate for another name");
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");

    // the pool and the LISTEN connection use the same connector
    let pool = build_pool(&PgPoolSettings {
        url: trusted.clone(),
        max_size: 2,
        min_idle: 0,
        connection_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(60),
        http_workers: 0,
    });
    ping(&pool).await.unwrap();
    let wakeups = JobWakeups::start(trusted, Arc::new(tokio::sync::Notify::new()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !wakeups.is_listening() {
        assert!(
            Instant::now() < deadline,
            "the listener never connected over TLS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&ca);
}
