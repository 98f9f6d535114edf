//! Generation routes (SPEC §4 "Generation"): accept a job (202, idempotent), its status, the
//! list, cancel, the SSE event stream (resumable with `Last-Event-ID`, from any instance) and the
//! caller's quota.

use crate::http::appspecs::{viewer, PageQuery};
use crate::http::envelope::{self, Envelope};
use crate::http::error::ApiError;
use crate::http::extract::{bearer_token, AuthUser, StreamUser, WriterUser};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use ingenio_app_specs::jobs::{
    AgentRun, EventKind, GenerationJob, JobEvent, JobKind, JobRequest, JobStatus, RenderedCode,
    Step,
};
use ingenio_app_specs::ports::Viewer;
use ingenio_app_specs::service::EVENTS_PAGE;
use ingenio_app_specs::{AgeGroup, TokenUsage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub mod streams;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(generate)
        .service(list_jobs)
        .service(get_job)
        .service(cancel_job)
        .service(job_events)
        .service(quota);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    /// What the student wants, 10–5000 characters. Optional with `magicPromptId`: the prompt's
    /// template filled with `variables` is used; a requirement given with it wins.
    #[schema(example = "a vocabulary quiz for primary school pupils")]
    #[serde(default)]
    pub requirement: Option<String>,
    /// elementary | middle_school | high_school | university
    pub age_group: Option<String>,
    /// A magic prompt to start from (its use is counted when the job is accepted).
    pub magic_prompt_id: Option<Uuid>,
    /// Values for the magic prompt's placeholders; missing ones take its defaults.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// Regenerate this spec (a new version) instead of creating one.
    pub app_spec_id: Option<Uuid>,
    /// static-web | react-next | vue-vite
    pub renderer: Option<String>,
    /// 0–100 (default from configuration, 80).
    pub quality_threshold: Option<u8>,
}

