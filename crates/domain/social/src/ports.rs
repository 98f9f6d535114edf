//! Ports of the social domain. Each method documents what an adapter MUST return; adapters map
//! their own failures onto these and never leak driver error types.

use crate::models::{
    Comment, CommentRef, Counters, MagicPrompt, ProjectCard, ProjectRef, PromptDraft, PromptFilter,
    ReactionKind, ReactionState, Report, ReportOutcome, ReportStatus, Resolution, ResolveOutcome,
    TargetKind, ViewerKey,
};
use async_trait::async_trait;
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, ProjectId, StoreError, TenantId, UserId, Viewer};

/// The project read rule, in one place so that it can be swapped for the projects domain's own.
#[async_trait]
pub trait ProjectAccess: Send + Sync {
    /// The project when the caller may read it, else `Ok(None)` (missing and unreadable are the
    /// same answer). The rule: the project must be in `tenant`; its owner may always read it; an
    /// admin of the tenant may read anything; anyone else (anonymous callers too) only `public`
    /// and `unlisted` projects that are not hidden by moderation (`hidden_at IS NULL`).
    async fn readable(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        project: ProjectId,
    ) -> Result<Option<ProjectRef>, StoreError>;
}

/// Why a magic prompt could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PromptWriteError {
    /// Another prompt of the tenant has this title (`idx_magic_prompts_tenant_title`).
    #[error("title taken")]
    TitleTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Storage of magic prompts.
#[async_trait]
pub trait MagicPromptRepository: Send + Sync {
    /// A page of the tenant's prompts matching `filter` (`status: None` = active only), ordered
    /// by `filter.sort` (default popular: usage count, then newest) with the id as tie-break.
    async fn list(
        &self,
        tenant: TenantId,
        filter: &PromptFilter,
        page: PageRequest,
    ) -> Result<Page<MagicPrompt>, StoreError>;
    /// A prompt of the tenant whatever its status; `Ok(None)` when missing.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<MagicPrompt>, StoreError>;
    /// Inserts a prompt. MUST return `TitleTaken` on a duplicate title in the tenant.
    async fn create(
        &self,
        tenant: TenantId,
        created_by: Option<UserId>,
        draft: &PromptDraft,
    ) -> Result<MagicPrompt, PromptWriteError>;
    /// Replaces every written field (counters are kept). `Ok(None)` when missing; `TitleTaken`
    /// on a duplicate title.
    async fn update(
        &self,
        tenant: TenantId,
        id: Uuid,
        draft: &PromptDraft,
    ) -> Result<Option<MagicPrompt>, PromptWriteError>;
    /// `Ok(false)` when missing.
    async fn delete(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Adds one to the usage count of an active prompt, atomically; `Ok(false)` when there is
    /// no such active prompt.
    async fn record_use(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Inserts or updates the prompt keyed by `draft.slug` (stored in `metadata.slug`): content
    /// fields are replaced, status and counters kept. Returns the prompt and whether it was
    /// inserted. Running it twice with the same draft changes nothing the second time.
    async fn upsert_by_slug(
        &self,
        tenant: TenantId,
        draft: &PromptDraft,
    ) -> Result<(MagicPrompt, bool), PromptWriteError>;
}

/// Likes, favorites, comments and views. Every counter change happens in the same statement or
/// transaction as the row it counts, and only when a row was really inserted or deleted, so the
/// counters are exact under any interleaving and never below zero.
#[async_trait]
pub trait InteractionRepository: Send + Sync {
    /// Adds the reaction if absent (idempotent), bumping `like_count` for a new like.
    async fn react(
        &self,
        project: ProjectRef,
        user: UserId,
        kind: ReactionKind,
    ) -> Result<ReactionState, StoreError>;
    /// Removes the reaction if present (idempotent), lowering `like_count` for a removed like.
    async fn unreact(
        &self,
        project: ProjectRef,
        user: UserId,
        kind: ReactionKind,
    ) -> Result<ReactionState, StoreError>;
    /// The caller's favorites that they can still read (read rule as [`ProjectAccess`]), newest
    /// favorite first.
    async fn favorites(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<ProjectCard>, StoreError>;
    /// Inserts a comment and bumps `comment_count` in one transaction.
    async fn add_comment(
        &self,
        project: ProjectRef,
        author: UserId,
        content: &str,
    ) -> Result<Comment, StoreError>;
    /// A page of a project's comments, newest first. Hidden comments are included only for
    /// `show_hidden_of` = `Some((user, admin))` when `admin` (all) or for that user's own.
    async fn comments(
        &self,
        project: ProjectId,
        show_hidden_of: Option<(UserId, bool)>,
        page: PageRequest,
    ) -> Result<Page<Comment>, StoreError>;
    /// A comment of the tenant; `Ok(None)` when missing.
    async fn comment(&self, tenant: TenantId, id: Uuid) -> Result<Option<CommentRef>, StoreError>;
    /// Deletes a comment, lowering `comment_count` if it was visible, in one transaction.
    /// `Ok(false)` when it was already gone.
    async fn delete_comment(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Counts a view by `viewer` unless one was counted within the last `window_secs` seconds;
    /// atomic, so concurrent views by one viewer count once. Returns whether it counted.
    async fn record_view(
        &self,
        project: ProjectRef,
        viewer: &ViewerKey,
        window_secs: i64,
    ) -> Result<bool, StoreError>;
    /// The project's counters.
    async fn counters(&self, project: ProjectId) -> Result<Counters, StoreError>;
    /// Deletes the view records counted more than `window_secs` seconds ago: past the window a
    /// record no longer keeps anything from counting. Returns the rows deleted.
    async fn purge_views(&self, window_secs: i64) -> Result<u64, StoreError>;
}

/// Reports and their resolution.
#[async_trait]
pub trait ReportRepository: Send + Sync {
    /// Files a report unless `reporter` already reported this target (then returns the earlier
    /// one with `created: false`). In the same transaction, when the distinct reporters with an
    /// open report reach `threshold`, hides the target (`hidden_at = now()`; a hidden comment no
    /// longer counts in `comment_count`).
    #[allow(clippy::too_many_arguments)]
    async fn report(
        &self,
        tenant: TenantId,
        reporter: UserId,
        kind: TargetKind,
        target: Uuid,
        project: ProjectId,
        reason: &str,
        threshold: u32,
    ) -> Result<ReportOutcome, StoreError>;
    /// A page of the tenant's reports: open ones first (oldest first), then resolved ones
    /// (most recently resolved first); `status` filters.
    async fn reports(
        &self,
        tenant: TenantId,
        status: Option<ReportStatus>,
        page: PageRequest,
    ) -> Result<Page<Report>, StoreError>;
    /// Applies the decision to the report's target (hide, restore or delete) and resolves every
    /// open report on that target with the same who / when / why, in one transaction.
    async fn resolve(
        &self,
        tenant: TenantId,
        id: Uuid,
        admin: UserId,
        resolution: &Resolution,
    ) -> Result<ResolveOutcome, StoreError>;
}
