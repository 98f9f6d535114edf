//! PostgreSQL implementations of the users ports: `UserRepository` and `SessionStore`.

use crate::kept_reads::{Kept, KeptReadCaches};
use crate::pool::{conn, store_err, DbPool};
use crate::schema::{password_reset_tokens, refresh_tokens, revoked_access_tokens, users};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use ingenio_kernel::chrono::{DateTime, Duration, Utc};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{StoreError, TenantId, UserId};
use ingenio_users::{
    AuthState, ConsumeOutcome, CreateUserError, Grant, NewUser, ProfileUpdate, RefreshRecord, Role,
    SessionStore, User, UserRepository, UserStatus,
};
use std::sync::Arc;

diesel::define_sql_function!(fn lower(x: Text) -> Text);

/// A `users` row as stored.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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
    sessions: Option<Arc<KeptReadCaches>>,
}

impl PgUserRepository {
    pub fn new(pool: DbPool) -> Self {
        Self {
            pool,
            sessions: None,
        }
    }

    /// Session checks answered from `sessions` when it can vouch for them (see
    /// [`crate::kept_reads`]), from the database otherwise.
    pub fn with_kept_reads(pool: DbPool, sessions: Arc<KeptReadCaches>) -> Self {
        Self {
            pool,
            sessions: sessions.enabled().then_some(sessions),
        }
    }

    /// Runs a one-row `sql` taking the user id as `$1` and an access token's jti as `$2`.
    async fn by_id_and_jti<T>(
        &self,
        sql: &str,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<T>, StoreError>
    where
        T: QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        let mut c = conn(&self.pool).await?;
        crate::sql::query(sql)
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<SqlUuid, _>(jti)
            .get_result(&mut c)
            .await
            .optional()
            .map_err(store_err)
    }

    async fn auth_state_from_db(
        &self,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<AuthState>, StoreError> {
        let row: Option<AuthStateRow> = self
            .by_id_and_jti(
                "SELECT u.status, u.role, \
                 EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS revoked, \
                 u.sessions_valid_after, u.sessions_kept_family \
                 FROM users u WHERE u.id = $1",
                id,
                jti,
            )
            .await?;
        row.map(|r| {
            Ok(AuthState {
                status: UserStatus::parse(&r.status)
                    .map_err(|e| StoreError::Unexpected(e.into()))?,
                role: Role::parse(&r.role).map_err(|e| StoreError::Unexpected(e.into()))?,
                revoked: r.revoked,
                sessions_valid_after: r.sessions_valid_after,
                kept_session: r.sessions_kept_family,
            })
        })
        .transpose()
    }

    async fn auth_state_with_user_from_db(
        &self,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<(AuthState, User)>, StoreError> {
        let row: Option<UserAuthRow> = self
            .by_id_and_jti(
                "SELECT u.*, \
                 EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $2) AS revoked \
                 FROM users u WHERE u.id = $1",
                id,
                jti,
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        let user = User::try_from(r.user)?;
        let state = AuthState {
            status: user.status,
            role: user.role,
            revoked: r.revoked,
            sessions_valid_after: r.sessions_valid_after,
            kept_session: r.sessions_kept_family,
        };
        Ok(Some((state, user)))
    }
}

fn one(row: Option<UserRow>) -> Result<Option<User>, StoreError> {
    row.map(User::try_from).transpose()
}

/// A whole `users` row and whether the access token is revoked (`auth_state_with_user`).
#[derive(QueryableByName)]
struct UserAuthRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = Bool)]
    revoked: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    sessions_valid_after: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    sessions_kept_family: Option<Uuid>,
}

#[derive(QueryableByName)]
struct AuthStateRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Bool)]
    revoked: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    sessions_valid_after: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    sessions_kept_family: Option<Uuid>,
}

/// A spent or unusable refresh token, read after the spending update matched nothing.
#[derive(QueryableByName)]
struct SpentRefreshRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    family_id: Uuid,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    replaced_by: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    replaced_by_access: Option<Uuid>,
}

#[derive(QueryableByName)]
struct FamilyRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    family_id: Uuid,
}

#[derive(QueryableByName)]
struct FailuresRow {
    #[diesel(sql_type = Integer)]
    failures: i32,
}

#[derive(QueryableByName)]
struct LockedRow {
    #[diesel(sql_type = Timestamptz)]
    locked_until: DateTime<Utc>,
}

