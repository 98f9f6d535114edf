//! `ReportRepository`: one report per user per item, the hide threshold applied under a lock
//! on the reported row (so concurrent reports by different users are counted exactly), and the
//! admin's decision applied to the item and recorded on every open report of it.

use super::interactions::delete_comment_on;
use super::{total, CountRow, PgSocialRepository};
use crate::code::OptionalRow as _;
use crate::pool::{conn, store_err};
use async_trait::async_trait;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, ProjectId, StoreError, TenantId, UserId};
use ingenio_social::moderation::reaches_threshold;
use ingenio_social::ports::ReportRepository;
use ingenio_social::{
    ModerationAction, Report, ReportOutcome, ReportStatus, Resolution, ResolveOutcome, TargetKind,
};

#[derive(Debug, QueryableByName)]
struct ReportRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    reporter_user_id: Uuid,
    #[diesel(sql_type = Text)]
    target_kind: String,
    #[diesel(sql_type = SqlUuid)]
    target_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    action: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    resolved_by_user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    resolved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    target_summary: Option<String>,
    #[diesel(sql_type = Bool)]
    target_hidden: bool,
}

/// A report with what the admin queue shows of its target.
const SELECT: &str = "SELECT r.id, r.tenant_id, r.reporter_user_id, r.target_kind::text AS target_kind, \
    r.target_id, r.project_id, r.reason, r.status::text AS status, r.action::text AS action, r.note, \
    r.resolved_by_user_id, r.resolved_at, r.created_at, \
    COALESCE(tp.name::text, tc.comment_content) AS target_summary, \
    COALESCE(tp.hidden_at, tc.hidden_at) IS NOT NULL AS target_hidden \
    FROM reports r \
    LEFT JOIN projects tp ON r.target_kind = 'project' AND tp.id = r.target_id \
    LEFT JOIN social_interactions tc ON r.target_kind = 'comment' AND tc.id = r.target_id";

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("reports row has an unknown {what} {v:?}"))
}

impl TryFrom<ReportRow> for Report {
    type Error = StoreError;
    fn try_from(r: ReportRow) -> Result<Self, StoreError> {
        Ok(Report {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            reporter: r.reporter_user_id.into(),
            target_kind: TargetKind::parse(&r.target_kind)
                .ok_or_else(|| bad("target_kind", &r.target_kind))?,
            target_id: r.target_id,
            project_id: r.project_id,
            reason: r.reason,
            status: ReportStatus::parse(&r.status).ok_or_else(|| bad("status", &r.status))?,
            action: match r.action {
                None => None,
                Some(a) => Some(ModerationAction::parse(&a).ok_or_else(|| bad("action", &a))?),
            },
            note: r.note,
            resolved_by: r.resolved_by_user_id.map(UserId::from),
            resolved_at: r.resolved_at,
            created_at: r.created_at,
            target_summary: r.target_summary,
            target_hidden: r.target_hidden,
        })
    }
}

