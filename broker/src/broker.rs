//! The broker: settings, the connection, and script calls (`eval`, and
//! `eval_many` for calls on several queues at once).
use crate::clock::{Clock, OffsetClock};
use crate::conn::{Redis, Timeouts};
use crate::error::{Error, Result};
use crate::keys::QueueKeys;
use crate::name::{QueueName, validate_prefix};
use crate::scripts::{Op, Scripts};
use redis::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// One script argument, as bytes.
#[derive(Debug, Clone)]
pub(crate) struct Arg(pub Vec<u8>);

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg(v.to_string().into_bytes())
    }
}
impl From<u64> for Arg {
    fn from(v: u64) -> Arg {
        Arg(v.to_string().into_bytes())
    }
}
impl From<u32> for Arg {
    fn from(v: u32) -> Arg {
        Arg(v.to_string().into_bytes())
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg(v.as_bytes().to_vec())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg(v.into_bytes())
    }
}
impl From<&[u8]> for Arg {
    fn from(v: &[u8]) -> Arg {
        Arg(v.to_vec())
    }
}

/// Milliseconds in `d`, saturating (no duration weir accepts comes near it).
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Settings shared by every operation. Defaults are documented per field.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Key prefix, so several apps can share one Redis. Default `weir`.
    pub prefix: String,
    /// Largest encoded payload accepted at enqueue. Default 1 MiB.
    pub max_payload_bytes: usize,
    /// Dead jobs kept per queue in Redis, newest first (0 = unbounded). Default 10,000.
    pub dead_max_len: u64,
    /// Dead jobs older than this are dropped from Redis (zero = kept). Default 30 days.
    pub dead_max_age: Duration,
    /// How long a unique key holds when the enqueue gives no TTL, counted from
    /// the job's run time. Default 24 hours.
    pub unique_ttl: Duration,
    /// How long an acked job's done record (done-at, attempts, result,
    /// progress) stays readable (`weir job`, `Client::status`); zero keeps
    /// nothing, and ack then writes nothing but the deletion. Default 24 hours.
    pub keep_done: Duration,
    /// Done records kept per queue, newest first, within `keep_done` (0: no
    /// bound but the retention). Default 100,000: a busy queue's records
    /// stay a few tens of MB of Redis memory, whatever its rate.
    pub keep_done_max_len: u64,
    /// Time to wait for the first connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time to wait for any non-blocking command. Default 30 s.
    pub command_timeout: Duration,
    /// Replicas that must confirm each finished job (ack, fail, release,
    /// snooze) before the call returns, with `WAIT` (0 = none, the default:
    /// Redis replicates asynchronously; docs/REDIS.md, "Durability caveat").
    pub durable_acks: u32,
    /// How long each `WAIT` may block. Default 1 s.
    pub durable_timeout: Duration,
    /// Test hook: an offset added to Redis's clock (every script takes "now"
    /// from Redis's `TIME`, never from the caller), so tests can move a lease
    /// past its deadline without sleeping. Default: no offset.
    pub clock: OffsetClock,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            prefix: "weir".into(),
            max_payload_bytes: 1 << 20,
            dead_max_len: 10_000,
            dead_max_age: Duration::from_secs(30 * 86_400),
            unique_ttl: Duration::from_secs(86_400),
            keep_done: Duration::from_secs(86_400),
            keep_done_max_len: 100_000,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(30),
            durable_acks: 0,
            durable_timeout: Duration::from_secs(1),
            clock: OffsetClock::default(),
        }
    }
}

/// A connection to the broker. Cheap to clone; clones share one connection
/// (redis-rs multiplexes concurrent commands onto it).
#[derive(Debug, Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub redis: Arc<Redis>,
    pub config: BrokerConfig,
    pub scripts: Scripts,
    keys: RwLock<HashMap<QueueName, Arc<QueueKeys>>>,
    /// Queues this process has already added to the queue set.
    pub registered: Mutex<HashSet<QueueName>>,
    pub rules: Mutex<crate::limit::RulesCache>,
    /// Queues whose node failed a reserve on a cluster, resting until the
    /// given time with the rest they last got (reserve.rs).
    pub resting: Mutex<HashMap<QueueName, (std::time::Instant, Duration)>>,
    /// Concurrent single enqueues waiting to share a script call (enqueue.rs).
    pub lanes: Mutex<crate::enqueue::Lanes>,
}

