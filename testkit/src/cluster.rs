//! A Redis Cluster of 3 masters and 3 replicas, and the failovers and slot
//! migrations tests need.
use crate::node::{Kind, Node};
use crate::resp::{self, Reply};
use crate::slot::key_slot;
use crate::wait::wait_until;
use std::io;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const SLOTS: usize = 16384;

/// A short node timeout so a killed master is replaced within seconds.
const NODE_CONFIG: &str =
    "appendonly no\ncluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout 2000\n";

/// Keys moved per `MIGRATE` in [`RedisCluster::migrate_slot`].
const MIGRATE_BATCH: usize = 100;

/// 3 masters + 3 replicas on free loopback ports, each in its own temp dir.
/// Every node is killed when this value drops or, by its watcher, when the
/// test process dies.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug)]
struct ClusterNode {
    port: u16,
    is_master: bool,
    /// Slot ranges it serves, both ends included.
    slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// # Panics
    /// If the cluster cannot start; the message says which part did not.
    pub fn start() -> RedisCluster {
        RedisCluster::try_start()
            .unwrap_or_else(|e| panic!("could not start a Redis Cluster (3 masters + 3 replicas): {e}"))
    }

    /// Like [`RedisCluster::start`], for callers that report errors
    /// themselves (or skip when `redis-server` is missing: `ErrorKind::NotFound`).
    pub fn try_start() -> io::Result<RedisCluster> {
        let nodes = (0..6).map(|_| Node::start(Kind::ClusterNode, NODE_CONFIG)).collect::<io::Result<Vec<_>>>()?;
        let cluster = RedisCluster { nodes };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        create.args(cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())));
        create.args(["--cluster-replicas", "1", "--cluster-yes"]).stdin(Stdio::null());
        let out = create.output().map_err(crate::missing_redis_cli)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{create:?} failed with {}:\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        cluster.wait_settled(Duration::from_secs(20)).map_err(io::Error::other)?;
        Ok(cluster)
    }

    /// `redis-cluster://127.0.0.1:P1?node=127.0.0.1:P2&node=127.0.0.1:P3`,
    /// the masters as they are now.
    pub fn url(&self) -> String {
        let masters = self.masters();
        let others: Vec<String> = masters[1..].iter().map(|p| format!("node=127.0.0.1:{p}")).collect();
        format!("redis-cluster://127.0.0.1:{}?{}", masters[0], others.join("&"))
    }

    /// Ports of the running masters, ascending.
    pub fn masters(&self) -> Vec<u16> {
        self.running_with_role(true)
    }

    /// Ports of the running replicas, ascending.
    pub fn replicas(&self) -> Vec<u16> {
        self.running_with_role(false)
    }

    /// The port of the master serving `slot`.
    ///
    /// # Panics
    /// If no node serves it.
    pub fn master_for_slot(&self, slot: u16) -> u16 {
        self.slot_owners()[usize::from(slot)]
            .unwrap_or_else(|| panic!("no master serves slot {slot}:\n{}", self.describe()))
    }

    /// SIGKILLs the master serving `slot`; returns its port. Its replica
    /// takes over after the node timeout (2 s): see [`RedisCluster::wait_failover`].
    pub fn kill9_master_of(&mut self, slot: u16) -> u16 {
        let port = self.master_for_slot(slot);
        self.nodes.iter_mut().filter(|n| n.port() == port).for_each(Node::kill9);
        port
    }

    /// Waits until every slot is served by a running master again (a
    /// replica promoted) and every running node says `cluster_state:ok`.
    ///
    /// # Panics
    /// If that has not happened within 30 s; the message shows the cluster.
    pub fn wait_failover(&self) {
        if let Err(reason) = self.wait_settled(Duration::from_secs(30)) {
            panic!("no failover: {reason}\n{}", self.describe());
        }
    }

    /// Moves `slot` and its keys to the master on `to_master_port`, the way
    /// `redis-cli --cluster reshard` does, while clients keep running (they
    /// get `ASK` redirects meanwhile): `SETSLOT IMPORTING` on the target,
    /// `MIGRATING` on the source, `MIGRATE` in batches of keys from
    /// `GETKEYSINSLOT`, then `SETSLOT NODE` on every master.
    ///
    /// # Panics
    /// If a step fails or the nodes do not agree on the new owner within
    /// 10 s; the message shows the cluster.
    pub fn migrate_slot(&self, slot: u16, to_master_port: u16) {
        if let Err(e) = self.try_migrate_slot(slot, to_master_port) {
            panic!("could not migrate slot {slot} to 127.0.0.1:{to_master_port}: {e}\n{}", self.describe());
        }
    }

    /// One queue name per master (in the order of [`RedisCluster::masters`]),
    /// `{prefix_hint}-N`, whose hash tag `{name}` (weir's keys are
    /// `weir:{QUEUE}:..`) lands on that master.
    pub fn queue_on_each_master(&self, prefix_hint: &str) -> Vec<String> {
        let owners = self.slot_owners();
        let masters = self.masters();
        let mut names: Vec<Option<String>> = vec![None; masters.len()];
        for n in 0..100_000 {
            let name = format!("{prefix_hint}-{n}");
            let owner = owners[usize::from(key_slot(&name))];
            if let Some(i) = masters.iter().position(|&m| Some(m) == owner) {
                names[i].get_or_insert(name);
            }
            if names.iter().all(Option::is_some) {
                return names.into_iter().flatten().collect();
            }
        }
        panic!("some master serves no slot:\n{}", self.describe())
    }

    /// `redis-cli -c -p PORT ARGS..` against a running master: `-c` follows
    /// `MOVED`/`ASK` redirects.
    ///
    /// # Panics
    /// If `redis-cli` cannot run (install redis-tools; scripts/test does).
    pub fn redis_cli(&self, args: &[&str]) -> Output {
        crate::redis_cli(self.masters()[0], &[&["-c"], args].concat())
    }

    fn try_migrate_slot(&self, slot: u16, to: u16) -> io::Result<()> {
        let from = self.master_for_slot(slot);
        if from == to {
            return Ok(());
        }
        let slot_arg = slot.to_string();
        let node_id = |port| resp::call(port, &["CLUSTER", "MYID"]).map(|id| id.text().to_string());
        let (from_id, to_id) = (node_id(from)?, node_id(to)?);
        resp::call(to, &["CLUSTER", "SETSLOT", &slot_arg, "IMPORTING", &from_id])?;
        resp::call(from, &["CLUSTER", "SETSLOT", &slot_arg, "MIGRATING", &to_id])?;
        let (to_arg, batch_arg) = (to.to_string(), MIGRATE_BATCH.to_string());
        loop {
            let keys = resp::call(from, &["CLUSTER", "GETKEYSINSLOT", &slot_arg, &batch_arg])?;
            let keys: Vec<&str> = keys.items().iter().map(Reply::text).collect();
            if keys.is_empty() {
                break;
            }
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_arg, "", "0", "5000", "KEYS"];
            migrate.extend(keys);
            resp::call(from, &migrate)?;
        }
        // Target first, then source, so no moment has both refuse the slot.
        let mut masters = self.masters();
        masters.sort_by_key(|&m| (m != to, m != from));
        for master in masters {
            resp::call(master, &["CLUSTER", "SETSLOT", &slot_arg, "NODE", &to_id])?;
        }
        self.wait_settled(Duration::from_secs(10)).map_err(io::Error::other)
    }

    /// Settled: every running node says `cluster_state:ok`; every running
    /// replica's link to its master is up; and every running node knows
    /// every other one in its role and agrees with the others on which
    /// running master serves each slot.
    fn wait_settled(&self, within: Duration) -> Result<(), String> {
        wait_until(within, || self.settled())
    }

    fn settled(&self) -> Result<(), String> {
        let running = self.running_ports();
        let ask = |port, args: &[&str]| resp::call(port, args).map(|r| r.text().to_string()).map_err(|e| e.to_string());
        // Each node's own word on its role, which every view must match.
        let mut masters = Vec::new();
        for &port in &running {
            let replication = ask(port, &["INFO", "replication"])?;
            if replication.contains("role:master") {
                masters.push(port);
            } else if !replication.contains("master_link_status:up") {
                return Err(format!("replica 127.0.0.1:{port} is not linked to its master yet"));
            }
            if !ask(port, &["CLUSTER", "INFO"])?.contains("cluster_state:ok") {
                return Err(format!("127.0.0.1:{port} does not say cluster_state:ok yet"));
            }
        }
        let mut agreed: Option<(u16, Vec<Option<u16>>)> = None;
        for &port in &running {
            let view = cluster_nodes(port).map_err(|e| e.to_string())?;
            for &other in &running {
                let is_master = masters.contains(&other);
                match view.iter().find(|n| n.port == other) {
                    None => return Err(format!("127.0.0.1:{port} does not know 127.0.0.1:{other} yet")),
                    Some(n) if n.is_master != is_master => {
                        let role = if is_master { "master" } else { "replica" };
                        return Err(format!("127.0.0.1:{port} does not see 127.0.0.1:{other} as a {role} yet"));
                    }
                    Some(_) => {}
                }
            }
            let owners = owners_in(&view);
            if let Some(slot) = owners.iter().position(|o| !o.is_some_and(|p| masters.contains(&p))) {
                return Err(format!("127.0.0.1:{port} sees no running master serving slot {slot}"));
            }
            match &agreed {
                Some((first, first_owners)) if *first_owners != owners => {
                    return Err(format!("127.0.0.1:{first} and 127.0.0.1:{port} disagree on slot owners"));
                }
                Some(_) => {}
                None => agreed = Some((port, owners)),
            }
        }
        Ok(())
    }

    fn running_ports(&self) -> Vec<u16> {
        self.nodes.iter().filter(|n| n.is_running()).map(Node::port).collect()
    }

    /// `CLUSTER NODES` as a running node sees it.
    fn view(&self) -> Vec<ClusterNode> {
        let port = *self.running_ports().first().expect("every cluster node is killed");
        cluster_nodes(port).unwrap_or_else(|e| panic!("cannot read the cluster's nodes: {e}"))
    }

    fn running_with_role(&self, master: bool) -> Vec<u16> {
        let running = self.running_ports();
        let mut ports: Vec<u16> =
            self.view().iter().filter(|n| n.is_master == master && running.contains(&n.port)).map(|n| n.port).collect();
        ports.sort_unstable();
        ports
    }

    fn slot_owners(&self) -> Vec<Option<u16>> {
        owners_in(&self.view())
    }

    /// Every node's `CLUSTER NODES` and `cluster_state`, for panic messages.
    fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|node| {
                let port = node.port();
                if !node.is_running() {
                    return format!("127.0.0.1:{port}: killed\n");
                }
                let ask =
                    |args: &[&str]| resp::call(port, args).map_or_else(|e| e.to_string(), |r| r.text().to_string());
                let info = ask(&["CLUSTER", "INFO"]);
                let state = info.lines().find(|l| l.starts_with("cluster_state")).unwrap_or("no cluster_state");
                format!("127.0.0.1:{port} ({state}) sees:\n{}", ask(&["CLUSTER", "NODES"]))
            })
            .collect()
    }
}

