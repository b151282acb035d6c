//! The live workers (the registry) and draining one.
use crate::State;
use crate::error::{Result, WebError};
use crate::layout::{self, Ctx, count, span};
use crate::pages::{done, seg};
use axum::Extension;
use axum::extract::{Path, Query, State as S};
use axum::response::{Html, Response};
use maud::html;
use weir_broker::registry::STALE_AFTER;

/// GET `/workers`: every worker alive: host, pid, queues, concurrency, jobs running and done, age.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Query(p): Query<crate::pages::Notice>,
) -> Result<Html<String>> {
    let workers = app.broker.workers(STALE_AFTER).await?;
    let now = app.broker.redis_time_ms().await?;
    let body = html! {
        h1 { "Workers" }
        (layout::notice(p.msg.as_deref()))
        section #workers data-live {
            p.summary { strong { (workers.len()) } " live · "
                strong { (workers.iter().map(|w| w.running).sum::<usize>()) } " jobs running" }
            div.scroll {
                table {
                    thead { tr { th { "Id" } th { "Host" } th.n { "Pid" } th { "Queues" } th.n { "Concurrency" }
                        th.n { "Running" } th.n { "Done" } th.n { "Age" } th {} } }
                    tbody {
                        @for w in &workers {
                            tr {
                                td.mono { (w.id) @if w.drain { " " span.badge.paused { "draining" } } }
                                td { (w.host) } td.n { (w.pid) }
                                td { (w.queues_spec()) @if w.mode == "strict" { " (strict)" } }
                                td.n { (w.concurrency) } td.n { (w.running) } td.n { (count(w.jobs_done)) }
                                td.n { (span(now - w.started_at)) }
                                td { @if !w.drain {
                                    (layout::action(&ctx, &format!("/workers/{}/drain", seg(&w.id)), "Drain", "warn",
                                        Some("Drain this worker? It finishes its running jobs and exits."), &[]))
                                } }
                            }
                        }
                        @if workers.is_empty() { tr { td colspan="9" { "No live workers." } } }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx, "Workers", "/workers", body))
}

/// POST `/workers/{id}/drain`: asks one worker to finish its jobs and exit.
pub async fn drain(S(app): S<State>, Extension(ctx): Extension<Ctx>, Path(id): Path<String>) -> Result<Response> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) {
        return Err(WebError::BadRequest(format!("invalid worker id {id:?}")));
    }
    if !app.broker.request_drain(&id).await? {
        return Err(WebError::NotFound(format!("no live worker with id {id:?}")));
    }
    Ok(done(&ctx, "/workers", &format!("drain requested: {id} stops taking jobs at its next heartbeat")))
}
