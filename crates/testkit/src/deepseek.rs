//! `FakeDeepseek`: a stand-in for DeepSeek's OpenAI-compatible API on `127.0.0.1:<random port>`
//! (chat completions in JSON mode with its quirks — empty keep-alive lines while slow, SSE
//! `: keep-alive` comments, empty content, `finish_reason: "length"`, DeepSeek error bodies and
//! `Retry-After`), scripted per test, recording every request.
//!
//! A tiny HTTP/1.1 server on tokio (keep-alive, `Content-Length` and chunked request bodies),
//! one task per connection so a hanging or slow answer never blocks the others.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a slow answer sends a keep-alive line (`\n`, or `: keep-alive` when streaming).
const KEEP_ALIVE_EVERY: Duration = Duration::from_millis(200);
/// deepseek-chat's largest `max_tokens` (deepseek-reasoner takes up to 64K).
const MAX_TOKENS_CHAT: u64 = 8192;
const MAX_TOKENS_REASONER: u64 = 65536;

/// What the fake answers to one chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The content is this object, serialised.
    Json(Value),
    /// The content is exactly this text (fences, prose, garbage…).
    Content(String),
    /// Empty content (DeepSeek's JSON mode does this now and then).
    Empty,
    /// An HTTP error. `body` `Null` means DeepSeek's usual error body for the status.
    Status {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    /// Waits `delay` sending `"\n"` keep-alive lines (SSE `: keep-alive` when streaming) every
    /// 200 ms, then answers `reply`.
    Slow { delay: Duration, reply: Box<Reply> },
    /// Never answers; the connection stays open until the client gives up.
    Hang,
    /// `finish_reason: "length"`: the content is this object serialised and cut in half.
    Length(Value),
}

