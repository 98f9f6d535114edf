//! `InteractionRepository`: likes and favorites (`ON CONFLICT DO NOTHING RETURNING` /
//! `DELETE … RETURNING` with the counter change in the same statement), comments, views
//! deduplicated per viewer in `project_views`, and the favorites listing.

use super::{readable_predicate, total, CountRow, PgSocialRepository};
use crate::code::OptionalRow as _;
use crate::pool::{conn, store_err};
use async_trait::async_trait;
use diesel::sql_types::{
    Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, ProjectId, StoreError, TenantId, UserId, Viewer};
use ingenio_social::ports::InteractionRepository;
use ingenio_social::{
    Comment, CommentRef, Counters, ProjectCard, ProjectRef, ReactionKind, ReactionState, ViewerKey,
};

#[derive(QueryableByName)]
struct CountersRow {
    #[diesel(sql_type = Integer)]
    like_count: i32,
    #[diesel(sql_type = Integer)]
    comment_count: i32,
    #[diesel(sql_type = Integer)]
    view_count: i32,
}

#[derive(QueryableByName)]
struct CommentRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    author_name: Option<String>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Bool)]
    hidden: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Comment {
            id: r.id,
            project_id: r.project_id.into(),
            author: r.user_id.into(),
            author_name: r.author_name,
            content: r.content,
            hidden: r.hidden,
            created_at: r.created_at,
        }
    }
}

#[derive(QueryableByName)]
struct CardRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cover_image_url: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    visibility: String,
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    age_group: Option<String>,
    #[diesel(sql_type = Integer)]
    view_count: i32,
    #[diesel(sql_type = Integer)]
    like_count: i32,
    #[diesel(sql_type = Integer)]
    fork_count: i32,
    #[diesel(sql_type = Integer)]
    comment_count: i32,
    #[diesel(sql_type = Timestamptz)]
    favorited_at: DateTime<Utc>,
}

impl From<CardRow> for ProjectCard {
    fn from(r: CardRow) -> Self {
        ProjectCard {
            id: r.id.into(),
            owner: r.user_id.into(),
            name: r.name,
            description: r.description,
            cover_image_url: r.cover_image_url,
            status: r.status,
            visibility: r.visibility,
            tags: r.tags,
            age_group: r.age_group,
            view_count: r.view_count,
            like_count: r.like_count,
            fork_count: r.fork_count,
            comment_count: r.comment_count,
            favorited_at: r.favorited_at,
        }
    }
}

const COMMENT_COLUMNS: &str = "s.id, s.project_id, s.user_id, \
    COALESCE(u.display_name, u.username)::text AS author_name, s.comment_content AS content, \
    (s.hidden_at IS NOT NULL) AS hidden, s.created_at";

impl PgSocialRepository {
    /// Adds (`add`) or removes one reaction; the like counter moves only when a row was really
    /// inserted or deleted, in the same statement.
    async fn set_reaction(
        &self,
        project: ProjectRef,
        user: UserId,
        kind: ReactionKind,
        add: bool,
    ) -> Result<ReactionState, StoreError> {
        let mut c = conn(&self.pool).await?;
        let sql = if add {
            "WITH changed AS ( \
               INSERT INTO social_interactions (tenant_id, user_id, project_id, interaction_type) \
               VALUES ($1, $2, $3, $4) \
               ON CONFLICT (user_id, project_id, interaction_type) \
                 WHERE interaction_type IN ('like', 'favorite') DO NOTHING \
               RETURNING id), \
             bump AS ( \
               UPDATE projects SET like_count = like_count + 1 \
               WHERE id = $3 AND $4 = 'like' AND EXISTS (SELECT 1 FROM changed) RETURNING id) \
             SELECT count(*) AS n FROM changed"
        } else {
            "WITH changed AS ( \
               DELETE FROM social_interactions \
               WHERE user_id = $2 AND project_id = $3 AND interaction_type = $4 AND $1 = tenant_id \
               RETURNING id), \
             bump AS ( \
               UPDATE projects SET like_count = GREATEST(like_count - 1, 0) \
               WHERE id = $3 AND $4 = 'like' AND EXISTS (SELECT 1 FROM changed) RETURNING id) \
             SELECT count(*) AS n FROM changed"
        };
        let changed: CountRow = crate::sql::query(sql)
            .bind::<SqlUuid, _>(project.tenant_id.as_uuid())
            .bind::<SqlUuid, _>(user.as_uuid())
            .bind::<SqlUuid, _>(project.id.as_uuid())
            .bind::<Text, _>(kind.as_str())
            .get_result(&mut c)
            .await
            .map_err(store_err)?;
        drop(c);
        Ok(ReactionState {
            kind,
            active: add,
            changed: changed.n > 0,
            counters: self.counters(project.id).await?,
        })
    }
}

