//! The live preview: files served straight from the stored zip (loaded once per content hash into
//! a bounded in-memory cache, never unpacked to disk), with content types, `index.html` for
//! directories, traversal refused (plain and percent-encoded), ETags keyed on the content hash,
//! and isolation from the API: no cookies or credentials are read or set, and a
//! Content-Security-Policy keeps the app to its own files.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use ingenio_code_gen::service::CodeError;
use std::sync::Arc;

/// What a preview may do: its own scripts, styles, images and data; nothing from elsewhere, no
/// plugins, no `<base>` tricks, framed only by its own origin. No `sandbox`: without
/// `allow-same-origin` it would disable the `localStorage` the generated apps keep records in,
/// and with it the sandbox adds nothing; isolation from the API comes from credentials never being
/// cookies and, for full separation, from serving previews on their own origin
/// (`ingenio.preview.port` + `PREVIEW_BASE_URL`).
pub const PREVIEW_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; media-src 'self'; connect-src 'self'; \
    form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'";

/// Preview routes relative to where they are mounted (`/api/preview` on the API listener, `/` on
/// the preview listener).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/{key}", web::get().to(redirect_to_dir))
        .route("/{key}/{path:.*}", web::get().to(serve))
        .route("/{key}", web::head().to(redirect_to_dir))
        .route("/{key}/{path:.*}", web::head().to(serve));
}

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    secure(&mut b);
    b.content_type("text/plain; charset=utf-8").body(text)
}

fn secure(b: &mut actix_web::HttpResponseBuilder) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    // static values: no per-request validation of the header bytes
    b.insert_header((
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PREVIEW_CSP),
    ))
    .insert_header((
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .insert_header((
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .insert_header((
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ))
    .insert_header((
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    ))
    .insert_header((
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ));
}

/// `/preview/{key}` → `/preview/{key}/`, so the app's relative links resolve under its key.
async fn redirect_to_dir(req: HttpRequest) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::MOVED_PERMANENTLY);
    secure(&mut b);
    b.insert_header((header::LOCATION, format!("{}/", req.path())))
        .finish()
}

/// Whether the raw (still percent-encoded) request path tries to leave the app's root: dot
/// segments, encoded slashes or backslashes, NUL.
fn traversal(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    if ["%2f", "%5c", "%00", "\\", "%2e%2e", ".%2e", "%2e."]
        .iter()
        .any(|p| lower.contains(p))
    {
        return true;
    }
    raw.split('/').any(|s| s == ".." || s == ".")
}

/// The content type of a file by extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn etag(hash: &str, path: &str) -> String {
    // FNV-1a of the path keeps the tag short; the content hash makes it change with the content
    let h = path.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{}-{h:016x}\"", &hash[..hash.len().min(32)])
}

async fn serve(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let key = req.match_info().get("key").unwrap_or_default().to_owned();
    let raw_rest = req
        .uri()
        .path()
        .split_once(&format!("/{key}/"))
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    if traversal(&raw_rest) {
        return Ok(plain(StatusCode::BAD_REQUEST, "bad path"));
    }
    let mut path = req.match_info().get("path").unwrap_or_default().to_owned();
    if path.is_empty() || path.ends_with('/') {
        path.push_str("index.html");
    }
    let record = match state.previews.record(&key) {
        Some(r) => r,
        None => match state.code.preview_record(&key).await {
            Ok(r) => {
                let r = Arc::new(r);
                state.previews.remember(&key, r.clone());
                r
            }
            Err(CodeError::NotFound) => {
                return Ok(plain(StatusCode::NOT_FOUND, "preview not found"))
            }
            Err(e) => return Err(e.into()),
        },
    };
    if record.preview_url.is_none() {
        return Ok(plain(StatusCode::NOT_FOUND, "preview not found"));
    }
    let tag = etag(&record.content_hash, &path);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let zip = match state.previews.get(&record.content_hash) {
        Some(zip) => zip,
        None => match state.code.load_zip(&record).await {
            Ok(index) => state.previews.insert(
                &record.content_hash,
                index,
                u64::try_from(record.total_size_bytes.max(record.zip_size_bytes).max(1))
                    .unwrap_or(1),
            ),
            Err(CodeError::ObjectMissing) => {
                return Ok(plain(StatusCode::NOT_FOUND, "preview unavailable"))
            }
            Err(e) => return Err(e.into()),
        },
    };
    let Some(bytes) = zip.file(&path) else {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    };
    let mut b = HttpResponse::build(if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    secure(&mut b);
    b.insert_header((header::ETAG, tag)).insert_header((
        header::CACHE_CONTROL,
        "private, max-age=60, must-revalidate",
    ));
    if fresh {
        return Ok(b.finish());
    }
    Ok(b.content_type(content_type(&path)).body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_recognised_plain_and_encoded() {
        for bad in [
            "../x",
            "a/../../etc/passwd",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "a%2fb",
            "a%5cb",
            "..%5cx",
            ".%2e/x",
            "a/./b",
            "a%00",
        ] {
            assert!(traversal(bad), "{bad}");
        }
        for ok in ["index.html", "a/b.js", "app..js", "%E4%B8%AD.html", ""] {
            assert!(!traversal(ok), "{ok}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/APP.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