impl Reply {
    /// An HTTP error with DeepSeek's usual body for `status`.
    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            body: Value::Null,
            retry_after: None,
        }
    }

    /// `reply` after `delay` of keep-alive lines.
    pub fn slow(delay: Duration, reply: Reply) -> Reply {
        Reply::Slow {
            delay,
            reply: Box::new(reply),
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRequest {
    /// From the first line of the system message, `agent: <name>`.
    pub agent: Option<String>,
    /// The JSON body (`Null` if it was not JSON).
    pub body: Value,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// `"stream": true` was requested.
    pub stream: bool,
    /// The request path (`/chat/completions` or `/v1/chat/completions`).
    pub path: String,
    /// Every header, names lower-cased.
    pub headers: BTreeMap<String, String>,
}

impl FakeRequest {
    /// All message contents joined with newlines (system, user, assistant…).
    pub fn prompt_text(&self) -> String {
        messages_text(&self.body)
    }
}

type Responder = Arc<dyn Fn(&FakeRequest) -> Reply + Send + Sync>;

struct State {
    queue: Mutex<VecDeque<Reply>>,
    per_agent: Mutex<HashMap<String, VecDeque<Reply>>>,
    default: Mutex<Responder>,
    requests: Mutex<Vec<FakeRequest>>,
    seen_system_prompts: Mutex<HashSet<String>>,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake DeepSeek server. Stops (listener and every connection) on `Drop`.
pub struct FakeDeepseek {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeDeepseek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDeepseek")
            .field("addr", &self.addr)
            .field("calls", &self.calls())
            .field("max_in_flight", &self.max_in_flight())
            .finish()
    }
}

impl FakeDeepseek {
    /// Listens on `127.0.0.1:0` and answers with the default responder (by agent: plan →
    /// [`good_plan`], execute → [`good_spec`], review → [`good_review`]`(90)`).
    #[allow(clippy::expect_used)] // a test helper: failing to bind is a broken test machine
    pub async fn start() -> FakeDeepseek {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake deepseek");
        let addr = listener.local_addr().expect("fake deepseek local address");
        let state = Arc::new(State {
            queue: Mutex::new(VecDeque::new()),
            per_agent: Mutex::new(HashMap::new()),
            default: Mutex::new(Arc::new(default_reply)),
            requests: Mutex::new(Vec::new()),
            seen_system_prompts: Mutex::new(HashSet::new()),
            calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let (shutdown, _) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, state.clone(), shutdown.clone()));
        FakeDeepseek {
            addr,
            state,
            shutdown,
            accept_task,
        }
    }

    /// `http://127.0.0.1:PORT` (the adapter appends `/chat/completions`; `/v1/…` works too).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A scripted reply for the next chat completion (FIFO, before the default responder).
    pub fn push(&self, reply: Reply) {
        lock(&self.state.queue).push_back(reply);
    }

    /// A scripted reply for the next call of `agent` only (checked before [`push`](Self::push)ed ones).
    pub fn push_for(&self, agent: &str, reply: Reply) {
        lock(&self.state.per_agent)
            .entry(agent.to_owned())
            .or_default()
            .push_back(reply);
    }

    /// Replaces the default responder (used when no scripted reply is queued).
    pub fn set_default(&self, f: impl Fn(&FakeRequest) -> Reply + Send + Sync + 'static) {
        *lock(&self.state.default) = Arc::new(f);
    }

    /// Every chat completion request received, in arrival order.
    pub fn requests(&self) -> Vec<FakeRequest> {
        lock(&self.state.requests).clone()
    }

    /// Number of chat completion requests received.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Chat completion requests being answered right now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// The most chat completion requests ever answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Scripted replies not consumed yet (global and per agent).
    pub fn pending_replies(&self) -> usize {
        lock(&self.state.queue).len()
            + lock(&self.state.per_agent)
                .values()
                .map(VecDeque::len)
                .sum::<usize>()
    }
}

impl Drop for FakeDeepseek {
    fn drop(&mut self) {
        self.accept_task.abort();
        // Every connection task watches this channel and ends when it flips (or closes).
        self.shutdown.send_replace(true);
    }
}

/// The default responder: answers by agent.
fn default_reply(req: &FakeRequest) -> Reply {
    match req.agent.as_deref() {
        Some("plan") => Reply::Json(good_plan()),
        Some("execute") => Reply::Json(good_spec()),
        Some("review") => Reply::Json(good_review(90)),
        _ => Reply::Json(
            json!({"error": "fake deepseek: no `agent: <name>` first line in the system prompt"}),
        ),
    }
}

/// A plausible plan for a quiz app (an object with a `pages` array).
pub fn good_plan() -> Value {
    json!({
        "modules": ["quiz", "score"],
        "pages": [
            {"id": "home", "name": "Animal Quiz", "path": "/", "purpose": "Read the rules and start", "components": ["Text", "Button"]},
            {"id": "quiz", "name": "Questions", "path": "/quiz", "purpose": "Answer the questions one by one", "components": ["Quiz", "Button"]},
            {"id": "result", "name": "My Score", "path": "/result", "purpose": "See the score and play again", "components": ["Text", "Button"]}
        ],
        "dataModels": [
            {"id": "score-record", "name": "Score", "fields": [
                {"name": "nickname", "type": "string", "required": true},
                {"name": "score", "type": "number", "required": true},
                {"name": "playedAt", "type": "date", "required": true}
            ]}
        ],
        "flows": [
            {"id": "start-quiz", "name": "Start", "trigger": "click", "description": "go to the questions"},
            {"id": "finish-quiz", "name": "Finish", "trigger": "click", "description": "save the score and show it"}
        ],
        "roles": ["user"],
        "complexity": "simple",
        "reasoning": "Three pages (start, questions, score) keep one task per page; one data model stores the scores."
    })
}

/// A valid quiz AppSpec (SPEC §4 shape): no rule-pass findings, so it scores 100.
pub fn good_spec() -> Value {
    json!({
        "version": "1.0.0",
        "appName": "Animal Quiz",
        "pages": [
            {"id": "home", "name": "Animal Quiz", "path": "/", "components": [
                {"id": "home-title", "type": "Text", "props": {"text": "How well do you know animals?", "variant": "title"}, "children": []},
                {"id": "home-nickname", "type": "Input", "props": {"label": "Your nickname", "name": "nickname", "placeholder": "e.g. Panda"}, "children": []},
                {"id": "home-start", "type": "Button", "props": {"label": "Start", "onClick": "start-quiz"}, "children": []}
            ]},
            {"id": "quiz", "name": "Questions", "path": "/quiz", "components": [
                {"id": "quiz-progress", "type": "Progress", "props": {"value": 0, "max": 3}, "children": []},
                {"id": "quiz-questions", "type": "Quiz", "props": {"questions": [
                    {"question": "Which animal says \"meow\"?", "options": ["Cat", "Dog", "Duck"], "answer": 0},
                    {"question": "Which animal has a trunk?", "options": ["Horse", "Elephant", "Fish"], "answer": 1},
                    {"question": "Which animal can fly?", "options": ["Snake", "Frog", "Bird"], "answer": 2}
                ]}, "children": []},
                {"id": "quiz-finish", "type": "Button", "props": {"label": "Finish", "onClick": "finish-quiz"}, "children": []}
            ]},
            {"id": "result", "name": "My Score", "path": "/result", "components": [
                {"id": "result-card", "type": "Card", "props": {"title": "Well done!"}, "children": [
                    {"id": "result-score", "type": "Text", "props": {"text": "You got {score} of 3 right", "variant": "subtitle"}, "children": []}
                ]},
                {"id": "result-history", "type": "List", "props": {"dataModel": "score-record", "columns": ["nickname", "score", "playedAt"]}, "children": []},
                {"id": "result-again", "type": "Button", "props": {"label": "Play again", "onClick": "start-quiz"}, "children": []}
            ]}
        ],
        "dataModels": [
            {"id": "score-record", "name": "Score", "fields": [
                {"name": "nickname", "type": "string", "required": true, "validation": {"minLength": 1, "maxLength": 20}},
                {"name": "score", "type": "number", "required": true, "validation": {"min": 0, "max": 3}},
                {"name": "playedAt", "type": "date", "required": true}
            ]}
        ],
        "flows": [
            {"id": "start-quiz", "name": "Start the quiz", "trigger": "click", "actions": [
                {"type": "setState", "config": {"key": "score", "value": 0}},
                {"type": "navigate", "config": {"to": "/quiz"}}
            ]},
            {"id": "finish-quiz", "name": "Finish the quiz", "trigger": "click", "actions": [
                {"type": "api", "config": {"method": "POST", "model": "score-record"}},
                {"type": "navigate", "config": {"to": "/result"}}
            ]}
        ],
        "permissions": {
            "roles": ["user"],
            "rules": [{"resource": "score-record", "actions": ["read", "create"], "roles": ["user"]}]
        }
    })
}

/// A review with this score, no issues and a summary.
pub fn good_review(score: u8) -> Value {
    json!({
        "score": score,
        "issues": [],
        "summary": "A complete, friendly quiz: every page is reachable and scores are saved."
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 plumbing

async fn accept_loop(listener: TcpListener, state: Arc<State>, shutdown: watch::Sender<bool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stop = shutdown.subscribe();
        let state = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => {}
                _ = serve_connection(stream, state) => {}
            }
        });
    }
}

struct HttpRequest {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    fn keep_alive(&self) -> bool {
        !self
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let request = match read_request(&mut read).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let keep_alive = request.keep_alive();
        let ok = route(&request, &state, &mut read, &mut write).await;
        if !ok || !keep_alive {
            let _ = write.shutdown().await;
            return;
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;

async fn read_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    budget: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = read.read_line(&mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget.saturating_sub(n);
    if *budget == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "request head too large",
        ));
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn read_request<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<HttpRequest>> {
    let mut budget = MAX_HEAD;
    // Tolerate stray empty lines between requests.
    let request_line = loop {
        match read_line(read, &mut budget).await? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let Some(line) = read_line(read, &mut budget).await? else {
            return Ok(None);
        };
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked_body(read, &mut budget).await?
    } else {
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request body too large",
            ));
        }
        let mut body = vec![0; len];
        read.read_exact(&mut body).await?;
        body
    };
    Ok(Some(HttpRequest {
        method,
        path,
        headers,
        body,
    }))
}

