//! End-to-end tests of the server through `spawn_app()`: one test binary for the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actuator;
mod appspecs;
mod auth;
mod bench;
mod binary;
mod code;
mod envelope;
mod generate;
mod outages;
mod projects;
mod rate_limit;
mod reset_mail;
mod social;
mod tenant_matrix;

/// The value of the Prometheus sample `name{labels}` on `app` (0 when absent).
pub async fn sample(app: &ingenio_testkit::app::TestApp, name_and_labels: &str) -> f64 {
    let p = app.get("/api/actuator/prometheus", None).await;
    let prefix = format!("{name_and_labels} ");
    p.text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.parse().unwrap())
}
