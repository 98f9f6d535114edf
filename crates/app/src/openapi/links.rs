//! OpenAPI links from the operations that create a resource to every operation that names it in
//! its path ([`ResourceLinks`], a utoipa `Modify`), derived from path prefixes so a new route under
//! a linked prefix is linked without a change here. Clients read them as "what to call next";
//! schemathesis' stateful phase follows them to reach real resources instead of random ids.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::Modify;

/// One creating response and what it names.
pub struct Source {
    pub method: &'static str,
    pub path: &'static str,
    pub status: &'static str,
    /// Operations whose path starts with this prefix take the created resource.
    pub target_prefix: &'static str,
    /// Path parameter → runtime expression reading it from the response.
    pub parameters: &'static [(&'static str, &'static str)],
}

/// The creating operations. A new kind of resource adds one entry.
pub const SOURCES: &[Source] = &[
    Source {
        method: "post",
        path: "/v1/appspecs",
        status: "201",
        target_prefix: "/v1/appspecs/{id}",
        parameters: &[
            ("id", "$response.body#/data/id"),
            ("n", "$response.body#/data/version"),
        ],
    },
    Source {
        method: "post",
        path: "/v1/appspecs/{id}/render",
        status: "202",
        target_prefix: "/v1/generate/jobs/{id}",
        parameters: &[("id", "$response.body#/data/jobId")],
    },
    Source {
        method: "post",
        path: "/v1/generate",
        status: "202",
        target_prefix: "/v1/generate/jobs/{id}",
        parameters: &[("id", "$response.body#/data/jobId")],
    },
];

pub struct ResourceLinks;

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut OpenApi) {
        for source in SOURCES {
            let targets: Vec<(String, Vec<&str>)> = openapi
                .paths
                .paths
                .iter()
                .filter(|(path, _)| path.starts_with(source.target_prefix))
                .flat_map(|(path, item)| {
                    operations(item)
                        .into_iter()
                        .filter_map(move |op| Some((op.operation_id.clone()?, path.as_str())))
                })
                .map(|(id, path)| {
                    let params = source
                        .parameters
                        .iter()
                        .map(|(p, _)| *p)
                        .filter(|p| path.contains(&format!("{{{p}}}")))
                        .collect();
                    (id, params)
                })
                .collect();
            let Some(response) = openapi
                .paths
                .paths
                .get_mut(source.path)
                .and_then(|item| operation_mut(item, source.method))
                .and_then(|op| op.responses.responses.get_mut(source.status))
            else {
                continue;
            };
            let RefOr::T(response) = response else {
                continue;
            };
            for (operation_id, params) in targets {
                // utoipa 5.5 serializes `Link::operation_id` as `operation_id`; OpenAPI (and every
                // tool reading links) wants `operationId`, which an unprefixed extension spells.
                let mut link = LinkBuilder::new().extensions(Some(Extensions::from_iter([(
                    "operationId",
                    operation_id.clone(),
                )])));
                for (name, expression) in source.parameters {
                    if params.contains(name) {
                        link = link.parameter(*name, *expression);
                    }
                }
                response.links.insert(operation_id, RefOr::T(link.build()));
            }
        }
    }
}

fn operations(item: &PathItem) -> Vec<&Operation> {
    [
        item.get.as_ref(),
        item.put.as_ref(),
        item.post.as_ref(),
        item.delete.as_ref(),
        item.patch.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn operation_mut<'a>(item: &'a mut PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "get" => item.get.as_mut(),
        "put" => item.put.as_mut(),
        "post" => item.post.as_mut(),
        "delete" => item.delete.as_mut(),
        "patch" => item.patch.as_mut(),
        _ => None,
    }
}
