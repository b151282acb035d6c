//! What a request can fail with. Each becomes a small page with its status:
//! bad input is a 4xx that says what was wrong, never a 500.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Redis: {0}")]
    Broker(#[from] weir_broker::Error),
    #[error("store: {0}")]
    Store(#[from] weir_store::Error),
}

impl WebError {
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

pub type Result<T, E = WebError> = std::result::Result<T, E>;
