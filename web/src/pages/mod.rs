//! One module per page. Handlers parse and check their input, ask the
//! broker (or the store), and draw; every query lives in the broker.
pub mod autoscaler;
pub mod dead;
pub mod job;
pub mod limits;
pub mod overview;
pub mod queue;
pub mod workers;

use crate::error::{Result, WebError};
use crate::layout::Ctx;
use axum::Extension;
use axum::response::{IntoResponse, Redirect, Response};
use weir_broker::{Broker, QueueName};

/// The query of a page that shows a notice after an action (`?msg=`).
#[derive(Debug, serde::Deserialize)]
pub struct Notice {
    /// The notice, as [`done`] put it in the URL.
    pub msg: Option<String>,
}

/// A queue named in a URL: a valid name (else 400) that has been enqueued to (else 404).
pub async fn known_queue(broker: &Broker, raw: &str) -> Result<QueueName> {
    let q = QueueName::new(raw).map_err(|e| WebError::BadRequest(e.to_string()))?;
    if !broker.has_queue(&q).await? {
        return Err(WebError::NotFound(format!("no queue named {raw:?} (none was ever enqueued to)")));
    }
    Ok(q)
}

/// Back to `path` with a one-line notice for the page to show.
pub fn done(ctx: &Ctx, path: &str, msg: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("msg", msg).finish();
    Redirect::to(&format!("{}{path}{sep}{q}", ctx.base)).into_response()
}

/// A path segment, percent-encoded (ids and names are of a safe alphabet,
/// but a link must never depend on that).
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every path the router does not know: a 404 page.
pub async fn not_found(Extension(_ctx): Extension<Ctx>) -> Response {
    WebError::NotFound("no such page".into()).into_response()
}
