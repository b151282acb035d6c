//! One job: its envelope, payload (pretty JSON; bincode as its base64 text),
//! attempts, every error with its time, state and score, unique and rate
//! keys, the latest progress and (active) the worker running it; delete,
//! run now (a delayed job) and retry (a dead job). A done job: its record,
//! with result and progress.
use crate::State;
use crate::error::{Result, WebError};
use crate::layout::{self, Ctx, time};
use crate::pages::queue::score_label;
use crate::pages::{done, known_queue, seg};
use axum::Extension;
use axum::extract::{Path, Query, State as S};
use axum::response::{Html, Response};
use maud::html;
use weir_broker::{Codec, Envelope, JobState};

async fn find(app: &crate::App, queue: &str, id: &str) -> Result<(weir_broker::QueueName, weir_broker::JobInfo)> {
    let q = known_queue(&app.broker, queue).await?;
    weir_broker::name::validate_job_id(id).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let info = app.broker.job(&q, id).await?;
    let info = info.ok_or_else(|| {
        WebError::NotFound(format!("no job {id:?} in queue {q} (it may be done: done jobs are deleted)"))
    })?;
    Ok((q, info))
}

/// The payload as a reader wants it: indented JSON, or bincode's base64 text.
pub fn pretty_payload(env: &Envelope) -> String {
    match env.codec {
        Codec::Json => serde_json::from_str::<serde_json::Value>(env.payload.get())
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| env.payload.get().to_string()),
        // bincode payloads are a JSON string of base64.
        Codec::Bincode => {
            serde_json::from_str::<String>(env.payload.get()).unwrap_or_else(|_| env.payload.get().to_string())
        }
    }
}

/// GET `/queues/{queue}/jobs/{id}`: one job's state, attempts, errors,
/// progress, result and envelope.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Path((queue, id)): Path<(String, String)>,
    Query(p): Query<crate::pages::Notice>,
) -> Result<Html<String>> {
    let (q, info) = match find(&app, &queue, &id).await {
        Err(WebError::NotFound(msg)) => return done_page(&app, &ctx, &queue, &id, msg).await,
        other => other?,
    };
    // Progress, worker and cancel request: what the job's status adds.
    let st = app.broker.status_in(&q, &id).await?;
    let parsed = info.parse_envelope();
    let here = format!("/queues/{}/jobs/{}", seg(q.as_str()), seg(&id));
    let body = html! {
        p.crumbs { a href=(ctx.url(&format!("/queues/{}", seg(q.as_str())))) { "← queue " (q) } }
        h1 { "Job " span.mono { (id) } }
        (layout::notice(p.msg.as_deref()))
        section #job-state data-live {
            dl.figures {
                div { dt { "State" } dd { @match info.state { Some(s) => span class=(format!("badge {}", s.as_str())) { (s.as_str()) }, None => "in no state (a damaged record)" } } }
                @if let (Some(s), Some(score)) = (info.state, info.score) {
                    div { dt { (score_label(s)) } dd { (time(score)) } }
                }
                div { dt { "Attempts" } dd { (info.attempts) " of " @match info.max_attempts { Some(m) => (m), None => "?" } } }
                @if let Some(w) = st.as_ref().and_then(|s| s.worker.as_ref()) {
                    div { dt { "Worker" } dd { span.mono { (w.id) } @if let (Some(h), Some(pid)) = (&w.host, w.pid) { " (" (h) ", pid " (pid) ")" } } }
                }
                @if let Some(t) = st.as_ref().and_then(|s| s.cancel_requested_at) {
                    div { dt { "Cancel requested" } dd { (time(t)) } }
                }
                @if let Some(pr) = st.as_ref().and_then(|s| s.progress.as_ref()) {
                    (progress(pr))
                }
            }
        }
        div.actions {
            @if info.state == Some(JobState::Dead) {
                (layout::action(&ctx, "/dead/selected", "Retry now", "primary", None,
                    &[("do", "retry"), ("queue", q.as_str()), ("ids", &id), ("back", &here)]))
            }
            @if info.state == Some(JobState::Delayed) {
                (layout::action(&ctx, &format!("{here}/run-now"), if info.attempts > 0 { "Retry now" } else { "Run now" }, "primary", None, &[]))
            }
            @if matches!(info.state, Some(JobState::Pending | JobState::Delayed | JobState::Dead)) {
                (layout::action(&ctx, &format!("{here}/delete"), "Delete", "danger", Some("Delete this job? It will not run."), &[]))
            }
        }
        @match &parsed {
            Some(Ok(env)) => {
                dl.figures {
                    div { dt { "Kind" } dd { (env.kind) } }
                    div { dt { "Codec" } dd { (format!("{:?}", env.codec).to_lowercase()) } }
                    div { dt { "Enqueued" } dd { (time(env.enqueued_at)) } }
                    div { dt { "First run at" } dd { (time(env.run_at)) } }
                    div { dt { "Time limit" } dd { @match env.timeout_ms { Some(ms) => (layout::span(i64::try_from(ms).unwrap_or(i64::MAX))), None => "the worker's" } } }
                    div { dt { "Unique key" } dd { @match &env.unique_key { Some(k) => code { (k) }, None => "–" } } }
                    div { dt { "Rate key" } dd { @match &env.rate_key { Some(k) => code { (k) }, None => "–" } } }
                }
                h2 { "Payload" }
                pre.payload { (pretty_payload(env)) }
            }
            Some(Err(e)) => {
                p.error { "The envelope does not parse: " (e) }
            }
            None => { p.error { "Redis holds no envelope for this job." } }
        }
        h2 { "Errors" }
        @if info.errors.is_empty() { p { "None." } }
        @else {
            ol.errors {
                @for e in &info.errors {
                    li { span.when { "attempt " (e.attempt) " · " (time(e.at)) } pre { (e.error) } }
                }
            }
        }
        details {
            summary { "Envelope as stored" }
            pre.payload { @if let Some(raw) = &info.envelope { (raw) } }
        }
    };
    Ok(layout::page(&ctx, &format!("Job {id}"), "", body))
}

