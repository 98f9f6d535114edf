//! Shared helpers of the repository tests: a migrated database with a pool, users inserted with
//! plain SQL, small SQL probes, and the jobs, versions and artifacts the job tests feed in.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use ingenio_app_specs::job::{
    AgentCheckpoint, GenerationJob, JobKind, JobRequest, JobState, JobSummary, RenderedCode,
    ValidateCheckpoint, VersionCheckpoint, MAX_ATTEMPTS,
};
use ingenio_app_specs::ports::{
    AppSpecRepository, ChangeType, Claim, Completion, CreateJob, JobRepository, JobVersion, NewJob,
    NewVersion, Viewer,
};
use ingenio_app_specs::validation::{Finding, Severity};
use ingenio_app_specs::{AgeGroup, SpecStatus, TokenUsage};
use ingenio_kernel::uuid::Uuid;
use ingenio_kernel::{TenantId, UserId};
use ingenio_postgres::app_specs::PgAppSpecRepository;
use ingenio_postgres::jobs::PgJobRepository;
use ingenio_postgres::pool::build_pool;
use ingenio_postgres::{DbPool, PgPoolSettings};
use ingenio_testkit::db::TestDb;
use serde_json::{json, Value};

/// A migrated database and a pool on it (the pool is declared first so it is dropped first).
pub struct Env {
    pub pool: DbPool,
    pub db: TestDb,
}

pub async fn env() -> Env {
    let db = TestDb::new().await.unwrap();
    let pool = build_pool(&PgPoolSettings {
        url: db.url.clone(),
        max_size: 12,
        min_idle: 0,
        connection_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(60),
        max_lifetime: Duration::from_secs(600),
        http_workers: 0,
    });
    Env { pool, db }
}

pub fn other_tenant() -> TenantId {
    TenantId::from(Uuid::from_u128(0x2222_0000_0000_0000_0000_0000_0000_0002))
}

impl Env {
    /// Inserts a user of `tenant` and returns its id.
    pub async fn user_in(&self, tenant: TenantId, name: &str) -> UserId {
        let id = Uuid::new_v4();
        self.exec(&format!(
            "INSERT INTO users (id, tenant_id, username, email, password_hash) \
             VALUES ('{id}', '{tenant}', '{name}', '{name}@example.com', 'x')"
        ))
        .await;
        id.into()
    }

    /// Inserts a user of the default tenant.
    pub async fn user(&self, name: &str) -> UserId {
        self.user_in(TenantId::default(), name).await
    }

    pub async fn exec(&self, sql: &str) {
        let mut c = self.pool.get().await.unwrap();
        c.batch_execute(sql).await.unwrap();
    }

    /// Runs `SELECT COUNT(*) AS n ...`-style SQL returning one `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = self.pool.get().await.unwrap();
        let row: N = diesel::sql_query(sql).get_result(&mut c).await.unwrap();
        row.n
    }
}

pub fn viewer(user: UserId) -> Viewer {
    Viewer {
        tenant: TenantId::default(),
        user,
        admin: false,
    }
}

pub fn admin(user: UserId) -> Viewer {
    Viewer {
        tenant: TenantId::default(),
        user,
        admin: true,
    }
}

/// A small but plausible spec body.
pub fn spec_json(title: &str) -> Value {
    json!({"title": title, "pages": [{"name": "home"}], "dataModels": []})
}

pub fn new_version(by: UserId, title: &str) -> NewVersion {
    NewVersion {
        content: spec_json(title),
        generation_metadata: Some(json!({"modelVersion": "test", "title": title})),
        change_description: Some(format!("set {title}")),
        change_type: ChangeType::UserEdit,
        created_by: by,
        status: SpecStatus::Draft,
        quality_score: Some(70),
    }
}

pub const LEASE: Duration = Duration::from_secs(60);

/// A generate request as the HTTP edge builds it.
pub fn request(text: &str) -> JobRequest {
    JobRequest {
        kind: JobKind::Generate,
        requirement: text.to_owned(),
        age_group: Some(AgeGroup::MiddleSchool),
        magic_prompt_id: None,
        variables: json!({"topic": "math"}),
        app_spec_id: None,
        version: None,
        renderer: Some("uniapp".to_owned()),
        quality_threshold: 70,
    }
}

