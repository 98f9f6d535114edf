//! PostgreSQL implementations of the users ports: `UserRepository` and `SessionStore`.

use crate::pool::{conn, store_err, DbPool};
use crate::schema::{password_reset_tokens, refresh_tokens, revoked_access_tokens, users};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{StoreError, TenantId, UserId};
use ingenio_users::{
    AuthState, ConsumeOutcome, CreateUserError, NewUser, ProfileUpdate, RefreshRecord, Role,
    SessionStore, User, UserRepository, UserStatus,
};

diesel::define_sql_function!(fn lower(x: Text) -> Text);

/// A `users` row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub permissions: serde_json::Value,
    pub status: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let bad = |what: &str, v: &str| {
            StoreError::Unexpected(anyhow::anyhow!("users row has an unknown {what} {v:?}"))
        };
        let role = Role::parse(&r.role).map_err(|_| bad("role", &r.role))?;
        let status = UserStatus::parse(&r.status).map_err(|_| bad("status", &r.status))?;
        let permissions = match r.permissions {
            serde_json::Value::Array(items) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(User {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            role,
            permissions,
            status,
            display_name: r.display_name,
            avatar_url: r.avatar_url,
            bio: r.bio,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    tenant_id: Uuid,
    username: &'a str,
    email: &'a str,
    password_hash: &'a str,
    role: &'a str,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
struct ProfileChangeset {
    display_name: Option<Option<String>>,
    avatar_url: Option<Option<String>>,
    bio: Option<Option<String>>,
}

/// Users stored in PostgreSQL.
#[derive(Clone)]
pub struct PgUserRepository {
    pool: DbPool,
}

impl PgUserRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

fn one(row: Option<UserRow>) -> Result<Option<User>, StoreError> {
    row.map(User::try_from).transpose()
}

#[derive(QueryableByName)]
struct AuthStateRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Bool)]
    revoked: bool,
}

#[async_trait]
impl UserRepository for PgUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError> {
        let mut c = conn(&self.pool).await?;
        let row = NewUserRow {
            tenant_id: user.tenant_id.as_uuid(),
            username: user.username.as_str(),
            email: user.email.as_str(),
            password_hash: &user.password_hash,
            role: user.role.as_str(),
        };
        let inserted = diesel::insert_into(users::table)
            .values(&row)
            .returning(UserRow::as_returning())
            .get_result(&mut c)
            .await;
        match inserted {
            Ok(r) => Ok(User::try_from(r)?),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                let which = format!(
                    "{} {}",
                    info.constraint_name().unwrap_or_default(),
                    info.message()
                );
                if which.contains("email") {
                    Err(CreateUserError::EmailTaken)
                } else {
                    Err(CreateUserError::UsernameTaken)
                }
            }
            Err(e) => Err(store_err(e).into()),
        }
    }

    async fn find_by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row = users::table
            .filter(users::id.eq(id.as_uuid()))
            .filter(users::tenant_id.eq(tenant.as_uuid()))
            .select(UserRow::as_select())
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        one(row)
    }

    async fn find_by_login(
        &self,
        tenant: TenantId,
        login: &str,
    ) -> Result<Option<User>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let l = login.trim().to_lowercase();
        let row = users::table
            .filter(users::tenant_id.eq(tenant.as_uuid()))
            .filter(lower(users::username).eq(&l).or(lower(users::email).eq(&l)))
            .select(UserRow::as_select())
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        one(row)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(users::table.filter(users::id.eq(id.as_uuid())))
            .set(users::password_hash.eq(hash))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(n == 1)
    }

    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(users::table.filter(users::id.eq(id.as_uuid())))
            .set(users::last_login_at.eq(Some(at)))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn update_profile(
        &self,
        tenant: TenantId,
        id: UserId,
        update: &ProfileUpdate,
    ) -> Result<Option<User>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let target = users::table
            .filter(users::id.eq(id.as_uuid()))
            .filter(users::tenant_id.eq(tenant.as_uuid()));
        let changes = ProfileChangeset {
            display_name: update.display_name.clone(),
            avatar_url: update.avatar_url.clone(),
            bio: update.bio.clone(),
        };
        let row = if changes.display_name.is_none()
            && changes.avatar_url.is_none()
            && changes.bio.is_none()
        {
            target
                .select(UserRow::as_select())
                .first(&mut c)
                .await
                .optional()
        } else {
            diesel::update(target)
                .set(&changes)
                .returning(UserRow::as_returning())
                .get_result(&mut c)
                .await
                .optional()
        }
        .map_err(store_err)?;
        one(row)
    }

    async fn auth_state(&self, id: UserId, jti: Uuid) -> Result<Option<AuthState>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<AuthStateRow> = diesel::sql_query(
            "SELECT u.status, u.role, \
             EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS revoked \
             FROM users u WHERE u.id = $1",
        )
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<SqlUuid, _>(jti)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        row.map(|r| {
            Ok(AuthState {
                status: UserStatus::parse(&r.status)
                    .map_err(|e| StoreError::Unexpected(e.into()))?,
                role: Role::parse(&r.role).map_err(|e| StoreError::Unexpected(e.into()))?,
                revoked: r.revoked,
            })
        })
        .transpose()
    }

    async fn set_role_and_status(
        &self,
        id: UserId,
        role: Role,
        status: UserStatus,
    ) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = diesel::update(users::table.filter(users::id.eq(id.as_uuid())))
            .set((
                users::role.eq(role.as_str()),
                users::status.eq(status.as_str()),
            ))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(n == 1)
    }
}

