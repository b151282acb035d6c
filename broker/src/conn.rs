//! The connection to Redis, whatever its deployment: one server, Redis
//! Cluster or a Sentinel-managed master. Everything weir sends goes through
//! [`Redis::conn`]; nothing outside this crate holds a Redis client.
//!
//! What is retried and where (docs/REDIS.md, "Cluster and Sentinel"):
//! - `MOVED`/`ASK` are followed by redis-rs's cluster client, which also
//!   refreshes its slot map.
//! - Replies that prove the command did not run (`TRYAGAIN`, `CLUSTERDOWN`,
//!   `LOADING`, `MASTERDOWN`, `READONLY`) are retried with backoff by
//!   [`Redis::retry`], for about 5 s; `READONLY` (this node was demoted) and a
//!   lost connection first make the connection follow the current master.
//! - An I/O error or a timeout is not retried here: the command may have
//!   run. Callers' loops retry; three timeouts in a row rebuild the connection.
use crate::error::{Error, Result};
use crate::url::{Topology, redact_url};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, RedisFuture, ServerErrorKind, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Consecutive command timeouts after which the connection is rebuilt.
const TIMEOUTS_BEFORE_REBUILD: u32 = 3;
/// How long commands are held while a failover promotes a new master.
const SWITCH_WAIT: Duration = Duration::from_secs(5);
/// How often a Sentinel-managed connection checks that its node is still master.
const ROLE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// One live connection (cheap to clone: clones share the socket(s)).
#[derive(Clone)]
pub(crate) enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
    /// A plain connection to one node: the master a sentinel named (which
    /// [`Redis`] replaces when that changes), or a blocking connection.
    Plain(MultiplexedConnection),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Node(_) => "Conn::Node",
            Conn::Cluster(_) => "Conn::Cluster",
            Conn::Plain(_) => "Conn::Plain",
        })
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Plain(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Plain(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Plain(c) => c.get_db(),
        }
    }
}

/// Timeouts every connection uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
}

/// The shared connection and what is needed to rebuild it.
pub(crate) struct Redis {
    topology: Topology,
    /// The URL with the password masked.
    pub shown: String,
    timeouts: Timeouts,
    current: RwLock<Conn>,
    timeouts_in_row: AtomicU32,
    rebuilding: tokio::sync::Mutex<()>,
    /// Set while a Sentinel failover promotes another node: commands wait
    /// (bounded) instead of writing to a master that is about to be demoted,
    /// whose writes the new master would never see.
    switching: std::sync::atomic::AtomicBool,
    switched: tokio::sync::Notify,
    outage: Outage,
}

/// Whether Redis is reachable, so an outage is logged once as it starts (a
/// warning) and once as it ends (with its length), however many calls fail.
#[derive(Debug, Default)]
struct Outage {
    /// Read on every answer: one relaxed load while Redis is up.
    down: std::sync::atomic::AtomicBool,
    since: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Outage {
    fn failed(&self, url: &str, e: &redis::RedisError) {
        if !(e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout())
            || self.down.swap(true, Ordering::Relaxed)
        {
            return;
        }
        *self.since.lock().expect("outage") = Some(std::time::Instant::now());
        tracing::warn!(url, error = %e, "Redis is unreachable; retrying until it is back");
    }

    fn answered(&self, url: &str) {
        if !self.down.load(Ordering::Relaxed) || !self.down.swap(false, Ordering::Relaxed) {
            return;
        }
        if let Some(since) = self.since.lock().expect("outage").take() {
            let took = since.elapsed();
            tracing::info!(
                url,
                outage_ms = crate::bounds::millis_u64(took),
                "Redis is reachable again after {}",
                crate::duration::format_duration(took)
            );
        }
    }
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("url", &self.shown).finish_non_exhaustive()
    }
}

/// Whether a reply proves the command did not run, so sending it again is safe.
pub(crate) fn did_not_run(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(
            ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::BusyLoading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
        )
    ) || e.code() == Some("UNBLOCKED")
}

fn is_readonly(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(ServerErrorKind::ReadOnly) || e.code() == Some("UNBLOCKED")
}

impl Redis {
    pub async fn connect(url: &str, timeouts: Timeouts) -> Result<Arc<Redis>> {
        let shown = redact_url(url);
        let topology = Topology::parse(url)?;
        let conn = open(&topology, &shown, timeouts, Some(timeouts.command)).await?;
        let redis = Arc::new(Redis {
            topology,
            shown,
            timeouts,
            current: RwLock::new(conn),
            timeouts_in_row: AtomicU32::new(0),
            rebuilding: tokio::sync::Mutex::new(()),
            switching: std::sync::atomic::AtomicBool::new(false),
            switched: tokio::sync::Notify::new(),
            outage: Outage::default(),
        });
        if matches!(redis.topology, Topology::Sentinel { .. }) {
            tokio::spawn(watch_sentinels(Arc::downgrade(&redis)));
        }
        Ok(redis)
    }