impl GenerateRequest {
    fn try_into_domain(self, default_threshold: u8) -> Result<JobRequest, ApiError> {
        let requirement = self.requirement.as_deref().unwrap_or_default().trim();
        if requirement.is_empty() {
            return Err(ApiError::bad_param(
                "requirement",
                "is required unless magicPromptId is given",
            ));
        }
        let len = requirement.chars().count();
        if !(10..=5000).contains(&len) {
            return Err(ApiError::bad_param(
                "requirement",
                "must be 10 to 5000 characters",
            ));
        }
        let age_group = match self
            .age_group
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(a) => Some(AgeGroup::parse(a).ok_or_else(|| {
                ApiError::bad_param(
                    "ageGroup",
                    "must be elementary, middle_school, high_school or university",
                )
            })?),
        };
        let renderer = match self
            .renderer
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(r @ ("static-web" | "react-next" | "vue-vite")) => Some(r.to_owned()),
            Some(_) => {
                return Err(ApiError::bad_param(
                    "renderer",
                    "must be static-web, react-next or vue-vite",
                ))
            }
        };
        let variables = self.variables.unwrap_or(Value::Null);
        if !(variables.is_null() || variables.is_object()) {
            return Err(ApiError::bad_param("variables", "must be an object"));
        }
        // the range (0–100) is the domain's rule: `AppSpecService::submit` checks it
        let threshold = self.quality_threshold.unwrap_or(default_threshold);
        Ok(JobRequest {
            kind: JobKind::Generate,
            version: None,
            requirement: requirement.to_owned(),
            age_group,
            magic_prompt_id: self.magic_prompt_id,
            variables,
            app_spec_id: self.app_spec_id,
            renderer,
            quality_threshold: threshold,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobResponse {
    pub job_id: Uuid,
    /// `generate` (the AI pipeline) or `render` (rendering an existing version).
    #[schema(example = "generate")]
    pub kind: &'static str,
    #[schema(example = "executing")]
    pub status: &'static str,
    pub progress: u8,
    pub requirement: String,
    /// plan / execute / validate: state, reasoning, tokenUsage.
    #[schema(value_type = Object)]
    pub agents: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_spec_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<Value>,
    #[schema(value_type = Object)]
    pub token_usage: TokenUsage,
    /// The renderer asked for (the configured default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renderer: Option<String>,
    /// The rendered code once the render step is done: renderer, contentHash, fileCount,
    /// totalSizeBytes, projectKey, previewUrl, reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub code: Option<RenderedCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// An agent's state as the job view shows it: completed when its checkpoint is complete, running
/// while the job is in its status, skipped when the job failed before reaching it.
fn agent_state(job: &GenerationJob, step: Step) -> Value {
    let running = step.entry().0 == job.status;
    let state = if job.state.done(step) {
        AgentRun::Completed
    } else if running {
        AgentRun::Running
    } else if job.status.is_final() && job.status != JobStatus::Completed {
        AgentRun::Skipped
    } else {
        AgentRun::Pending
    };
    let mut out = json!({"state": state});
    if step == Step::Validate {
        if let Some(v) = &job.state.validate {
            out["ruleScore"] = json!(v.rule_score);
            out["aiScore"] = json!(v.ai_score);
            out["finalScore"] = json!(v.final_score);
            if let Some(r) = &v.review {
                out["reasoning"] = json!(r.reasoning);
                out["tokenUsage"] = json!(r.usage);
            }
        }
    } else if let Some(c) = job.state.agent(step) {
        out["reasoning"] = json!(c.reasoning);
        out["tokenUsage"] = json!(c.usage);
        out["model"] = json!(c.model);
    }
    out
}

impl From<GenerationJob> for JobResponse {
    fn from(job: GenerationJob) -> Self {
        let agents = match job.request.kind {
            JobKind::Generate => json!({
                "plan": agent_state(&job, Step::Plan),
                "execute": agent_state(&job, Step::Execute),
                "validate": agent_state(&job, Step::Validate),
            }),
            JobKind::Render => json!({}),
        };
        let quality = job
            .result
            .as_ref()
            .and_then(|r| r.quality_score)
            .or_else(|| job.state.validate.as_ref().and_then(|v| v.final_score))
            .map(Value::from);
        let code = job
            .result
            .as_ref()
            .and_then(|r| r.code.clone())
            .or_else(|| job.state.render.clone());
        Self {
            job_id: job.id,
            status: job.status.as_str(),
            progress: job.progress,
            requirement: job.request.requirement.clone(),
            agents,
            app_spec_id: job.app_spec_id,
            version_number: job.version_number,
            quality_score: quality,
            token_usage: job.token_usage,
            error_code: job.error_code.map(|c| c.as_str().to_owned()),
            kind: match job.request.kind {
                JobKind::Generate => "generate",
                JobKind::Render => "render",
            },
            renderer: job.request.renderer.clone(),
            code,
            error_message: job.error_message.clone(),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// Start a durable generation job; answers 202 at once. The same `Idempotency-Key` returns the
/// same job. Counts one unit of the AI quota (refunded if the job fails or is cancelled).
#[utoipa::path(post, path = "/v1/generate", tag = "generate", security(("bearer" = [])), request_body = GenerateRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key, 1–200 chars")),
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 202, description = "Accepted; follow /v1/generate/jobs/{jobId}/events", body = inline(Envelope<JobResponse>)),
        (status = 400, description = "1001 bad parameter", body = inline(Envelope<Value>)),
        (status = 404, description = "3000 appSpecId not found; 1002 magicPromptId not found", body = inline(Envelope<Value>)),
        (status = 429, description = "1005 AI quota used up (Retry-After)", body = inline(Envelope<Value>)),
    ))]
#[post("/generate")]
pub async fn generate(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    req: HttpRequest,
    body: web::Json<GenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    let prompt = apply_magic_prompt(&state, p.tenant_id, &mut body).await?;
    let request = body.try_into_domain(state.settings.ingenio.generation.quality_threshold)?;
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(|s| s.trim().to_owned()))
        .transpose()
        .map_err(|_| ApiError::bad_param("Idempotency-Key", "must be visible ASCII"))?;
    let (job, created) = state.specs.submit(viewer(&p), request, key).await?;
    if created {
        if let Some(id) = prompt {
            // the job is accepted: count the prompt's use (a failure here must not fail the job)
            if let Err(e) = state.social.count_use(p.tenant_id, id).await {
                tracing::warn!(error = %e, prompt = %id, "magic prompt use not counted");
            }
        }
        state.jobs_wakeup.notify_one();
        state.metrics.inc_counter(
            "ingenio_generation_jobs_accepted_total",
            "Generation jobs accepted",
            &[],
        );
    }
    let location = format!(
        "{}/v1/generate/jobs/{}",
        state.settings.server.context_path.trim_end_matches('/'),
        job.id
    );
    let mut r = envelope::with_status(StatusCode::ACCEPTED, JobResponse::from(job));
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// With `magicPromptId`: checks the prompt is active and, when no requirement is given, fills
/// its template with `variables` (unknown or missing variables answer 400 naming them); the
/// prompt's age group applies when the request gives none. Returns the prompt to count.
async fn apply_magic_prompt(
    state: &AppState,
    tenant: ingenio_kernel::TenantId,
    body: &mut GenerateRequest,
) -> Result<Option<Uuid>, ApiError> {
    let Some(id) = body.magic_prompt_id else {
        return Ok(None);
    };
    let own = body
        .requirement
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty());
    let prompt = if own {
        state.social.prompt(None, tenant, id).await?
    } else {
        let vars = body.variables.clone().unwrap_or(Value::Null);
        let filled = state.social.fill(tenant, id, &vars).await?;
        body.requirement = Some(filled.requirement);
        filled.prompt
    };
    if body
        .age_group
        .as_deref()
        .is_none_or(|a| a.trim().is_empty())
    {
        body.age_group = Some(prompt.age_group.as_str().to_owned());
    }
    Ok(Some(id))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobsQuery {
    /// Filter by status.
    pub status: Option<String>,
    pub current: Option<u32>,
    pub size: Option<u32>,
}

/// My generation jobs, newest first.
#[utoipa::path(get, path = "/v1/generate/jobs", tag = "generate", security(("bearer" = [])), params(JobsQuery),
    responses((status = 200, description = "A page of jobs", body = inline(Envelope<Value>))))]
