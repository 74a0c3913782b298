//! The HTTP face of the service: the JSON API under `/api`, `/healthz`, `/metrics`, the OpenAPI
//! description, and the web pages. `router(state)` builds everything without a socket, so tests
//! drive it directly; `serve` binds it.
//!
//! This is the only module that knows status codes: [`ApiError`] maps each [`ServiceError`] to
//! one, with a JSON body `{"error": {"code", "message", "hint"}}` whose code is stable.
//! Internal errors are logged with the request id and never shown to the client.

mod metrics;
pub mod openapi;
mod routes;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::access::Principal;
use crate::service::{Service, ServiceError};

pub use metrics::Metrics;
pub use routes::{Endpoint, endpoints};

/// The largest request body accepted (a complaint is at most 20,000 characters).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub service: Arc<Service>,
    /// Request counters and latency histograms.
    pub metrics: Arc<Metrics>,
}

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

/// The status code for an error.
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Unauthenticated(_) | ServiceError::TokenExpired(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Invalid { code, .. } => match *code {
            "malformed_json" | "invalid_query" => StatusCode::BAD_REQUEST,
            "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let message = match &self.0 {
            ServiceError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "something went wrong on the server".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({"error": {"code": self.0.code(), "message": message, "hint": self.0.hint()}});
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn invalid(code: &'static str, message: String, hint: &str) -> ApiError {
    ApiError(ServiceError::Invalid { code, message, hint: hint.to_string() })
}

/// The signed-in user, from `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(ApiError(ServiceError::Unauthenticated("this call needs a bearer token".into())));
        }
        Ok(Auth(state.service.authenticate(token).await?))
    }
}

/// A JSON body whose rejections are API errors with stable codes.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => invalid("unsupported_media_type", "the body must be JSON".into(), "send `Content-Type: application/json`"),
                JsonRejection::JsonSyntaxError(e) => invalid("malformed_json", format!("the body is not valid JSON: {}", e.body_text()), "check quotes, commas and brackets"),
                JsonRejection::JsonDataError(e) => invalid("invalid_body", e.body_text(), "see /api/openapi.json for the fields this call takes"),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    invalid("body_too_large", format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024), "a complaint is at most 20,000 characters")
                }
                other => invalid("malformed_json", other.body_text(), "send a JSON body"),
            }),
        }
    }
}

/// Query parameters whose rejections are API errors.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(invalid("invalid_query", query_message(&e), "see /api/openapi.json for the parameters this call takes")),
        }
    }
}

fn query_message(e: &QueryRejection) -> String {
    e.body_text()
}

/// Request ids: a per-process random prefix and a counter, short and unique enough to find a
/// request in the logs.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state.metrics.observe(method.as_str(), &route, response.status().as_u16(), start.elapsed());
    response
}

fn route_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": {"code": code, "message": message, "hint": "see /api/openapi.json for the API's paths and methods"}}))).into_response()
}

/// The whole application: API, health, metrics, OpenAPI, pages.
pub fn router(state: AppState) -> Router {
    let mut prefix = [0u8; 4];
    let _ = getrandom::fill(&mut prefix);
    let ids = RequestIds { prefix: prefix.iter().map(|b| format!("{b:02x}")).collect::<String>().into(), next: Arc::default() };
    let mut api = Router::new();
    for (endpoint, handler) in endpoints() {
        api = api.route(endpoint.path, handler);
    }
    api.merge(crate::web::router())
        .fallback(|| async { route_error(StatusCode::NOT_FOUND, "no_such_route", "there is no such page or API call") })
        .method_not_allowed_fallback(|| async { route_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this path does not take that method") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
        })
        // One line per request at info level, with its status and latency.
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::x_request_id(ids))
        .with_state(state)
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