impl Broker {
    /// Connects to Redis (a single server, Redis Cluster or a Sentinel-managed
    /// master; the URL forms are in [`crate::url`]). An unreachable Redis is
    /// an [`Error::Unreachable`] after `connect_timeout`, not a hang.
    pub async fn connect(url: &str, config: BrokerConfig) -> Result<Broker> {
        validate_prefix(&config.prefix)?;
        crate::bounds::keep_done("keep_done", config.keep_done)?;
        let timeouts = Timeouts { connect: config.connect_timeout, command: config.command_timeout };
        let redis = Redis::connect(url, timeouts).await?;
        let broker = Broker {
            inner: Arc::new(Inner {
                redis,
                config,
                scripts: Scripts::new(),
                keys: RwLock::new(HashMap::new()),
                registered: Mutex::new(HashSet::new()),
                rules: Mutex::new(Default::default()),
                resting: Mutex::new(HashMap::new()),
                lanes: Mutex::new(Default::default()),
            }),
        };
        broker.load_scripts().await?;
        broker.warn_on_clock_skew().await;
        Ok(broker)
    }

    /// Loads every script once (on every master of a cluster), so the first
    /// calls need no `NOSCRIPT` round trip.
    async fn load_scripts(&self) -> Result<()> {
        // Sent together: one round trip, not one per script, for every CLI
        // command and worker that connects (each fans out to every master).
        let loads: Vec<redis::Cmd> = self
            .inner
            .scripts
            .all()
            .iter()
            .map(|op| redis::cmd("SCRIPT").arg("LOAD").arg(op.script_source()).to_owned())
            .collect();
        for loaded in futures::future::join_all(loads.iter().map(|c| self.query::<Value>(c))).await {
            loaded?;
        }
        Ok(())
    }

    /// Every script follows Redis's clock; this process's clock matters only
    /// for its own timeouts and logs. A large difference still deserves a word.
    async fn warn_on_clock_skew(&self) {
        let Ok(redis_now) = self.redis_time_ms().await else { return };
        let skew = crate::clock::SystemClock.now_ms() - redis_now;
        if skew.abs() > 2_000 {
            tracing::warn!(
                skew_ms = skew,
                "this host's clock differs from Redis's by {:.1} s; weir follows Redis's clock",
                skew as f64 / 1000.0
            );
        }
    }

    /// Redis's clock (ms since the epoch), plus the test offset.
    pub async fn redis_time_ms(&self) -> Result<i64> {
        if let Some(t) = self.inner.config.clock.frozen_ms() {
            return Ok(t);
        }
        let (secs, micros): (i64, i64) = self.query(&redis::cmd("TIME")).await?;
        Ok(self.time_reply_ms(secs, micros))
    }

    /// A `TIME` reply as the scripts read the clock: ms, plus the test hook
    /// (a frozen test clock wins).
    pub(crate) fn time_reply_ms(&self, secs: i64, micros: i64) -> i64 {
        let clock = &self.inner.config.clock;
        clock.frozen_ms().unwrap_or_else(|| secs * 1000 + micros / 1000 + clock.offset_ms())
    }

    /// Whether Redis answers a `PING` within `within` (readiness probes).
    pub async fn ping(&self, within: Duration) -> Result<()> {
        match tokio::time::timeout(within, self.query::<Value>(&redis::cmd("PING"))).await {
            Ok(r) => r.map(drop),
            Err(_) => Err(Error::Timeout(within)),
        }
    }

    /// The settings it was connected with.
    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    /// The key prefix (`weir` by default) every key starts with.
    pub fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    /// The Redis URL, password masked.
    pub fn url(&self) -> &str {
        &self.inner.redis.shown
    }

