//! HTTP layer: envelope, errors, extractors, middleware and the routes of every domain.

pub mod actuator;
pub mod appspecs;
pub mod code;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod generate;
pub mod magic_prompts;
pub mod middleware;
pub mod nul;
pub mod projects;
pub mod social;
pub mod users;

use actix_web::web;

/// Everything under the context path (`/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    api_routes(cfg, actuator::routes);
}

/// The same with a management port (`management.server.port`): the actuator keeps only its
/// probes here (health, liveness, readiness, info); the rest lives on the management listener.
pub fn routes_with_management_port(cfg: &mut web::ServiceConfig) {
    api_routes(cfg, actuator::probe_routes);
}

fn api_routes(cfg: &mut web::ServiceConfig, actuator: fn(&mut web::ServiceConfig)) {
    cfg.service(web::scope("/actuator").configure(actuator))
        .service(
            web::scope("/v1")
                .configure(users::routes)
                .configure(appspecs::routes)
                .configure(generate::routes)
                .configure(code::routes)
                .configure(projects::routes)
                .configure(social::routes)
                .configure(magic_prompts::routes),
        )
        .service(web::scope("/preview").configure(code::preview::routes));
}
