//! The connection to Redis and the settings every operation shares.
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::keys::QueueKeys;
use crate::name::{QueueName, validate_prefix};
use crate::scripts::Scripts;
use fred::interfaces::{ClientLike, LuaInterface};
use fred::prelude::{Builder, Config, ReconnectPolicy};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

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
    /// Time to wait for the first connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time to wait for any non-blocking command. Default 30 s.
    pub command_timeout: Duration,
    /// Source of "now" for every script. Default: the system clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            prefix: "weir".into(),
            max_payload_bytes: 1 << 20,
            dead_max_len: 10_000,
            dead_max_age: Duration::from_secs(30 * 86_400),
            unique_ttl: Duration::from_secs(86_400),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A connection to the broker. Cheap to clone; clones share one connection
/// (fred pipelines concurrent commands onto it).
#[derive(Debug, Clone)]
pub struct Broker {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub client: fred::clients::Client,
    pub url: String,
    pub config: BrokerConfig,
    pub scripts: Scripts,
    keys: RwLock<HashMap<QueueName, Arc<QueueKeys>>>,
    /// Queues this process has already added to the queue set.
    pub registered: Mutex<HashSet<QueueName>>,
    pub rules: Mutex<crate::limit::RulesCache>,
}

/// URL schemes fred understands: a single server, a cluster, sentinels, with or without TLS.
const SCHEMES: [&str; 6] = ["redis", "rediss", "redis-cluster", "rediss-cluster", "redis-sentinel", "rediss-sentinel"];

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') { format!("{user}:***") } else { "***".to_string() };
            format!("{}{}{}", &url[..scheme + 3], masked, &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Broker {
    /// Connects to `redis://[user:pass@]host:port[/db]` or `rediss://...` (TLS,
    /// with the `tls` feature) and loads the scripts. An unreachable Redis is an
    /// [`Error::Unreachable`] after `connect_timeout`, not a hang.
    pub async fn connect(url: &str, config: BrokerConfig) -> Result<Broker> {
        validate_prefix(&config.prefix)?;
        let shown = redact_url(url);
        if url.starts_with("rediss://") && !cfg!(feature = "tls") {
            return Err(Error::InvalidUrl {
                url: shown,
                reason: "TLS (rediss://) needs weir built with the `tls` feature".into(),
            });
        }
        let scheme = url.split("://").next().unwrap_or("");
        if !url.contains("://") || !SCHEMES.contains(&scheme) {
            return Err(Error::InvalidUrl {
                url: shown,
                reason: format!("the scheme must be one of {}", SCHEMES.join(", ")),
            });
        }
        let fred_config = Config::from_url(url)
            .map_err(|e| Error::InvalidUrl { url: shown.clone(), reason: e.details().to_string() })?;
        let client = Builder::from_config(fred_config)
            .with_connection_config(|c| {
                c.connection_timeout = config.connect_timeout;
                c.internal_command_timeout = config.connect_timeout;
            })
            .with_performance_config(|p| p.default_command_timeout = config.command_timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
            .build()?;
        client.init().await.map_err(|e| Error::unreachable(shown.clone(), &e))?;
        let broker = Broker {
            inner: Arc::new(Inner {
                client,
                url: shown,
                config,
                scripts: Scripts::new(),
                keys: RwLock::new(HashMap::new()),
                registered: Mutex::new(HashSet::new()),
                rules: Mutex::new(Default::default()),
            }),
        };
        broker.load_scripts().await?;
        Ok(broker)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    pub fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    /// The Redis URL, password masked.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The underlying fred client, for commands weir does not wrap.
    pub fn redis(&self) -> &fred::clients::Client {
        &self.inner.client
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    pub fn keys(&self, queue: &QueueName) -> Arc<QueueKeys> {
        if let Some(k) = self.inner.keys.read().expect("keys lock").get(queue) {
            return k.clone();
        }
        let k = Arc::new(QueueKeys::new(self.prefix(), queue));
        self.inner.keys.write().expect("keys lock").insert(queue.clone(), k.clone());
        k
    }

    async fn load_scripts(&self) -> Result<()> {
        for s in self.inner.scripts.all() {
            let lua = s.lua().expect("scripts are built from source").clone();
            self.inner.client.script_load_cluster::<(), _>(lua).await?;
        }
        Ok(())
    }

    /// Runs one script by SHA, reloading the scripts once on `NOSCRIPT`.
    pub(crate) async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<Value>) -> Result<Value> {
        let client = &self.inner.client;
        match client.evalsha::<Value, _, _, _>(script.sha1().clone(), keys.clone(), args.clone()).await {
            Err(e) if is_noscript(&e) => {
                self.load_scripts().await?;
                Ok(client.evalsha(script.sha1().clone(), keys, args).await?)
            }
            other => Ok(other?),
        }
    }

    /// Runs several scripts in one pipelined round trip. Each call keeps its
    /// own result; a call refused with `NOSCRIPT` did not run and is retried.
    pub(crate) async fn eval_many(&self, calls: Vec<(&Script, Vec<String>, Vec<Value>)>) -> Result<Vec<Result<Value>>> {
        let pipeline = self.inner.client.pipeline();
        for (script, keys, args) in &calls {
            // fred's pipelines have no EVALSHA; send it as a custom command
            // routed by the slot of its keys (all in one queue's slot).
            let slot = keys.first().map(|k| fred::util::redis_keyslot(k.as_bytes())).unwrap_or(0);
            let cmd = CustomCommand::new_static("EVALSHA", ClusterHash::Custom(slot), false);
            let mut argv: Vec<Value> = Vec::with_capacity(2 + keys.len() + args.len());
            argv.push(script.sha1().clone().into());
            argv.push((keys.len() as i64).into());
            argv.extend(keys.iter().map(|k| Value::from(k.as_str())));
            argv.extend(args.iter().cloned());
            pipeline.custom::<(), _>(cmd, argv).await?;
        }
        let replies = pipeline.try_all::<Value>().await;
        let mut out = Vec::with_capacity(replies.len());
        let mut reloaded = false;
        for (reply, (script, keys, args)) in replies.into_iter().zip(calls) {
            out.push(match reply {
                Err(e) if is_noscript(&e) => {
                    if !reloaded {
                        self.load_scripts().await?;
                        reloaded = true;
                    }
                    self.inner.client.evalsha(script.sha1().clone(), keys, args).await.map_err(Error::from)
                }
                other => other.map_err(Error::from),
            });
        }
        Ok(out)
    }
}

fn is_noscript(e: &fred::error::Error) -> bool {
    e.details().starts_with("NOSCRIPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact_url("redis://user:secret@h"), "redis://user:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
    }
}
