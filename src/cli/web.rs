//! `weir web`: serves the dashboard (docs/DASHBOARD.md).
use super::Conn;
use anyhow::{Context, bail};
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use weir::web::{WebConfig, config::normalize_base_path};

/// Shortest `--auth-token` taken.
const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address to listen on. Any address but a loopback one needs
    /// --auth-token (or --insecure-no-auth).
    #[arg(long, default_value = "127.0.0.1:9470")]
    pub listen: SocketAddr,
    /// The store (PostgreSQL or SQLite URL): the dead-job archive and the 24 h history.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Show no actions and refuse every change (403).
    #[arg(long)]
    pub read_only: bool,
    /// Serve under this path, such as /weir (behind a proxy).
    #[arg(long, default_value = "")]
    pub base_path: String,
    /// Ask for this token (at least 16 characters) on every page: a login
    /// form sets an HttpOnly, SameSite=Strict cookie.
    #[arg(long, env = "WEIR_WEB_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Listen on a non-loopback address without a token (anyone who reaches it can act).
    #[arg(long)]
    pub insecure_no_auth: bool,
}

pub async fn run(conn: &Conn, a: WebArgs) -> anyhow::Result<ExitCode> {
    let base_path = normalize_base_path(&a.base_path).map_err(anyhow::Error::msg)?;
    let token = a.auth_token.filter(|t| !t.is_empty());
    if let Some(t) = &token
        && (t.chars().count() < MIN_TOKEN_LEN || t.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        bail!("--auth-token must be at least {MIN_TOKEN_LEN} characters, with no spaces or control characters");
    }
    if !a.listen.ip().is_loopback() && token.is_none() && !a.insecure_no_auth {
        bail!(
            "--listen {} is not a loopback address: give --auth-token (or WEIR_WEB_TOKEN), or --insecure-no-auth to serve it without one",
            a.listen
        );
    }
    let broker = conn.connect().await?;
    let store = match &a.database_url {
        Some(url) => Some(
            weir::store::Store::connect(url)
                .await
                .with_context(|| format!("cannot open the store at {}", weir::broker::redact_url(url)))?,
        ),
        None => None,
    };
    let listener =
        tokio::net::TcpListener::bind(a.listen).await.with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let config = WebConfig { base_path: base_path.clone(), read_only: a.read_only, auth_token: token, store };
    // The fleet metrics beside the pages, behind the same token (docs/DASHBOARD.md).
    let metrics = weir::web::security::protect(weir::exporter::router(broker.clone()), &config);
    let metrics = if base_path.is_empty() { metrics } else { axum::Router::new().nest(&base_path, metrics) };
    let router = weir::web::router(broker.clone(), config).merge(metrics);
    // One line on stdout with the address (tests read the port of --listen 127.0.0.1:0).
    println!("weir web: serving http://{addr}{base_path}/ (Redis {})", broker.url());
    tracing::info!(%addr, read_only = a.read_only, "dashboard up; stop with SIGINT or SIGTERM");
    let signals = weir_service::signal::Signals::listen().context("cannot listen for signals")?;
    weir::web::serve(listener, router, signals.first()).await.context("serving the dashboard")?;
    Ok(ExitCode::SUCCESS)
}
