//! A Sentinel group: one master, one replica, three sentinels.
use crate::node::{Kind, Node};
use crate::resp::{self, Reply};
use crate::wait::wait_until;
use std::io;
use std::process::Output;
use std::time::Duration;

/// The name the sentinels monitor the master under.
const SERVICE: &str = "weir";

const DATA_CONFIG: &str = "appendonly no\n";

/// A master, a replica (`replicaof`) and 3 sentinels (quorum 2) on free
/// loopback ports, each in its own temp dir. Every process is killed when
/// this value drops or, by its watcher, when the test process dies.
#[derive(Debug)]
pub struct SentinelGroup {
    /// The first master and replica; roles swap on failover.
    data_nodes: Vec<Node>,
    sentinels: Vec<Node>,
}

impl SentinelGroup {
    /// # Panics
    /// If the group cannot start; the message says which part did not.
    pub fn start() -> SentinelGroup {
        SentinelGroup::try_start()
            .unwrap_or_else(|e| panic!("could not start a Sentinel group (master, replica, 3 sentinels): {e}"))
    }

    /// Like [`SentinelGroup::start`], for callers that report errors
    /// themselves (or skip when `redis-server` is missing: `ErrorKind::NotFound`).
    pub fn try_start() -> io::Result<SentinelGroup> {
        let master = Node::start(Kind::Server, DATA_CONFIG)?;
        let master_port = master.port();
        let replica = Node::start(Kind::Server, &format!("{DATA_CONFIG}replicaof 127.0.0.1 {master_port}\n"))?;
        let replica_port = replica.port();
        wait_until(Duration::from_secs(10), || {
            let info = resp::call(replica_port, &["INFO", "replication"]).map_err(|e| e.to_string())?;
            if info.text().contains("master_link_status:up") {
                Ok(())
            } else {
                Err(format!("replica 127.0.0.1:{replica_port} is not linked to its master"))
            }
        })
        .map_err(io::Error::other)?;
        // A failover needs 1 s of silence to notice and 5 s at most to finish.
        let sentinel_config = format!(
            "sentinel resolve-hostnames no\nsentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds {SERVICE} 1000\nsentinel failover-timeout {SERVICE} 5000\n"
        );
        let sentinels =
            (0..3).map(|_| Node::start(Kind::Sentinel, &sentinel_config)).collect::<io::Result<Vec<_>>>()?;
        let group = SentinelGroup { data_nodes: vec![master, replica], sentinels };
        // Sentinels find the replica from the master's INFO at once, and
        // each other from hello messages every 2 s.
        wait_until(Duration::from_secs(20), || {
            group.sentinel_ports().into_iter().try_for_each(|sentinel| {
                let fields = |args: &[&str]| resp::call(sentinel, args).map_err(|e| e.to_string());
                let replicas = fields(&["SENTINEL", "REPLICAS", SERVICE])?;
                let knows_replica = replicas
                    .items()
                    .iter()
                    .any(|r| field(r, "port") == replica_port.to_string() && field(r, "flags") == "slave");
                let master = fields(&["SENTINEL", "MASTER", SERVICE])?;
                match (knows_replica, field(&master, "num-other-sentinels")) {
                    (true, "2") => Ok(()),
                    (false, _) => Err(format!("sentinel 127.0.0.1:{sentinel} does not know the replica yet")),
                    (true, n) => Err(format!("sentinel 127.0.0.1:{sentinel} knows {n} of the 2 other sentinels")),
                }
            })
        })
        .map_err(io::Error::other)?;
        Ok(group)
    }

    /// `redis-sentinel://127.0.0.1:S1?sentinelServiceName=weir&node=127.0.0.1:S2&node=127.0.0.1:S3`
    pub fn url(&self) -> String {
        let ports: Vec<u16> = self.sentinels.iter().map(Node::port).collect();
        let others: String = ports[1..].iter().map(|p| format!("&node=127.0.0.1:{p}")).collect();
        format!("redis-sentinel://127.0.0.1:{}?sentinelServiceName={SERVICE}{others}", ports[0])
    }

    /// The master's port, as a running sentinel reports it.
    ///
    /// # Panics
    /// If no sentinel answers.
    pub fn master_port(&self) -> u16 {
        let sentinel = self.sentinel_ports()[0];
        master_port_from(sentinel).unwrap_or_else(|e| panic!("sentinel 127.0.0.1:{sentinel}: {e}"))
    }

    /// `SENTINEL FAILOVER weir`, then waits for the new master (see
    /// [`SentinelGroup::wait_for_new_master`]); returns its port. Sentinel
    /// turns the old master into a replica some seconds later.
    ///
    /// # Panics
    /// If the sentinel refuses or no new master shows up within 30 s.
    pub fn failover(&self) -> u16 {
        let old = self.master_port();
        let sentinel = self.sentinel_ports()[0];
        if let Err(e) = resp::call(sentinel, &["SENTINEL", "FAILOVER", SERVICE]) {
            panic!("sentinel 127.0.0.1:{sentinel} refused the failover: {e}");
        }
        self.wait_for_new_master(old)
    }

    /// SIGKILLs the master; returns its port. The sentinels fail over on
    /// their own about 1 s later: see [`SentinelGroup::wait_for_new_master`].
    pub fn kill9_master(&mut self) -> u16 {
        let port = self.master_port();
        self.data_nodes.iter_mut().filter(|n| n.port() == port).for_each(Node::kill9);
        port
    }

    /// Waits until every running sentinel names the same master, not
    /// `old_master_port`, and that server says `ROLE` master; returns its port.
    ///
    /// # Panics
    /// If that has not happened within 30 s.
    pub fn wait_for_new_master(&self, old_master_port: u16) -> u16 {
        let mut new_master = 0;
        let settled = wait_until(Duration::from_secs(30), || {
            let reported = self.sentinel_ports().into_iter().map(master_port_from).collect::<io::Result<Vec<_>>>();
            let reported = reported.map_err(|e| e.to_string())?;
            if reported.iter().any(|&p| p == old_master_port || p != reported[0]) {
                return Err(format!("the sentinels report masters {reported:?}"));
            }
            let role = resp::call(reported[0], &["ROLE"]).map_err(|e| e.to_string())?;
            match role.items().first().map(Reply::text) {
                Some("master") => {
                    new_master = reported[0];
                    Ok(())
                }
                _ => Err(format!("127.0.0.1:{} does not say ROLE master yet", reported[0])),
            }
        });
        settled.unwrap_or_else(|reason| panic!("no new master after 127.0.0.1:{old_master_port}: {reason}"));
        new_master
    }

    /// `redis-cli -p PORT ARGS..` against the current master.
    ///
    /// # Panics
    /// If `redis-cli` cannot run (install redis-tools; scripts/test does).
    pub fn redis_cli(&self, args: &[&str]) -> Output {
        crate::redis_cli(self.master_port(), args)
    }

    fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().filter(|n| n.is_running()).map(Node::port).collect()
    }
}

fn master_port_from(sentinel: u16) -> io::Result<u16> {
    let addr = resp::call(sentinel, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE])?;
    let port = addr.items().get(1).map(Reply::text).unwrap_or_default();
    port.parse().map_err(|_| io::Error::other(format!("no master address for {SERVICE}: {addr:?}")))
}

/// The value after `name` in a flat key/value array reply (`SENTINEL MASTER`).
fn field<'a>(reply: &'a Reply, name: &str) -> &'a str {
    let items = reply.items();
    items.chunks(2).find(|pair| pair[0].text() == name).and_then(|pair| pair.get(1)).map_or("", Reply::text)
}
