//! The standard worker flags, as a clap struct that any worker binary
//! flattens (`#[command(flatten)] worker: WorkerArgs`), so every worker of a
//! fleet takes the same flags and exits with the same codes.
use crate::config::{Queues, WorkerConfig};
use crate::defaults;
use crate::error::ConfigError;
use std::time::Duration;
use weir_broker::{Backoff, QueueName, parse_duration};

fn duration(s: &str) -> Result<Duration, String> {
    if s.trim_start().starts_with('-') {
        return Err("must not be negative".into());
    }
    parse_duration(s).map_err(|e| e.to_string())
}

/// `critical=100,default=10`: queues with weights (weight 1 when omitted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueList(pub Vec<(QueueName, u32)>);

impl std::str::FromStr for QueueList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once('=') {
                Some((n, w)) => {
                    let w: u32 =
                        w.trim().parse().map_err(|_| format!("weight of {n:?} must be a whole number, got {w:?}"))?;
                    (n.trim(), w)
                }
                None => {
                    refuse_colon_weight(part)?;
                    (part, 1)
                }
            };
            if weight == 0 {
                return Err(format!("weight of {name:?} must be at least 1"));
            }
            out.push((QueueName::new(name).map_err(|e| e.to_string())?, weight));
        }
        if out.is_empty() {
            return Err("name at least one queue".into());
        }
        Ok(QueueList(out))
    }
}

/// `critical:100` is a valid queue name, but far more often a weight written
/// with the wrong separator; a queue whose name ends in `:digits` is still
/// taken with an explicit weight (`shard:1=1`).
fn refuse_colon_weight(item: &str) -> Result<(), String> {
    match item.rsplit_once(':') {
        Some((name, digits))
            if !name.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Err(format!(
                "queue {item:?} looks like a weight after a colon: did you mean {name}={digits}? \
                 (for a queue with that name, give its weight: {item}=1)"
            ))
        }
        _ => Ok(()),
    }
}

/// The inverse of parsing: `critical=100,default=1`, every weight written out.
impl std::fmt::Display for QueueList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, weight)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{name}={weight}")?;
        }
        Ok(())
    }
}

/// An address to listen on (`--metrics-addr`, `weir exporter --listen`):
/// `HOST:PORT`, the host an IP address or a name such as `localhost`.
pub fn listen_addr(flag: &'static str, s: &str) -> Result<std::net::SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    let bad = || ConfigError::Flag { flag, value: s.to_string(), reason: "use HOST:PORT, e.g. 127.0.0.1:9464" };
    s.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

/// `--unknown-kind`: `retry` or `dead` (see [`UnknownKind`](crate::UnknownKind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownKindFlag {
    /// Put the job back for another worker, no attempt used, until the window passes.
    Retry,
    /// The job dies at once.
    Dead,
}

impl std::str::FromStr for UnknownKindFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as clap::ValueEnum>::from_str(s, false)
    }
}

/// `KIND=COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The job kind the command handles.
    pub kind: String,
    /// The operator's command line, run with `sh -c` (the job gives only
    /// stdin and the environment).
    pub command: String,
}

impl std::str::FromStr for ExecSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((k, c)) if !k.trim().is_empty() && !c.trim().is_empty() => {
                Ok(ExecSpec { kind: k.trim().to_string(), command: c.to_string() })
            }
            _ => Err("use KIND=COMMAND".into()),
        }
    }
}