/// Refresh tokens, the access-token deny-list and reset tokens in PostgreSQL.
#[derive(Clone)]
pub struct PgSessionStore {
    pool: DbPool,
}

impl PgSessionStore {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    /// Deletes rows that can no longer matter (expired tokens). Returns how many were removed.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut c = conn(&self.pool).await?;
        let a = diesel::delete(
            revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now)),
        )
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        let b = diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        let d = diesel::delete(
            password_reset_tokens::table.filter(password_reset_tokens::expires_at.lt(now)),
        )
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(a + b + d)
    }
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn store_refresh(&self, record: RefreshRecord) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::id.eq(record.jti),
                refresh_tokens::user_id.eq(record.user_id.as_uuid()),
                refresh_tokens::family_id.eq(record.family_id),
                refresh_tokens::expires_at.eq(record.expires_at),
            ))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn consume_refresh(
        &self,
        jti: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let spent: Option<(Uuid, Uuid)> = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(jti))
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null())
                .filter(refresh_tokens::expires_at.gt(now)),
        )
        .set(refresh_tokens::used_at.eq(Some(now)))
        .returning((refresh_tokens::user_id, refresh_tokens::family_id))
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        if let Some((user_id, family_id)) = spent {
            return Ok(ConsumeOutcome::Consumed {
                user_id: user_id.into(),
                family_id,
            });
        }
        let row: Option<(
            Uuid,
            Uuid,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
        )> = refresh_tokens::table
            .filter(refresh_tokens::id.eq(jti))
            .select((
                refresh_tokens::user_id,
                refresh_tokens::family_id,
                refresh_tokens::used_at,
                refresh_tokens::revoked_at,
                refresh_tokens::expires_at,
            ))
            .first(&mut c)
            .await
            .optional()
            .map_err(store_err)?;
        Ok(match row {
            Some((user_id, family_id, Some(_), None, exp)) if exp > now => {
                ConsumeOutcome::Replayed {
                    user_id: user_id.into(),
                    family_id,
                }
            }
            _ => ConsumeOutcome::Invalid,
        })
    }

    async fn revoke_refresh(&self, jti: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(jti))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::family_id.eq(family_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn revoke_all_refresh(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(user_id.as_uuid()))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn revoke_access(
        &self,
        jti: Uuid,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::user_id.eq(user_id.as_uuid()),
                revoked_access_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn store_reset_token(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        diesel::insert_into(password_reset_tokens::table)
            .values((
                password_reset_tokens::token_hash.eq(token_hash),
                password_reset_tokens::user_id.eq(user_id.as_uuid()),
                password_reset_tokens::expires_at.eq(expires_at),
            ))
            .execute(&mut c)
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn consume_reset_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let user: Option<Uuid> = diesel::update(
            password_reset_tokens::table
                .filter(password_reset_tokens::token_hash.eq(token_hash))
                .filter(password_reset_tokens::used_at.is_null())
                .filter(password_reset_tokens::expires_at.gt(now)),
        )
        .set(password_reset_tokens::used_at.eq(Some(now)))
        .returning(password_reset_tokens::user_id)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        Ok(user.map(UserId::from))
    }
}
