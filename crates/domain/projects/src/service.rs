//! `ProjectService`: the only place with project rules — the read rule on every read, ownership
//! on every change, the status moves, forks and lineage, and the cached listings.
//!
//! Status moves: `publish` (any status → `published`; needs a spec with generated code whose
//! lifecycle allows `published`; a `private` project becomes `public`, an `unlisted` one stays
//! unlisted), `unpublish` (→ `draft`, leaves the gallery, visibility kept) and `archive`
//! (→ `archived`, leaves the gallery, still readable by id per its visibility). Both withdrawals
//! move a `published` spec back to `generated`. Editing a project never changes its status.

use crate::cache::{CacheKind, CachedPage, ListCache, SharedPage};
use crate::errors::ProjectError;
use crate::lineage::{self, Lineage};
use crate::models::{
    ForkRequest, GalleryQuery, MyProjectsQuery, NewProject, Project, ProjectStats, ProjectStatus,
    ProjectUpdate,
};
use crate::ports::{CreateOutcome, ForkOutcome, ProjectRepository, PublishOutcome};
use ingenio_kernel::{Clock, Page, PageRequest, ProjectId, TenantId, Viewer};
use std::sync::Arc;

/// Bounds of a lineage answer.
#[derive(Debug, Clone, Copy)]
pub struct ProjectConfig {
    /// The tenant of anonymous readers (the gallery, public project pages).
    pub anonymous_tenant: TenantId,
    /// How far a lineage walk goes up and down.
    pub lineage_max_depth: i32,
    /// How many descendants a lineage answer lists at most.
    pub lineage_max_nodes: i64,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            anonymous_tenant: TenantId::default(),
            lineage_max_depth: 100,
            lineage_max_nodes: 500,
        }
    }
}

/// Project use cases.
#[derive(Clone)]
pub struct ProjectService {
    repo: Arc<dyn ProjectRepository>,
    cache: Arc<ListCache>,
    clock: Arc<dyn Clock>,
    config: ProjectConfig,
}

impl ProjectService {
    pub fn new(
        repo: Arc<dyn ProjectRepository>,
        cache: Arc<ListCache>,
        clock: Arc<dyn Clock>,
        config: ProjectConfig,
    ) -> Self {
        Self {
            repo,
            cache,
            clock,
            config,
        }
    }

    pub fn config(&self) -> &ProjectConfig {
        &self.config
    }

    /// The project if `viewer` (or an anonymous reader) may read it, else `NotFound`.
    pub async fn get(
        &self,
        viewer: Option<&Viewer>,
        id: ProjectId,
    ) -> Result<Project, ProjectError> {
        let tenant = viewer.map_or(self.config.anonymous_tenant, |v| v.tenant);
        match self.repo.get(tenant, id).await? {
            Some(p) if p.readable_by(viewer, self.config.anonymous_tenant) => Ok(p),
            _ => Err(ProjectError::NotFound),
        }
    }