#[get("/generate/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    q: web::Query<JobsQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            JobStatus::parse(s)
                .ok_or_else(|| ApiError::bad_param("status", "unknown job status"))?,
        ),
    };
    let page = PageQuery {
        current: q.current,
        size: q.size,
    }
    .page()?;
    let page = state.specs.jobs(viewer(&p), status, page).await?;
    Ok(envelope::ok(page.map(JobResponse::from)))
}

/// One job: status, progress, per-agent state, result or error, token usage.
#[utoipa::path(get, path = "/v1/generate/jobs/{id}", tag = "generate", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "job id")),
    responses((status = 200, description = "The job", body = inline(Envelope<JobResponse>)),
              (status = 404, description = "1002 not found (also for other users' jobs)", body = inline(Envelope<Value>))))]
#[get("/generate/jobs/{id}")]
pub async fn get_job(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job = state.specs.job(viewer(&p), *id).await?;
    Ok(envelope::ok(JobResponse::from(job)))
}

/// Cancel a job that has not finished: it ends `cancelled`, nothing is stored, the quota is refunded.
#[utoipa::path(post, path = "/v1/generate/jobs/{id}/cancel", tag = "generate", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "job id")),
    responses(
        (status = 401, description = "1003 unauthenticated", body = inline(Envelope<Value>)),
        (status = 403, description = "1004 the viewer role is read-only", body = inline(Envelope<Value>)),
        (status = 200, description = "The job after the request", body = inline(Envelope<JobResponse>)),
              (status = 404, description = "1002", body = inline(Envelope<Value>))))]
#[post("/generate/jobs/{id}/cancel")]
pub async fn cancel_job(
    state: web::Data<AppState>,
    WriterUser(p): WriterUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job = state.specs.cancel(viewer(&p), *id).await?;
    Ok(envelope::ok(JobResponse::from(job)))
}

fn sse_frame(e: &JobEvent) -> Bytes {
    let data = serde_json::to_string(
        &json!({"jobId": e.job_id, "type": e.kind, "data": e.data, "createdAt": e.created_at}),
    )
    .unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        e.id,
        e.kind.as_str(),
        data
    ))
}

struct Stream {
    state: web::Data<AppState>,
    viewer: Viewer,
    job: Uuid,
    last: i64,
    queue: VecDeque<Bytes>,
    done: bool,
    last_sent: Instant,
    started: bool,
    /// Wakes when any instance writes an event of this job (LISTEN/NOTIFY); polling covers gaps.
    wake: ingenio_postgres::notify::JobWatch,
    /// Whether to read events (at the start, after every wake-up, and while pages come back full).
    read_events: bool,
    /// Whether to look at the job itself (at the start and after a timed poll; a notification
    /// always comes with a new event, so then the events read suffices).
    check_job: bool,
    /// The token the stream was opened with, verified again every `session_check`.
    token: String,
    session_check: Duration,
    next_session_check: Instant,
    /// This stream's place under the per-user and per-instance caps, freed when it is dropped.
    _slot: streams::StreamSlot,
}

/// Whether `e` says the stream's session is over (logout, suspension, password change, expiry),
/// rather than that it could not be checked just now.
fn session_over(e: &ingenio_users::UserError) -> bool {
    matches!(
        e,
        ingenio_users::UserError::Unauthenticated(_)
            | ingenio_users::UserError::AccountDisabled
            | ingenio_users::UserError::NotFound
    )
}

