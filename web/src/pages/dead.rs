//! Dead jobs: each queue's dead set in Redis (the broker's dead.rs) and,
//! with a store, the SQL archive. Retry or delete one, a selection, or every
//! job that matches a filter (queue, kind, error text, time range); a bulk
//! action first shows how many match and asks to confirm, then works in the
//! broker's batches of 1,000 for at most [`BULK_TIME`] and says how many it did.
use crate::State;
use crate::error::{Result, WebError};
use crate::layout::{self, Ctx, count, time};
use crate::pages::queue::truncate;
use crate::pages::{done, known_queue, seg};
use crate::security::Form;
use axum::Extension;
use axum::extract::{Query, State as S};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use weir_broker::{Broker, DeadCursor, DeadFilter, QueueName};

/// Dead jobs per page.
const PAGE: usize = 50;
/// Longest a bulk action runs in one request; it reports what it did and
/// can be sent again for the rest.
pub const BULK_TIME: Duration = Duration::from_secs(20);
/// Longest a count before confirming may take (a kind or error filter reads jobs).
const COUNT_TIME: Duration = Duration::from_secs(5);

/// The filter fields, as the page's form and query carry them.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct Params {
    queue: Option<String>,
    kind: Option<String>,
    error: Option<String>,
    /// Died within this long (a duration such as `2h`).
    newer: Option<String>,
    /// Died more than this long ago.
    older: Option<String>,
    after: Option<String>,
    msg: Option<String>,
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Params {
    fn from_form(f: &Form) -> Params {
        let g = |k: &str| f.get(k).map(str::to_string);
        Params {
            queue: g("queue"),
            kind: g("kind"),
            error: g("error"),
            newer: g("newer"),
            older: g("older"),
            after: None,
            msg: None,
        }
    }

    fn filter(&self, now: i64) -> Result<DeadFilter> {
        let ago = |v: &Option<String>, what: &str| -> Result<Option<i64>> {
            text(v)
                .map(|d| {
                    weir_broker::parse_duration(&d)
                        .map(|d| weir_broker::bounds::ms_before(now, d))
                        .map_err(|e| WebError::BadRequest(format!("{what}: {e}")))
                })
                .transpose()
        };
        Ok(DeadFilter {
            kind: text(&self.kind),
            error: text(&self.error),
            since_ms: ago(&self.newer, "died within")?,
            until_ms: ago(&self.older, "died more than")?,
        })
    }

    /// The filter as hidden fields (for the bulk forms) and as a query.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("queue", &self.queue),
            ("kind", &self.kind),
            ("error", &self.error),
            ("newer", &self.newer),
            ("older", &self.older),
        ]
        .into_iter()
        .filter_map(|(k, v)| text(v).map(|v| (k, v)))
        .collect()
    }

    fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            s.append_pair(k, &v);
        }
        s.finish()
    }
}

/// "Retry all matching… / Delete all matching…": posts the filter to `path`,
/// which counts the matches and asks before doing anything (the Redis dead
/// sets and the SQL archive alike).
fn matching_form(ctx: &Ctx, path: &str, p: &Params) -> Markup {
    html! {
        form.inline method="post" action=(ctx.url(path)) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            @for (k, v) in p.pairs() { input type="hidden" name=(k) value=(v); }
            button.primary type="submit" name="do" value="retry" { "Retry all matching…" }
            " "
            button.danger type="submit" name="do" value="delete" { "Delete all matching…" }
        }
    }
}

