//! Diesel table definitions, written to match `migrations/` (checked by the repository tests,
//! which run every query against the migrated schema).

diesel::table! {
    users (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        username -> Varchar,
        email -> Varchar,
        password_hash -> Varchar,
        role -> Varchar,
        permissions -> Jsonb,
        status -> Varchar,
        display_name -> Nullable<Varchar>,
        avatar_url -> Nullable<Varchar>,
        bio -> Nullable<Text>,
        last_login_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Uuid,
        user_id -> Uuid,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    password_reset_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Uuid,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(revoked_access_tokens -> users (user_id));
diesel::joinable!(password_reset_tokens -> users (user_id));
diesel::table! {
    app_specs (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        created_by_user_id -> Uuid,
        spec_content -> Jsonb,
        version -> Int4,
        parent_version_id -> Nullable<Uuid>,
        status -> Varchar,
        quality_score -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    app_spec_versions (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        app_spec_id -> Uuid,
        version_number -> Int4,
        snapshot_content -> Jsonb,
        generation_metadata -> Nullable<Jsonb>,
        change_description -> Nullable<Text>,
        change_type -> Varchar,
        created_by_user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    generation_jobs (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        user_id -> Uuid,
        status -> Varchar,
        progress -> Int2,
        request -> Jsonb,
        idempotency_key -> Nullable<Varchar>,
        state -> Jsonb,
        result -> Nullable<Jsonb>,
        app_spec_id -> Nullable<Uuid>,
        version_number -> Nullable<Int4>,
        token_usage -> Jsonb,
        error_code -> Nullable<Varchar>,
        error_message -> Nullable<Text>,
        attempts -> Int4,
        quota_reservation -> Nullable<Text>,
        lease_owner -> Nullable<Varchar>,
        lease_expires_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    generation_job_events (id) {
        id -> Int8,
        job_id -> Uuid,
        kind -> Varchar,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(app_specs -> users (created_by_user_id));
diesel::joinable!(app_spec_versions -> app_specs (app_spec_id));
diesel::joinable!(generation_jobs -> users (user_id));
diesel::joinable!(generation_jobs -> app_specs (app_spec_id));
diesel::joinable!(generation_job_events -> generation_jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    revoked_access_tokens,
    password_reset_tokens,
    app_specs,
    app_spec_versions,
    generation_jobs,
    generation_job_events
);
