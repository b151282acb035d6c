//! A queue: its figures, limits and weights, its jobs by state with paging
//! by rank (fast on any size), search by id, a kind filter over a bounded
//! window, and pause/resume.
use crate::State;
use crate::error::{Result, WebError};
use crate::layout::{self, Ctx, count, span, time};
use crate::pages::{done, known_queue, seg};
use axum::Extension;
use axum::extract::{Path, Query, State as S};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use weir_broker::browse::{MAX_KIND_WINDOW, Page};
use weir_broker::registry::STALE_AFTER;
use weir_broker::{JobState, QueueName};

/// Jobs per page.
pub const PAGE_SIZE: usize = 50;
/// Highest page number taken (past it, the request is refused, not read).
pub const MAX_PAGE: u64 = 1_000_000_000;

#[derive(Debug, Deserialize, Default)]
/// The query of a queue page: which state, which page, a kind filter,
/// an id to find, a notice.
pub struct Params {
    state: Option<String>,
    page: Option<String>,
    kind: Option<String>,
    /// With a kind filter: the rank to read on from.
    from: Option<String>,
    id: Option<String>,
    msg: Option<String>,
}

/// The `state` query value as a state (default `pending`); anything else
/// is a 400 that lists the states.
pub fn parse_state(s: Option<&str>) -> Result<JobState> {
    Ok(match s.unwrap_or("pending") {
        "pending" => JobState::Pending,
        "delayed" => JobState::Delayed,
        "active" => JobState::Active,
        "dead" => JobState::Dead,
        other => {
            return Err(WebError::BadRequest(format!("unknown state {other:?}: use pending, delayed, active or dead")));
        }
    })
}

/// A whole number from 1 to `max`, named `what` in the error.
pub fn parse_number(raw: Option<&str>, what: &str, min: u64, max: u64) -> Result<Option<u64>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(WebError::BadRequest(format!("{what} {raw:?} is not a whole number from {min} to {max}"))),
    }
}

/// GET `/queues/{queue}`: the queue's jobs in one state, a page at a time.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
    Query(p): Query<Params>,
) -> Result<Response> {
    let b = &app.broker;
    let queue = known_queue(b, &raw).await?;
    let state = parse_state(p.state.as_deref())?;
    let here = format!("/queues/{}", seg(queue.as_str()));
    if let Some(id) = p.id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        // Search by id: straight to the job, or say it is not here.
        weir_broker::name::validate_job_id(id).map_err(|e| WebError::BadRequest(e.to_string()))?;
        if b.job(&queue, id).await?.is_some() {
            return Ok(Redirect::to(&ctx.url(&format!("{here}/jobs/{}", seg(id)))).into_response());
        }
        return Err(WebError::NotFound(format!(
            "no job {id:?} in queue {queue} (it may be done: done jobs are deleted)"
        )));
    }
    let kind = p.kind.as_deref().map(str::trim).filter(|k| !k.is_empty());
    let number = parse_number(p.page.as_deref(), "page", 1, MAX_PAGE)?.unwrap_or(1);
    let (stats, workers) = tokio::join!(b.stats(&queue), b.workers(STALE_AFTER));
    let (stats, workers) = (stats?, workers?);
    let jobs = match kind {
        Some(kind) => {
            let from = parse_number(p.from.as_deref(), "from", 0, u64::MAX / 2)?.unwrap_or(0);
            b.page_of_kind(&queue, state, kind, from, PAGE_SIZE, MAX_KIND_WINDOW).await?
        }
        None => {
            let start = (number - 1).saturating_mul(PAGE_SIZE as u64);
            let jobs = b.page(&queue, state, start, PAGE_SIZE).await?;
            let last = jobs.total.div_ceil(PAGE_SIZE as u64).max(1);
            if number > last {
                return Err(WebError::NotFound(format!(
                    "page {number} is past the last page ({last}) of {} {} jobs",
                    jobs.total,
                    state.as_str()
                )));
            }
            jobs
        }
    };
    let weights: Vec<(String, u32, String)> = workers
        .iter()
        .filter_map(|w| {
            w.queues.iter().find(|(q, _)| q == queue.as_str()).map(|(_, wt)| (w.id.clone(), *wt, w.mode.clone()))
        })
        .collect();
    let counts = [
        (JobState::Pending, stats.pending),
        (JobState::Delayed, stats.delayed),
        (JobState::Active, stats.active),
        (JobState::Dead, stats.dead),
    ];
    let body = html! {
        h1 { "Queue " (queue) @if stats.paused { " " span.badge.paused { "paused" } } }
        (layout::notice(p.msg.as_deref()))
        div.actions {
            @if stats.paused { (layout::action(&ctx, &format!("{here}/resume"), "Resume", "primary", None, &[])) }
            @else { (layout::action(&ctx, &format!("{here}/pause"), "Pause", "warn", Some("Pause this queue? Workers stop taking its jobs."), &[])) }
        }
        section #queue-figures data-live {
            dl.figures {
                div { dt { "Processed" } dd { (count(stats.processed)) } }
                div { dt { "Failed attempts" } dd { (count(stats.failed)) } }
                div { dt { "Oldest pending" } dd { @match stats.oldest_pending_ms { Some(ms) => (span(i64::try_from(ms).unwrap_or(i64::MAX))), None => "–" } } }
                div { dt { "Waiting on limits" } dd { (count(stats.waiting_on_limits)) } }
                div { dt { "Limits" } dd { (limits_text(&stats.limits)) " " a href=(ctx.url("/limits")) { "edit" } } }
                div { dt { "Weight" } dd {
                    @if weights.is_empty() { "no live worker takes this queue" }
                    @else { (weight_text(&weights)) }
                } }
            }
        }
        form.search method="get" action=(ctx.url(&here)) {
            input type="hidden" name="state" value=(state.as_str());
            label { "Job id " input type="search" name="id" placeholder="01J…" maxlength="64"; }
            button type="submit" { "Find" }
        }
        form.search method="get" action=(ctx.url(&here)) {
            input type="hidden" name="state" value=(state.as_str());
            label { "Kind " input type="search" name="kind" value=[kind] maxlength="128"; }
            button type="submit" { "Filter" }
            @if kind.is_some() { " " a href=(ctx.url(&format!("{here}?state={}", state.as_str()))) { "clear" } }
        }
        nav.tabs {
            @for (s, n) in counts {
                @let href = ctx.url(&format!("{here}?state={}", s.as_str()));
                @if s == state { a.current href=(href) aria-current="page" { (s.as_str()) " " span.count { (count(n)) } } }
                @else { a href=(href) { (s.as_str()) " " span.count { (count(n)) } } }
            }
        }
        section #queue-jobs data-live {
            (jobs_table(&ctx, &queue, state, &jobs))
            (pager(&ctx, &here, state, kind, number, &jobs))
        }
    };
    Ok(layout::page(&ctx, &format!("Queue {queue}"), "", body).into_response())
}