async fn read_chunked_body<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    budget: &mut usize,
) -> std::io::Result<Vec<u8>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let mut body = Vec::new();
    loop {
        let line = read_line(read, budget)
            .await?
            .ok_or_else(|| bad("eof in chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers up to the empty line.
            while let Some(trailer) = read_line(read, budget).await? {
                if trailer.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        read.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        read.read_exact(&mut crlf).await?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn head(
    status: u16,
    content_type: &str,
    extra: &[(&str, String)],
    length: Option<usize>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n",
        reason(status)
    );
    match length {
        Some(n) => h.push_str(&format!("content-length: {n}\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\n"),
    }
    h.push_str(if keep_alive {
        "connection: keep-alive\r\n"
    } else {
        "connection: close\r\n"
    });
    for (name, value) in extra {
        h.push_str(&format!("{name}: {value}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

async fn send(write: &mut OwnedWriteHalf, bytes: &[u8]) -> bool {
    write.write_all(bytes).await.is_ok() && write.flush().await.is_ok()
}

async fn send_json(
    write: &mut OwnedWriteHalf,
    status: u16,
    body: &Value,
    extra: &[(&str, String)],
    keep_alive: bool,
) -> bool {
    let body = body.to_string().into_bytes();
    let mut out = head(
        status,
        "application/json",
        extra,
        Some(body.len()),
        keep_alive,
    );
    out.extend_from_slice(&body);
    send(write, &out).await
}

/// DeepSeek's error body.
fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("authentication_error", "invalid_request_error"),
        402 => ("insufficient_balance", "invalid_request_error"),
        429 => ("rate_limit_error", "rate_limit_exceeded"),
        s if s >= 500 => ("server_error", "server_error"),
        _ => ("invalid_request_error", "invalid_request_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn default_error_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid request body format",
        401 => "Authentication Fails (no such user)",
        402 => "Insufficient Balance",
        422 => "Invalid Parameters",
        429 => "Rate Limit Reached",
        500 => "Server Error",
        503 => "Server Overloaded",
        _ => "Error",
    }
}

/// Returns false when the connection must be closed.
async fn route(
    request: &HttpRequest,
    state: &Arc<State>,
    read: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
) -> bool {
    let keep_alive = request.keep_alive();
    let path = request
        .path
        .strip_prefix("/v1")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(&request.path);
    let authorized = request
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    match (request.method.as_str(), path) {
        ("POST", "/chat/completions") => chat_completions(request, state, read, write).await,
        ("GET", "/models") | ("GET", "/user/balance") if !authorized => {
            send_json(
                write,
                401,
                &error_body(401, default_error_message(401)),
                &[],
                keep_alive,
            )
            .await
        }
        ("GET", "/models") => {
            let body = json!({"object": "list", "data": [
                {"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"},
                {"id": "deepseek-reasoner", "object": "model", "owned_by": "deepseek"}
            ]});
            send_json(write, 200, &body, &[], keep_alive).await
        }
        ("GET", "/user/balance") => {
            let body = json!({"is_available": true, "balance_infos": [
                {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00"}
            ]});
            send_json(write, 200, &body, &[], keep_alive).await
        }
        _ => send_json(write, 404, &error_body(404, "Not Found"), &[], keep_alive).await,
    }
}

/// Counts a request as in flight until `finish` (called right before the last bytes go out, so
/// a client that reacts to the answer never sees the request still counted) or drop.
struct InFlight<'a> {
    state: &'a State,
    done: bool,
}

impl<'a> InFlight<'a> {
    fn start(state: &'a State) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight { state, done: false }
    }
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

fn message_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn messages_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .map(|m| message_text(m.get("content").unwrap_or(&Value::Null)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn system_prompt(body: &Value) -> Option<String> {
    body.get("messages")?
        .as_array()?
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .map(|m| message_text(m.get("content").unwrap_or(&Value::Null)))
}

fn agent_of(body: &Value) -> Option<String> {
    let system = system_prompt(body)?;
    let first = system.lines().next()?.trim();
    let name = first.strip_prefix("agent:")?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A rough token count: ASCII text ~4 characters per token, other scripts ~1 per character.
fn estimate_tokens(text: &str) -> u64 {
    let (ascii, other) = text.chars().fold((0_u64, 0_u64), |(a, o), c| {
        if c.is_ascii() {
            (a + 1, o)
        } else {
            (a, o + 1)
        }
    });
    ascii.div_ceil(4) + other
}

/// Checks DeepSeek makes before answering; `Some((status, message))` refuses the request.
fn refuse(request: &HttpRequest, body: &Option<Value>) -> Option<(u16, String)> {
    let authorized = request
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    if !authorized {
        return Some((401, default_error_message(401).to_owned()));
    }
    let Some(body) = body else {
        return Some((
            400,
            "Failed to deserialize the JSON body into the target type".to_owned(),
        ));
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !model.starts_with("deepseek-") {
        return Some((400, "Model Not Exist".to_owned()));
    }
    let messages = body.get("messages").and_then(Value::as_array);
    if messages.is_none_or(|m| m.is_empty()) {
        return Some((
            422,
            "Invalid Parameters: messages must not be empty".to_owned(),
        ));
    }
    let limit = if model == "deepseek-reasoner" {
        MAX_TOKENS_REASONER
    } else {
        MAX_TOKENS_CHAT
    };
    if let Some(max) = body.get("max_tokens") {
        let ok = max.as_u64().is_some_and(|n| (1..=limit).contains(&n));
        if !ok {
            return Some((
                422,
                format!("Invalid max_tokens value, the valid range of max_tokens is [1, {limit}]"),
            ));
        }
    }
    let json_mode = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        == Some("json_object");
    if json_mode && !messages_text(body).to_lowercase().contains("json") {
        return Some((
            400,
            "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'.".to_owned(),
        ));
    }
    None
}

fn next_reply(state: &State, request: &FakeRequest) -> Reply {
    if let Some(agent) = &request.agent {
        if let Some(reply) = lock(&state.per_agent)
            .get_mut(agent)
            .and_then(VecDeque::pop_front)
        {
            return reply;
        }
    }
    if let Some(reply) = lock(&state.queue).pop_front() {
        return reply;
    }
    let responder = lock(&state.default).clone();
    responder(request)
}

/// The final answer after any `Slow` wrappers: total delay and the innermost reply.
fn flatten(reply: Reply) -> (Duration, Reply) {
    let mut delay = Duration::ZERO;
    let mut reply = reply;
    while let Reply::Slow {
        delay: d,
        reply: inner,
    } = reply
    {
        delay += d;
        reply = *inner;
    }
    (delay, reply)
}

enum Outcome {
    Content {
        content: String,
        finish: &'static str,
    },
    Error {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    Hang,
}

fn outcome(reply: Reply) -> Outcome {
    match reply {
        Reply::Json(v) => Outcome::Content {
            content: v.to_string(),
            finish: "stop",
        },
        Reply::Content(s) => Outcome::Content {
            content: s,
            finish: "stop",
        },
        Reply::Empty => Outcome::Content {
            content: String::new(),
            finish: "stop",
        },
        Reply::Length(v) => {
            let full = v.to_string();
            let half: String = full.chars().take(full.chars().count() / 2).collect();
            Outcome::Content {
                content: half,
                finish: "length",
            }
        }
        Reply::Status {
            status,
            body,
            retry_after,
        } => {
            let body = if body.is_null() {
                error_body(status, default_error_message(status))
            } else {
                body
            };
            Outcome::Error {
                status,
                body,
                retry_after,
            }
        }
        Reply::Hang => Outcome::Hang,
        // `flatten` removed every `Slow`; answer like DeepSeek would with an empty result.
        Reply::Slow { .. } => Outcome::Content {
            content: String::new(),
            finish: "stop",
        },
    }
}

fn usage(state: &State, body: &Value, content: &str) -> Value {
    let prompt = estimate_tokens(&messages_text(body)).max(1);
    let system = system_prompt(body).unwrap_or_default();
    // DeepSeek's context cache works in 64-token units over a repeated prefix.
    let hit = if lock(&state.seen_system_prompts).insert(system.clone()) {
        0
    } else {
        (estimate_tokens(&system) / 64 * 64).min(prompt)
    };
    let completion = estimate_tokens(content).max(1);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": hit},
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": prompt - hit
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Waits until the client closes the connection (a hanging answer). Always false.
async fn hang(read: &mut BufReader<OwnedReadHalf>) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => continue,
        }
    }
}

async fn chat_completions(
    request: &HttpRequest,
    state: &Arc<State>,
    read: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
) -> bool {
    let keep_alive = request.keep_alive();
    let body: Option<Value> = serde_json::from_slice(&request.body).ok();
    let fake_request = FakeRequest {
        agent: body.as_ref().and_then(agent_of),
        body: body.clone().unwrap_or(Value::Null),
        authorization: request.header("authorization").map(str::to_owned),
        stream: body
            .as_ref()
            .and_then(|b| b.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        path: request.path.clone(),
        headers: request.headers.clone(),
    };
    state.calls.fetch_add(1, Ordering::SeqCst);
    lock(&state.requests).push(fake_request.clone());
    let mut in_flight = InFlight::start(state);

    if let Some((status, message)) = refuse(request, &body) {
        in_flight.finish();
        return send_json(
            write,
            status,
            &error_body(status, &message),
            &[],
            keep_alive,
        )
        .await;
    }
    let body = body.unwrap_or(Value::Null);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("deepseek-chat")
        .to_owned();
    let (delay, reply) = flatten(next_reply(state, &fake_request));
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());

    match outcome(reply) {
        Outcome::Hang => hang(read).await,
        Outcome::Error {
            status,
            body: error,
            retry_after,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let extra: Vec<(&str, String)> = retry_after
                .map(|s| ("retry-after", s.to_string()))
                .into_iter()
                .collect();
            in_flight.finish();
            send_json(write, status, &error, &extra, keep_alive).await
        }
        Outcome::Content { content, finish } => {
            let usage = usage(state, &body, &content);
            if fake_request.stream {
                stream_answer(
                    write,
                    &mut in_flight,
                    &id,
                    &model,
                    &content,
                    finish,
                    usage,
                    delay,
                    keep_alive,
                )
                .await
            } else {
                let mut message = json!({"role": "assistant", "content": content});
                if model == "deepseek-reasoner" {
                    message["reasoning_content"] =
                        json!("(fake) thinking about the requirement first");
                }
                let answer = json!({
                    "id": id,
                    "object": "chat.completion",
                    "created": now_secs(),
                    "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                    "usage": usage,
                    "system_fingerprint": "fp_fake_deepseek"
                });
                if delay.is_zero() {
                    in_flight.finish();
                    return send_json(write, 200, &answer, &[], keep_alive).await;
                }
                // Like DeepSeek under load: headers now, empty lines while waiting, then the body.
                if !send(write, &head(200, "application/json", &[], None, keep_alive)).await {
                    return false;
                }
                if !keep_alive_until(write, delay, b"\n").await {
                    return false;
                }
                let mut out = chunk(answer.to_string().as_bytes());
                out.extend_from_slice(b"0\r\n\r\n");
                in_flight.finish();
                send(write, &out).await
            }
        }
    }
}

/// Sends `line` as a chunk every 200 ms until `delay` has passed; false if the client left.
async fn keep_alive_until(write: &mut OwnedWriteHalf, delay: Duration, line: &[u8]) -> bool {
    let end = tokio::time::Instant::now() + delay;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end {
            return true;
        }
        tokio::time::sleep((end - now).min(KEEP_ALIVE_EVERY)).await;
        if tokio::time::Instant::now() < end && !send(write, &chunk(line)).await {
            return false;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn stream_answer(
    write: &mut OwnedWriteHalf,
    in_flight: &mut InFlight<'_>,
    id: &str,
    model: &str,
    content: &str,
    finish: &str,
    usage: Value,
    delay: Duration,
    keep_alive: bool,
) -> bool {
    let extra = [("cache-control", "no-cache".to_owned())];
    if !send(
        write,
        &head(
            200,
            "text/event-stream; charset=utf-8",
            &extra,
            None,
            keep_alive,
        ),
    )
    .await
    {
        return false;
    }
    if !delay.is_zero() && !keep_alive_until(write, delay, b": keep-alive\n\n").await {
        return false;
    }
    let created = now_secs();
    let event = |delta: Value, finish: Value, usage: Value| {
        let chunk_body = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_fake_deepseek",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            "usage": usage
        });
        format!("data: {chunk_body}\n\n")
    };
    let mut events = vec![event(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
        Value::Null,
    )];
    let chars: Vec<char> = content.chars().collect();
    let piece = chars.len().div_ceil(4).max(1);
    for part in chars.chunks(piece) {
        events.push(event(
            json!({"content": part.iter().collect::<String>()}),
            Value::Null,
            Value::Null,
        ));
    }
    events.push(event(json!({"content": ""}), json!(finish), usage));
    events.push("data: [DONE]\n\n".to_owned());
    let (last, first) = events
        .split_last()
        .map(|(l, f)| (l.clone(), f.to_vec()))
        .unwrap_or_default();
    for e in first {
        if !send(write, &chunk(e.as_bytes())).await {
            return false;
        }
    }
    let mut out = chunk(last.as_bytes());
    out.extend_from_slice(b"0\r\n\r\n");
    in_flight.finish();
    send(write, &out).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn chat_body(agent: &str, stream: bool) -> Value {
        json!({
            "model": "deepseek-chat",
            "messages": [
                {"role": "system", "content": format!("agent: {agent}\nAnswer in json.")},
                {"role": "user", "content": "Make a quiz"}
            ],
            "response_format": {"type": "json_object"},
            "max_tokens": 100,
            "stream": stream
        })
    }

    async fn post(fake: &FakeDeepseek, path: &str, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", fake.base_url()))
            .bearer_auth("sk-test")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn default_answers_by_agent_with_usage() {
        let fake = FakeDeepseek::start().await;
        let r: Value = post(&fake, "/chat/completions", &chat_body("execute", false))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["object"], "chat.completion");
        assert_eq!(r["choices"][0]["finish_reason"], "stop");
        let content: Value =
            serde_json::from_str(r["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(content, good_spec());
        let u = &r["usage"];
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
        );
        assert_eq!(
            u["prompt_tokens"].as_u64().unwrap(),
            u["prompt_cache_hit_tokens"].as_u64().unwrap()
                + u["prompt_cache_miss_tokens"].as_u64().unwrap()
        );
        // `/v1` prefix works and the agent is recorded.
        let r: Value = post(&fake, "/v1/chat/completions", &chat_body("review", false))
            .await
            .json()
            .await
            .unwrap();
        let content: Value =
            serde_json::from_str(r["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
        assert_eq!(content["score"], 90);
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].agent.as_deref(), Some("execute"));
        assert_eq!(reqs[1].authorization.as_deref(), Some("Bearer sk-test"));
        assert_eq!(fake.calls(), 2);
    }

    #[tokio::test]
    async fn scripted_errors_quirks_and_json_rule() {
        let fake = FakeDeepseek::start().await;
        fake.push(Reply::Status {
            status: 429,
            body: Value::Null,
            retry_after: Some(2),
        });
        fake.push_for("plan", Reply::Length(good_plan()));
        let r = post(&fake, "/chat/completions", &chat_body("plan", false)).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let r = post(&fake, "/chat/completions", &chat_body("plan", false)).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["message"], "Rate Limit Reached");
        // JSON mode without the word json is refused like DeepSeek does.
        let mut body = chat_body("plan", false);
        body["messages"][0]["content"] = json!("agent: plan\nanswer please");
        assert_eq!(post(&fake, "/chat/completions", &body).await.status(), 400);
        // No key → 401.
        let r = reqwest::Client::new()
            .post(format!("{}/chat/completions", fake.base_url()))
            .json(&chat_body("plan", false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let models: Value = reqwest::Client::new()
            .get(format!("{}/models", fake.base_url()))
            .bearer_auth("k")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], "deepseek-chat");
    }

    #[tokio::test]
    async fn slow_answers_send_blank_lines_then_json() {
        let fake = FakeDeepseek::start().await;
        fake.push(Reply::slow(
            Duration::from_millis(500),
            Reply::Json(json!({"a": 1})),
        ));
        let text = post(&fake, "/chat/completions", &chat_body("plan", false))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            text.starts_with("\n\n"),
            "expected keep-alive lines, got {text:?}"
        );
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "{\"a\":1}");
    }

    #[tokio::test]
    async fn streaming_sends_chunks_keep_alive_usage_and_done() {
        let fake = FakeDeepseek::start().await;
        fake.push(Reply::slow(
            Duration::from_millis(450),
            Reply::Json(good_review(77)),
        ));
        let text = post(&fake, "/chat/completions", &chat_body("review", true))
            .await
            .text()
            .await
            .unwrap();
        assert!(text.contains(": keep-alive\n\n"));
        assert!(text.trim_end().ends_with("data: [DONE]"));
        let mut content = String::new();
        let mut usage = Value::Null;
        for line in text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|l| *l != "[DONE]")
        {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk");
            content.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
            if !v["usage"].is_null() {
                usage = v["usage"].clone();
            }
        }
        assert_eq!(
            serde_json::from_str::<Value>(&content).unwrap(),
            good_review(77)
        );
        assert!(usage["total_tokens"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn hang_does_not_block_other_requests_and_drop_stops() {
        let fake = FakeDeepseek::start().await;
        fake.push(Reply::Hang);
        let url = fake.base_url();
        let client = reqwest::Client::new();
        let hung = client
            .post(format!("{url}/chat/completions"))
            .bearer_auth("k")
            .json(&chat_body("plan", false))
            .timeout(Duration::from_millis(300))
            .send();
        let body = chat_body("plan", false);
        let (hung, ok) = tokio::join!(hung, post(&fake, "/chat/completions", &body));
        assert!(hung.unwrap_err().is_timeout());
        assert_eq!(ok.status(), 200);
        drop(fake);
        let after = client
            .get(format!("{url}/models"))
            .bearer_auth("k")
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        assert!(after.is_err(), "the fake must stop on drop");
    }
}
