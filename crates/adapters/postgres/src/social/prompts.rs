//! `MagicPromptRepository` on the `magic_prompts` table; seeded prompts are keyed by
//! `metadata ->> 'slug'` (unique per tenant, `idx_magic_prompts_tenant_slug`).

use super::{like_pattern, total, CountRow, PgSocialRepository};
use crate::code::OptionalRow as _;
use crate::pool::{conn, store_err};
use async_trait::async_trait;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{
    Array, BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{Page, PageRequest, StoreError, TenantId, UserId};
use ingenio_social::ports::{MagicPromptRepository, PromptWriteError};
use ingenio_social::{
    AgeGroup, Category, Difficulty, MagicPrompt, PromptDraft, PromptFilter, PromptSort,
    PromptStatus,
};
use serde_json::Value;
use std::collections::BTreeMap;

const COLUMNS: &str = "id, tenant_id, title, description, cover_image_url, prompt_template, \
    default_variables, age_group, category, difficulty_level, example_project_id, usage_count, \
    like_count, status, tags, created_by_user_id, metadata ->> 'slug' AS slug, created_at, updated_at";

#[derive(Debug, QueryableByName)]
struct PromptRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cover_image_url: Option<String>,
    #[diesel(sql_type = Text)]
    prompt_template: String,
    #[diesel(sql_type = Jsonb)]
    default_variables: Value,
    #[diesel(sql_type = Text)]
    age_group: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = Text)]
    difficulty_level: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    example_project_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    usage_count: i32,
    #[diesel(sql_type = Integer)]
    like_count: i32,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    created_by_user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    slug: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

fn bad_row(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(
        "magic_prompts row has an unknown {what} {value:?}"
    ))
}

/// Default values as text: strings as they are, other scalars as their JSON text.
fn defaults_of(v: &Value) -> BTreeMap<String, String> {
    let Value::Object(m) = v else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((k.clone(), text))
        })
        .collect()
}

