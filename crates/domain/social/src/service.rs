//! `SocialService`: the only place with the social rules — who may react to, comment on, view
//! and report what, moderation, and filling magic prompts.

use crate::errors::SocialError;
use crate::models::{
    Comment, Counters, MagicPrompt, ModerationAction, ProjectCard, ProjectRef, PromptDraft,
    PromptFilter, RawPromptDraft, ReactionKind, ReactionState, Report, ReportOutcome, ReportStatus,
    Resolution, ResolveOutcome, TargetKind, ViewerKey,
};
use crate::moderation::{self, BlockedWords};
use crate::ports::{
    InteractionRepository, MagicPromptRepository, ProjectAccess, PromptWriteError, ReportRepository,
};
use crate::recent::{RecentViews, DEFAULT_CAPACITY, DEFAULT_MEMO};
use crate::template::{self, Template};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, ProjectId, TenantId, Viewer};
use std::sync::Arc;

/// Shortest and longest requirement a filled prompt may give (the generation request's bounds).
pub const REQUIREMENT_CHARS: std::ops::RangeInclusive<usize> = 10..=5000;

/// The rules' settings (`ingenio.moderation.*`, `ingenio.social.*`).
#[derive(Debug, Clone)]
pub struct SocialConfig {
    /// Distinct reporters that hide an item until an admin reviews it.
    pub report_threshold: u32,
    /// Longest comment in characters.
    pub comment_max_chars: usize,
    pub blocked_words: BlockedWords,
    /// Seconds within which a viewer's second view is not counted again.
    pub view_window_secs: i64,
}

impl Default for SocialConfig {
    fn default() -> Self {
        Self {
            report_threshold: moderation::DEFAULT_REPORT_THRESHOLD,
            comment_max_chars: moderation::DEFAULT_COMMENT_MAX_CHARS,
            blocked_words: BlockedWords::default(),
            view_window_secs: 24 * 3600,
        }
    }
}

/// The ports the service works through.
#[derive(Clone)]
pub struct SocialPorts {
    pub access: Arc<dyn ProjectAccess>,
    pub prompts: Arc<dyn MagicPromptRepository>,
    pub interactions: Arc<dyn InteractionRepository>,
    pub reports: Arc<dyn ReportRepository>,
}

/// A filled magic prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct FilledPrompt {
    pub prompt: MagicPrompt,
    /// The requirement text (the template with every placeholder filled).
    pub requirement: String,
}

#[derive(Clone)]
pub struct SocialService {
    ports: SocialPorts,
    config: Arc<SocialConfig>,
    recent_views: Arc<RecentViews>,
}

fn write_err(e: PromptWriteError) -> SocialError {
    match e {
        PromptWriteError::TitleTaken => {
            SocialError::conflict("title", "another magic prompt already has this title")
        }
        PromptWriteError::Store(e) => e.into(),
    }
}