fn limits_text(l: &Option<weir_broker::QueueLimits>) -> String {
    let Some(l) = l else { return "none".into() };
    let mut parts = Vec::new();
    if let Some(r) = &l.rate {
        parts.push(format!("rate {r} burst {}", l.burst.unwrap_or(1)));
    }
    if let Some(c) = l.concurrency {
        parts.push(format!("at most {c} at once"));
    }
    if let Some(h) = l.held_until {
        parts.push(format!("held until {}", time(h)));
    }
    parts.join(", ")
}

fn weight_text(weights: &[(String, u32, String)]) -> String {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, w, mode) in weights {
        let key = if mode == "strict" { "strict order".to_string() } else { format!("weight {w}") };
        *by.entry(key).or_default() += 1;
    }
    by.into_iter()
        .map(|(k, n)| format!("{k} ({n} worker{})", if n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a job's score means in each state.
pub fn score_label(state: JobState) -> &'static str {
    match state {
        JobState::Pending => "Ready since",
        JobState::Delayed => "Runs at",
        JobState::Active => "Lease until",
        JobState::Dead => "Died at",
        JobState::Done => "Done at",
    }
}

fn jobs_table(ctx: &Ctx, queue: &QueueName, state: JobState, jobs: &Page) -> Markup {
    html! {
        div.scroll {
            table.jobs {
                thead { tr { th { "Id" } th { "Kind" } th.n { "Attempts" } th { (score_label(state)) } th { "Last error" } } }
                tbody {
                    @for j in &jobs.rows {
                        tr {
                            td.mono { a href=(ctx.url(&format!("/queues/{}/jobs/{}", seg(queue.as_str()), seg(&j.id)))) { (j.id) } }
                            td { @match &j.kind { Some(k) => (k), None => em { "gone or damaged" } } }
                            td.n { (j.attempts) }
                            td { (time(j.score)) }
                            td.error { @if let Some(e) = &j.last_error { (truncate(e, 160)) } }
                        }
                    }
                    @if jobs.rows.is_empty() { tr { td colspan="5" { "No jobs here." } } }
                }
            }
        }
    }
}

fn pager(ctx: &Ctx, here: &str, state: JobState, kind: Option<&str>, number: u64, jobs: &Page) -> Markup {
    let st = state.as_str();
    html! {
        nav.pager {
            @if let (Some(kind), Some(scanned)) = (kind, jobs.scanned) {
                span {
                    (jobs.rows.len()) " of kind " code { (kind) } " among ranks " (count(jobs.start)) "–"
                    (count(jobs.start + scanned)) " of " (count(jobs.total))
                    " (a kind filter looks at " (count(MAX_KIND_WINDOW as u64)) " jobs at most per page)"
                }
                @if let Some(next) = jobs.next {
                    @let q: String = form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", st).append_pair("kind", kind).append_pair("from", &next.to_string()).finish();
                    " " a rel="next" href=(ctx.url(&format!("{here}?{q}"))) { "Look further →" }
                }
            } @else {
                @let last = jobs.total.div_ceil(PAGE_SIZE as u64).max(1);
                @if number > 1 { a rel="prev" href=(ctx.url(&format!("{here}?state={st}&page={}", number - 1))) { "← Newer" } " " }
                span { "page " (count(number)) " of " (count(last)) " (oldest first)" }
                @if jobs.next.is_some() { " " a rel="next" href=(ctx.url(&format!("{here}?state={st}&page={}", number + 1))) { "Older →" } }
            }
        }
    }
}

/// At most `n` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// POST `/queues/{queue}/pause`: stops workers from taking its jobs.
pub async fn pause(S(app): S<State>, Extension(ctx): Extension<Ctx>, Path(raw): Path<String>) -> Result<Response> {
    let queue = known_queue(&app.broker, &raw).await?;
    app.broker.pause(&queue).await?;
    Ok(done(&ctx, &format!("/queues/{}", seg(queue.as_str())), &format!("paused {queue}")))
}

/// POST `/queues/{queue}/resume`: lets workers take its jobs again.
pub async fn resume(S(app): S<State>, Extension(ctx): Extension<Ctx>, Path(raw): Path<String>) -> Result<Response> {
    let queue = known_queue(&app.broker, &raw).await?;
    let was = app.broker.resume(&queue).await?;
    let msg = if was { format!("resumed {queue}") } else { format!("{queue} was not paused") };
    Ok(done(&ctx, &format!("/queues/{}", seg(queue.as_str())), &msg))
}