impl TryFrom<PromptRow> for MagicPrompt {
    type Error = StoreError;
    fn try_from(r: PromptRow) -> Result<Self, StoreError> {
        Ok(MagicPrompt {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            default_variables: defaults_of(&r.default_variables),
            age_group: AgeGroup::parse(&r.age_group)
                .ok_or_else(|| bad_row("age_group", &r.age_group))?,
            category: Category::parse(&r.category)
                .ok_or_else(|| bad_row("category", &r.category))?,
            difficulty: Difficulty::parse(&r.difficulty_level)
                .ok_or_else(|| bad_row("difficulty_level", &r.difficulty_level))?,
            status: PromptStatus::parse(&r.status).ok_or_else(|| bad_row("status", &r.status))?,
            title: r.title,
            description: r.description,
            cover_image_url: r.cover_image_url,
            prompt_template: r.prompt_template,
            example_project_id: r.example_project_id,
            usage_count: r.usage_count,
            like_count: r.like_count,
            tags: r.tags,
            created_by: r.created_by_user_id.map(UserId::from),
            slug: r.slug,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn defaults_json(d: &PromptDraft) -> Value {
    Value::Object(
        d.default_variables
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn write_err(e: DieselError) -> PromptWriteError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("idx_magic_prompts_tenant_title") =>
        {
            PromptWriteError::TitleTaken
        }
        _ => PromptWriteError::Store(store_err(e)),
    }
}

/// The WHERE clause of the listing: $1 tenant, $2 status, $3 any status, $4 age group,
/// $5 category, $6 difficulty, $7 tag, $8 ILIKE pattern.
const FILTER: &str = "tenant_id = $1 \
    AND (CASE WHEN $2::text IS NOT NULL THEN status = $2 WHEN $3 THEN TRUE ELSE status = 'active' END) \
    AND ($4::text IS NULL OR age_group = $4) \
    AND ($5::text IS NULL OR category = $5) \
    AND ($6::text IS NULL OR difficulty_level = $6) \
    AND ($7::text IS NULL OR $7 = ANY (tags)) \
    AND ($8::text IS NULL OR title ILIKE $8 OR description ILIKE $8)";

fn order_by(sort: Option<PromptSort>) -> &'static str {
    match sort.unwrap_or(PromptSort::Popular) {
        PromptSort::Popular => "usage_count DESC, created_at DESC, id",
        PromptSort::Latest => "created_at DESC, id",
        PromptSort::Title => "title, id",
    }
}

/// Binds the eight filter parameters in order on a `sql::query`.
macro_rules! bind_filter {
    ($q:expr, $tenant:expr, $f:expr, $pattern:expr) => {
        $q.bind::<SqlUuid, _>($tenant.as_uuid())
            .bind::<Nullable<Text>, _>($f.status.map(|s| s.as_str()))
            .bind::<Bool, _>($f.any_status)
            .bind::<Nullable<Text>, _>($f.age_group.map(|s| s.as_str()))
            .bind::<Nullable<Text>, _>($f.category.map(|s| s.as_str()))
            .bind::<Nullable<Text>, _>($f.difficulty.map(|s| s.as_str()))
            .bind::<Nullable<Text>, _>($f.tag.as_deref())
            .bind::<Nullable<Text>, _>($pattern.as_deref())
    };
}

/// Binds a draft's written fields as $2–$12 (after the tenant or id at $1).
macro_rules! bind_draft {
    ($q:expr, $d:expr, $defaults:expr) => {
        $q.bind::<Text, _>(&$d.title)
            .bind::<Nullable<Text>, _>($d.description.as_deref())
            .bind::<Nullable<Text>, _>($d.cover_image_url.as_deref())
            .bind::<Text, _>(&$d.prompt_template)
            .bind::<Jsonb, _>($defaults)
            .bind::<Text, _>($d.age_group.as_str())
            .bind::<Text, _>($d.category.as_str())
            .bind::<Text, _>($d.difficulty.as_str())
            .bind::<Nullable<SqlUuid>, _>($d.example_project_id)
            .bind::<Text, _>($d.status.as_str())
            .bind::<Array<Text>, _>(&$d.tags)
    };
}

const INSERT_COLUMNS: &str = "tenant_id, title, description, cover_image_url, prompt_template, \
    default_variables, age_group, category, difficulty_level, example_project_id, status, tags";

#[async_trait]
impl MagicPromptRepository for PgSocialRepository {
    async fn list(
        &self,
        tenant: TenantId,
        filter: &PromptFilter,
        page: PageRequest,
    ) -> Result<Page<MagicPrompt>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let pattern = filter.q.as_deref().map(like_pattern);
        let rows: Vec<PromptRow> = bind_filter!(
            crate::sql::query(format!(
                "SELECT {COLUMNS} FROM magic_prompts WHERE {FILTER} ORDER BY {} LIMIT $9 OFFSET $10",
                order_by(filter.sort)
            )),
            tenant,
            filter,
            pattern
        )
        .bind::<BigInt, _>(page.limit())
        .bind::<BigInt, _>(page.offset())
        .load(&mut c)
        .await
        .map_err(store_err)?;
        let count: CountRow = bind_filter!(
            crate::sql::query(format!(
                "SELECT count(*) AS n FROM magic_prompts WHERE {FILTER}"
            )),
            tenant,
            filter,
            pattern
        )
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        let records = rows
            .into_iter()
            .map(MagicPrompt::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(records, total(count.n), page))
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<MagicPrompt>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<PromptRow> = crate::sql::query(format!(
            "SELECT {COLUMNS} FROM magic_prompts WHERE id = $1 AND tenant_id = $2"
        ))
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(store_err)?;
        row.map(MagicPrompt::try_from).transpose()
    }

    async fn create(
        &self,
        tenant: TenantId,
        created_by: Option<UserId>,
        draft: &PromptDraft,
    ) -> Result<MagicPrompt, PromptWriteError> {
        let mut c = conn(&self.pool).await?;
        let row: PromptRow = bind_draft!(
            crate::sql::query(format!(
                "INSERT INTO magic_prompts ({INSERT_COLUMNS}, created_by_user_id, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 CASE WHEN $14::text IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('slug', $14::text) END) \
                 RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(tenant.as_uuid()),
            draft,
            defaults_json(draft)
        )
        .bind::<Nullable<SqlUuid>, _>(created_by.map(|u| u.as_uuid()))
        .bind::<Nullable<Text>, _>(draft.slug.as_deref())
        .get_result(&mut c)
        .await
        .map_err(write_err)?;
        Ok(MagicPrompt::try_from(row)?)
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: Uuid,
        draft: &PromptDraft,
    ) -> Result<Option<MagicPrompt>, PromptWriteError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<PromptRow> = bind_draft!(
            crate::sql::query(format!(
                "UPDATE magic_prompts SET title = $2, description = $3, cover_image_url = $4, \
                 prompt_template = $5, default_variables = $6, age_group = $7, category = $8, \
                 difficulty_level = $9, example_project_id = $10, status = $11, tags = $12 \
                 WHERE id = $1 AND tenant_id = $13 RETURNING {COLUMNS}"
            ))
            .bind::<SqlUuid, _>(id),
            draft,
            defaults_json(draft)
        )
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(write_err)?;
        Ok(row.map(MagicPrompt::try_from).transpose()?)
    }

    async fn delete(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query("DELETE FROM magic_prompts WHERE id = $1 AND tenant_id = $2")
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(n > 0)
    }

    async fn record_use(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query(
            "UPDATE magic_prompts SET usage_count = usage_count + 1 \
             WHERE id = $1 AND tenant_id = $2 AND status = 'active'",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(n > 0)
    }

    async fn upsert_by_slug(
        &self,
        tenant: TenantId,
        draft: &PromptDraft,
    ) -> Result<(MagicPrompt, bool), PromptWriteError> {
        let Some(slug) = draft.slug.as_deref() else {
            return Err(PromptWriteError::Store(StoreError::Unexpected(
                anyhow::anyhow!("upsert_by_slug needs a slug"),
            )));
        };
        let mut c = conn(&self.pool).await?;
        #[derive(QueryableByName)]
        struct Upserted {
            #[diesel(sql_type = Bool)]
            inserted: bool,
        }
        // content fields follow the file; status, counters and admin-only fields are kept; a
        // run that changes nothing writes nothing (so updated_at stays)
        let written: Option<Upserted> = bind_draft!(
            crate::sql::query(format!(
                "INSERT INTO magic_prompts ({INSERT_COLUMNS}, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, jsonb_build_object('slug', $13::text)) \
                 ON CONFLICT (tenant_id, (metadata ->> 'slug')) WHERE metadata ? 'slug' DO UPDATE SET \
                 title = EXCLUDED.title, description = EXCLUDED.description, \
                 cover_image_url = EXCLUDED.cover_image_url, prompt_template = EXCLUDED.prompt_template, \
                 default_variables = EXCLUDED.default_variables, age_group = EXCLUDED.age_group, \
                 category = EXCLUDED.category, difficulty_level = EXCLUDED.difficulty_level, \
                 tags = EXCLUDED.tags \
                 WHERE (magic_prompts.title, magic_prompts.description, magic_prompts.cover_image_url, \
                 magic_prompts.prompt_template, magic_prompts.default_variables, magic_prompts.age_group, \
                 magic_prompts.category, magic_prompts.difficulty_level, magic_prompts.tags) \
                 IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.description, EXCLUDED.cover_image_url, \
                 EXCLUDED.prompt_template, EXCLUDED.default_variables, EXCLUDED.age_group, \
                 EXCLUDED.category, EXCLUDED.difficulty_level, EXCLUDED.tags) \
                 RETURNING (xmax = 0) AS inserted"
            ))
            .bind::<SqlUuid, _>(tenant.as_uuid()),
            draft,
            defaults_json(draft)
        )
        .bind::<Text, _>(slug)
        .get_result(&mut c)
        .await
        .optional_row()
        .map_err(write_err)?;
        let inserted = written.is_some_and(|w| w.inserted);
        let row: PromptRow = crate::sql::query(format!(
            "SELECT {COLUMNS} FROM magic_prompts WHERE tenant_id = $1 AND metadata ->> 'slug' = $2"
        ))
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<Text, _>(slug)
        .get_result(&mut c)
        .await
        .map_err(write_err)?;
        Ok((MagicPrompt::try_from(row)?, inserted))
    }
}