    /// A blocking connection of its own: see [`blocking_sync`].
    pub fn blocking_sync(&self) -> Result<Box<dyn redis::ConnectionLike + Send>> {
        blocking_sync(&self.topology, &self.shown, self.timeouts)
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.topology, Topology::Cluster { .. })
    }

    /// The current connection.
    pub fn conn(&self) -> Conn {
        self.current.read().expect("connection lock").clone()
    }

    /// A new connection of its own for blocking commands (a blocked
    /// connection stalls everything sent on it), without a response timeout.
    pub async fn blocking(&self) -> Result<Conn> {
        open(&self.topology, &self.shown, self.timeouts, None).await
    }

    /// Runs `op` on the current connection, again with backoff while Redis
    /// answers that it did not run it (see the module docs), and keeps
    /// count of timeouts.
    pub async fn retry<T, F, Fut>(&self, mut op: F) -> std::result::Result<T, redis::RedisError>
    where
        F: FnMut(Conn) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, redis::RedisError>>,
    {
        let mut wait = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        loop {
            self.wait_for_switch().await;
            let result = op(self.conn()).await;
            match &result {
                Ok(_) => self.outage.answered(&self.shown),
                Err(e) => self.outage.failed(&self.shown, e),
            }
            match &result {
                Ok(_) => self.timeouts_in_row.store(0, Ordering::Relaxed),
                Err(e) if e.is_timeout() => {
                    if self.timeouts_in_row.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_BEFORE_REBUILD {
                        tracing::warn!(url = %self.shown, "Redis commands keep timing out; reconnecting");
                        self.rebuild().await;
                    }
                }
                Err(e) if is_readonly(e) || (e.is_io_error() && !self.is_cluster()) => self.rebuild().await,
                Err(_) => {}
            }
            match result {
                Err(e) if did_not_run(&e) && waited < Duration::from_secs(5) => {
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    /// While a failover promotes another node, waits until it is master
    /// (at most [`SWITCH_WAIT`]).
    async fn wait_for_switch(&self) {
        if !self.switching.load(Ordering::Acquire) {
            return;
        }
        let switched = self.switched.notified();
        if self.switching.load(Ordering::Acquire) {
            let _ = tokio::time::timeout(SWITCH_WAIT, switched).await;
        }
    }

    /// A sentinel is promoting `host:port` (`+failover-state-send-slaveof-noone`):
    /// hold every command, then move to that node as soon as it says it is
    /// master. Falls back to asking the sentinels after [`SWITCH_WAIT`].
    async fn follow_promotion(&self, host: &str, port: u16) {
        let Some((settings, tls)) = master_settings(&self.topology) else { return };
        use redis::IntoConnectionInfo;
        let scheme = if tls { "rediss" } else { "redis" };
        let Ok(info) = format!("{scheme}://{host}:{port}").into_connection_info() else { return };
        let info = info.set_redis_settings(settings);
        self.switching.store(true, Ordering::Release);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.command));
        let started = tokio::time::Instant::now();
        let mut moved = false;
        while started.elapsed() < SWITCH_WAIT {
            if let Ok(client) = redis::Client::open(info.clone())
                && let Ok(mut conn) = client.get_multiplexed_async_connection_with_config(&config).await
                && is_master(&mut conn).await
            {
                *self.current.write().expect("connection lock") = Conn::Plain(conn);
                tracing::info!(url = %self.shown, host, port, "following the promoted master");
                moved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !moved {
            self.rebuild().await;
        }
        self.switching.store(false, Ordering::Release);
        self.switched.notify_waiters();
    }

    /// Replaces the connection with a fresh one (for Sentinel: to the node
    /// the sentinels now name master). Concurrent callers rebuild once.
    pub async fn rebuild(&self) {
        let Ok(_guard) = self.rebuilding.try_lock() else {
            // Someone else is rebuilding: wait for them.
            let _ = self.rebuilding.lock().await;
            return;
        };
        match open(&self.topology, &self.shown, self.timeouts, Some(self.timeouts.command)).await {
            Ok(conn) => {
                *self.current.write().expect("connection lock") = conn;
                self.timeouts_in_row.store(0, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(url = %self.shown, error = %e, "cannot reconnect to Redis yet"),
        }
    }
}

/// A blocking connection of its own (no tokio, no multiplexing: one command
/// written, its reply read, on the calling thread), with `timeouts`. For
/// measuring what one sequential client can get from this Redis
/// (probe.rs); weir's own traffic never uses it.
pub(crate) fn blocking_sync(
    topology: &Topology,
    shown: &str,
    t: Timeouts,
) -> Result<Box<dyn redis::ConnectionLike + Send>> {
    let unreachable = |e: redis::RedisError| Error::unreachable(shown.to_string(), &e);
    let invalid = |e: redis::RedisError| Error::InvalidUrl { url: shown.to_string(), reason: e.to_string() };
    let conn: Box<dyn redis::ConnectionLike + Send> = match topology {
        Topology::Node { url } => {
            let conn = redis::Client::open(url.as_str())
                .map_err(invalid)?
                .get_connection_with_timeout(t.connect)
                .map_err(unreachable)?;
            conn.set_read_timeout(Some(t.command)).map_err(unreachable)?;
            Box::new(conn)
        }
        Topology::Cluster { nodes } => Box::new(
            ClusterClient::builder(nodes.clone())
                .connection_timeout(t.connect)
                .response_timeout(t.command)
                .build()
                .map_err(invalid)?
                .get_connection()
                .map_err(unreachable)?,
        ),
        Topology::Sentinel { sentinels, service, .. } => {
            let mut client = sentinel_client(topology, sentinels, service).map_err(invalid)?;
            let conn = client.get_connection().map_err(unreachable)?;
            conn.set_read_timeout(Some(t.command)).map_err(unreachable)?;
            Box::new(conn)
        }
    };
    Ok(conn)
}

/// The sentinels' client for the master of `service`, with the master's settings.
fn sentinel_client(
    topology: &Topology,
    sentinels: &[String],
    service: &str,
) -> std::result::Result<SentinelClient, redis::RedisError> {
    let (info, tls) = master_settings(topology).expect("a sentinel topology");
    let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
    if tls {
        node = node.set_tls_mode(redis::TlsMode::Secure);
    }
    SentinelClient::build(sentinels.to_vec(), service.to_string(), Some(node), SentinelServerType::Master)
}

/// Opens a connection for `topology`. `response`: the per-command timeout
/// (None for blocking connections).
async fn open(topology: &Topology, shown: &str, t: Timeouts, response: Option<Duration>) -> Result<Conn> {
    let unreachable = |e: redis::RedisError| Error::unreachable(shown.to_string(), &e);
    let invalid = |e: redis::RedisError| Error::InvalidUrl { url: shown.to_string(), reason: e.to_string() };
    match topology {
        Topology::Node { url } => {
            let client = redis::Client::open(url.as_str()).map_err(invalid)?;
            let conn = if response.is_some() {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(t.connect))
                    .set_response_timeout(response)
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(2));
                let connect = client.get_connection_manager_with_config(config);
                let manager = tokio::time::timeout(t.connect, connect)
                    .await
                    .map_err(|_| Error::Unreachable { url: shown.to_string(), reason: "connect timed out".into() })?
                    .map_err(unreachable)?;
                Conn::Node(manager)
            } else {
                let config =
                    AsyncConnectionConfig::new().set_connection_timeout(Some(t.connect)).set_response_timeout(None);
                Conn::Plain(client.get_multiplexed_async_connection_with_config(&config).await.map_err(unreachable)?)
            };
            refuse_cluster_node(conn, shown).await
        }
        Topology::Cluster { nodes, .. } => {
            let mut builder = ClusterClient::builder(nodes.clone())
                .connection_timeout(t.connect)
                .retries(8)
                .min_retry_wait(10)
                .max_retry_wait(500);
            if let Some(r) = response {
                builder = builder.response_timeout(r);
            } else {
                builder = builder.response_timeout(Duration::from_secs(24 * 3600));
            }
            let client = builder.build().map_err(invalid)?;
            Ok(Conn::Cluster(client.get_async_connection().await.map_err(unreachable)?))
        }
        Topology::Sentinel { sentinels, service, .. } => {
            let mut client = sentinel_client(topology, sentinels, service).map_err(invalid)?;
            let config =
                AsyncConnectionConfig::new().set_connection_timeout(Some(t.connect)).set_response_timeout(response);
            let mut conn = tokio::time::timeout(t.connect, client.get_async_connection_with_config(&config))
                .await
                .map_err(|_| Error::Unreachable { url: shown.to_string(), reason: "connect timed out".into() })?
                .map_err(unreachable)?;
            // The sentinels may lag behind a failover: never write to a replica.
            if !is_master(&mut conn).await {
                return Err(Error::Unreachable {
                    url: shown.to_string(),
                    reason: format!("the node the sentinels name for {service:?} is not a master (yet)"),
                });
            }
            Ok(Conn::Plain(conn))
        }
    }
}

/// How to talk to a Sentinel-managed master (its database, user and
/// password, and whether over TLS); None for other topologies.
fn master_settings(topology: &Topology) -> Option<(redis::RedisConnectionInfo, bool)> {
    let Topology::Sentinel { db, username, password, tls, .. } = topology else { return None };
    let mut info = redis::RedisConnectionInfo::default().set_db(*db);
    if let Some(u) = username {
        info = info.set_username(u);
    }
    if let Some(p) = password {
        info = info.set_password(p);
    }
    Some((info, *tls))
}

async fn is_master(conn: &mut MultiplexedConnection) -> bool {
    let role: std::result::Result<Vec<Value>, _> = redis::cmd("ROLE").query_async(conn).await;
    matches!(role.ok().and_then(|r| r.into_iter().next()), Some(Value::BulkString(b)) if b == b"master")
}

/// A `redis://` URL that reaches a cluster node would fail later with raw
/// `MOVED` errors: say what to use instead.
async fn refuse_cluster_node(mut conn: Conn, shown: &str) -> Result<Conn> {
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut conn)
        .await
        .map_err(|e| Error::unreachable(shown.to_string(), &e))?;
    if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
        return Err(Error::InvalidUrl {
            url: shown.to_string(),
            reason: "this is a Redis Cluster node: use redis-cluster://HOST:PORT (see docs/CLI.md)".into(),
        });
    }
    Ok(conn)
}

/// Follows failovers at once: listens for the sentinels' `+switch-master`
/// (and checks `ROLE` every second, in case a message is missed) and
/// rebuilds the connection when the master changed. Ends when the broker is dropped.
async fn watch_sentinels(redis: Weak<Redis>) {
    use futures::StreamExt;
    let Some(sentinels) = redis.upgrade().and_then(|r| match &r.topology {
        Topology::Sentinel { sentinels, .. } => Some(sentinels.clone()),
        _ => None,
    }) else {
        return;
    };
    let mut which = 0usize;
    loop {
        // Subscribe on one sentinel; on failure try the next.
        let url = &sentinels[which % sentinels.len()];
        which += 1;
        let pubsub = match redis::Client::open(url.as_str()) {
            Ok(c) => c.get_async_pubsub().await.ok(),
            Err(_) => None,
        };
        let subscribed = match pubsub {
            Some(mut p) => p.subscribe(&["+switch-master", PROMOTING]).await.is_ok().then_some(p),
            None => None,
        };
        let mut pubsub = match subscribed {
            Some(p) => p,
            None => {
                if !check_role(&redis).await {
                    return;
                }
                tokio::time::sleep(ROLE_CHECK_EVERY).await;
                continue;
            }
        };
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                msg = messages.next() => match msg {
                    Some(msg) => {
                        let Some(r) = redis.upgrade() else { return };
                        let text: String = msg.get_payload().unwrap_or_default();
                        if msg.get_channel_name() == PROMOTING {
                            if let Some((host, port)) = promoted(&text, &r) {
                                r.follow_promotion(&host, port).await;
                            }
                        } else if is_ours(&text, &r) {
                            tracing::info!(url = %r.shown, "sentinels switched master; reconnecting");
                            r.rebuild().await;
                        }
                    }
                    None => break,
                },
                _ = tokio::time::sleep(ROLE_CHECK_EVERY) => {
                    if !check_role(&redis).await {
                        return;
                    }
                }
            }
        }
    }
}