fn filter_form(ctx: &Ctx, p: &Params, queues: &[(QueueName, u64)]) -> Markup {
    let chosen = text(&p.queue);
    html! {
        form.filter method="get" action=(ctx.url("/dead")) {
            label { "Queue " select name="queue" {
                @for (q, n) in queues {
                    option value=(q) selected[chosen.as_deref() == Some(q.as_str())] { (q) " (" (count(*n)) ")" }
                }
            } }
            label { "Kind " input type="text" name="kind" value=[text(&p.kind)] maxlength="128"; }
            label { "Error text " input type="text" name="error" value=[text(&p.error)] maxlength="200"; }
            label { "Died within " input type="text" name="newer" value=[text(&p.newer)] placeholder="2h" size="5"; }
            label { "Died over " input type="text" name="older" value=[text(&p.older)] placeholder="1d" size="5"; " ago" }
            button type="submit" { "Filter" }
        }
    }
}

/// GET `/dead`: one queue's dead jobs in Redis (the queue with the most
/// by default), with retry and delete for a selection or all.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Query(mut p): Query<Params>,
) -> Result<Html<String>> {
    let b = &app.broker;
    let all = b.queues().await?;
    let queues: Vec<_> = b.snapshot(&all).await?.into_iter().map(|(q, s)| (q, s.dead)).collect();
    if text(&p.queue).is_none() {
        // The queue with the most dead jobs first.
        p.queue = queues.iter().max_by_key(|(_, n)| *n).map(|(q, _)| q.to_string());
    }
    let now = b.redis_time_ms().await?;
    let filter = p.filter(now)?;
    let listing = match text(&p.queue) {
        Some(raw) => {
            let q = known_queue(b, &raw).await?;
            let after = text(&p.after)
                .map(|a| DeadCursor::parse(&a).map_err(|e| WebError::BadRequest(e.to_string())))
                .transpose()?;
            let page = b.dead_page(&q, &filter, after.as_ref(), PAGE).await?;
            Some((q, page))
        }
        None => None,
    };
    let total: u64 = queues.iter().map(|(_, n)| n).sum();
    let body = html! {
        h1 { "Dead jobs" }
        (layout::notice(p.msg.as_deref()))
        p.summary #dead-total data-live { strong { (count(total)) } " dead jobs in Redis over " (queues.len()) " queues"
            @if app.config.store.is_some() { " · " a href=(ctx.url("/dead/archive")) { "the SQL archive" } } }
        (filter_form(&ctx, &p, &queues))
        @if let Some((q, page)) = listing {
            @if !ctx.read_only { (matching_form(&ctx, "/dead/all", &p)) }
            form #dead-selection method="post" action=(ctx.url("/dead/selected")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="queue" value=(q);
                div.scroll { table {
                    thead { tr {
                        @if !ctx.read_only { th { input type="checkbox" data-select-all="ids" aria-label="select all"; } }
                        th { "Id" } th { "Kind" } th.n { "Attempts" } th { "Died at" } th { "Last error" }
                    } }
                    tbody {
                        @for j in &page.jobs {
                            tr {
                                @if !ctx.read_only { td { input type="checkbox" name="ids" value=(j.id) aria-label="select"; } }
                                td.mono { a href=(ctx.url(&format!("/queues/{}/jobs/{}", seg(q.as_str()), seg(&j.id)))) { (j.id) } }
                                td { @match &j.kind { Some(k) => (k), None => em { "damaged" } } }
                                td.n { (j.attempts) }
                                td { (time(j.died_at_ms)) }
                                td.error { @if let Some(e) = j.last_error() { (truncate(e, 160)) } }
                            }
                        }
                        @if page.jobs.is_empty() { tr { td colspan="6" { "No dead jobs match here." } } }
                    }
                } }
                @if !ctx.read_only && !page.jobs.is_empty() {
                    div.actions {
                        button.primary type="submit" name="do" value="retry" { "Retry selected" }
                        button.danger type="submit" name="do" value="delete" data-confirm="Delete the selected jobs?" { "Delete selected" }
                    }
                }
            }
            nav.pager {
                span { "newest first; looked at " (count(page.scanned as u64)) " entries" }
                @if let Some(next) = &page.next {
                    @let sep = if p.query().is_empty() { "" } else { "&" };
                    " " a rel="next" href=(ctx.url(&format!("/dead?{}{sep}after={}", p.query(), seg(&next.to_string())))) { "Older →" }
                }
            }
        } @else {
            p { "No queues yet." }
        }
    };
    Ok(layout::page(&ctx, "Dead jobs", "/dead", body))
}