/// The standard worker flags; docs/WORKER.md describes each one.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Queues to take jobs from, with weights: critical=100,default=10.
    /// A queue's share of jobs follows its weight (weight 1 when omitted).
    #[arg(long, default_value = defaults::QUEUES, value_parser = clap::value_parser!(QueueList))]
    pub queues: QueueList,
    /// Strict priority: always the first listed queue that has work (weights ignored).
    #[arg(long)]
    pub strict: bool,
    /// Jobs running at once.
    #[arg(long, default_value_t = defaults::CONCURRENCY)]
    pub concurrency: usize,
    /// Exit with code 10 after this many jobs finished.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
    /// Exit with code 11 after running this long (e.g. 1h).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub max_time: Option<Duration>,
    /// Exit with code 12 when resident memory passes this many MiB after a job ends.
    #[arg(long, value_name = "MB")]
    pub memory: Option<u64>,
    /// Time limit of one attempt, for jobs that set none.
    #[arg(long, value_name = "DURATION", default_value = defaults::TIMEOUT, value_parser = duration)]
    pub timeout: Duration,
    /// At most this many attempts per job: the lower of this and the job's own max attempts.
    #[arg(long, value_name = "N")]
    pub tries: Option<u32>,
    /// On SIGTERM/SIGINT or a drain request, how long running jobs may take
    /// before they are released back to their queue.
    #[arg(long, value_name = "DURATION", default_value = defaults::GRACE, value_parser = duration)]
    pub grace: Duration,
    /// Run jobs of KIND with this shell command: the payload as JSON on
    /// stdin; WEIR_JOB_ID, WEIR_ATTEMPT, WEIR_QUEUE, WEIR_KIND in the
    /// environment; exit 0 = done. Repeat for more kinds.
    #[arg(long, value_name = "KIND=COMMAND", value_parser = clap::value_parser!(ExecSpec))]
    pub exec: Vec<ExecSpec>,
    /// Keep each --exec command's stdout as its job's result (shown by `weir
    /// job`): as is when it is JSON, else as a JSON string; over 64 KiB fails
    /// the job. Without it, stdout goes to the worker's own.
    #[arg(long)]
    pub exec_result: bool,
    /// Cap the address space of each --exec command at this many MiB.
    #[arg(long, value_name = "MB")]
    pub memory_per_job: Option<u64>,
    // The brackets are the help text's notation, not rustdoc links.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// Retry schedule for jobs that carry none: exp[:BASE[:CAP]], fixed:DELAY, or a list such as 1s,5s,10s.
    #[arg(long, value_name = "SCHEDULE", default_value = defaults::BACKOFF, value_parser = clap::value_parser!(Backoff))]
    pub backoff: Backoff,
    /// A job whose kind has no handler here: retry (put back for another
    /// worker, no attempt used, until --unknown-kind-window after it was due;
    /// for rolling deploys) or dead (at once).
    #[arg(long, value_name = "POLICY", value_enum, default_value = defaults::UNKNOWN_KIND)]
    pub unknown_kind: UnknownKindFlag,
    /// With --unknown-kind retry: how long a job of an unknown kind waits for a
    /// worker that knows it before it dies.
    #[arg(long, value_name = "DURATION", default_value = defaults::UNKNOWN_KIND_WINDOW, value_parser = duration)]
    pub unknown_kind_window: Duration,
    /// Pace this process: at most RATE jobs of QUEUE per period (e.g.
    /// webhooks=20/s). Per process; fleet-wide limits are `weir limit`.
    #[arg(long, value_name = "QUEUE=RATE", value_parser = clap::value_parser!(crate::pace::QueueRate))]
    pub rate: Vec<crate::pace::QueueRate>,
    /// Serve Prometheus metrics on /metrics, and the probes /healthz and
    /// /readyz, at this address (e.g. 127.0.0.1:9464). Off by default.
    #[arg(long, value_name = "HOST:PORT", env = "WEIR_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Distinct job kinds labelled in the metrics; the rest are kind="other".
    #[arg(long, value_name = "N", default_value_t = defaults::METRICS_MAX_KINDS)]
    pub metrics_max_kinds: usize,
    /// Do not run a scheduler in this worker (periodic jobs, docs/CRON.md):
    /// by default every worker runs one, and each tick is enqueued once.
    #[arg(long)]
    pub no_scheduler: bool,
    /// Registry heartbeat interval (a killed worker vanishes after three).
    #[arg(long, value_name = "DURATION", default_value = defaults::HEARTBEAT, value_parser = duration, hide = true)]
    pub heartbeat: Duration,
    /// Housekeeping interval: promote due jobs, reclaim expired leases.
    #[arg(long, value_name = "DURATION", default_value = defaults::HOUSEKEEPING, value_parser = duration, hide = true)]
    pub housekeeping: Duration,
    /// Reserve calls in flight at once (throughput tuning).
    #[arg(long, value_name = "N", default_value_t = defaults::RESERVE_DEPTH, hide = true)]
    pub reserve_depth: usize,
}