/// Every final transition appends one of these in the same transaction, so seeing one ends the
/// stream without asking for the job's status.
fn is_terminal(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Complete | EventKind::Error)
}

/// Poll interval while the notification listener is down.
const POLL: Duration = Duration::from_millis(250);
/// Safety-net poll while it is up (a notification is only a hint).
const POLL_LISTENING: Duration = Duration::from_secs(2);
const HEARTBEAT: Duration = Duration::from_secs(15);

async fn next_chunk(mut s: Stream) -> Option<(Result<Bytes, actix_web::Error>, Stream)> {
    if !s.started {
        s.started = true;
        s.last_sent = Instant::now();
        // tell EventSource how long to wait before reconnecting
        return Some((Ok(Bytes::from_static(b"retry: 2000\n\n")), s));
    }
    loop {
        if Instant::now() >= s.next_session_check {
            s.next_session_check = Instant::now() + s.session_check;
            match s.state.users.authenticate(&s.token).await {
                Err(e) if session_over(&e) => {
                    tracing::info!(job = %s.job, reason = %e, "event stream ended with its session");
                    return None;
                }
                Err(e) => tracing::warn!(error = %e, "event stream session check failed"),
                Ok(_) => {}
            }
        }
        if let Some(b) = s.queue.pop_front() {
            s.last_sent = Instant::now();
            return Some((Ok(b), s));
        }
        if s.done {
            return None;
        }
        if s.read_events {
            match s.state.specs.events_after(s.job, s.last).await {
                Ok(events) => {
                    s.read_events = events.len() >= EVENTS_PAGE as usize;
                    for e in &events {
                        s.last = e.id;
                        s.queue.push_back(sse_frame(e));
                        s.done |= is_terminal(&e.kind);
                    }
                    if !events.is_empty() {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, job = %s.job, "event stream poll failed");
                }
            }
        }
        if s.check_job {
            s.check_job = false;
            match s.state.specs.job(s.viewer, s.job).await {
                Ok(job) if job.status.is_final() => {
                    // one last read closes the race between the final event and the status change
                    if let Ok(events) = s.state.specs.events_after(s.job, s.last).await {
                        for e in &events {
                            s.last = e.id;
                            s.queue.push_back(sse_frame(e));
                        }
                    }
                    s.done = true;
                    continue;
                }
                Ok(_) => {}
                Err(ingenio_app_specs::AppSpecError::JobNotFound) => return None,
                Err(_) => {}
            }
        }
        if s.last_sent.elapsed() >= HEARTBEAT {
            s.last_sent = Instant::now();
            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s));
        }
        let poll = if s.state.job_wakeups.is_listening() {
            POLL_LISTENING
        } else {
            POLL
        };
        let wait = poll.min(HEARTBEAT.saturating_sub(s.last_sent.elapsed()));
        let notified = tokio::time::timeout(wait, s.wake.changed()).await.is_ok();
        s.read_events = true;
        s.check_job = !notified;
    }
}

/// Server-sent events of a job: `progress`, `agent`, `file`, `complete`, `error`, each with an id.
/// `Last-Event-ID` (header, or `lastEventId` query for clients that cannot set headers) resumes
/// after that event with no repeats and no gaps. Heartbeat comments every 15 s keep proxies from
/// closing idle streams. Any instance can serve any job's stream. Browsers' `EventSource` cannot
/// set headers: it may pass `?access_token=<token>&lastEventId=<id>` instead. A user may hold
/// `ingenio.generation.sse-max-streams-per-user` streams on one instance (429 `1005` past that, or
/// past the instance's own cap); a stream ends within `sse-session-check-seconds` of its session
/// ending (logout, suspension, password change, token expiry).
#[utoipa::path(get, path = "/v1/generate/jobs/{id}/events", tag = "generate", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "job id"), ("Last-Event-ID" = Option<String>, Header, description = "resume after this event id"),
           ("lastEventId" = Option<i64>, Query, description = "the same, for clients that cannot set headers"),
           ("access_token" = Option<String>, Query, description = "the access token, for EventSource (which cannot send Authorization)")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"),
              (status = 404, description = "1002", body = inline(Envelope<Value>)),
              (status = 429, description = "1005: too many open streams", body = inline(Envelope<Value>))))]
