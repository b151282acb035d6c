//! The autoscaler's decision history (the newest 500, kept in Redis by
//! `weir autoscale`): desired vs live workers vs backlog, and the reasons.
use crate::State;
use crate::chart::{Series, line_chart};
use crate::error::Result;
use crate::layout::{self, Ctx, count, time};
use axum::Extension;
use axum::extract::State as S;
use axum::response::Html;
use maud::html;
use weir_supervisor::history::{Entry, KEEP, recent};

fn backlog(e: &Entry) -> u64 {
    e.decision.queues.iter().filter(|q| !q.paused).map(|q| q.pending + q.due_soon).sum()
}

/// GET `/autoscaler`: the autoscaler's recent decisions and their figures.
pub async fn page(S(app): S<State>, Extension(ctx): Extension<Ctx>) -> Result<Html<String>> {
    let entries = recent(&app.broker, usize::try_from(KEEP).unwrap_or(500)).await?;
    let now = app.broker.redis_time_ms().await?;
    let from = entries.first().map_or(now - 3_600_000, |e| e.decision.at);
    let workers = [
        Series {
            name: "desired".into(),
            points: entries.iter().map(|e| (e.decision.at, f64::from(e.decision.desired))).collect(),
        },
        Series {
            name: "live".into(),
            points: entries.iter().map(|e| (e.decision.at, f64::from(e.decision.current))).collect(),
        },
    ];
    let jobs = [Series {
        name: "backlog (jobs)".into(),
        points: entries.iter().map(|e| (e.decision.at, backlog(e) as f64)).collect(),
    }];
    let left = time(from);
    let body = html! {
        h1 { "Autoscaler" }
        section #autoscaler data-live {
            @if entries.is_empty() {
                p { "No decisions yet: " code { "weir autoscale" } " records one per tick." }
            } @else {
                p.summary { (entries.len()) " decisions since " (left) }
                (line_chart("Workers: desired vs live", from, now, &left, "now", &workers))
                (line_chart("Backlog: pending and due-soon jobs", from, now, &left, "now", &jobs))
                div.scroll {
                    table {
                        thead { tr { th { "At" } th { "Host" } th { "Mode" } th.n { "Live" } th.n { "Desired" } th.n { "Backlog" } th { "Reason" } } }
                        tbody {
                            @for e in entries.iter().rev().take(30) {
                                tr {
                                    td { (time(e.decision.at)) } td { (e.host) } td { (e.mode) }
                                    td.n { (e.decision.current) } td.n { (e.decision.desired) } td.n { (count(backlog(e))) }
                                    td { (e.decision.reason) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx, "Autoscaler", "/autoscaler", body))
}