/// How many ids or filter matches a bulk call moved, counted as it goes,
/// stopped after [`BULK_TIME`].
async fn bounded<F>(run: impl FnOnce(Arc<AtomicU64>) -> F) -> Result<(u64, bool)>
where
    F: Future<Output = weir_broker::Result<u64>>,
{
    let progress = Arc::new(AtomicU64::new(0));
    match tokio::time::timeout(BULK_TIME, run(progress.clone())).await {
        Ok(n) => Ok((n?, true)),
        Err(_) => Ok((progress.load(Ordering::SeqCst), false)),
    }
}

fn verb(action: &str) -> Result<bool> {
    match action {
        "retry" => Ok(true),
        "delete" => Ok(false),
        other => Err(WebError::BadRequest(format!("unknown action {other:?}: retry or delete"))),
    }
}

/// Retry or delete the jobs ticked on the page (or the one id of a job page).
pub async fn selected(S(app): S<State>, Extension(ctx): Extension<Ctx>, form: Form) -> Result<Response> {
    let retry = verb(form.get("do").unwrap_or("retry"))?;
    let q = known_queue(&app.broker, form.get("queue").unwrap_or("")).await?;
    let ids: Vec<String> = form.all("ids").map(str::to_string).collect();
    if ids.is_empty() {
        return Err(WebError::BadRequest("no jobs selected".into()));
    }
    if ids.len() > 10 * weir_broker::bounds::MAX_DEAD_BATCH {
        return Err(WebError::BadRequest("at most 10,000 jobs at once: use \"all matching\" for more".into()));
    }
    for id in &ids {
        weir_broker::name::validate_job_id(id).map_err(|e| WebError::BadRequest(e.to_string()))?;
    }
    let b = &app.broker;
    let n = if retry { b.retry_dead(&q, &ids, |_| {}).await? } else { b.delete_dead(&q, &ids, |_| {}).await? };
    let what = if retry { "retried" } else { "deleted" };
    let msg = format!("{what} {n} of {} selected dead jobs of {q}", ids.len());
    let back = match form.get("back") {
        // Only a dashboard path (a job page) is taken as where to go back to.
        Some(b) if b.starts_with("/queues/") && !b.contains("//") => b.to_string(),
        _ => format!("/dead?queue={}", seg(q.as_str())),
    };
    Ok(done(&ctx, &back, &msg))
}