    /// Whether this broker talks to Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.redis.is_cluster()
    }

    /// This process's clock plus the test offset: for local waits and logs
    /// only (scripts follow Redis's clock).
    pub fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    /// The test clock offset as a script argument.
    pub(crate) fn clock_arg(&self) -> Arg {
        self.inner.config.clock.script_arg().into()
    }

    /// Sends one command, retried while Redis says it did not run it
    /// (conn.rs). For commands weir does not wrap, and for tests that set
    /// exact Redis state.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let v: Value = self.inner.redis.retry(|mut c| async move { cmd.query_async(&mut c).await }).await?;
        redis::from_redis_value(v).map_err(|e| Error::protocol("query", e))
    }

    /// Sends commands in one round trip. On Redis Cluster they must all
    /// touch one slot.
    pub async fn pipe<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T> {
        let v: Value = self.inner.redis.retry(|mut c| async move { pipe.query_async(&mut c).await }).await?;
        redis::from_redis_value(v).map_err(|e| Error::protocol("pipeline", e))
    }

    /// The keys of `queue`, built once and cached.
    pub fn keys(&self, queue: &QueueName) -> Arc<QueueKeys> {
        if let Some(k) = self.inner.keys.read().expect("keys lock").get(queue) {
            return k.clone();
        }
        let k = Arc::new(QueueKeys::new(self.prefix(), queue));
        self.inner.keys.write().expect("keys lock").insert(queue.clone(), k.clone());
        k
    }

    /// One call of `op` on `queue`, with `KEYS` as the script declares them.
    fn invocation<'o>(&self, op: &'o Op, queue: &QueueName, args: &[Arg]) -> redis::ScriptInvocation<'o> {
        let k = self.keys(queue);
        let mut call = op.script.prepare_invoke();
        for key in op.keys_for(&k) {
            call.key(key);
        }
        for a in args {
            call.arg(&a.0[..]);
        }
        call
    }

    /// Runs one script on one queue, with `KEYS` as the script declares them.
    /// For an op that finishes jobs, with `durable_acks` set, the script and a
    /// `WAIT` go out in one pipeline (so on a cluster both reach the queue's
    /// master), and a write the replicas did not confirm in time is logged.
    pub(crate) async fn eval(&self, op: &Op, queue: &QueueName, args: Vec<Arg>) -> Result<Value> {
        let call = self.invocation(op, queue, &args);
        let replicas = self.inner.config.durable_acks;
        if !op.durable || replicas == 0 {
            let call = &call;
            return Ok(self.inner.redis.retry(|mut c| async move { call.invoke_async::<Value>(&mut c).await }).await?);
        }
        let mut p = redis::pipe();
        p.invoke_script(&call).cmd("WAIT").arg(replicas).arg(ms(self.inner.config.durable_timeout));
        let (reply, confirmed): (Value, i64) = match self.pipe(&p).await {
            // Not loaded yet on this node: load it once, then send again.
            Err(Error::Redis(e)) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.load_scripts().await?;
                self.pipe(&p).await?
            }
            other => other?,
        };
        if confirmed < i64::from(replicas) {
            tracing::warn!(
                queue = %queue,
                op = op.name,
                confirmed,
                wanted = replicas,
                "a finished job was confirmed by fewer replicas than --durable-acks asks; a failover now could undo it"
            );
        }
        Ok(reply)
    }

    /// Runs a script that is not a queue operation (the fleet locks).
    pub(crate) async fn invoke<T: redis::FromRedisValue>(&self, call: &redis::ScriptInvocation<'_>) -> Result<T> {
        let v = self.inner.redis.retry(|mut c| async move { call.invoke_async::<Value>(&mut c).await }).await?;
        redis::from_redis_value(v).map_err(|e| Error::protocol("script", e))
    }

    /// Runs several script calls at once (each may be on another queue, so
    /// on a cluster on another node); redis-rs writes them out together on
    /// each connection. Each call keeps its own result; with `within`, a call
    /// that has not answered by then is a [`Error::Timeout`].
    pub(crate) async fn eval_many(
        &self,
        calls: Vec<(&Op, QueueName, Vec<Arg>)>,
        within: Option<Duration>,
    ) -> Vec<Result<Value>> {
        futures::future::join_all(calls.into_iter().map(|(op, queue, args)| async move {
            match within {
                Some(t) => tokio::time::timeout(t, self.eval(op, &queue, args)).await.unwrap_or(Err(Error::Timeout(t))),
                None => self.eval(op, &queue, args).await,
            }
        }))
        .await
    }
}
