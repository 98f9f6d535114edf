//! PostgreSQL over TLS with rustls, for every connection the adapter opens (the bb8 pool, the
//! LISTEN connection and the migration runner).
//!
//! The mode travels in the connection URL as libpq's `sslmode` (with `sslrootcert` for a CA
//! bundle), so every place that takes a URL gets TLS without another parameter:
//!
//! | `sslmode` | behaviour |
//! |-----------|-----------|
//! | `disable` | plain TCP |
//! | `prefer` (default) | TLS when the server offers it, plain when it answers the SSLRequest with `N` |
//! | `require` | TLS or fail; the certificate is not checked (encryption only) |
//! | `verify-full` | TLS or fail; the chain must lead to a trusted root (`sslrootcert`, else the Mozilla roots) and name the host |

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::Socket;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, the values this server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyFull,
}

impl SslMode {
    /// Every accepted spelling, for messages.
    pub const VALUES: &'static str = "disable, prefer, require, verify-full";

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = String;

    /// Case-insensitive, surrounding blanks ignored; `_` may stand for `-` (`VERIFY_FULL`).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            _ => Err(format!(
                "must be one of {}, found {text:?}",
                SslMode::VALUES
            )),
        }
    }
}

/// A connection URL split into what tokio-postgres understands and the TLS options it does not.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
}

impl PgTarget {
    /// Parses a `postgres://` URL; `sslmode` and `sslrootcert` query parameters are taken out
    /// (libpq's names), everything else goes to tokio-postgres.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut sslmode = SslMode::default();
        let mut sslrootcert = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    sslmode = value
                        .parse()
                        .map_err(|e| format!("sslmode in the database URL {e}"))?
                }
                "sslrootcert" if !value.is_empty() => {
                    sslrootcert = Some(PathBuf::from(percent_decode(value)))
                }
                "sslrootcert" => {}
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("invalid database URL: {e}"))?;
        config.ssl_mode(match sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => PgSslMode::Require,
        });
        Ok(Self {
            config,
            sslmode,
            sslrootcert,
        })
    }

    /// The rustls connector for this mode.
    pub fn connector(&self) -> anyhow::Result<MakeRustlsConnect> {
        client_config(self.sslmode, self.sslrootcert.as_deref()).map(MakeRustlsConnect::new)
    }

    /// `host:port` of the first host, for messages.
    fn describe(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }
}

/// A raw tokio-postgres connection (the LISTEN connection, the migration runner).
pub type PgConnection =
    tokio_postgres::Connection<Socket, <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>;

/// Connects with the TLS behaviour of the URL's `sslmode`. Errors say which mode failed where,
/// so `require` against a server without TLS reads as such rather than as a generic I/O error.
pub async fn connect(url: &str) -> anyhow::Result<(tokio_postgres::Client, PgConnection)> {
    let target = PgTarget::parse(url).map_err(anyhow::Error::msg)?;
    let tls = target.connector()?;
    target.config.connect(tls).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to PostgreSQL at {} (sslmode={}): {}",
            target.describe(),
            target.sslmode,
            describe_error(&e)
        )
    })
}

/// A diesel-async connection opened through [`connect`]; the pool's `custom_setup`.
pub async fn establish(url: &str) -> Result<AsyncPgConnection, ConnectionError> {
    let (client, connection) = connect(url)
        .await
        .map_err(|e| ConnectionError::BadConnection(format!("{e:#}")))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// The error with its sources (tokio-postgres hides the TLS reason in `source()`).
fn describe_error(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The rustls client configuration of a mode: `verify-full` checks the chain against `root_cert`
/// (a PEM bundle) or the Mozilla roots and the host name; `prefer`/`require` encrypt without
/// checking the certificate, as libpq does.
pub fn client_config(mode: SslMode, root_cert: Option<&Path>) -> anyhow::Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS protocol versions: {e}"))?;
    let config = match mode {
        SslMode::VerifyFull => {
            let mut roots = RootCertStore::empty();
            match root_cert {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                        .map_err(|e| {
                            anyhow::anyhow!("cannot read sslrootcert {}: {e}", path.display())
                        })?;
                    let (added, _) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        anyhow::bail!("sslrootcert {} holds no usable certificate", path.display());
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// libpq's `require`: any certificate is accepted, but the handshake signatures are still checked
/// against it (the session is encrypted; the server is not authenticated).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `%XX` decoding for a path given in the URL.
fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn url_parameters_are_taken_out_for_tokio_postgres() {
        let t = PgTarget::parse(
            "postgres://u:p@db.example.com:6543/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(t.sslrootcert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(t.config.get_ssl_mode(), PgSslMode::Require);
        assert_eq!(t.describe(), "db.example.com:6543");
        let plain = PgTarget::parse("postgres://localhost/app").unwrap();
        assert_eq!(plain.sslmode, SslMode::Prefer);
        assert_eq!(plain.config.get_ssl_mode(), PgSslMode::Prefer);
        let err = PgTarget::parse("postgres://localhost/app?sslmode=allow").unwrap_err();
        assert!(
            err.contains("sslmode") && err.contains("verify-full"),
            "{err}"
        );
    }

    #[test]
    fn verify_full_needs_a_readable_bundle() {
        let err = client_config(SslMode::VerifyFull, Some(Path::new("/nonexistent/ca.pem")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        assert!(client_config(SslMode::VerifyFull, None).is_ok());
        assert!(client_config(SslMode::Require, None).is_ok());
    }

    proptest! {
        #[test]
        fn modes_parse_in_any_case(mode in 0usize..4, flips in proptest::collection::vec(any::<bool>(), 11), pad in "[ \t]{0,2}") {
            let (name, want) = [
                ("disable", SslMode::Disable),
                ("prefer", SslMode::Prefer),
                ("require", SslMode::Require),
                ("verify-full", SslMode::VerifyFull),
            ][mode];
            let cased: String = name
                .chars()
                .zip(flips.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert_eq!(format!("{pad}{cased}{pad}").parse::<SslMode>(), Ok(want));
            prop_assert_eq!(want.as_str().parse::<SslMode>(), Ok(want));
        }

        #[test]
        fn other_words_are_refused_with_the_choices(text in "\\PC{0,16}") {
            let known = ["disable", "prefer", "require", "verify-full"];
            let norm = text.trim().to_ascii_lowercase().replace('_', "-");
            prop_assume!(!known.contains(&norm.as_str()));
            let err = text.parse::<SslMode>().unwrap_err();
            prop_assert!(err.contains(SslMode::VALUES), "{}", err);
        }

        #[test]
        fn percent_decoding_never_panics(text in "\\PC{0,24}") {
            let _ = percent_decode(&text);
        }
    }
}