/// The sentinel event published the moment a replica is told to become
/// master, before `+switch-master`: writes to the old master after it are lost.
const PROMOTING: &str = "+failover-state-send-slaveof-noone";

/// Whether a sentinel event (`... @ <service> <ip> <port>`) is about our service.
fn is_ours(text: &str, redis: &Redis) -> bool {
    let Topology::Sentinel { service, .. } = &redis.topology else { return false };
    match text.split_once(" @ ") {
        Some((_, rest)) => rest.split_whitespace().next() == Some(service.as_str()),
        // +switch-master is "<service> <old ip> <old port> <new ip> <new port>".
        None => text.split_whitespace().next() == Some(service.as_str()),
    }
}

/// The replica being promoted, from `slave <name> <ip> <port> @ <service> ...`.
fn promoted(text: &str, redis: &Redis) -> Option<(String, u16)> {
    if !is_ours(text, redis) {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    Some((words.get(2)?.to_string(), words.get(3)?.parse().ok()?))
}

/// Rebuilds the connection if its node is no longer master. False when the
/// broker is gone.
async fn check_role(redis: &Weak<Redis>) -> bool {
    let Some(r) = redis.upgrade() else { return false };
    if let Conn::Plain(mut conn) = r.conn()
        && !is_master(&mut conn).await
    {
        tracing::warn!(url = %r.shown, "the Redis node is no longer master; reconnecting");
        r.rebuild().await;
    }
    true
}
