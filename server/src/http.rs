//! The HTTP surface: [`app`] builds the router, so tests can drive it
//! in-process; handlers only translate between HTTP and the services.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State};
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ServiceError};
use crate::memory::MemoryService;
use crate::metrics::HttpMetrics;
use crate::pool::ConnectionPool;
use crate::settings::{Precondition, SettingsService};
use crate::store::Store;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Conversations and messages.
    pub memory: MemoryService,
    /// Settings.
    pub settings: SettingsService,
    /// The pool both services share.
    pub pool: Arc<ConnectionPool>,
    /// The store both services write through; `/healthz` probes with it.
    pub store: Store,
    /// Request counters.
    pub metrics: Arc<HttpMetrics>,
}

/// The router with every route, the body limit and request counting.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/chat", post(chat))
        .route(
            "/api/conversations/{id}/messages",
            get(messages).post(append_message),
        )
        .route("/api/settings", get(all_settings).patch(merge_settings))
        .route("/api/settings/{key}", get(get_setting).put(put_setting))
        .route("/api/pool", get(pool_stats))
        .route("/livez", get(livez))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            count_request,
        ))
        .with_state(Arc::new(state))
}

async fn count_request(
    State(metrics): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    metrics.record(&route, &method, response.status().as_u16());
    response
}

/// `Json<T>` whose rejections are [`ApiError`]s with a clear message.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a JSON body with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("invalid_json", text),
        JsonRejection::JsonDataError(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", text)
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        ),
        other => ApiError::new(other.status(), "unreadable_body", text),
    }
}

/// `POST /api/chat`.
#[derive(Deserialize)]
struct ChatRequest {
    message: String,
    #[serde(default)]
    conversation_id: Option<String>,
}

async fn chat(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if req.message.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty_message",
            "`message` must not be empty",
        ));
    }
    let turn = state.memory.chat(req.conversation_id, req.message).await?;
    Ok(Json(turn))
}

async fn messages(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let messages = state.memory.messages(&id).await?;
    Ok(Json(json!({ "conversation_id": id, "messages": messages })))
}

/// `POST /api/conversations/{id}/messages`: `{"content": "…"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendRequest {
    content: String,
}

async fn append_message(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AppendRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let message = state.memory.append(&id, body.content).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "conversation_id": id, "message": message })),
    ))
}

async fn all_settings(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let settings = state.settings.all().await?;
    Ok(Json(
        json!({ "count": settings.len(), "settings": settings }),
    ))
}

async fn get_setting(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let (value, etag) = state.settings.get_tagged(&key).await?;
    Ok(([(ETAG, etag)], Json(json!({ "key": key, "value": value }))))
}

async fn put_setting(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    ApiJson(value): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let etag = state
        .settings
        .put_if(&key, &value, precondition(&headers))
        .await?;
    Ok(([(ETAG, etag)], Json(json!({ "key": key, "value": value }))))
}

/// `If-Match` or `If-None-Match` (the entity tags as sent, or `*`).
fn precondition(headers: &HeaderMap) -> Precondition {
    let tags = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
    };
    if headers.contains_key(IF_MATCH) {
        Precondition::Match(tags(IF_MATCH))
    } else if headers.contains_key(IF_NONE_MATCH) {
        Precondition::NoneMatch(tags(IF_NONE_MATCH))
    } else {
        Precondition::None
    }
}

async fn merge_settings(
    State(state): State<Arc<AppState>>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<impl IntoResponse, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "PATCH /api/settings takes a JSON object of the keys to set",
        ));
    };
    let updated = state.settings.merge(patch).await?;
    Ok(Json(json!({ "updated": updated })))
}

async fn pool_stats(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(state.pool.stats())
}

async fn livez() -> impl IntoResponse {
    Json(json!({ "status": "alive" }))
}

/// Ready only when the database answers. Whatever stops it (the file cannot
/// be opened, the pool is exhausted or closed) the probe answers 503, the
/// status load balancers and orchestrators read as "not ready", with the
/// cause's code and message. While a storage condition holds (a full disk,
/// a read-only or vanished database…), it is not ready until a write would
/// succeed: a probe write, at most a few a second, tells.
async fn healthz(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let health = state.pool.health();
    if let Some((fault, message)) = health.current() {
        let still = || ApiError::from(ServiceError::Storage { fault, message }).not_ready();
        if !health.probe_due() {
            return Err(still());
        }
        return match state.store.write(probe_write).await {
            Ok(()) => {
                health.probed();
                Ok(Json(json!({ "status": "ready" })))
            }
            Err(e) => Err(ApiError::from(e).not_ready()),
        };
    }
    let ready = async {
        let conn = state.pool.acquire().await.map_err(ServiceError::from)?;
        conn.call(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .await
            .map_err(ServiceError::from)
    };
    match ready.await {
        Ok(_) => Ok(Json(json!({ "status": "ready" }))),
        Err(e) => Err(ApiError::from(e).not_ready()),
    }
}

/// A write larger than a chat turn (16 KiB: overflow pages the database
/// must find or grow room for), undone in the same transaction: it commits
/// — its pages reach the WAL — only if a chat's would.
fn probe_write(c: &rusqlite::Connection) -> Result<(), ServiceError> {
    const KEY: &str = "\u{0}racegate-health-probe";
    c.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
        rusqlite::params![KEY, "x".repeat(16 * 1024)],
    )?;
    c.execute("DELETE FROM settings WHERE key = ?1", [KEY])?;
    Ok(())
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(&state.pool.stats(), &state.pool.health().counts()),
    )
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(
        "no_route",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}