#[async_trait]
impl InteractionRepository for PgSocialRepository {
    async fn react(
        &self,
        project: ProjectRef,
        user: UserId,
        kind: ReactionKind,
    ) -> Result<ReactionState, StoreError> {
        self.set_reaction(project, user, kind, true).await
    }

    async fn unreact(
        &self,
        project: ProjectRef,
        user: UserId,
        kind: ReactionKind,
    ) -> Result<ReactionState, StoreError> {
        self.set_reaction(project, user, kind, false).await
    }

    async fn favorites(
        &self,
        viewer: Viewer,
        page: PageRequest,
    ) -> Result<Page<ProjectCard>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let from = format!(
            "FROM social_interactions s JOIN projects p ON p.id = s.project_id \
             WHERE s.user_id = $1 AND s.interaction_type = 'favorite' AND p.tenant_id = $2 AND {}",
            readable_predicate(1, 3)
        );
        let rows: Vec<CardRow> = crate::sql::query(format!(
            "SELECT p.id, p.user_id, p.name::text AS name, p.description, \
             p.cover_image_url::text AS cover_image_url, p.status::text AS status, \
             p.visibility::text AS visibility, p.tags::text[] AS tags, p.age_group::text AS age_group, \
             p.view_count, p.like_count, p.fork_count, p.comment_count, s.created_at AS favorited_at \
             {from} ORDER BY s.created_at DESC, s.id DESC LIMIT $4 OFFSET $5"
        ))
        .bind::<SqlUuid, _>(viewer.user.as_uuid())
        .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
        .bind::<Bool, _>(viewer.admin)
        .bind::<BigInt, _>(page.limit())
        .bind::<BigInt, _>(page.offset())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        let count: CountRow = crate::sql::query(format!("SELECT count(*) AS n {from}"))
            .bind::<SqlUuid, _>(viewer.user.as_uuid())
            .bind::<SqlUuid, _>(viewer.tenant.as_uuid())
            .bind::<Bool, _>(viewer.admin)
            .get_result(&mut c)
            .await
            .map_err(store_err)?;
        Ok(Page::new(
            rows.into_iter().map(ProjectCard::from).collect(),
            total(count.n),
            page,
        ))
    }

    async fn add_comment(
        &self,
        project: ProjectRef,
        author: UserId,
        content: &str,
    ) -> Result<Comment, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: CommentRow = crate::sql::query(format!(
            "WITH s AS ( \
               INSERT INTO social_interactions \
                 (tenant_id, user_id, project_id, interaction_type, comment_content) \
               VALUES ($1, $2, $3, 'comment', $4) \
               RETURNING id, project_id, user_id, comment_content, hidden_at, created_at), \
             bump AS (UPDATE projects SET comment_count = comment_count + 1 WHERE id = $3 RETURNING id) \
             SELECT {COMMENT_COLUMNS} FROM s LEFT JOIN users u ON u.id = s.user_id"
        ))
        .bind::<SqlUuid, _>(project.tenant_id.as_uuid())
        .bind::<SqlUuid, _>(author.as_uuid())
        .bind::<SqlUuid, _>(project.id.as_uuid())
        .bind::<Text, _>(content)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(row.into())
    }

    async fn comments(
        &self,
        project: ProjectId,
        show_hidden_of: Option<(UserId, bool)>,
        page: PageRequest,
    ) -> Result<Page<Comment>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let filter = "s.project_id = $1 AND s.interaction_type = 'comment' \
                      AND (s.hidden_at IS NULL OR $2 OR s.user_id = $3)";
        let user = show_hidden_of.map(|(u, _)| u.as_uuid());
        let admin = show_hidden_of.is_some_and(|(_, a)| a);
        let rows: Vec<CommentRow> = crate::sql::query(format!(
            "SELECT {COMMENT_COLUMNS} FROM social_interactions s LEFT JOIN users u ON u.id = s.user_id \
             WHERE {filter} ORDER BY s.created_at DESC, s.id DESC LIMIT $4 OFFSET $5"
        ))
        .bind::<SqlUuid, _>(project.as_uuid())
        .bind::<Bool, _>(admin)
        .bind::<Nullable<SqlUuid>, _>(user)
        .bind::<BigInt, _>(page.limit())
        .bind::<BigInt, _>(page.offset())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        let count: CountRow = crate::sql::query(format!(
            "SELECT count(*) AS n FROM social_interactions s WHERE {filter}"
        ))
        .bind::<SqlUuid, _>(project.as_uuid())
        .bind::<Bool, _>(admin)
        .bind::<Nullable<SqlUuid>, _>(user)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(Page::new(
            rows.into_iter().map(Comment::from).collect(),
            total(count.n),
            page,
        ))
    }

    async fn comment(&self, tenant: TenantId, id: Uuid) -> Result<Option<CommentRef>, StoreError> {
        let mut c = conn(&self.pool).await?;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = SqlUuid)]
            id: Uuid,
            #[diesel(sql_type = SqlUuid)]
            project_id: Uuid,
            #[diesel(sql_type = SqlUuid)]
            user_id: Uuid,
            #[diesel(sql_type = Bool)]
            hidden: bool,
        }
        let row: Option<Row> = crate::sql::query(
            "SELECT id, project_id, user_id, (hidden_at IS NOT NULL) AS hidden \
             FROM social_interactions WHERE id = $1 AND tenant_id = $2 AND interaction_type = 'comment'",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        Ok(row.map(|r| CommentRef {
            id: r.id,
            project_id: r.project_id.into(),
            author: r.user_id.into(),
            hidden: r.hidden,
        }))
    }

    async fn delete_comment(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = delete_comment_on(&mut c, id).await.map_err(store_err)?;
        Ok(n > 0)
    }

    async fn record_view(
        &self,
        project: ProjectRef,
        viewer: &ViewerKey,
        window_secs: i64,
    ) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let counted: CountRow = crate::sql::query(
            "WITH v AS ( \
               INSERT INTO project_views (project_id, viewer_key, counted_at) VALUES ($1, $2, now()) \
               ON CONFLICT (project_id, viewer_key) DO UPDATE SET counted_at = now() \
               WHERE project_views.counted_at <= now() - make_interval(secs => $3::double precision) \
               RETURNING project_id), \
             bump AS ( \
               UPDATE projects SET view_count = view_count + 1 \
               WHERE id = $1 AND EXISTS (SELECT 1 FROM v) RETURNING id) \
             SELECT count(*) AS n FROM v",
        )
        .bind::<SqlUuid, _>(project.id.as_uuid())
        .bind::<Text, _>(viewer.key())
        .bind::<BigInt, _>(window_secs.max(0))
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(counted.n > 0)
    }

    async fn purge_views(&self, window_secs: i64) -> Result<u64, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query(
            "DELETE FROM project_views \
             WHERE counted_at < now() - make_interval(secs => $1::double precision)",
        )
        .bind::<BigInt, _>(window_secs.max(0))
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(n as u64)
    }

    async fn counters(&self, project: ProjectId) -> Result<Counters, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<CountersRow> = crate::sql::query(
            "SELECT like_count, comment_count, view_count FROM projects WHERE id = $1",
        )
        .bind::<SqlUuid, _>(project.as_uuid())
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        Ok(row.map_or_else(Counters::default, |r| Counters {
            like_count: r.like_count,
            comment_count: r.comment_count,
            view_count: r.view_count,
        }))
    }
}

/// Deletes a comment and, if it was visible, lowers its project's `comment_count`, in one
/// statement; returns the rows deleted (0 or 1). Runs on the caller's connection or transaction.
pub(crate) async fn delete_comment_on(
    c: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> Result<i64, diesel::result::Error> {
    let n: CountRow = crate::sql::query(
        "WITH d AS ( \
           DELETE FROM social_interactions WHERE id = $1 AND interaction_type = 'comment' \
           RETURNING project_id, hidden_at), \
         bump AS ( \
           UPDATE projects p SET comment_count = GREATEST(p.comment_count - 1, 0) \
           FROM d WHERE p.id = d.project_id AND d.hidden_at IS NULL RETURNING p.id) \
         SELECT count(*) AS n FROM d",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(c)
    .await?;
    Ok(n.n)
}
