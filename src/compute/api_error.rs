//! The error body the provider's HTTP API answers with, in OpenAI's shape
//! (`{"error": {"message", "type", "code"}}`), which the 0G SDK and OpenAI clients read.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }
}

/// A 413 in this shape, for `compute::oversized::BodyLimit::refusal`.
pub fn too_large(message: String) -> Response {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", message).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"message": self.message, "type": self.kind, "code": self.status.as_u16()}});
        (self.status, Json(body)).into_response()
    }
}

