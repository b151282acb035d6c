//! The overview: every queue's figures, totals, live workers, and the
//! throughput charts (15 minutes live; 24 hours from the store's history).
use crate::chart::{Series, line_chart};
use crate::error::Result;
use crate::layout::{self, Ctx, count, rate, span};
use crate::pages::seg;
use crate::{State, live};
use axum::Extension;
use axum::extract::{Query, State as S};
use axum::response::Html;
use maud::{Markup, html};
use weir_broker::QueueStats;
use weir_broker::registry::STALE_AFTER;

/// GET `/`: every queue's figures, the workers alive and the live chart.
pub async fn page(
    S(app): S<State>,
    Extension(ctx): Extension<Ctx>,
    Query(p): Query<crate::pages::Notice>,
) -> Result<Html<String>> {
    let b = &app.broker;
    let all = b.queues().await?;
    // One pipelined round trip per 100 queues (the exporter's snapshot), not one per queue.
    let (snapshot, workers) = tokio::join!(b.snapshot(&all), b.workers(STALE_AFTER));
    let (queues, stats): (Vec<_>, Vec<QueueStats>) = snapshot?.into_iter().unzip();
    let workers = workers?;
    let now = b.redis_time_ms().await?;
    app.live.record(now, queues.iter().zip(&stats).map(|(q, s)| (q.to_string(), s.processed, s.failed)));
    let mut total = QueueStats::default();
    for s in &stats {
        total.pending += s.pending;
        total.delayed += s.delayed;
        total.active += s.active;
        total.dead += s.dead;
        total.processed += s.processed;
        total.failed += s.failed;
    }
    let rates: Vec<Option<(f64, f64)>> = queues.iter().map(|q| app.live.per_minute(q.as_str())).collect();
    let sum = |f: fn(&(f64, f64)) -> f64| rates.iter().flatten().map(f).reduce(|a, b| a + b);
    let history = match &app.config.store {
        Some(store) => Some(store.history(now - 86_400_000).await?),
        None => None,
    };
    let body = html! {
        h1 { "Overview" }
        (layout::notice(p.msg.as_deref()))
        section #overview-live data-live {
            p.summary {
                strong { (workers.len()) } " live workers · "
                strong { (queues.len()) } " queues · "
                strong { (count(total.pending)) } " pending · "
                strong { (count(total.active)) } " active · "
                strong { (count(total.dead)) } " dead"
            }
            (live_chart(&app.live, now))
            div.scroll {
                table.queues {
                    thead { tr {
                        th { "Queue" } th.n { "Pending" } th.n { "Delayed" } th.n { "Active" } th.n { "Dead" }
                        th.n { "Oldest pending" } th.n { "Processed/min" } th.n { "Failed/min" }
                    } }
                    tbody {
                        @for ((q, s), r) in queues.iter().zip(&stats).zip(&rates) {
                            tr {
                                td {
                                    a href=(ctx.url(&format!("/queues/{}", seg(q.as_str())))) { (q) }
                                    @if s.paused { " " span.badge.paused { "paused" } }
                                }
                                td.n { (count(s.pending)) } td.n { (count(s.delayed)) }
                                td.n { (count(s.active)) } td.n { (count(s.dead)) }
                                td.n { @match s.oldest_pending_ms { Some(ms) => (span(i64::try_from(ms).unwrap_or(i64::MAX))), None => "–" } }
                                td.n { (rate(r.map(|r| r.0))) } td.n { (rate(r.map(|r| r.1))) }
                            }
                        }
                        @if queues.is_empty() { tr { td colspan="8" { "No queues yet: enqueue a job to make one." } } }
                    }
                    tfoot { tr {
                        th { "Total" } th.n { (count(total.pending)) } th.n { (count(total.delayed)) }
                        th.n { (count(total.active)) } th.n { (count(total.dead)) } th {}
                        th.n { (rate(sum(|r| r.0))) } th.n { (rate(sum(|r| r.1))) }
                    } }
                }
            }
            p.hint { "Per-minute rates are measured while this page is open (the last minute of its samples)." }
        }
        @if let Some(rows) = history {
            section #overview-history {
                h2 { "Last 24 hours" }
                (history_chart(&rows, now))
            }
        }
    };
    Ok(layout::page(&ctx, "Overview", "/", body))
}

fn live_chart(live: &live::Live, now: i64) -> Markup {
    let steps = live.steps();
    let series = [
        Series { name: "processed/s".into(), points: steps.iter().map(|s| (s.at, s.processed_per_s)).collect() },
        Series { name: "failed/s".into(), points: steps.iter().map(|s| (s.at, s.failed_per_s)).collect() },
    ];
    // From the first sample (at most 15 minutes back) to now.
    let from = steps.first().map_or(now - live::WINDOW_MS, |s| s.at.max(now - live::WINDOW_MS));
    let left = format!("{} ago", span(now - from));
    line_chart("Throughput while this page was open (up to 15 minutes)", from, now, &left, "now", &series)
}

/// Processed and failed per minute over every queue, from the store.
fn history_chart(rows: &[weir_store::HistoryRow], now: i64) -> Markup {
    let mut by_minute: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    for r in rows {
        let e = by_minute.entry(r.minute).or_default();
        e.0 += r.processed as f64;
        e.1 += r.failed as f64;
    }
    let series = [
        Series { name: "processed/min".into(), points: by_minute.iter().map(|(t, v)| (*t, v.0)).collect() },
        Series { name: "failed/min".into(), points: by_minute.iter().map(|(t, v)| (*t, v.1)).collect() },
    ];
    line_chart(
        "Throughput per minute, last 24 hours (store history)",
        now - 86_400_000,
        now,
        "24 h ago",
        "now",
        &series,
    )
}