    /// The small public read API other domains (social) use: whether `viewer` may read the
    /// project. `Ok(false)` for a missing project.
    pub async fn can_read(
        &self,
        viewer: Option<&Viewer>,
        id: ProjectId,
    ) -> Result<bool, ProjectError> {
        match self.get(viewer, id).await {
            Ok(_) => Ok(true),
            Err(ProjectError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The project if `viewer` manages it; `NotFound` when unreadable, `AccessDenied` when
    /// readable but someone else's.
    async fn managed(&self, viewer: &Viewer, id: ProjectId) -> Result<Project, ProjectError> {
        let p = self.get(Some(viewer), id).await?;
        if p.is_managed_by(viewer) {
            Ok(p)
        } else {
            Err(ProjectError::AccessDenied)
        }
    }

    pub async fn create(
        &self,
        viewer: &Viewer,
        project: NewProject,
    ) -> Result<Project, ProjectError> {
        match self
            .repo
            .create(viewer.tenant, viewer.user, &project)
            .await?
        {
            CreateOutcome::Created(p) => {
                self.cache.evict_user(p.tenant_id, p.owner).await;
                Ok(*p)
            }
            CreateOutcome::SpecNotFound => Err(ProjectError::SpecNotFound),
        }
    }

    /// The caller's projects (cached per query; live fields re-read when older than a few
    /// seconds).
    pub async fn list_mine(
        &self,
        viewer: &Viewer,
        query: &MyProjectsQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, ProjectError> {
        let kind = CacheKind::MyProjects;
        let key = self
            .cache
            .my_list_key(viewer.tenant, viewer.user, query, page)
            .await;
        if let Some(key) = &key {
            if let Some(mut cached) = self.cache.read(kind, key).await {
                let now = self.clock.now();
                let max_age = self.cache.settings().live_fields_max_age;
                let stale = (now - cached.cached_at)
                    .to_std()
                    .map_or(true, |age| age > max_age);
                if stale && !cached.records.is_empty() {
                    let ids: Vec<ProjectId> = cached.records.iter().map(|p| p.id).collect();
                    let live = self.repo.live_fields(viewer.tenant, &ids).await?;
                    for p in &mut cached.records {
                        if let Some(l) = live.iter().find(|l| l.id == p.id) {
                            p.refresh(l);
                        }
                    }
                    cached.cached_at = now;
                    self.cache.write(kind, key, &cached).await;
                }
                return Ok(cached.into_page(page));
            }
        }
        let fresh = self
            .repo
            .list_mine(viewer.tenant, viewer.user, query, page)
            .await?;
        if let Some(key) = &key {
            let entry = CachedPage {
                records: fresh.records.clone(),
                total: fresh.total,
                cached_at: self.clock.now(),
            };
            self.cache.write(kind, key, &entry).await;
        }
        Ok(fresh)
    }

    pub async fn update(
        &self,
        viewer: &Viewer,
        id: ProjectId,
        update: ProjectUpdate,
    ) -> Result<Project, ProjectError> {
        let current = self.managed(viewer, id).await?;
        if update.is_empty() {
            return Ok(current);
        }
        let updated = self
            .repo
            .update(current.tenant_id, id, &update)
            .await?
            .ok_or(ProjectError::NotFound)?;
        self.cache
            .evict_user(updated.tenant_id, updated.owner)
            .await;
        Ok(updated)
    }

    pub async fn delete(&self, viewer: &Viewer, id: ProjectId) -> Result<(), ProjectError> {
        let current = self.managed(viewer, id).await?;
        if !self.repo.delete(current.tenant_id, id).await? {
            return Err(ProjectError::NotFound);
        }
        self.cache
            .evict_user(current.tenant_id, current.owner)
            .await;
        Ok(())
    }

    pub async fn publish(&self, viewer: &Viewer, id: ProjectId) -> Result<Project, ProjectError> {
        let current = self.managed(viewer, id).await?;
        let p = match self.repo.publish(current.tenant_id, id).await? {
            PublishOutcome::Published(p) => *p,
            PublishOutcome::NoCode => {
                return Err(ProjectError::NotPublishable(
                    "only a project whose app spec has generated code can be published; generate it first"
                        .to_owned(),
                ))
            }
            PublishOutcome::SpecNotReady { status } => {
                return Err(ProjectError::NotPublishable(format!(
                    "the app spec is {status} (edited since its last render); regenerate it before publishing"
                )))
            }
            PublishOutcome::NotFound => return Err(ProjectError::NotFound),
        };
        self.cache.evict_user(p.tenant_id, p.owner).await;
        Ok(p)
    }

    /// `unpublish` (→ `draft`) or `archive` (→ `archived`).
    pub async fn withdraw(
        &self,
        viewer: &Viewer,
        id: ProjectId,
        to: ProjectStatus,
    ) -> Result<Project, ProjectError> {
        if to == ProjectStatus::Published {
            return self.publish(viewer, id).await;
        }
        let current = self.managed(viewer, id).await?;
        let p = self
            .repo
            .withdraw(current.tenant_id, id, to)
            .await?
            .ok_or(ProjectError::NotFound)?;
        self.cache.evict_user(p.tenant_id, p.owner).await;
        Ok(p)
    }

    pub async fn stats(&self, viewer: &Viewer) -> Result<ProjectStats, ProjectError> {
        Ok(self.repo.stats(viewer.tenant, viewer.user).await?)
    }

    /// The public gallery (first pages of each sort cached briefly).
    pub async fn gallery(
        &self,
        viewer: Option<&Viewer>,
        query: &GalleryQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, ProjectError> {
        Ok(self.gallery_shared(viewer, query, page).await?.to_page())
    }

    /// [`ProjectService::gallery`] without copying: a cached page comes back shared, with
    /// whatever rendering of it an earlier request kept.
    pub async fn gallery_shared(
        &self,
        viewer: Option<&Viewer>,
        query: &GalleryQuery,
        page: PageRequest,
    ) -> Result<Arc<SharedPage>, ProjectError> {
        let tenant = viewer.map_or(self.config.anonymous_tenant, |v| v.tenant);
        let key = self.cache.gallery_key(tenant, query, page);
        if let Some(key) = &key {
            if let Some(cached) = self.cache.read_gallery(key, page).await {
                return Ok(cached);
            }
        }
        let fresh = self.repo.gallery(tenant, query, page).await?;
        let entry = CachedPage {
            records: fresh.records,
            total: fresh.total,
            cached_at: self.clock.now(),
        };
        Ok(match &key {
            Some(key) => self.cache.write_gallery(key, entry, page).await,
            None => Arc::new(SharedPage::new(entry, page)),
        })
    }

    /// Forks a project the viewer may read and does not own into a private draft of theirs.
    pub async fn fork(
        &self,
        viewer: &Viewer,
        id: ProjectId,
        request: ForkRequest,
    ) -> Result<Project, ProjectError> {
        let source = self.get(Some(viewer), id).await?;
        if source.owner == viewer.user {
            return Err(ProjectError::OwnProject);
        }
        match self.repo.fork(*viewer, &source, &request).await? {
            ForkOutcome::Forked(p) => {
                self.cache.evict_user(p.tenant_id, p.owner).await;
                Ok(*p)
            }
            ForkOutcome::AlreadyForked => Err(ProjectError::AlreadyForked),
            ForkOutcome::SourceGone => Err(ProjectError::NotFound),
        }
    }

    /// Direct forks the viewer may list.
    pub async fn forks(
        &self,
        viewer: Option<&Viewer>,
        id: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Project>, ProjectError> {
        let p = self.get(viewer, id).await?;
        Ok(self
            .repo
            .forks(p.tenant_id, viewer.copied(), id, page)
            .await?)
    }

    /// Ancestors and descendants, redacted for the viewer.
    pub async fn lineage(
        &self,
        viewer: Option<&Viewer>,
        id: ProjectId,
    ) -> Result<Lineage, ProjectError> {
        let p = self.get(viewer, id).await?;
        let rows = self
            .repo
            .lineage(
                p.tenant_id,
                id,
                self.config.lineage_max_depth,
                self.config.lineage_max_nodes,
            )
            .await?;
        Ok(lineage::assemble(
            p,
            rows,
            viewer,
            self.config.anonymous_tenant,
        ))
    }

    /// Evicts the cached lists of a project's owner after a change made elsewhere (generation).
    pub async fn changed_for(&self, tenant: TenantId, owner: ingenio_kernel::UserId) {
        self.cache.evict_user(tenant, owner).await;
    }
}
