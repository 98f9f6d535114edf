//! Maps rust-s3 failures onto `StorageError`: unreachable, timed out or 5xx → `Unavailable`,
//! 404 → `NotFound`, anything else → `Unexpected`. Only messages cross, never rust-s3 types.

use ingenio_code_gen::StorageError;
use s3::error::S3Error;

/// The longest S3 error body kept in a message.
const BODY_LIMIT: usize = 300;

/// HTTP statuses after which retrying later may succeed.
fn retryable(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

fn transport_failure(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
}

/// The S3 error code of an XML error body (`<Code>NoSuchKey</Code>`), if any.
fn s3_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    body.get(start..start + len)
}

/// The HTTP status of a failed S3 answer, if the failure was one.
fn status_of(e: &S3Error) -> Option<(u16, &str)> {
    match e {
        S3Error::HttpFailWithBody(status, body) => Some((*status, body.as_str())),
        _ => None,
    }
}

/// Maps a failure of operation `op` on `key` (the bucket name for bucket calls).
pub(crate) fn map(op: &str, key: &str, e: S3Error) -> StorageError {
    if let Some((status, body)) = status_of(&e) {
        if status == 404 {
            return StorageError::NotFound(key.to_owned());
        }
        let code = s3_code(body).unwrap_or("");
        let body: String = body.chars().take(BODY_LIMIT).collect();
        let err = anyhow::anyhow!("s3 {op} {key:?}: HTTP {status} {code}: {body}");
        return if retryable(status) {
            StorageError::Unavailable(err)
        } else {
            StorageError::Unexpected(err)
        };
    }
    let unavailable = match &e {
        S3Error::Reqwest(r) => transport_failure(r),
        S3Error::Io(_) => true,
        _ => false,
    };
    // `{:#}` prints the source chain ("connection refused" sits deep in reqwest's); only the
    // text is kept.
    let err = anyhow::anyhow!("s3 {op} {key:?}: {:#}", anyhow::Error::new(e));
    if unavailable {
        StorageError::Unavailable(err)
    } else {
        StorageError::Unexpected(err)
    }
}

/// The answer when a call did not finish within its bound.
pub(crate) fn timed_out(op: &str, key: &str, after: std::time::Duration) -> StorageError {
    StorageError::Unavailable(anyhow::anyhow!(
        "s3 {op} {key:?}: no answer within {after:?}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn statuses_map_onto_the_port_errors() {
        let fail = |s| S3Error::HttpFailWithBody(s, "<Error><Code>X</Code></Error>".into());
        assert!(matches!(map("get", "k", fail(404)), StorageError::NotFound(k) if k == "k"));
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(matches!(
                map("get", "k", fail(s)),
                StorageError::Unavailable(_)
            ));
        }
        for s in [400, 403, 409] {
            assert!(matches!(
                map("get", "k", fail(s)),
                StorageError::Unexpected(_)
            ));
        }
        let io = S3Error::Io(std::io::Error::other("reset"));
        assert!(matches!(map("get", "k", io), StorageError::Unavailable(_)));
        let other = S3Error::MaxExpiry(1);
        assert!(matches!(
            map("get", "k", other),
            StorageError::Unexpected(_)
        ));
    }

    #[test]
    fn error_codes_are_read_from_xml_bodies() {
        let body = "<?xml version=\"1.0\"?><Error><Code>BucketAlreadyOwnedByYou</Code></Error>";
        assert_eq!(s3_code(body), Some("BucketAlreadyOwnedByYou"));
        assert_eq!(s3_code("no xml"), None);
        assert_eq!(s3_code("<Code>unterminated"), None);
    }

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let body = "错".repeat(1000);
        let e = map("put", "k", S3Error::HttpFailWithBody(400, body));
        assert!(e.to_string().len() < 2000);
        let StorageError::Unexpected(inner) = e else {
            panic!("expected Unexpected")
        };
        assert!(inner.to_string().chars().filter(|c| *c == '错').count() == BODY_LIMIT);
    }
}