/// Every job matching the filter: first the count and a confirmation, then the action.
pub async fn all(S(app): S<State>, Extension(ctx): Extension<Ctx>, form: Form) -> Result<Response> {
    let retry = verb(form.get("do").unwrap_or("retry"))?;
    let p = Params::from_form(&form);
    let b = &app.broker;
    let q = known_queue(b, form.get("queue").unwrap_or("")).await?;
    let filter = p.filter(b.redis_time_ms().await?)?;
    let what = if retry { "Retry" } else { "Delete" };
    if form.get("confirm") != Some("yes") {
        let counted = tokio::time::timeout(COUNT_TIME, b.dead_count(&q, &filter)).await;
        let total = b.stats(&q).await?.dead;
        let body = html! {
            h1 { (what) " dead jobs of " (q) "?" }
            p.summary {
                @match &counted {
                    Ok(Ok(n)) => { strong { (count(*n)) } " of " (count(total)) " dead jobs match" }
                    Ok(Err(e)) => { "They could not be counted: " (e.to_string()) }
                    Err(_) => { "More than can be counted in " (COUNT_TIME.as_secs()) " s match, of " (count(total)) " dead jobs" }
                }
                @let f = p.pairs();
                @if f.len() > 1 { " (" @for (i, (k, v)) in f.iter().filter(|(k, _)| *k != "queue").enumerate() { @if i > 0 { ", " } (k) " " code { (v) } } ")" }
                "."
            }
            p.hint { "It works in batches of 1,000 for at most " (BULK_TIME.as_secs()) " s and says how many it did; send it again for the rest." }
            form.inline method="post" action=(ctx.url("/dead/all")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                @for (k, v) in p.pairs() { input type="hidden" name=(k) value=(v); }
                input type="hidden" name="do" value=(if retry { "retry" } else { "delete" });
                input type="hidden" name="confirm" value="yes";
                button type="submit" class=(if retry { "primary" } else { "danger" }) { (what) " them" }
            }
            " " a href=(ctx.url(&format!("/dead?{}", p.query()))) { "Cancel" }
        };
        return Ok(layout::page(&ctx, &format!("{what} dead jobs"), "/dead", body).into_response());
    }
    let (n, finished) = bounded(|progress| run_matching(b.clone(), q.clone(), filter, retry, progress)).await?;
    let did = if retry { "retried" } else { "deleted" };
    let msg = if finished {
        format!("{did} {n} dead jobs of {q}")
    } else {
        format!("{did} {n} dead jobs of {q} in {} s and stopped: send it again for the rest", BULK_TIME.as_secs())
    };
    Ok(done(&ctx, &format!("/dead?{}", p.query()), &msg))
}

async fn run_matching(
    b: Broker,
    q: QueueName,
    f: DeadFilter,
    retry: bool,
    progress: Arc<AtomicU64>,
) -> weir_broker::Result<u64> {
    let report = |n| progress.store(n, Ordering::SeqCst);
    if retry { b.retry_dead_matching(&q, &f, report).await } else { b.delete_dead_matching(&q, &f, report).await }
}

fn store(app: &crate::App) -> Result<&weir_store::Store> {
    app.config.store.as_ref().ok_or_else(|| {
        WebError::NotFound("no store is configured: start weir web with --database-url for the SQL archive".into())
    })
}

/// The archive's filter from the dead-jobs page's fields (the queue as typed).
fn archive_filter(p: &Params, now: i64, limit: u32) -> Result<weir_store::DeadFilter> {
    let f = p.filter(now)?;
    Ok(weir_store::DeadFilter {
        queue: text(&p.queue),
        kind: f.kind,
        since_ms: f.since_ms,
        until_ms: f.until_ms,
        error: f.error,
        limit,
    })
}