/// The key of a login name in `login_failures`: names are never stored in clear.
const LOGIN_HASH: &str = "encode(sha256(convert_to($1, 'UTF8')), 'hex')";

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
        let Some(sessions) = self.sessions.as_ref().and_then(KeptReadCaches::local) else {
            return self.auth_state_from_db(id, jti).await;
        };
        if let Some(kept) = sessions.lookup(id.as_uuid(), jti, false).await {
            return Ok(Some(kept.state));
        }
        let ticket = sessions.ticket();
        let state = self.auth_state_from_db(id, jti).await?;
        if let Some(state) = state {
            sessions.keep(ticket, id.as_uuid(), jti, Kept { state, user: None });
        }
        Ok(state)
    }

    async fn auth_state_with_user(
        &self,
        id: UserId,
        jti: Uuid,
    ) -> Result<Option<(AuthState, User)>, StoreError> {
        let Some(sessions) = self.sessions.as_ref().and_then(KeptReadCaches::local) else {
            return self.auth_state_with_user_from_db(id, jti).await;
        };
        if let Some(Kept {
            state,
            user: Some(user),
        }) = sessions.lookup(id.as_uuid(), jti, true).await
        {
            return Ok(Some((state, user)));
        }
        let ticket = sessions.ticket();
        let found = self.auth_state_with_user_from_db(id, jti).await?;
        if let Some((state, user)) = &found {
            let kept = Kept {
                state: *state,
                user: Some(user.clone()),
            };
            sessions.keep(ticket, id.as_uuid(), jti, kept);
        }
        Ok(found)
    }

    async fn set_password_ending_sessions(
        &self,
        id: UserId,
        hash: &str,
        at: DateTime<Utc>,
        keep: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        let mut c = conn(&self.pool).await?;
        let n = crate::sql::query(
            "UPDATE users SET password_hash = $2, sessions_valid_after = $3, \
             sessions_kept_family = $4 WHERE id = $1",
        )
        .bind::<SqlUuid, _>(id.as_uuid())
        .bind::<Text, _>(hash)
        .bind::<Timestamptz, _>(at)
        .bind::<Nullable<SqlUuid>, _>(keep)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(n == 1)
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
        // failure counts whose window is a day old and whose lock (if any) has ended
        let f = crate::sql::query(
            "DELETE FROM login_failures WHERE window_started_at < $1 - interval '1 day' \
             AND (locked_until IS NULL OR locked_until < $1)",
        )
        .bind::<Timestamptz, _>(now)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(a + b + d + f)
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
        successor: (Uuid, Uuid),
        grace: Duration,
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut c = conn(&self.pool).await?;
        let spent: Option<FamilyRow> = crate::sql::query(
            "UPDATE refresh_tokens SET used_at = $2, replaced_by_access = $3, replaced_by = $4 \
             WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
             RETURNING user_id, family_id",
        )
        .bind::<SqlUuid, _>(jti)
        .bind::<Timestamptz, _>(now)
        .bind::<SqlUuid, _>(successor.0)
        .bind::<SqlUuid, _>(successor.1)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        if let Some(r) = spent {
            return Ok(ConsumeOutcome::Consumed {
                user_id: r.user_id.into(),
                family_id: r.family_id,
            });
        }
        let row: Option<SpentRefreshRow> = crate::sql::query(
            "SELECT user_id, family_id, used_at, revoked_at, expires_at, replaced_by, \
             replaced_by_access FROM refresh_tokens WHERE id = $1",
        )
        .bind::<SqlUuid, _>(jti)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        let Some(r) = row else {
            return Ok(ConsumeOutcome::Invalid);
        };
        let (Some(used_at), None) = (r.used_at, r.revoked_at) else {
            return Ok(ConsumeOutcome::Invalid);
        };
        if r.expires_at <= now {
            return Ok(ConsumeOutcome::Invalid);
        }
        Ok(match (r.replaced_by_access, r.replaced_by) {
            (Some(access_jti), Some(refresh_jti)) if used_at >= now - grace => {
                ConsumeOutcome::Raced {
                    user_id: r.user_id.into(),
                    grant: Grant {
                        session_id: r.family_id,
                        access_jti,
                        refresh_jti,
                        issued_at: used_at,
                    },
                }
            }
            _ => ConsumeOutcome::Replayed {
                user_id: r.user_id.into(),
                family_id: r.family_id,
            },
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
        keep: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        // the nil id names no family (families are random v4 ids)
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(user_id.as_uuid()))
                .filter(refresh_tokens::family_id.ne(keep.unwrap_or(Uuid::nil())))
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

    async fn login_locked_until(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut c = conn(&self.pool).await?;
        let row: Option<LockedRow> = crate::sql::query(format!(
            "SELECT locked_until FROM login_failures \
             WHERE login_hash = {LOGIN_HASH} AND locked_until > $2"
        ))
        .bind::<Text, _>(login)
        .bind::<Timestamptz, _>(now)
        .get_result(&mut c)
        .await
        .optional()
        .map_err(store_err)?;
        Ok(row.map(|r| r.locked_until))
    }

    async fn record_login_failure(
        &self,
        login: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let mut c = conn(&self.pool).await?;
        // one statement, so concurrent failures all count; a window older than `window` restarts
        let row: FailuresRow = crate::sql::query(format!(
            "INSERT INTO login_failures AS f (login_hash, failures, window_started_at) \
             VALUES ({LOGIN_HASH}, 1, $2) \
             ON CONFLICT (login_hash) DO UPDATE SET \
             failures = CASE WHEN f.window_started_at <= $3 THEN 1 ELSE f.failures + 1 END, \
             window_started_at = CASE WHEN f.window_started_at <= $3 THEN $2 \
               ELSE f.window_started_at END, \
             locked_until = CASE WHEN f.window_started_at <= $3 THEN NULL \
               ELSE f.locked_until END \
             RETURNING failures"
        ))
        .bind::<Text, _>(login)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now - window)
        .get_result(&mut c)
        .await
        .map_err(store_err)?;
        Ok(u32::try_from(row.failures).unwrap_or(0))
    }

    async fn lock_login(&self, login: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        crate::sql::query(format!(
            "UPDATE login_failures SET locked_until = GREATEST(locked_until, $2) \
             WHERE login_hash = {LOGIN_HASH}"
        ))
        .bind::<Text, _>(login)
        .bind::<Timestamptz, _>(until)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, login: &str) -> Result<(), StoreError> {
        let mut c = conn(&self.pool).await?;
        crate::sql::query(format!(
            "DELETE FROM login_failures WHERE login_hash = {LOGIN_HASH}"
        ))
        .bind::<Text, _>(login)
        .execute(&mut c)
        .await
        .map_err(store_err)?;
        Ok(())
    }
}