impl WorkerArgs {
    /// The validated configuration these flags describe.
    pub fn config(&self) -> Result<WorkerConfig, ConfigError> {
        let queues = if self.strict {
            Queues::Strict(self.queues.0.iter().map(|(q, _)| q.clone()).collect())
        } else {
            Queues::Weighted(self.queues.0.clone())
        };
        if let Some(mb) = self.memory_per_job {
            // `ulimit -v` takes KiB: MB << 10 must not wrap.
            weir_broker::bounds::memory_mb("--memory-per-job", mb)?;
        }
        let mut pace = crate::pace::Pace::default();
        for r in &self.rate {
            let quota = crate::pace::quota(r.rate).ok_or_else(|| ConfigError::Flag {
                flag: "--rate",
                value: r.rate.to_string(),
                reason: "too fast",
            })?;
            pace.queue(r.queue.clone(), quota);
        }
        let metrics_addr = match &self.metrics_addr {
            Some(a) => Some(listen_addr("--metrics-addr", a)?),
            None => None,
        };
        let config = WorkerConfig {
            metrics_addr,
            metrics_max_kinds: self.metrics_max_kinds,
            pace,
            queues,
            concurrency: self.concurrency,
            max_jobs: self.max_jobs,
            max_time: self.max_time,
            memory_mb: self.memory,
            timeout: self.timeout,
            tries: self.tries,
            grace: self.grace,
            backoff: self.backoff.clone(),
            heartbeat: self.heartbeat,
            housekeeping: self.housekeeping,
            reserve_depth: self.reserve_depth,
            scheduler: !self.no_scheduler,
            unknown_kind: match self.unknown_kind {
                UnknownKindFlag::Retry => crate::UnknownKind::Retry { window: self.unknown_kind_window },
                UnknownKindFlag::Dead => crate::UnknownKind::Dead,
            },
            ..WorkerConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct App {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    #[test]
    fn no_flags_give_the_builders_defaults() {
        // Both read crate::defaults; this catches a flag that hard-codes its own.
        let from_flags = App::try_parse_from(["app"]).unwrap().worker.config().unwrap();
        assert_eq!(format!("{from_flags:?}"), format!("{:?}", WorkerConfig::default()));
    }

    #[test]
    fn parses_the_issue_example() {
        let app = App::try_parse_from([
            "app",
            "--queues",
            "critical=100,transactions=50,webhooks=30,default=10",
            "--concurrency",
            "16",
            "--max-jobs",
            "1000",
            "--max-time",
            "1h",
            "--memory",
            "512",
            "--timeout",
            "30s",
            "--tries",
            "3",
            "--grace",
            "30s",
            "--exec",
            "resize=convert - out.png",
            "--memory-per-job",
            "256",
        ])
        .unwrap();
        let c = app.worker.config().unwrap();
        assert_eq!(c.concurrency, 16);
        assert_eq!(c.max_time, Some(Duration::from_secs(3600)));
        assert_eq!(c.tries, Some(3));
        match c.queues {
            Queues::Weighted(q) => assert_eq!(q.iter().map(|(_, w)| *w).collect::<Vec<_>>(), vec![100, 50, 30, 10]),
            other => panic!("{other:?}"),
        }
        assert_eq!(app.worker.exec[0].command, "convert - out.png");
    }

    #[test]
    fn refuses_bad_flags() {
        for bad in [
            vec!["app", "--queues", "a=0"],
            vec!["app", "--queues", "a=x"],
            vec!["app", "--queues", "a{b}"],
            vec!["app", "--exec", "nocommand"],
            vec!["app", "--timeout", "-1s"],
        ] {
            assert!(App::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        let app = App::try_parse_from(["app", "--concurrency", "0"]).unwrap();
        assert!(app.worker.config().is_err());
        let app = App::try_parse_from(["app", "--queues", "a,a"]).unwrap();
        assert!(app.worker.config().is_err());
    }

    #[test]
    fn a_weight_after_a_colon_is_refused_with_the_fix() {
        let e = "critical:100,default".parse::<QueueList>().unwrap_err();
        assert!(e.contains("did you mean critical=100?"), "{e}");
        let queues: QueueList = "shard:1=1,tenant:a,default".parse().unwrap();
        assert_eq!(queues.to_string(), "shard:1=1,tenant:a=1,default=1");
        assert_eq!(queues.to_string().parse::<QueueList>().unwrap(), queues);
    }

    fn config_error(args: &[&str]) -> String {
        let app = App::try_parse_from([&["app"], args].concat()).unwrap();
        app.worker.config().unwrap_err().to_string()
    }

    #[test]
    fn refuses_numbers_past_their_bounds_naming_flag_value_and_limit() {
        // A semaphore of u64::MAX permits panics; 2^44 MiB in bytes wraps to 0.
        let e = config_error(&["--concurrency", "18446744073709551615"]);
        assert!(e.contains("concurrency of 18446744073709551615 is over the limit of 10000"), "{e}");
        let e = config_error(&["--memory", "17592186044416"]);
        assert!(e.contains("memory of 17592186044416 is over the limit of 1048576"), "{e}");
        let e = config_error(&["--memory-per-job", "18446744073709551615"]);
        assert!(e.contains("--memory-per-job"), "{e}");
        let e = config_error(&["--timeout", "8d"]);
        assert!(e.contains("timeout of 8d is over the limit of 7d"), "{e}");
        let app = App::try_parse_from(["app", "--concurrency", "10000", "--memory", "1048576", "--timeout", "7d"]);
        assert!(app.unwrap().worker.config().is_ok(), "the limits themselves are allowed");
    }
}
