//! The OpenAPI document (utoipa), served at `/api/api-docs` with Swagger UI at `/api/swagger-ui/`.
//! The shared error responses are added by [`responses::CommonResponses`], the links from
//! creating operations to the ones that use what they create by [`links::ResourceLinks`].

pub mod links;
pub mod responses;

use links::ResourceLinks;
use responses::CommonResponses;

use crate::http::envelope::ErrorEnvelope;
use crate::http::{actuator, appspecs, code, generate, magic_prompts, projects, social, users};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every route of the API. Paths are relative to the server URL `/api` (the context path).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ingenio API",
        description = "Students describe an app in plain language and get a working app back. \
Every JSON response uses the envelope {code, success, message, data, timestamp}; errors carry a \
stable code (1001 bad parameter, 1003 unauthenticated, 1005 too many requests, 2001 taken, 2002 bad \
credentials, ...; the ErrorEnvelope schema lists them all). Every operation declares every status \
it can answer: authenticated ones 401 (1003) and 403 (2003 account disabled; 1004 for the \
read-only viewer role on writing routes and for admin routes), any body, path or query parameter \
400 (1001), JSON bodies 413 and 415, resources named in the path 404, business routes (/v1/) 429 \
(1005, with Retry-After) and 503 (1000: a backing service is down, or the instance is saturated, \
then with Retry-After). Business routes are rate limited per user (per IP when anonymous) and \
answer with RateLimit-Limit/Remaining/Reset headers.",
    ),
    servers((url = "/api", description = "context path")),
    paths(
        users::register,
        users::login,
        users::refresh,
        users::logout,
        users::me,
        users::reset_request,
        users::reset_confirm,
        users::get_profile,
        users::update_profile,
        users::change_password,
        appspecs::create,
        appspecs::list,
        appspecs::get_one,
        appspecs::update,
        appspecs::remove,
        appspecs::versions,
        appspecs::version,
        appspecs::diff,
        appspecs::rollback,
        appspecs::validate,
        generate::generate,
        generate::list_jobs,
        generate::get_job,
        generate::cancel_job,
        generate::job_events,
        generate::quota,
        projects::create,
        projects::list_mine,
        projects::stats,
        projects::gallery,
        projects::get_one,
        projects::update,
        projects::remove,
        projects::publish,
        projects::unpublish,
        projects::archive,
        projects::fork,
        projects::forks,
        projects::lineage,
        code::render,
        code::list_code,
        code::download,
        code::artifact,
        social::like,
        social::unlike,
        social::favorite,
        social::unfavorite,
        social::favorites,
        social::list_comments,
        social::add_comment,
        social::delete_comment,
        social::view,
        social::report_project,
        social::report_comment,
        social::admin_reports,
        social::resolve_report,
        magic_prompts::list,
        magic_prompts::get_one,
        magic_prompts::use_prompt,
        magic_prompts::admin_list,
        magic_prompts::admin_create,
        magic_prompts::admin_get,
        magic_prompts::admin_update,
        magic_prompts::admin_delete,
        actuator::health,
        actuator::liveness,
        actuator::readiness,
        actuator::info,
        actuator::metrics_index,
        actuator::metric,
        actuator::prometheus,
        actuator::loggers,
        actuator::get_logger,
        actuator::set_logger,
    ),
    components(schemas(ErrorEnvelope)),
    modifiers(&BearerAuth, &CommonResponses, &ResourceLinks),
    tags(
        (name = "auth", description = "Registration, login and sessions"),
        (name = "user", description = "The caller's profile and password"),
        (name = "appspecs", description = "App specs and the time machine"),
        (name = "generate", description = "Durable AI generation jobs and their event streams"),
        (name = "projects", description = "Projects, the community gallery, forks and lineage"),
        (name = "code", description = "Generated code: render jobs, downloads; previews live at /api/preview/{projectKey}/"),
        (name = "social", description = "Likes, favorites, comments and views of projects"),
        (name = "moderation", description = "Reports and the admin report queue"),
        (name = "magic-prompts", description = "Starter templates with {var} placeholders"),
        (name = "actuator", description = "Health, metrics and log levels (guide §6)"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON (for `ingenio-server openapi` and `cargo xtask openapi`).
pub fn json() -> anyhow::Result<String> {
    Ok(ApiDoc::openapi().to_pretty_json()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::ApiDoc;
    use std::collections::BTreeSet;
    use utoipa::OpenApi;

    /// Every `#[get("…")]`-style route attribute in `src/http/<area>/mod.rs`, as
    /// `METHOD /prefix/path` with the scope each area is mounted under in `http::routes`.
    fn routed() -> BTreeSet<String> {
        let http = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(&http).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(src) = std::fs::read_to_string(dir.join("mod.rs")) else {
                continue;
            };
            let area = dir.file_name().unwrap().to_string_lossy().to_string();
            let prefix = if area == "actuator" {
                "/actuator"
            } else {
                "/v1"
            };
            for line in src.lines().map(str::trim) {
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let path = rest.split('"').next().unwrap();
                        // `{key:.*}` routes are documented as `{key}`
                        let path = regex_free(path);
                        out.insert(format!("{} {prefix}{path}", method.to_uppercase()));
                    }
                }
            }
        }
        out
    }

    fn regex_free(path: &str) -> String {
        let mut out = String::new();
        let mut in_regex = false;
        for c in path.chars() {
            match c {
                ':' if !in_regex && out.rfind('{') > out.rfind('}') => in_regex = true,
                '}' if in_regex => {
                    in_regex = false;
                    out.push(c);
                }
                _ if in_regex => {}
                _ => out.push(c),
            }
        }
        out
    }

    fn documented() -> BTreeSet<String> {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
        out
    }

    #[test]
    fn creating_responses_link_to_every_operation_on_what_they_create() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let ids: BTreeSet<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let created = &doc["paths"]["/v1/appspecs"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            created["get_one"]["parameters"]["id"],
            "$response.body#/data/id"
        );
        assert_eq!(
            created["version"]["parameters"]["n"],
            "$response.body#/data/version"
        );
        let accepted = &doc["paths"]["/v1/generate"]["post"]["responses"]["202"]["links"];
        assert_eq!(
            accepted["get_job"]["parameters"]["id"],
            "$response.body#/data/jobId"
        );
        for source in super::links::SOURCES {
            let links =
                &doc["paths"][source.path][source.method]["responses"][source.status]["links"];
            let links = links.as_object().unwrap();
            assert!(!links.is_empty(), "{}", source.path);
            for (name, link) in links {
                assert!(
                    ids.contains(link["operationId"].as_str().unwrap()),
                    "{name}"
                );
                // the OpenAPI spelling, not utoipa's field name
                assert!(link.get("operation_id").is_none(), "{name}: {link}");
            }
        }
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let routed = routed();
        let documented = documented();
        assert!(routed.len() >= 35, "route scan found only {routed:?}");
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from OpenAPI: {undocumented:?}"
        );
        assert!(
            phantom.is_empty(),
            "OpenAPI operations with no route: {phantom:?}"
        );
    }
}
