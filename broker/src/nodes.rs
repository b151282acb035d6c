//! Commands that concern every server rather than one key: deleting a key
//! prefix (SCAN runs on each master of a cluster, since each holds only its
//! own slots) and reading `INFO`.
use crate::broker::Broker;
use crate::conn::Conn;
use crate::error::{Error, Result};
use redis::Value;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

impl Broker {
    /// The masters of a cluster (host, port), or one `None` for a single server.
    async fn masters(&self) -> Result<Vec<Option<(String, u16)>>> {
        if !self.is_cluster() {
            return Ok(vec![None]);
        }
        let nodes: String = self.query(&redis::cmd("CLUSTER").arg("NODES").to_owned()).await?;
        let mut out = Vec::new();
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else { continue };
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                continue;
            }
            let addr = addr.split('@').next().unwrap_or(addr);
            if let Some((host, port)) = addr.rsplit_once(':')
                && let Ok(port) = port.parse()
            {
                out.push(Some((host.to_string(), port)));
            }
        }
        Ok(out)
    }

    /// Sends `cmd` to one node (None: the only one).
    async fn on_node(&self, node: &Option<(String, u16)>, cmd: &redis::Cmd) -> Result<Value> {
        let mut conn = self.inner.redis.conn();
        match (node, &mut conn) {
            (Some((host, port)), Conn::Cluster(c)) => {
                let route =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                Ok(c.route_command(cmd.clone(), route).await?)
            }
            _ => self.query(cmd).await,
        }
    }

    /// Deletes every key under `prefix:` on every master (demo and bench
    /// cleanup). Returns how many keys went.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut deleted = 0;
        for node in self.masters().await? {
            let mut cursor = "0".to_string();
            loop {
                let scan = redis::cmd("SCAN")
                    .arg(&cursor)
                    .arg("MATCH")
                    .arg(format!("{prefix}:*"))
                    .arg("COUNT")
                    .arg(1000)
                    .to_owned();
                let (next, keys): (String, Vec<String>) = redis::from_redis_value(self.on_node(&node, &scan).await?)
                    .map_err(|e| Error::protocol("scan", e))?;
                // One UNLINK per key: keys of one page lie in many slots.
                let unlinks: Vec<redis::Cmd> = keys.iter().map(|k| redis::cmd("UNLINK").arg(k).to_owned()).collect();
                for r in futures::future::join_all(unlinks.iter().map(|c| self.query::<i64>(c))).await {
                    deleted += u64::try_from(r?).unwrap_or(0);
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }

    /// `INFO section` of every master, concatenated (one server: its own).
    pub async fn info(&self, section: &str) -> Result<String> {
        let mut out = String::new();
        for node in self.masters().await? {
            let v = self.on_node(&node, &redis::cmd("INFO").arg(section).to_owned()).await?;
            out.push_str(&redis::from_redis_value::<String>(v).map_err(|e| Error::protocol("info", e))?);
        }
        Ok(out)
    }

    /// Appends `entry` to the list at `key`, newest first, keeping `keep`
    /// (the autoscaler's decision history).
    pub async fn push_capped(&self, key: &str, entry: &str, keep: u64) -> Result<()> {
        let mut p = redis::pipe();
        p.cmd("LPUSH").arg(key).arg(entry).ignore();
        p.cmd("LTRIM").arg(key).arg(0).arg(keep.saturating_sub(1)).ignore();
        self.pipe(&p).await
    }

    /// The newest `n` entries of a list written by [`Broker::push_capped`].
    pub async fn newest(&self, key: &str, n: u64) -> Result<Vec<String>> {
        self.query(&redis::cmd("LRANGE").arg(key).arg(0).arg(n.max(1) - 1).to_owned()).await
    }
}
