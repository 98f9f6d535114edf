//! PostgreSQL implementation of the social ports: the project read rule, likes, favorites,
//! comments and views with exact counters, reports and moderation, and magic prompts.
//!
//! Queries are plain SQL (`crate::sql::query`, prepared once per connection) because most of them are data-modifying CTEs: a counter
//! on `projects` changes in the same statement as the row it counts, and only when that row was
//! really inserted (`ON CONFLICT DO NOTHING RETURNING`) or deleted (`DELETE … RETURNING`).

mod interactions;
mod prompts;
mod reports;

use crate::pool::{conn, store_err, DbPool};
use async_trait::async_trait;
use diesel::sql_types::{Bool, Nullable, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{ProjectId, StoreError, TenantId, Viewer};
use ingenio_social::ports::ProjectAccess;
use ingenio_social::ProjectRef;

use crate::code::OptionalRow as _;

/// The social repositories over one pool (each port is implemented on this one type).
#[derive(Clone)]
pub struct PgSocialRepository {
    pool: DbPool,
}

impl PgSocialRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// The project read rule as a SQL predicate over the projects alias `p`, with the caller's user
/// id (NULL when anonymous) and admin flag at the given parameter positions. The one place the
/// rule is written in SQL; [`ProjectAccess::readable`] and the favorites listing use it.
pub(crate) fn readable_predicate(user_param: usize, admin_param: usize) -> String {
    format!(
        "(p.user_id = ${user_param} OR ${admin_param} \
          OR (p.visibility IN ('public', 'unlisted') AND p.hidden_at IS NULL))"
    )
}

#[derive(QueryableByName)]
struct ProjectRefRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
}

#[async_trait]
impl ProjectAccess for PgSocialRepository {
    async fn readable(
        &self,
        viewer: Option<Viewer>,
        tenant: TenantId,
        project: ProjectId,
    ) -> Result<Option<ProjectRef>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<ProjectRefRow> = crate::sql::query(format!(
            "SELECT p.id, p.tenant_id, p.user_id FROM projects p \
             WHERE p.id = $1 AND p.tenant_id = $2 AND {}",
            readable_predicate(3, 4)
        ))
        .bind::<SqlUuid, _>(project.as_uuid())
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<Nullable<SqlUuid>, _>(viewer.map(|v| v.user.as_uuid()))
        .bind::<Bool, _>(viewer.is_some_and(|v| v.admin && v.tenant == tenant))
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        Ok(row.map(|r| ProjectRef {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            owner: r.user_id.into(),
        }))
    }
}

/// Escapes `%`, `_` and `\` for an `ILIKE` pattern and wraps it in `%…%`.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// `count(*)` rows.
#[derive(QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// The total of a listing as the kernel's `Page` wants it.
pub(crate) fn total(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