/// The archive: newest deaths first, 50 at most (narrow with the filter).
pub async fn archive(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Query(p): Query<Params>,
) -> Result<Html<String>> {
    let st = store(&app)?;
    let now = app.broker.redis_time_ms().await?;
    let f = archive_filter(&p, now, PAGE as u32)?;
    let (jobs, total) = (st.dead_jobs(&f).await?, st.dead_count().await?);
    let body = html! {
        h1 { "Dead jobs: the SQL archive" }
        (layout::notice(p.msg.as_deref()))
        p.summary { strong { (count(u64::try_from(total).unwrap_or(0))) } " archived jobs · " a href=(ctx.url("/dead")) { "the dead sets in Redis" } }
        form.filter method="get" action=(ctx.url("/dead/archive")) {
            label { "Queue " input type="text" name="queue" value=[text(&p.queue)] maxlength="128"; }
            label { "Kind " input type="text" name="kind" value=[text(&p.kind)] maxlength="128"; }
            label { "Error text " input type="text" name="error" value=[text(&p.error)] maxlength="200"; }
            label { "Died within " input type="text" name="newer" value=[text(&p.newer)] placeholder="1d" size="5"; }
            label { "Died over " input type="text" name="older" value=[text(&p.older)] placeholder="7d" size="5"; " ago" }
            button type="submit" { "Filter" }
        }
        @if !ctx.read_only { (matching_form(&ctx, "/dead/archive/all", &p)) }
        form #archive-selection method="post" action=(ctx.url("/dead/archive/retry")) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            div.scroll { table {
                thead { tr {
                    @if !ctx.read_only { th { input type="checkbox" data-select-all="ids" aria-label="select all"; } }
                    th { "Id" } th { "Queue" } th { "Kind" } th.n { "Attempts" } th { "Died at" } th { "Retried" } th { "Last error" }
                } }
                tbody {
                    @for j in &jobs {
                        tr {
                            @if !ctx.read_only { td { input type="checkbox" name="ids" value=(j.id) aria-label="select"; } }
                            td.mono { (j.id) } td { (j.queue) } td { (j.kind) } td.n { (j.attempts) }
                            td { (time(j.died_at)) }
                            td { @match j.retried_at { Some(t) => { (time(t)) " (" (j.retry_count) ")" }, None => "–" } }
                            td.error { @if let Some(e) = &j.last_error { (truncate(e, 160)) } }
                        }
                    }
                    @if jobs.is_empty() { tr { td colspan="8" { "No archived jobs match." } } }
                }
            } }
            @if !ctx.read_only && !jobs.is_empty() {
                div.actions {
                    button.primary type="submit" formaction=(ctx.url("/dead/archive/retry")) { "Retry selected" }
                    button.danger type="submit" formaction=(ctx.url("/dead/archive/delete")) data-confirm="Delete the selected archived jobs?" { "Delete selected" }
                }
            }
        }
        p.hint { "The newest " (PAGE) " matches; narrow the filter to find older ones." }
    };
    Ok(layout::page(&ctx, "Dead jobs: archive", "/dead", body))
}

/// POST `/dead/archive/all`: retry or delete every archived job that
/// matches the filter: first the count and a confirmation, then the action
/// in the store's batches for at most [`BULK_TIME`], reporting how many it did.
pub async fn archive_all(S(app): S<State>, Extension(ctx): Extension<Ctx>, form: Form) -> Result<Response> {
    let st = store(&app)?;
    let retry = verb(form.get("do").unwrap_or("retry"))?;
    let p = Params::from_form(&form);
    let pairs = p.pairs();
    let f = archive_filter(&p, app.broker.redis_time_ms().await?, PAGE as u32)?;
    let back = format!("/dead/archive?{}", p.query());
    if form.get("confirm") != Some("yes") {
        let what = if retry { "Retry" } else { "Delete" };
        let counted = tokio::time::timeout(COUNT_TIME, st.dead_count_matching(&f, retry)).await;
        let total = u64::try_from(st.dead_count().await?).unwrap_or(0);
        let body = html! {
            h1 { (what) " archived dead jobs?" }
            p.summary {
                @match &counted {
                    Ok(Ok(n)) => { strong { (count(*n)) } " of " (count(total)) " archived jobs match" @if retry { " and were not retried since they died" } }
                    Ok(Err(e)) => { "They could not be counted: " (e.to_string()) }
                    Err(_) => { "More than can be counted in " (COUNT_TIME.as_secs()) " s match, of " (count(total)) " archived jobs" }
                }
                @if !pairs.is_empty() { " (" @for (i, (k, v)) in pairs.iter().enumerate() { @if i > 0 { ", " } (k) " " code { (v) } } ")" }
                "."
            }
            p.hint { "It works in batches of " (weir_store::BULK_BATCH) " for at most " (BULK_TIME.as_secs()) " s and says how many it did; send it again for the rest." }
            form.inline method="post" action=(ctx.url("/dead/archive/all")) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                @for (k, v) in &pairs { input type="hidden" name=(k) value=(v); }
                input type="hidden" name="do" value=(if retry { "retry" } else { "delete" });
                input type="hidden" name="confirm" value="yes";
                button type="submit" class=(if retry { "primary" } else { "danger" }) { (what) " them" }
            }
            " " a href=(ctx.url(&back)) { "Cancel" }
        };
        return Ok(layout::page(&ctx, &format!("{what} archived jobs"), "/dead", body).into_response());
    }
    let progress = Arc::new(AtomicU64::new(0));
    let seen = progress.clone();
    let work = async {
        if retry {
            let s = st.retry_dead_matching(&app.broker, &f, |s| seen.store(s.enqueued, Ordering::SeqCst)).await?;
            Ok::<_, WebError>(format!(
                "enqueued {} archived jobs again; {} still queued in Redis, {} not retryable (damaged)",
                s.enqueued, s.already_queued, s.not_retryable
            ))
        } else {
            let n = st.delete_dead_matching(&f, |n| seen.store(n, Ordering::SeqCst)).await?;
            Ok(format!("deleted {n} archived jobs"))
        }
    };
    let msg = match tokio::time::timeout(BULK_TIME, work).await {
        Ok(msg) => msg?,
        Err(_) => format!(
            "{} {} archived jobs in {} s and stopped: send it again for the rest",
            if retry { "enqueued" } else { "deleted" },
            progress.load(Ordering::SeqCst),
            BULK_TIME.as_secs()
        ),
    };
    Ok(done(&ctx, &back, &msg))
}

