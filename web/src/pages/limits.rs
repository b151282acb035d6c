//! Fleet-wide limits: every queue's rate and concurrency cap and the rate-key
//! rules, with forms to set and clear them (docs/LIMITS.md).
use crate::State;
use crate::error::{Result, WebError};
use crate::layout::{self, Ctx, time};
use crate::pages::queue::parse_number;
use crate::pages::{done, known_queue, seg};
use crate::security::Form;
use axum::Extension;
use axum::extract::{Path, Query, State as S};
use axum::response::{Html, Response};
use maud::{Markup, html};
use weir_broker::Rate;

/// GET `/limits`: each queue's fleet-wide rate limit and concurrency cap.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Query(p): Query<crate::pages::Notice>,
) -> Result<Html<String>> {
    let b = &app.broker;
    let queues = b.queues().await?;
    let limits = futures::future::join_all(queues.iter().map(|q| b.limits(q))).await;
    let rules = b.key_rules().await?;
    let body = html! {
        h1 { "Limits" }
        (layout::notice(p.msg.as_deref()))
        p.hint { "Fleet-wide: enforced by the queue's own scripts, however many workers run." }
        div.scroll {
            table {
                thead { tr { th { "Queue" } th { "Rate" } th.n { "Burst" } th.n { "At once" } th { "Held until" } th {} } }
                tbody {
                    @for (q, l) in queues.iter().zip(limits) {
                        @let l = l?;
                        @let path = format!("/limits/{}", seg(q.as_str()));
                        tr {
                            td { a href=(ctx.url(&format!("/queues/{}", seg(q.as_str())))) { (q) } }
                            td { (l.rate.clone().unwrap_or_else(|| "–".into())) }
                            td.n { @match l.burst { Some(b) => (b), None => "–" } }
                            td.n { @match l.concurrency { Some(c) => (c), None => "–" } }
                            td { @match l.held_until { Some(h) => (time(h)), None => "–" } }
                            td {
                                (set_form(&ctx, &path))
                                @if l != Default::default() {
                                    (layout::action(&ctx, &format!("{path}/clear"), "Clear", "warn", Some("Clear this queue's limits?"), &[]))
                                }
                            }
                        }
                    }
                    @if queues.is_empty() { tr { td colspan="6" { "No queues yet." } } }
                }
            }
        }
        h2 { "Rate keys" }
        p.hint { "Jobs enqueued with a rate key that matches a pattern share its rate, per key." }
        table {
            thead { tr { th { "Pattern" } th { "Rate" } th.n { "Burst" } } }
            tbody {
                @for r in &rules { tr { td { code { (r.pattern) } } td { (r.rate) } td.n { (r.burst) } } }
                @if rules.is_empty() { tr { td colspan="3" { "No rate-key rules (set them with weir limit set-key)." } } }
            }
        }
    };
    Ok(layout::page(&ctx, "Limits", "/limits", body))
}

fn set_form(ctx: &Ctx, path: &str) -> Markup {
    if ctx.read_only {
        return html! {};
    }
    html! {
        form.inline.limit method="post" action=(ctx.url(path)) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="text" name="rate" placeholder="50/s" size="7" aria-label="rate";
            input type="number" name="burst" placeholder="burst" min="1" aria-label="burst";
            input type="number" name="concurrency" placeholder="at once" min="1" aria-label="at most at once";
            button type="submit" { "Set" }
        }
    }
}

/// POST `/limits/{queue}`: sets the queue's limits from the form.
pub async fn set(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
    form: Form,
) -> Result<Response> {
    let queue = known_queue(&app.broker, &raw).await?;
    let rate =
        form.get("rate").map(|r| r.parse::<Rate>()).transpose().map_err(|e| WebError::BadRequest(e.to_string()))?;
    let max = u64::from(u32::MAX);
    let burst = parse_number(form.get("burst"), "burst", 1, max)?.map(|b| u32::try_from(b).unwrap_or(u32::MAX));
    let conc =
        parse_number(form.get("concurrency"), "concurrency", 1, max)?.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
    if rate.is_none() && conc.is_none() {
        return Err(WebError::BadRequest("say what to limit: a rate (such as 50/s) and/or a concurrency".into()));
    }
    if burst.is_some() && rate.is_none() {
        return Err(WebError::BadRequest("a burst needs a rate".into()));
    }
    if let Some(rate) = rate {
        app.broker.set_rate_limit(&queue, rate, burst.unwrap_or(1)).await?;
    }
    if let Some(n) = conc {
        app.broker.set_concurrency(&queue, n).await?;
    }
    Ok(done(&ctx, "/limits", &format!("set the limits of {queue}")))
}

/// POST `/limits/{queue}/clear`: removes the queue's limits.
pub async fn clear(S(app): S<State>, Extension(ctx): Extension<Ctx>, Path(raw): Path<String>) -> Result<Response> {
    let queue = known_queue(&app.broker, &raw).await?;
    app.broker.clear_limits(&queue).await?;
    Ok(done(&ctx, "/limits", &format!("cleared the limits of {queue}")))
}
