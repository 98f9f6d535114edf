//! OpenTelemetry trace export: when `ingenio.otel.endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`)
//! is set, `tracing` spans are exported over OTLP/HTTP (protobuf) to `<endpoint>/v1/traces`
//! by a batch processor running on its own Tokio runtime thread; when it is empty nothing is
//! built and spans cost nothing extra.

use crate::config::settings::OtelSettings;
use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{HttpExporterBuilderSet, Protocol, SpanExporterBuilder, WithExportConfig};
use opentelemetry_sdk::runtime::TokioCurrentThread;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::time::Duration;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `tracing` layer that turns spans into OpenTelemetry spans.
pub type OtelLayer<S> = OpenTelemetryLayer<S, SdkTracer>;

/// Keeps the tracer provider; flushes and shuts it down (exporting what is queued).
#[derive(Debug)]
pub struct OtelGuard {
    provider: SdkTracerProvider,
    shut_down: bool,
}

impl OtelGuard {
    /// Exports every finished span now; blocks until the collector answered.
    pub fn force_flush(&self) -> anyhow::Result<()> {
        self.provider
            .force_flush()
            .map_err(|e| anyhow::anyhow!("cannot flush spans: {e}"))
    }

    /// Flushes and stops the exporter; later calls do nothing.
    pub fn shutdown(&mut self) -> anyhow::Result<()> {
        if std::mem::replace(&mut self.shut_down, true) {
            return Ok(());
        }
        self.provider
            .shutdown()
            .map_err(|e| anyhow::anyhow!("cannot shut the trace exporter down: {e}"))
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("{e:#}");
        }
    }
}

/// The full traces URL for a base OTLP endpoint such as `http://otel-collector:4318`.
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim().trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The export layer and its guard, or `None` when no endpoint is configured.
pub fn layer<S>(settings: &OtelSettings) -> anyhow::Result<Option<(OtelLayer<S>, OtelGuard)>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    layer_with(settings, |b| b)
}

type HttpBuilder = SpanExporterBuilder<HttpExporterBuilderSet>;

/// Like [`layer`], letting the caller adjust the exporter (tests plug in their own client).
pub(crate) fn layer_with<S>(
    settings: &OtelSettings,
    customize: impl FnOnce(HttpBuilder) -> HttpBuilder,
) -> anyhow::Result<Option<(OtelLayer<S>, OtelGuard)>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if settings.endpoint.trim().is_empty() {
        return Ok(None);
    }
    let url = traces_url(&settings.endpoint);
    let builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(EXPORT_TIMEOUT);
    let exporter = customize(builder)
        .build()
        .with_context(|| format!("cannot build the OTLP exporter for {url}"))?;
    let processor = BatchSpanProcessor::builder(exporter, TokioCurrentThread).build();
    let service_name = match settings.service_name.trim() {
        "" => "ingenio-backend".to_string(),
        name => name.to_string(),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build();
    let tracer = provider.tracer("ingenio-server");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok(Some((
        layer,
        OtelGuard {
            provider,
            shut_down: false,
        },
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use opentelemetry_otlp::WithHttpConfig as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn traces_url_appends_the_signal_path_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }

    #[test]
    fn empty_endpoint_builds_nothing() {
        let s = OtelSettings {
            endpoint: "  ".into(),
            service_name: "x".into(),
        };
        assert!(layer::<tracing_subscriber::Registry>(&s).unwrap().is_none());
    }

    /// Reads one HTTP/1.1 request; returns its request line, headers and body.
    async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the headers ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < header_end + len {
            let n = sock.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the body ended");
            buf.extend_from_slice(&chunk[..n]);
        }
        let request_line = head.lines().next().unwrap_or_default().to_string();
        (
            request_line,
            head,
            buf[header_end..header_end + len].to_vec(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exports_spans_over_otlp_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let req = read_request(&mut sock).await;
                    sock.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                    )
                    .await
                    .unwrap();
                    let _ = tx.send(req);
                });
            }
        });

        let settings = OtelSettings {
            endpoint: format!("http://{addr}"),
            service_name: "ingenio-otel-test".into(),
        };
        tokio::task::spawn_blocking(move || {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let (layer, mut guard) = layer_with::<tracing_subscriber::Registry>(&settings, |b| {
                b.with_http_client(client)
            })
            .unwrap()
            .expect("an endpoint is configured");
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                let span = tracing::info_span!("otel_test_span", answer = 42);
                span.in_scope(|| tracing::info!("inside"));
            });
            guard.force_flush().unwrap();
            guard.shutdown().unwrap();
        })
        .await
        .unwrap();

        let (line, head, body) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("no OTLP request within 20 s")
            .unwrap();
        server.abort();
        assert_eq!(line, "POST /v1/traces HTTP/1.1");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/x-protobuf"),
            "{head}"
        );
        // The protobuf payload carries the span name and the service name as plain bytes.
        let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        assert!(contains(b"otel_test_span"));
        assert!(contains(b"ingenio-otel-test"));
    }
}
