//! The error responses every operation shares, added to the OpenAPI document in one place
//! ([`CommonResponses`], a utoipa `Modify`) from what the operation is: authenticated or not, under
//! the rate-limited `/v1/` scope, with a body, with parameters, with path parameters. The
//! annotations only declare what is particular to an operation (its success, 409, 412, 422, ...);
//! every error response, theirs included, gets the [`ErrorEnvelope`] schema.
//!
//! [`ErrorEnvelope`]: crate::http::envelope::ErrorEnvelope

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Ref, Schema, Type};
use utoipa::openapi::{Content, Header, OpenApi, RefOr, Response};
use utoipa::Modify;

/// The component name of the error body schema.
pub const ERROR_SCHEMA: &str = "ErrorEnvelope";

/// What makes an operation answer a shared error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traits {
    /// Declares a bearer security requirement (the extractors answer 401 / 403 `2003`).
    pub authenticated: bool,
    /// Under `/v1/`: rate limited and backed by the database.
    pub business: bool,
    /// Takes a JSON request body.
    pub json_body: bool,
    /// Takes path, query or header parameters.
    pub parameters: bool,
    /// Names a resource in its path (`{id}`, `{n}`, ...).
    pub path_parameters: bool,
}

impl Traits {
    pub fn of(path: &str, op: &Operation) -> Self {
        let params = op.parameters.as_deref().unwrap_or_default();
        Self {
            authenticated: op.security.as_ref().is_some_and(|s| !s.is_empty()),
            business: path.starts_with("/v1/"),
            json_body: op
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json")),
            parameters: !params.is_empty(),
            path_parameters: params.iter().any(|p| p.parameter_in == ParameterIn::Path),
        }
    }

    /// `(status, description, retry_after)` of every shared error this operation can answer.
    pub fn common(self) -> Vec<(u16, &'static str, bool)> {
        let mut out = Vec::new();
        if self.json_body || self.parameters {
            out.push((
                400,
                "1001 bad parameter: a body, path, query or header value that does not parse or \
                 is invalid (data names the field)",
                false,
            ));
        }
        if self.authenticated {
            out.push((
                401,
                "1003 missing, invalid, expired or revoked access token",
                false,
            ));
            out.push((403, "2003 account disabled", false));
        }
        if self.path_parameters {
            out.push((
                404,
                "1002 / 3000 / 3002 not found (also for other users' resources)",
                false,
            ));
        }
        if self.json_body {
            out.push((
                413,
                "1001 request body larger than server.max-body-size",
                false,
            ));
            out.push((
                415,
                "1001 request body is not JSON (Content-Type: application/json)",
                false,
            ));
        }
        if self.business {
            out.push((
                429,
                "1005 rate limit (per user, per IP when anonymous); Retry-After says when to retry",
                true,
            ));
        }
        if self.business || self.authenticated {
            out.push((
                503,
                "1000 a backing service is unavailable, or this instance is saturated (then \
                 Retry-After says when to retry)",
                true,
            ));
        }
        out
    }
}

/// Adds the shared error responses and points every error response at the error schema.
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                add_common(path, op);
            }
        }
    }
}

fn add_common(path: &str, op: &mut Operation) {
    let traits = Traits::of(path, op);
    let responses = &mut op.responses.responses;
    for (status, description, retry_after) in traits.common() {
        let entry = responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(error_response(description)));
        if let RefOr::T(r) = entry {
            if !r.description.contains(description) && status == 403 {
                // an operation's own 403 (1004 role checks) also answers 2003
                r.description = format!("{} · {description}", r.description);
            }
            if retry_after {
                r.headers
                    .entry("Retry-After".to_owned())
                    .or_insert_with(|| {
                        let mut h = Header::new(Object::with_type(Type::Integer));
                        h.description = Some("seconds to wait before retrying".to_owned());
                        h
                    });
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(r)) = (is_error, response) {
            use_error_schema(r);
        }
    }
}

fn error_response(description: &str) -> Response {
    let mut r = Response::new(description);
    use_error_schema(&mut r);
    r
}

/// Sets the error schema on a JSON error response declared with an inline envelope (an object
/// with a `code` property), or with no body at all. Other bodies (the health documents of the
/// actuator's 503) are left as declared.
fn use_error_schema(r: &mut Response) {
    let envelope_like = match r.content.get("application/json") {
        None => r.content.is_empty(),
        Some(c) => match &c.schema {
            None => true,
            Some(RefOr::T(Schema::Object(o))) => o.properties.contains_key("code"),
            Some(RefOr::Ref(reference)) => reference.ref_location.ends_with(ERROR_SCHEMA),
            Some(_) => false,
        },
    };
    if envelope_like {
        r.content.insert(
            "application/json".to_owned(),
            Content::new(Some(Ref::from_schema_name(ERROR_SCHEMA))),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the operation is, what it shares follows from its traits alone.
        #[test]
        fn shared_statuses_follow_the_traits(
            authenticated: bool, business: bool, json_body: bool, parameters: bool,
            path_parameters: bool,
        ) {
            let t = Traits { authenticated, business, json_body, parameters, path_parameters };
            let statuses: Vec<u16> = t.common().iter().map(|c| c.0).collect();
            prop_assert_eq!(statuses.contains(&401), authenticated);
            prop_assert_eq!(statuses.contains(&403), authenticated);
            prop_assert_eq!(statuses.contains(&400), json_body || parameters);
            prop_assert_eq!(statuses.contains(&413), json_body);
            prop_assert_eq!(statuses.contains(&415), json_body);
            prop_assert_eq!(statuses.contains(&404), path_parameters);
            prop_assert_eq!(statuses.contains(&429), business);
            prop_assert_eq!(statuses.contains(&503), business || authenticated);
            // only throttling and saturation say when to come back
            for (status, _, retry) in t.common() {
                prop_assert_eq!(retry, status == 429 || status == 503);
            }
        }
    }
}