pub fn new_job(user: UserId, text: &str, key: Option<&str>) -> NewJob {
    NewJob {
        tenant: TenantId::default(),
        user,
        request: request(text),
        idempotency_key: key.map(str::to_owned),
        quota_reservation: Some(format!("res-{text}")),
        state: JobState::default(),
    }
}

pub fn usage(n: u64) -> TokenUsage {
    TokenUsage {
        prompt_tokens: n,
        completion_tokens: 2 * n,
        total_tokens: 3 * n,
        prompt_cache_hit_tokens: 1,
        prompt_cache_miss_tokens: n - 1,
    }
}

pub async fn created(repo: &PgJobRepository, job: NewJob) -> GenerationJob {
    match repo.create(job).await.unwrap() {
        CreateJob::Created(j) => j,
        other => panic!("{other:?}"),
    }
}

/// A claim below the attempt limit: the job handed out to run (`None` when nothing is runnable).
pub async fn run(repo: &PgJobRepository, worker: &str) -> Option<GenerationJob> {
    match repo.claim(worker, LEASE, MAX_ATTEMPTS).await.unwrap() {
        None => None,
        Some(Claim::Run(job)) => Some(job),
        Some(other) => panic!("expected a job to run, got {other:?}"),
    }
}

pub async fn expire_lease(env: &Env, id: Uuid) {
    env.exec(&format!(
        "UPDATE generation_jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = '{id}'"
    ))
    .await;
}

/// An agent step's checkpoint whose fields all differ from their defaults.
pub fn agent_checkpoint(output: Value, tokens: u64) -> AgentCheckpoint {
    AgentCheckpoint {
        output,
        usage: usage(tokens),
        reasoning: format!("reasoned with {tokens} tokens"),
        model: "deepseek-chat".to_owned(),
    }
}

/// The checkpoints of a job that planned, executed and validated.
pub fn validated_state() -> JobState {
    JobState {
        plan: Some(agent_checkpoint(json!({"modules": ["quiz"]}), 10)),
        execute: Some(agent_checkpoint(json!({"appName": "Quiz"}), 20)),
        validate: Some(ValidateCheckpoint {
            rule_score: 95,
            ai_score: Some(80),
            final_score: Some(89),
            threshold: 70,
            errors: 0,
            warnings: 1,
            findings: vec![Finding {
                path: "pages[0]".to_owned(),
                severity: Severity::Warning,
                code: "empty_page".to_owned(),
                message: "页面没有组件".to_owned(),
            }],
            review: Some(agent_checkpoint(json!({"score": 80}), 5)),
        }),
        version: None,
        render: None,
    }
}

/// The version a generate job writes once validation passed.
pub fn job_version(user: UserId, target: Option<Uuid>, title: &str) -> JobVersion {
    let mut version = new_version(user, title);
    version.change_type = ChangeType::AiGeneration;
    version.status = SpecStatus::Validated;
    version.quality_score = Some(88);
    JobVersion {
        target_spec: target,
        version,
        usage: usage(100),
    }
}

/// A rendered artifact whose fields all differ from their defaults.
pub fn rendered(project_key: &str, hash: &str) -> RenderedCode {
    RenderedCode {
        renderer: "uniapp".to_owned(),
        renderer_version: "1.2.0".to_owned(),
        framework: "vue3".to_owned(),
        project_key: project_key.to_owned(),
        storage_key: format!("code/{hash}.zip"),
        content_hash: hash.to_owned(),
        file_count: 17,
        total_size_bytes: 40_960,
        zip_size_bytes: 12_345,
        preview_url: Some(format!("https://preview.example/{project_key}/")),
        reused: false,
    }
}

pub fn summary() -> JobSummary {
    JobSummary {
        quality_score: Some(89),
        rule_score: Some(95),
        ai_score: Some(80),
        warnings: 1,
        code: None,
    }
}

/// How a job that rendered `code` for `version` completes.
pub fn completion(version: VersionCheckpoint, code: Option<RenderedCode>) -> Completion {
    Completion {
        version,
        code,
        spec_status: SpecStatus::Generated,
        summary: summary(),
        usage: usage(150),
    }
}

pub async fn spec_count(env: &Env) -> i64 {
    env.count("SELECT COUNT(*) AS n FROM app_specs").await
}

/// A new spec of `user` (version 1, draft).
pub async fn spec_of(specs: &PgAppSpecRepository, user: UserId, title: &str) -> Uuid {
    specs
        .create(TenantId::default(), new_version(user, title))
        .await
        .unwrap()
        .0
        .id
}
