#![warn(missing_docs)]
//! # weir-web
//!
//! weir's dashboard: server-rendered pages over the broker (and the store,
//! when one is configured) for operators: queues, jobs, dead jobs, workers,
//! limits and the autoscaler. [`router`] returns it as an axum [`Router`],
//! which `weir web` serves and an app can merge into its own server.
//! docs/DASHBOARD.md describes the pages and the security model.
//!
//! # Layout
//! - [`config`]: what the dashboard is given ([`WebConfig`]).
//! - [`security`]: the login token and its cookie, CSRF, read-only, and the
//!   headers every response carries (Content-Security-Policy).
//! - [`error`]: what a request can fail with, as a page with a 4xx or 5xx status.
//! - [`live`]: the 1 s samples behind the overview's live chart.
//! - [`chart`]: SVG line charts, drawn on the server.
//! - [`layout`]: the page shell and formatting helpers.
//! - [`pages`]: one module per page; handlers are thin, queries are the broker's.
//! - `assets/`: the stylesheet and the small script, embedded in the binary.
//!
//! Reads work without JavaScript; the script only refreshes the parts of a
//! page marked `data-live`, once a second while the page is visible.
pub mod chart;
pub mod config;
pub mod error;
pub mod layout;
pub mod live;
pub mod pages;
pub mod security;

use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use weir_broker::Broker;

pub use config::WebConfig;
pub use error::WebError;

/// What every handler sees.
#[derive(Debug)]
pub struct App {
    /// Where every page reads and acts.
    pub broker: Broker,
    /// What the dashboard was given (base path, token, read-only, store).
    pub config: WebConfig,
    /// The live chart's samples.
    pub live: live::Live,
    /// Login tries per peer (security.rs).
    pub login_tries: security::LoginLimiter,
}

/// The state axum hands each handler: one shared [`App`].
pub type State = Arc<App>;

/// The dashboard under `config.base_path` (e.g. `/weir`; "" for the root).
/// Merge it into an app's router with [`Router::merge`]: every route and
/// link already carries the base path.
pub fn router(broker: Broker, config: WebConfig) -> Router {
    let base = config.base_path.clone();
    let app = Arc::new(App { broker, config, live: live::Live::default(), login_tries: Default::default() });
    let p = |path: &str| format!("{base}{path}");
    let mut r = Router::new()
        .route(&p("/"), get(pages::overview::page))
        .route(&p("/queues/{queue}"), get(pages::queue::page))
        .route(&p("/queues/{queue}/pause"), post(pages::queue::pause))
        .route(&p("/queues/{queue}/resume"), post(pages::queue::resume))
        .route(&p("/queues/{queue}/jobs/{id}"), get(pages::job::page))
        .route(&p("/queues/{queue}/jobs/{id}/delete"), post(pages::job::delete))
        .route(&p("/queues/{queue}/jobs/{id}/run-now"), post(pages::job::run_now))
        .route(&p("/dead"), get(pages::dead::page))
        .route(&p("/dead/selected"), post(pages::dead::selected))
        .route(&p("/dead/all"), post(pages::dead::all))
        .route(&p("/dead/archive"), get(pages::dead::archive))
        .route(&p("/dead/archive/all"), post(pages::dead::archive_all))
        .route(&p("/dead/archive/retry"), post(pages::dead::archive_retry))
        .route(&p("/dead/archive/delete"), post(pages::dead::archive_delete))
        .route(&p("/workers"), get(pages::workers::page))
        .route(&p("/workers/{id}/drain"), post(pages::workers::drain))
        .route(&p("/limits"), get(pages::limits::page))
        .route(&p("/limits/{queue}"), post(pages::limits::set))
        .route(&p("/limits/{queue}/clear"), post(pages::limits::clear))
        .route(&p("/autoscaler"), get(pages::autoscaler::page))
        .route(&p("/login"), get(security::login_page).post(security::login))
        .route(&p("/logout"), post(security::logout))
        .route(&p("/assets/style.css"), get(layout::stylesheet))
        .route(&p("/assets/app.js"), get(layout::script))
        .route(&p("/assets/icon.svg"), get(layout::icon));
    if !base.is_empty() {
        let to = p("/");
        r = r.route(&base, get(move || async move { axum::response::Redirect::permanent(&to) }));
    }
    r.fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), security::guard))
        .with_state(app)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address, for the login rate limit.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