#[get("/generate/jobs/{id}/events")]
pub async fn job_events(
    state: web::Data<AppState>,
    StreamUser(p): StreamUser,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer(&p);
    state.specs.job(viewer, *id).await?;
    let from_header = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = web::Query::<LastEvent>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().last_event_id);
    let last = match from_header.or(from_query) {
        None => 0,
        Some(s) if s.trim().is_empty() => 0,
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad_param("Last-Event-ID", "must be an event id"))?,
    };
    let token =
        stream_token(&req).ok_or_else(|| ApiError::unauthenticated("authentication required"))?;
    let generation = &state.settings.ingenio.generation;
    let slot = state
        .streams
        .open(
            p.user_id,
            generation.sse_max_streams_per_user,
            generation.sse_max_streams_per_instance,
        )
        .map_err(|why| {
            let scope = match why {
                streams::StreamRefused::User => "sse_user",
                streams::StreamRefused::Instance => "sse_instance",
            };
            state.metrics.inc_counter(
                "ingenio_rate_limit_rejected_total",
                "Requests refused by the rate limiter",
                &[("scope", scope)],
            );
            ApiError::too_many(STREAM_RETRY_AFTER)
        })?;
    let session_check = Duration::from_secs(generation.sse_session_check_seconds.max(1));
    let stream = futures::stream::unfold(
        Stream {
            state: state.clone(),
            viewer,
            job: *id,
            last,
            queue: VecDeque::new(),
            done: false,
            last_sent: Instant::now(),
            started: false,
            wake: state.job_wakeups.watch(*id),
            read_events: true,
            check_job: true,
            token,
            session_check,
            next_session_check: Instant::now() + session_check,
            _slot: slot,
        },
        next_chunk,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        // keep the compression middleware from buffering the stream
        .insert_header(header::ContentEncoding::Identity)
        .streaming(stream))
}

/// Seconds a client refused a stream is told to wait.
const STREAM_RETRY_AFTER: u64 = 10;

/// The token a stream was opened with: the `Authorization` header, or `?access_token=`.
fn stream_token(req: &HttpRequest) -> Option<String> {
    bearer_token(req).or_else(|| {
        web::Query::<AccessToken>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.into_inner().access_token)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    })
}

#[derive(Debug, Deserialize)]
struct AccessToken {
    access_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LastEvent {
    last_event_id: Option<String>,
}

/// One limit as the quota route shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitState {
    pub limit: u32,
    /// Counted in the current window (for requests, this one included); `null` when not counted
    /// (rate limiting off, or the limiter unreachable).
    pub used: Option<u32>,
    /// Left in the current window.
    pub remaining: Option<u32>,
    pub window_seconds: u64,
    /// Seconds until the current window ends and the count starts again.
    pub reset_in_seconds: Option<u64>,
    /// When the current window ends.
    pub reset_at: Option<DateTime<Utc>>,
}

impl LimitState {
    fn counted(limit: u32, used: u32, window_seconds: u64, reset: Duration) -> Self {
        Self {
            limit,
            used: Some(used),
            remaining: Some(limit.saturating_sub(used)),
            window_seconds,
            reset_in_seconds: Some(reset.as_secs()),
            reset_at: chrono::Duration::from_std(reset)
                .ok()
                .map(|d| Utc::now() + d),
        }
    }
}

/// The caller's two limits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaResponse {
    /// `ingenio.rate-limit.enabled`.
    pub enabled: bool,
    /// Requests per minute (every response of /api/v1 also carries RateLimit-* headers).
    pub requests: LimitState,
    /// AI generations per hour.
    pub ai_calls: LimitState,
}

/// What is left of the caller's limits: requests per minute and AI generations per hour, each
/// with its limit, what is used, what is left and when its window resets.
#[utoipa::path(get, path = "/v1/user/quota", tag = "user", security(("bearer" = [])),
    responses((status = 200, description = "Limits and usage", body = inline(Envelope<QuotaResponse>)),
              (status = 401, description = "1003", body = inline(Envelope<Value>))))]
#[get("/user/quota")]
pub async fn quota(
    state: web::Data<AppState>,
    AuthUser(p): AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let rl = &state.settings.ingenio.rate_limit;
    let q = state.specs.quota(viewer(&p)).await?;
    let decision = req
        .extensions()
        .get::<ingenio_kernel::RateDecision>()
        .copied();
    let requests = match decision {
        Some(d) => LimitState::counted(
            d.limit,
            d.limit.saturating_sub(d.remaining),
            60,
            d.reset_after,
        ),
        None => LimitState {
            limit: rl.requests_per_minute,
            used: None,
            remaining: None,
            window_seconds: 60,
            reset_in_seconds: None,
            reset_at: None,
        },
    };
    Ok(envelope::ok(QuotaResponse {
        enabled: rl.enabled,
        requests,
        ai_calls: LimitState::counted(q.limit, q.used, 3600, q.reset_after),
    }))
}