/// The archived jobs a form names (`ids`, ticked, or one `id`): at least
/// one, at most [`weir_store::BULK_BATCH`] at once.
fn archive_ids(form: &Form) -> Result<Vec<String>> {
    let ids: Vec<String> =
        form.all("ids").chain(form.all("id")).map(str::trim).filter(|i| !i.is_empty()).map(str::to_string).collect();
    if ids.is_empty() {
        return Err(WebError::BadRequest("no archived jobs selected".into()));
    }
    if ids.len() > weir_store::BULK_BATCH {
        return Err(WebError::BadRequest(format!(
            "at most {} archived jobs at once: use \"all matching\" for more",
            weir_store::BULK_BATCH
        )));
    }
    Ok(ids)
}

/// POST `/dead/archive/retry`: enqueues the selected archived jobs again
/// (an unknown single id is a 404).
pub async fn archive_retry(S(app): S<State>, Extension(ctx): Extension<Ctx>, form: Form) -> Result<Response> {
    let st = store(&app)?;
    let ids = archive_ids(&form)?;
    let (mut enqueued, mut held, mut missing) = (0, Vec::new(), 0);
    for id in &ids {
        match st.retry_dead(&app.broker, id).await {
            Ok(weir_store::RetryOutcome::Enqueued) => enqueued += 1,
            Ok(weir_store::RetryOutcome::AlreadyQueued { holder }) => {
                held.push(format!("{id} ({holder} is still in Redis)"))
            }
            Err(weir_store::Error::NotFound(_)) if ids.len() == 1 => {
                return Err(WebError::NotFound(format!("no archived job {id:?}")));
            }
            Err(weir_store::Error::NotFound(_)) => missing += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let mut msg = format!("enqueued {enqueued} of {} selected archived jobs again", ids.len());
    if !held.is_empty() {
        msg.push_str(&format!("; not enqueued: {}", held.join(", ")));
    }
    if missing > 0 {
        msg.push_str(&format!("; {missing} no longer archived"));
    }
    Ok(done(&ctx, "/dead/archive", &msg))
}

/// POST `/dead/archive/delete`: deletes the selected jobs from the archive
/// (an unknown single id is a 404).
pub async fn archive_delete(S(app): S<State>, Extension(ctx): Extension<Ctx>, form: Form) -> Result<Response> {
    let st = store(&app)?;
    let ids = archive_ids(&form)?;
    let mut deleted = 0;
    for id in &ids {
        if st.delete_dead(id).await? {
            deleted += 1;
        } else if ids.len() == 1 {
            return Err(WebError::NotFound(format!("no archived job {id:?}")));
        }
    }
    Ok(done(&ctx, "/dead/archive", &format!("deleted {deleted} of {} selected archived jobs", ids.len())))
}
