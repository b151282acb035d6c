//! Waiting until a master's replicas hold everything it has written.
//!
//! `WAIT` cannot do this for a test: it counts acknowledgements of the
//! writes made on *its own* connection, and the kit opens a fresh
//! connection per command, so a `WAIT` after another connection's write
//! returns at once whether or not the replica has the data. Replication
//! offsets say it for every writer.
use crate::{resp, wait::wait_until};
use std::time::Duration;

/// Waits until every replica attached to the master on `127.0.0.1:port`
/// (at least one) has acknowledged the master's replication offset as it
/// was when the call began, so a failover after this loses nothing written
/// before it.
///
/// # Panics
/// If that has not happened within 10 s, or the master has no replica.
pub fn wait_replicated(port: u16) {
    let target = offsets(port).unwrap_or_else(|e| panic!("{e}")).0;
    let caught_up = wait_until(Duration::from_secs(10), || {
        let (_, replicas) = offsets(port)?;
        if replicas.is_empty() {
            return Err(format!("127.0.0.1:{port} has no replica attached"));
        }
        match replicas.iter().find(|(_, acked)| *acked < target) {
            Some((replica, acked)) => Err(format!("replica {replica} has acknowledged offset {acked} of {target}")),
            None => Ok(()),
        }
    });
    if let Err(reason) = caught_up {
        panic!("replicas of 127.0.0.1:{port} did not catch up: {reason}");
    }
}

/// The master's `master_repl_offset` and each attached replica's
/// (`ip:port`, acknowledged offset), from `INFO replication`.
fn offsets(port: u16) -> Result<(u64, Vec<(String, u64)>), String> {
    let info = resp::call(port, &["INFO", "replication"]).map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let info = info.text();
    let field = |line: &str, name: &str| {
        line.split(',').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::to_string)
    };
    let mut master_offset = None;
    let mut replicas = Vec::new();
    for line in info.lines().map(str::trim) {
        if let Some(offset) = line.strip_prefix("master_repl_offset:") {
            master_offset = offset.parse().ok();
        } else if line.starts_with("slave") && line.contains(":ip=") {
            let entry = line.split_once(':').map_or("", |(_, rest)| rest);
            let acked = field(entry, "offset").and_then(|o| o.parse().ok());
            let name =
                format!("{}:{}", field(entry, "ip").unwrap_or_default(), field(entry, "port").unwrap_or_default());
            replicas.push((name, acked.ok_or_else(|| format!("127.0.0.1:{port}: unreadable replica line {line}"))?));
        }
    }
    let master_offset = master_offset.ok_or_else(|| format!("127.0.0.1:{port} is not a master: {info}"))?;
    Ok((master_offset, replicas))
}