/// A job acked within the retention: its done record (docs/REDIS.md, `done`).
async fn done_page(app: &crate::App, ctx: &Ctx, queue: &str, id: &str, missing: String) -> Result<Html<String>> {
    let q = known_queue(&app.broker, queue).await?;
    let Some(st) = app.broker.status_in(&q, id).await?.filter(|s| s.state == Some(JobState::Done)) else {
        return Err(WebError::NotFound(missing));
    };
    let body = html! {
        p.crumbs { a href=(ctx.url(&format!("/queues/{}", seg(q.as_str())))) { "← queue " (q) } }
        h1 { "Job " span.mono { (id) } }
        dl.figures {
            div { dt { "State" } dd { span.badge.done { "done" } } }
            @if let Some(t) = st.done_at { div { dt { "Done at" } dd { (time(t)) } } }
            div { dt { "Attempts" } dd { (st.attempts) } }
            @if let Some(k) = &st.kind { div { dt { "Kind" } dd { (k) } } }
            @if let Some(pr) = &st.progress { (progress(pr)) }
        }
        @if let Some(r) = &st.result {
            h2 { "Result" }
            pre.payload { (serde_json::from_str::<serde_json::Value>(r.get()).and_then(|v| serde_json::to_string_pretty(&v)).unwrap_or_else(|_| r.get().to_string())) }
        }
        @if !st.errors.is_empty() {
            h2 { "Errors before it succeeded" }
            ol.errors { @for e in &st.errors { li { span.when { "attempt " (e.attempt) " · " (time(e.at)) } pre { (e.error) } } } }
        }
    };
    Ok(layout::page(ctx, &format!("Job {id}"), "", body))
}

/// The latest progress as one figure: `40% · resizing`, with when it was stored.
fn progress(p: &weir_broker::Progress) -> maud::Markup {
    html! {
        div.progress { dt { "Progress" } dd { meter min="0" max="100" value=(p.percent) {} " " (p.percent) "% · " (p.message) span.when { " " (time(p.at)) } } }
    }
}

/// POST `/queues/{queue}/jobs/{id}/delete`: deletes a job that is not running.
pub async fn delete(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response> {
    let (q, _) = find(&app, &queue, &id).await?;
    let back = format!("/queues/{}", seg(q.as_str()));
    Ok(match app.broker.delete(&q, &id).await? {
        Some(s) => done(&ctx, &format!("{back}?state={}", s.as_str()), &format!("deleted {} job {id}", s.as_str())),
        None => done(&ctx, &back, &format!("job {id} was not deleted: it is running (or already gone)")),
    })
}

/// POST `/queues/{queue}/jobs/{id}/run-now`: a delayed job (scheduled, or
/// waiting for its retry) made pending at once.
pub async fn run_now(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response> {
    let (q, _) = find(&app, &queue, &id).await?;
    let here = format!("/queues/{}/jobs/{}", seg(q.as_str()), seg(&id));
    let msg = if app.broker.run_now(&q, &id).await? {
        format!("job {id} is pending: it runs now")
    } else {
        format!("job {id} was not delayed any more: nothing changed")
    };
    Ok(done(&ctx, &here, &msg))
}