async fn report_by_id(c: &mut AsyncPgConnection, id: Uuid) -> Result<ReportRow, DieselError> {
    crate::sql::query(format!("{SELECT} WHERE r.id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result(c)
        .await
}

/// Locks the reported row (`FOR UPDATE`) so the reports on one item are counted one after the
/// other. Returns whether the row exists.
async fn lock_target(
    c: &mut AsyncPgConnection,
    kind: TargetKind,
    target: Uuid,
) -> Result<bool, DieselError> {
    let sql = match kind {
        TargetKind::Project => "SELECT count(*) AS n FROM (SELECT 1 FROM projects WHERE id = $1 FOR UPDATE) t",
        TargetKind::Comment => {
            "SELECT count(*) AS n FROM (SELECT 1 FROM social_interactions WHERE id = $1 FOR UPDATE) t"
        }
    };
    let n: CountRow = crate::sql::query(sql)
        .bind::<SqlUuid, _>(target)
        .get_result(c)
        .await?;
    Ok(n.n > 0)
}

/// Hides or shows a target (`hide = true/false`); a comment that changes state moves its
/// project's `comment_count` in the same statement. Returns whether anything changed.
async fn set_hidden(
    c: &mut AsyncPgConnection,
    kind: TargetKind,
    target: Uuid,
    hide: bool,
) -> Result<bool, DieselError> {
    let sql = match (kind, hide) {
        (TargetKind::Project, true) => {
            "WITH h AS (UPDATE projects SET hidden_at = now() WHERE id = $1 AND hidden_at IS NULL \
             RETURNING id) SELECT count(*) AS n FROM h"
        }
        (TargetKind::Project, false) => {
            "WITH h AS (UPDATE projects SET hidden_at = NULL WHERE id = $1 AND hidden_at IS NOT NULL \
             RETURNING id) SELECT count(*) AS n FROM h"
        }
        (TargetKind::Comment, true) => {
            "WITH h AS (UPDATE social_interactions SET hidden_at = now() \
               WHERE id = $1 AND interaction_type = 'comment' AND hidden_at IS NULL RETURNING project_id), \
             bump AS (UPDATE projects p SET comment_count = GREATEST(p.comment_count - 1, 0) \
               FROM h WHERE p.id = h.project_id RETURNING p.id) \
             SELECT count(*) AS n FROM h"
        }
        (TargetKind::Comment, false) => {
            "WITH h AS (UPDATE social_interactions SET hidden_at = NULL \
               WHERE id = $1 AND interaction_type = 'comment' AND hidden_at IS NOT NULL RETURNING project_id), \
             bump AS (UPDATE projects p SET comment_count = p.comment_count + 1 \
               FROM h WHERE p.id = h.project_id RETURNING p.id) \
             SELECT count(*) AS n FROM h"
        }
    };
    let n: CountRow = crate::sql::query(sql)
        .bind::<SqlUuid, _>(target)
        .get_result(c)
        .await?;
    Ok(n.n > 0)
}

const ORDER: &str = "ORDER BY (r.status = 'open') DESC, \
    CASE WHEN r.status = 'open' THEN r.created_at END ASC, r.resolved_at DESC NULLS LAST, r.id";

#[async_trait]
impl ReportRepository for PgSocialRepository {
    async fn report(
        &self,
        tenant: TenantId,
        reporter: UserId,
        kind: TargetKind,
        target: Uuid,
        project: ProjectId,
        reason: &str,
        threshold: u32,
    ) -> Result<ReportOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let reason = reason.to_owned();
        let outcome = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    lock_target(c, kind, target).await?;
                    #[derive(QueryableByName)]
                    struct Id {
                        #[diesel(sql_type = SqlUuid)]
                        id: Uuid,
                    }
                    let inserted: Option<Id> = crate::sql::query(
                        "INSERT INTO reports (tenant_id, reporter_user_id, target_kind, target_id, project_id, reason) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (reporter_user_id, target_kind, target_id) DO NOTHING RETURNING id",
                    )
                    .bind::<SqlUuid, _>(tenant.as_uuid())
                    .bind::<SqlUuid, _>(reporter.as_uuid())
                    .bind::<Text, _>(kind.as_str())
                    .bind::<SqlUuid, _>(target)
                    .bind::<SqlUuid, _>(project.as_uuid())
                    .bind::<Text, _>(&reason)
                    .get_result(c)
                    .await
                    .optional_row()?;
                    let open: CountRow = crate::sql::query(
                        "SELECT count(DISTINCT reporter_user_id) AS n FROM reports \
                         WHERE target_kind = $1 AND target_id = $2 AND status = 'open'",
                    )
                    .bind::<Text, _>(kind.as_str())
                    .bind::<SqlUuid, _>(target)
                    .get_result(c)
                    .await?;
                    let created = inserted.is_some();
                    let hid = created
                        && reaches_threshold(open.n, threshold)
                        && set_hidden(c, kind, target, true).await?;
                    let id = match inserted {
                        Some(i) => i.id,
                        None => {
                            let existing: Id = crate::sql::query(
                                "SELECT id FROM reports WHERE reporter_user_id = $1 \
                                 AND target_kind = $2 AND target_id = $3",
                            )
                            .bind::<SqlUuid, _>(reporter.as_uuid())
                            .bind::<Text, _>(kind.as_str())
                            .bind::<SqlUuid, _>(target)
                            .get_result(c)
                            .await?;
                            existing.id
                        }
                    };
                    let row = report_by_id(c, id).await?;
                    Ok((row, created, open.n, hid))
                }
                .scope_boxed()
            })
            .await
            .map_err(store_err)?;
        let (row, created, open_reports, hid_target) = outcome;
        Ok(ReportOutcome {
            report: Report::try_from(row)?,
            created,
            open_reports,
            hid_target,
        })
    }

    async fn reports(
        &self,
        tenant: TenantId,
        status: Option<ReportStatus>,
        page: PageRequest,
    ) -> Result<Page<Report>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let filter = "r.tenant_id = $1 AND ($2::text IS NULL OR r.status = $2)";
        let rows: Vec<ReportRow> = crate::sql::query(format!(
            "{SELECT} WHERE {filter} {ORDER} LIMIT $3 OFFSET $4"
        ))
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<Nullable<Text>, _>(status.map(|s| s.as_str()))
        .bind::<BigInt, _>(page.limit())
        .bind::<BigInt, _>(page.offset())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        let count: CountRow = crate::sql::query(format!(
            "SELECT count(*) AS n FROM reports r WHERE {filter}"
        ))
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<Nullable<Text>, _>(status.map(|s| s.as_str()))
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        let records = rows
            .into_iter()
            .map(Report::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(records, total(count.n), page))
    }

    async fn resolve(
        &self,
        tenant: TenantId,
        id: Uuid,
        admin: UserId,
        resolution: &Resolution,
    ) -> Result<ResolveOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let resolution = resolution.clone();
        enum Raw {
            Resolved(ReportRow),
            Already(ReportRow),
            NotFound,
        }
        let raw = c
            .transaction::<_, DieselError, _>(|c| {
                async move {
                    #[derive(QueryableByName)]
                    struct Head {
                        #[diesel(sql_type = Text)]
                        target_kind: String,
                        #[diesel(sql_type = SqlUuid)]
                        target_id: Uuid,
                        #[diesel(sql_type = Text)]
                        status: String,
                    }
                    let head: Option<Head> = crate::sql::query(
                        "SELECT target_kind::text AS target_kind, target_id, status::text AS status \
                         FROM reports WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                    )
                    .bind::<SqlUuid, _>(id)
                    .bind::<SqlUuid, _>(tenant.as_uuid())
                    .get_result(c)
                    .await
                    .optional_row()?;
                    let Some(head) = head else {
                        return Ok(Raw::NotFound);
                    };
                    if head.status != ReportStatus::Open.as_str() {
                        return Ok(Raw::Already(report_by_id(c, id).await?));
                    }
                    let kind = TargetKind::parse(&head.target_kind).unwrap_or(TargetKind::Project);
                    let target = head.target_id;
                    match (resolution.action, kind) {
                        (ModerationAction::Hide, _) => {
                            set_hidden(c, kind, target, true).await?;
                        }
                        (ModerationAction::Restore, _) => {
                            set_hidden(c, kind, target, false).await?;
                        }
                        (ModerationAction::Delete, TargetKind::Comment) => {
                            delete_comment_on(c, target).await?;
                        }
                        (ModerationAction::Delete, TargetKind::Project) => {
                            crate::sql::query("DELETE FROM projects WHERE id = $1")
                                .bind::<SqlUuid, _>(target)
                                .execute(c)
                                .await?;
                        }
                    }
                    crate::sql::query(
                        "UPDATE reports SET status = 'resolved', action = $3, note = $4, \
                         resolved_by_user_id = $5, resolved_at = now() \
                         WHERE target_kind = $1 AND target_id = $2 AND status = 'open'",
                    )
                    .bind::<Text, _>(kind.as_str())
                    .bind::<SqlUuid, _>(target)
                    .bind::<Text, _>(resolution.action.as_str())
                    .bind::<Nullable<Text>, _>(resolution.note.as_deref())
                    .bind::<SqlUuid, _>(admin.as_uuid())
                    .execute(c)
                    .await?;
                    Ok(Raw::Resolved(report_by_id(c, id).await?))
                }
                .scope_boxed()
            })
            .await
            .map_err(store_err)?;
        Ok(match raw {
            Raw::Resolved(r) => ResolveOutcome::Resolved(Report::try_from(r)?),
            Raw::Already(r) => ResolveOutcome::AlreadyResolved(Report::try_from(r)?),
            Raw::NotFound => ResolveOutcome::NotFound,
        })
    }
}