/// The port serving each slot, by index.
fn owners_in(view: &[ClusterNode]) -> Vec<Option<u16>> {
    let mut owners = vec![None; SLOTS];
    for node in view.iter().filter(|n| n.is_master) {
        for &(first, last) in &node.slots {
            owners[usize::from(first)..=usize::from(last)].fill(Some(node.port));
        }
    }
    owners
}

fn cluster_nodes(port: u16) -> io::Result<Vec<ClusterNode>> {
    let text = resp::call(port, &["CLUSTER", "NODES"])?;
    text.text().lines().map(parse_cluster_node).collect()
}

/// `<id> <ip:port@bus[,hostname]> <flags> <master> <ping> <pong> <epoch>
/// <link> <slot>...`, where a slot is `N`, `N-M` or, while migrating,
/// `[N->-id]`/`[N-<-id]` (skipped: the slot still belongs to its owner).
fn parse_cluster_node(line: &str) -> io::Result<ClusterNode> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("unexpected CLUSTER NODES line: {line:?}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let [_id, addr, flags, ..] = fields[..] else { return Err(bad()) };
    let port =
        addr.split('@').next().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let slots = fields
        .iter()
        .skip(8)
        .filter(|s| !s.starts_with('['))
        .map(|s| {
            let (first, last) = s.split_once('-').unwrap_or((s, s));
            Some((first.parse().ok()?, last.parse().ok()?))
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    Ok(ClusterNode { port, is_master: flags.split(',').any(|f| f == "master"), slots })
}
