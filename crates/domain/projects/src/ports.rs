//! Ports of the projects domain: project storage (with forks and lineage) and the cache. Each
//! method documents what an adapter MUST return.

use crate::models::{
    ForkRequest, GalleryQuery, LiveFields, MyProjectsQuery, NewProject, Project, ProjectStats,
    ProjectStatus, ProjectUpdate,
};
use async_trait::async_trait;
use ingenio_kernel::{Page, PageRequest, ProjectId, StoreError, TenantId, UserId, Viewer};
use std::time::Duration;

/// What [`ProjectRepository::create`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created(Box<Project>),
    /// `app_spec_id` names no spec of the owner in the tenant; nothing was written.
    SpecNotFound,
}

/// What [`ProjectRepository::publish`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    /// The project is `published` (and `public` if it was `private`); its spec is `published`.
    Published(Box<Project>),
    /// The project has no spec, or its spec has no generated code; nothing was written.
    NoCode,
    /// The spec's lifecycle refuses `published` (e.g. edited since its last render: `draft`).
    SpecNotReady {
        status: String,
    },
    NotFound,
}

/// What [`ProjectRepository::fork`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ForkOutcome {
    /// The fork (a private draft of the forker) with its deep-copied spec.
    Forked(Box<Project>),
    /// The forker already has a fork of this source (the unique index said so); nothing written.
    AlreadyForked,
    /// The source vanished meanwhile.
    SourceGone,
}

/// One node of a lineage as stored: the project and the project it was forked from.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageRow {
    pub project: Project,
    /// `None` for the root of the walk.
    pub parent: Option<ProjectId>,
    /// Distance from the project asked about (ancestors and descendants alike, ≥ 1).
    pub depth: i32,
}

/// The raw lineage of a project.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineageRows {
    /// From the direct source up to the root, nearest first.
    pub ancestors: Vec<LineageRow>,
    /// Breadth-first (by depth, then creation), at most the cap asked for.
    pub descendants: Vec<LineageRow>,
    /// Whether the walk stopped at a cap (more nodes or a deeper level exist).
    pub truncated: bool,
}

/// Projects and forks.
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Inserts a project of `owner`, checking that `app_spec_id` (if any) is one of the owner's.
    async fn create(
        &self,
        tenant: TenantId,
        owner: UserId,
        project: &NewProject,
    ) -> Result<CreateOutcome, StoreError>;
    /// The project with its latest render, whoever owns it (the service applies the read rule).
    async fn get(&self, tenant: TenantId, id: ProjectId) -> Result<Option<Project>, StoreError>;
    /// The owner's projects, newest first (id as tie-break), with the total.
    async fn list_mine(
        &self,
        tenant: TenantId,
        owner: UserId,
        query: &MyProjectsQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError>;
    /// The live fields of `ids` (absent ids are skipped).
    async fn live_fields(
        &self,
        tenant: TenantId,
        ids: &[ProjectId],
    ) -> Result<Vec<LiveFields>, StoreError>;
    /// Applies `update`; `Ok(None)` when the project does not exist.
    async fn update(
        &self,
        tenant: TenantId,
        id: ProjectId,
        update: &ProjectUpdate,
    ) -> Result<Option<Project>, StoreError>;
    /// Deletes the project (its forks keep existing, their lineage link goes). `false` if absent.
    async fn delete(&self, tenant: TenantId, id: ProjectId) -> Result<bool, StoreError>;
    /// In ONE transaction: checks the spec has generated code and that its lifecycle allows
    /// `published`, moves the spec to `published` and the project to `published` (setting
    /// `published_at` and turning `private` into `public`).
    async fn publish(&self, tenant: TenantId, id: ProjectId) -> Result<PublishOutcome, StoreError>;
    /// Moves the project to `to` (`draft` or `archived`) and, in the same transaction, a
    /// `published` spec back to `generated`. `Ok(None)` when the project does not exist.
    async fn withdraw(
        &self,
        tenant: TenantId,
        id: ProjectId,
        to: ProjectStatus,
    ) -> Result<Option<Project>, StoreError>;
    /// Counts over the owner's projects.
    async fn stats(&self, tenant: TenantId, owner: UserId) -> Result<ProjectStats, StoreError>;
    /// The gallery: `public` + `published` + not hidden, filtered and sorted with the id as the
    /// final tie-break.
    async fn gallery(
        &self,
        tenant: TenantId,
        query: &GalleryQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError>;
    /// In ONE transaction: deep-copies the source's spec (a new spec whose version 1 is of type
    /// `fork` recording the source spec and version), inserts the fork project (private draft of
    /// the viewer) and the `forks` row, and increments the source's `fork_count` with
    /// `fork_count = fork_count + 1`. A second fork of the same source by the same user MUST
    /// answer [`ForkOutcome::AlreadyForked`] even under a race (the unique index decides).
    async fn fork(
        &self,
        viewer: Viewer,
        source: &Project,
        request: &ForkRequest,
    ) -> Result<ForkOutcome, StoreError>;
    /// Direct forks of `id` that `viewer` may list (public and not hidden, or their own; all for
    /// an admin of the tenant), newest first.
    async fn forks(
        &self,
        tenant: TenantId,
        viewer: Option<Viewer>,
        id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Project>, StoreError>;
    /// Ancestors up to the root and descendants, any depth up to `max_depth`, cycle-safe, at most
    /// `max_nodes` descendants (`truncated` says when more exist).
    async fn lineage(
        &self,
        tenant: TenantId,
        id: ProjectId,
        max_depth: i32,
        max_nodes: i64,
    ) -> Result<LineageRows, StoreError>;
}

/// A small key-value cache with counters (Redis, or in-process). Errors mean the backend failed;
/// the service falls back to the database and never surfaces them.
#[async_trait]
pub trait ProjectCache: Send + Sync {
    async fn get(&self, key: &str) -> anyhow::Result<Option<String>>;
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> anyhow::Result<()>;
    /// The counter at `key` (0 when absent).
    async fn counter(&self, key: &str) -> anyhow::Result<u64>;
    /// Increments the counter at `key` and returns the new value.
    async fn bump(&self, key: &str) -> anyhow::Result<u64>;
    /// A short name for logs and metrics (`redis`, `embedded`).
    fn backend(&self) -> &'static str;
}