impl SocialService {
    pub fn new(ports: SocialPorts, config: SocialConfig) -> Self {
        let window = std::time::Duration::from_secs(config.view_window_secs.max(0).unsigned_abs());
        Self {
            ports,
            recent_views: Arc::new(RecentViews::new(DEFAULT_MEMO, window, DEFAULT_CAPACITY)),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &SocialConfig {
        &self.config
    }

    /// The project if the caller may read it, else `ProjectNotFound` (never a 403).
    async fn project(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        id: ProjectId,
    ) -> Result<ProjectRef, SocialError> {
        self.ports
            .access
            .readable(viewer, tenant, id)
            .await?
            .ok_or(SocialError::ProjectNotFound)
    }

    // ---- magic prompts ----------------------------------------------------------------------

    /// Prompts of the tenant; only admins may ask for other statuses than `active`.
    pub async fn prompts(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        mut filter: PromptFilter,
        page: PageRequest,
    ) -> Result<Page<MagicPrompt>, SocialError> {
        if !viewer.is_some_and(|v| v.admin) {
            filter.status = None;
            filter.any_status = false;
        }
        filter.q = filter
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        filter.tag = filter
            .tag
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        Ok(self.ports.prompts.list(tenant, &filter, page).await?)
    }

    /// One prompt: active ones for everyone, any for admins.
    pub async fn prompt(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<MagicPrompt, SocialError> {
        let p = self
            .ports
            .prompts
            .get(tenant, id)
            .await?
            .ok_or(SocialError::PromptNotFound)?;
        let admin = viewer.is_some_and(|v| v.admin);
        if p.status != crate::models::PromptStatus::Active && !admin {
            return Err(SocialError::PromptNotFound);
        }
        Ok(p)
    }

    /// Fills an active prompt with `variables` over its defaults, without counting a use.
    /// Unknown variables and placeholders left without a value are refused (400, naming them);
    /// so is a result outside 10–5000 characters.
    pub async fn fill(
        &self,
        tenant: TenantId,
        id: Uuid,
        variables: &serde_json::Value,
    ) -> Result<FilledPrompt, SocialError> {
        let prompt = self.prompt(None, tenant, id).await?;
        let vars = template::variables_from_json("variables", variables)?;
        let requirement = Template::parse(&prompt.prompt_template)
            .fill(&prompt.default_variables, &vars)?
            .trim()
            .to_owned();
        if !REQUIREMENT_CHARS.contains(&requirement.chars().count()) {
            return Err(SocialError::invalid(
                "variables",
                "the filled requirement must be 10 to 5000 characters",
            ));
        }
        Ok(FilledPrompt {
            prompt,
            requirement,
        })
    }

    /// Counts one use of an active prompt (a generation was accepted, or `/use` was called).
    pub async fn count_use(&self, tenant: TenantId, id: Uuid) -> Result<(), SocialError> {
        if self.ports.prompts.record_use(tenant, id).await? {
            Ok(())
        } else {
            Err(SocialError::PromptNotFound)
        }
    }

    /// `POST /magic-prompts/{id}/use`: fills the prompt and counts the use.
    pub async fn use_prompt(
        &self,
        tenant: TenantId,
        id: Uuid,
        variables: &serde_json::Value,
    ) -> Result<FilledPrompt, SocialError> {
        let mut filled = self.fill(tenant, id, variables).await?;
        self.count_use(tenant, id).await?;
        filled.prompt.usage_count += 1;
        Ok(filled)
    }

    fn require_admin(viewer: Viewer) -> Result<(), SocialError> {
        if viewer.admin {
            Ok(())
        } else {
            Err(SocialError::Forbidden("administrator role required"))
        }
    }

    pub async fn create_prompt(
        &self,
        admin: Viewer,
        raw: RawPromptDraft,
    ) -> Result<MagicPrompt, SocialError> {
        Self::require_admin(admin)?;
        let mut draft = PromptDraft::validate(raw)?;
        // slugs belong to the seed file
        draft.slug = None;
        self.ports
            .prompts
            .create(admin.tenant, Some(admin.user), &draft)
            .await
            .map_err(write_err)
    }

    pub async fn update_prompt(
        &self,
        admin: Viewer,
        id: Uuid,
        raw: RawPromptDraft,
    ) -> Result<MagicPrompt, SocialError> {
        Self::require_admin(admin)?;
        let draft = PromptDraft::validate(raw)?;
        self.ports
            .prompts
            .update(admin.tenant, id, &draft)
            .await
            .map_err(write_err)?
            .ok_or(SocialError::PromptNotFound)
    }

    pub async fn delete_prompt(&self, admin: Viewer, id: Uuid) -> Result<(), SocialError> {
        Self::require_admin(admin)?;
        if self.ports.prompts.delete(admin.tenant, id).await? {
            Ok(())
        } else {
            Err(SocialError::PromptNotFound)
        }
    }

    /// Loads curated prompts keyed by their slug (every draft must have one). Returns how many
    /// were inserted and how many updated.
    pub async fn seed_prompts(
        &self,
        tenant: TenantId,
        drafts: Vec<RawPromptDraft>,
    ) -> Result<(usize, usize), SocialError> {
        let mut validated = Vec::with_capacity(drafts.len());
        for raw in drafts {
            let d = PromptDraft::validate(raw)?;
            if d.slug.is_none() {
                return Err(SocialError::invalid(
                    "slug",
                    "every seeded prompt needs a slug",
                ));
            }
            validated.push(d);
        }
        let (mut inserted, mut updated) = (0, 0);
        for d in &validated {
            let (_, created) = self
                .ports
                .prompts
                .upsert_by_slug(tenant, d)
                .await
                .map_err(write_err)?;
            if created {
                inserted += 1;
            } else {
                updated += 1;
            }
        }
        Ok((inserted, updated))
    }

    // ---- reactions, favorites, views --------------------------------------------------------

    /// Like or favorite (idempotent).
    pub async fn react(
        &self,
        viewer: Viewer,
        project: ProjectId,
        kind: ReactionKind,
    ) -> Result<ReactionState, SocialError> {
        let p = self.project(Some(viewer), viewer.tenant, project).await?;
        Ok(self.ports.interactions.react(p, viewer.user, kind).await?)
    }

    /// Unlike or unfavorite (idempotent).
    pub async fn unreact(
        &self,
        viewer: Viewer,
        project: ProjectId,
        kind: ReactionKind,
    ) -> Result<ReactionState, SocialError> {
        let p = self.project(Some(viewer), viewer.tenant, project).await?;
        Ok(self
            .ports
            .interactions
            .unreact(p, viewer.user, kind)
            .await?)
    }

    pub async fn favorites(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<ProjectCard>, SocialError> {
        Ok(self.ports.interactions.favorites(viewer, page).await?)
    }

    /// Counts a view of a readable project: never the owner's, at most once per viewer per
    /// window. Anonymous viewers are keyed by `client_ip` (the trusted client address).
    /// Returns whether the view counted, and the counters.
    pub async fn view(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        project: ProjectId,
        client_ip: &str,
    ) -> Result<(bool, Counters), SocialError> {
        let p = self.project(viewer, tenant, project).await?;
        let counted = self.count_view(p, viewer, client_ip).await?;
        Ok((counted, self.ports.interactions.counters(project).await?))
    }

    /// [`Self::view`] for a project the caller has already read and found readable by `viewer`
    /// (the project page itself): no read, and no write either when this instance has just seen
    /// the same viewer on the same project. Returns whether the view counted.
    pub async fn count_view(
        &self,
        project: ProjectRef,
        viewer: Option<Viewer>,
        client_ip: &str,
    ) -> Result<bool, SocialError> {
        let key = match viewer {
            Some(v) if v.user == project.owner => return Ok(false),
            Some(v) => ViewerKey::User(v.user),
            None => ViewerKey::Anonymous(client_ip.to_owned()),
        };
        let key_text = key.key();
        let now = std::time::Instant::now();
        if self.recent_views.contains(project.id, &key_text, now) {
            return Ok(false);
        }
        let id = project.id;
        let counted = self
            .ports
            .interactions
            .record_view(project, &key, self.config.view_window_secs)
            .await?;
        self.recent_views.remember(id, &key_text, now);
        Ok(counted)
    }

    /// Housekeeping: drops view records older than the window (they no longer stop a view from
    /// counting). Returns the rows deleted.
    pub async fn purge_old_views(&self) -> Result<u64, SocialError> {
        Ok(self
            .ports
            .interactions
            .purge_views(self.config.view_window_secs.max(0))
            .await?)
    }

    // ---- comments ---------------------------------------------------------------------------

    pub async fn add_comment(
        &self,
        viewer: Viewer,
        project: ProjectId,
        content: &str,
    ) -> Result<Comment, SocialError> {
        let p = self.project(Some(viewer), viewer.tenant, project).await?;
        let text = moderation::comment_text(
            content,
            self.config.comment_max_chars,
            &self.config.blocked_words,
        )?;
        Ok(self
            .ports
            .interactions
            .add_comment(p, viewer.user, &text)
            .await?)
    }

    /// Newest first; hidden comments only for admins and their own author.
    pub async fn comments(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        project: ProjectId,
        page: PageRequest,
    ) -> Result<Page<Comment>, SocialError> {
        let p = self.project(viewer, tenant, project).await?;
        Ok(self
            .ports
            .interactions
            .comments(p.id, viewer.map(|v| (v.user, v.admin)), page)
            .await?)
    }

    /// Deletes a comment: its author, the project's owner or an admin. A comment on a project
    /// the caller cannot read, or a hidden comment of someone else, is not found.
    pub async fn delete_comment(&self, viewer: Viewer, id: Uuid) -> Result<(), SocialError> {
        let c = self
            .ports
            .interactions
            .comment(viewer.tenant, id)
            .await?
            .ok_or(SocialError::CommentNotFound)?;
        let p = self
            .project(Some(viewer), viewer.tenant, c.project_id)
            .await
            .map_err(|_| SocialError::CommentNotFound)?;
        let author = c.author == viewer.user;
        if c.hidden && !author && !viewer.admin && p.owner != viewer.user {
            return Err(SocialError::CommentNotFound);
        }
        if !(author || viewer.admin || p.owner == viewer.user) {
            return Err(SocialError::Forbidden(
                "only the comment's author, the project's owner or an admin may delete it",
            ));
        }
        if self.ports.interactions.delete_comment(id).await? {
            Ok(())
        } else {
            Err(SocialError::CommentNotFound)
        }
    }

    // ---- moderation -------------------------------------------------------------------------

    /// Reports a project the caller can read (not their own).
    pub async fn report_project(
        &self,
        viewer: Viewer,
        project: ProjectId,
        reason: Option<&str>,
    ) -> Result<ReportOutcome, SocialError> {
        let p = self.project(Some(viewer), viewer.tenant, project).await?;
        if p.owner == viewer.user {
            return Err(SocialError::invalid(
                "id",
                "you cannot report your own project",
            ));
        }
        self.file_report(viewer, TargetKind::Project, project.as_uuid(), p, reason)
            .await
    }

    /// Reports a visible comment on a project the caller can read (not their own).
    pub async fn report_comment(
        &self,
        viewer: Viewer,
        id: Uuid,
        reason: Option<&str>,
    ) -> Result<ReportOutcome, SocialError> {
        let c = self
            .ports
            .interactions
            .comment(viewer.tenant, id)
            .await?
            .ok_or(SocialError::CommentNotFound)?;
        let p = self
            .project(Some(viewer), viewer.tenant, c.project_id)
            .await
            .map_err(|_| SocialError::CommentNotFound)?;
        if c.author == viewer.user {
            return Err(SocialError::invalid(
                "id",
                "you cannot report your own comment",
            ));
        }
        if c.hidden && !viewer.admin {
            return Err(SocialError::CommentNotFound);
        }
        self.file_report(viewer, TargetKind::Comment, id, p, reason)
            .await
    }

    async fn file_report(
        &self,
        viewer: Viewer,
        kind: TargetKind,
        target: Uuid,
        project: ProjectRef,
        reason: Option<&str>,
    ) -> Result<ReportOutcome, SocialError> {
        let reason = moderation::reason_text("reason", reason, true)?.unwrap_or_default();
        Ok(self
            .ports
            .reports
            .report(
                viewer.tenant,
                viewer.user,
                kind,
                target,
                project.id,
                &reason,
                self.config.report_threshold,
            )
            .await?)
    }

    pub async fn reports(
        &self,
        admin: Viewer,
        status: Option<ReportStatus>,
        page: PageRequest,
    ) -> Result<Page<Report>, SocialError> {
        Self::require_admin(admin)?;
        Ok(self
            .ports
            .reports
            .reports(admin.tenant, status, page)
            .await?)
    }

    /// Resolves a report with `action` (`hide|restore|delete`) and an optional note.
    pub async fn resolve(
        &self,
        admin: Viewer,
        id: Uuid,
        action: &str,
        note: Option<&str>,
    ) -> Result<Report, SocialError> {
        Self::require_admin(admin)?;
        let action = ModerationAction::parse(action.trim()).ok_or_else(|| {
            SocialError::invalid("action", format!("must be {}", ModerationAction::choices()))
        })?;
        let note = moderation::reason_text("note", note, false)?;
        match self
            .ports
            .reports
            .resolve(admin.tenant, id, admin.user, &Resolution { action, note })
            .await?
        {
            ResolveOutcome::Resolved(r) => Ok(r),
            ResolveOutcome::NotFound => Err(SocialError::ReportNotFound),
            ResolveOutcome::AlreadyResolved(_) => Err(SocialError::conflict(
                "id",
                "the report is already resolved; its decision is kept as recorded",
            )),
        }
    }
}
