//! A single private `redis-server`.
use crate::node::{Kind, Node};
use crate::resp;
use std::io;
use std::process::Output;

/// A private `redis-server` on a free loopback port in its own temp dir,
/// persistence off unless asked (`--save ''`). Killed when this value drops
/// or, by its watcher, when the test process dies.
#[derive(Debug)]
pub struct RedisServer {
    node: Node,
}

/// Options for [`RedisServer`]; from [`RedisServer::builder`].
#[derive(Debug, Clone, Default)]
pub struct RedisServerBuilder {
    /// `appendonly yes`, so [`RedisServer::restart`] brings the data back,
    /// even after [`RedisServer::kill9`]. Default: off.
    appendonly: bool,
}

impl RedisServerBuilder {
    /// Turns the append-only file on or off (the field above says why).
    pub fn appendonly(mut self, on: bool) -> RedisServerBuilder {
        self.appendonly = on;
        self
    }

    /// # Panics
    /// If the server cannot start; the message says why.
    pub fn start(self) -> RedisServer {
        self.try_start().unwrap_or_else(|e| panic!("could not start a private redis-server: {e}"))
    }

    /// Like [`RedisServerBuilder::start`], returning the error instead of
    /// panicking.
    pub fn try_start(self) -> io::Result<RedisServer> {
        // `appendfsync everysec` (the default) is enough for `kill9`: Redis
        // writes the AOF to the kernel before it replies, and SIGKILL does
        // not lose the page cache.
        let appendonly = if self.appendonly { "yes" } else { "no" };
        let node = Node::start(Kind::Server, &format!("appendonly {appendonly}\n"))?;
        Ok(RedisServer { node })
    }
}

impl RedisServer {
    /// A server with persistence off. See [`RedisServer::builder`] for options.
    ///
    /// # Panics
    /// If the server cannot start; the message says why.
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// Like [`RedisServer::start`], for callers that report errors
    /// themselves. A missing `redis-server` is `ErrorKind::NotFound`.
    pub fn try_start() -> io::Result<RedisServer> {
        RedisServer::builder().try_start()
    }

    /// Options before the start: `RedisServer::builder().appendonly(true).start()`.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// The loopback port it listens on (free when it was picked).
    pub fn port(&self) -> u16 {
        self.node.port()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port())
    }

    /// Sends one command over a fresh connection; returns the raw reply
    /// (`+PONG\r\n`, `-ERR ..`, ..). Only an I/O failure is an `Err`.
    pub fn cmd(&self, args: &[&str]) -> io::Result<String> {
        crate::cmd(self.port(), args)
    }

    /// `redis-cli -p PORT ARGS..`, for the cross-language tests.
    ///
    /// # Panics
    /// If `redis-cli` cannot run (install redis-tools; scripts/test does).
    pub fn redis_cli(&self, args: &[&str]) -> Output {
        crate::redis_cli(self.port(), args)
    }

    /// Calls of one command since the last `CONFIG RESETSTAT`, from
    /// `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let name = command.to_lowercase();
        self.command_table().into_iter().find(|(n, _)| *n == name).map_or(0, |(_, calls)| calls)
    }

    /// Every command name with its call count, from `INFO commandstats`.
    /// Commands that scripts run are counted under their own names.
    pub fn command_table(&self) -> Vec<(String, u64)> {
        let info = self.info("commandstats");
        info.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("cmdstat_")?;
                let (name, stats) = rest.split_once(":calls=")?;
                Some((name.to_string(), stats.split(',').next()?.parse().ok()?))
            })
            .collect()
    }

    /// All commands processed, from `INFO stats`.
    pub fn total_commands(&self) -> u64 {
        let info = self.info("stats");
        info.lines().find_map(|l| l.strip_prefix("total_commands_processed:")?.trim().parse().ok()).unwrap_or(0)
    }

    /// SIGKILL, like a crash. [`RedisServer::restart`] starts it again.
    pub fn kill9(&mut self) {
        self.node.kill9();
    }

    /// A clean `SHUTDOWN NOSAVE` (the AOF, if on, is flushed).
    pub fn stop(&mut self) {
        self.node.stop();
    }

    /// Stops the server if it runs and starts it again on the same port and
    /// dir: with `appendonly` the data comes back from the AOF.
    pub fn restart(&mut self) -> io::Result<()> {
        self.node.restart()
    }

    fn info(&self, section: &str) -> String {
        resp::call(self.port(), &["INFO", section]).map(|reply| reply.text().to_string()).unwrap_or_default()
    }
}
