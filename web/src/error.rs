//! What a request can fail with. Each becomes a small page with its status:
//! bad input is a 4xx that says what was wrong, never a 500.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
/// Why a request failed; [`WebError::status`] picks its HTTP status.
pub enum WebError {
    #[error("{0}")]
    /// No such queue, job or page (404).
    NotFound(String),
    #[error("{0}")]
    /// A form or query the dashboard refuses, with what was wrong (400).
    BadRequest(String),
    #[error("{0}")]
    /// A missing or wrong login token or CSRF token, or an action in read-only mode (403).
    Forbidden(String),
    #[error("Redis: {0}")]
    /// Redis failed (503), or refused the input (a queue name, a limit: 400).
    Broker(#[from] weir_broker::Error),
    #[error("store: {0}")]
    /// The store failed (503).
    Store(#[from] weir_store::Error),
}

impl WebError {
    /// The status the error page carries: 4xx for the caller's input, 503
    /// when Redis or the store is the trouble, never 500.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            // Bad input the broker refused (a name, a limit) is the caller's.
            WebError::Broker(
                weir_broker::Error::InvalidQueueName { .. }
                | weir_broker::Error::InvalidJobId(_)
                | weir_broker::Error::InvalidLimit(_)
                | weir_broker::Error::InvalidDuration(_),
            ) => StatusCode::BAD_REQUEST,
            // Redis or the database is down or said something odd: not the caller's fault.
            WebError::Broker(_) | WebError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "dashboard request failed");
        }
        // The guard (security.rs) renders the message in the page shell.
        let mut res = (status, crate::layout::error_page(status, &self.to_string())).into_response();
        res.extensions_mut().insert(crate::layout::ErrorMessage(self.to_string()));
        res
    }
}

/// A handler's result, with [`WebError`] by default.
pub type Result<T, E = WebError> = std::result::Result<T, E>;
