//! Acting on decisions: spawning worker processes on this host, restarting
//! those that exit on a limit while they are still needed, and draining the
//! surplus through the registry (the worker finishes its jobs and exits;
//! never SIGKILL). Sidecar and cron modes share it.
use crate::args::AutoscaleArgs;
use crate::error::{Error, Result};
use crate::figures::{self, Counters};
use crate::history::{self, Entry};
use crate::policy::{Decision, Policy, decide};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use weir_broker::registry::WorkerInfo;
use weir_broker::{Broker, QueueName};
use weir_worker::args::QueueList;

/// A worker vanishes from the registry after this long without a heartbeat.
use weir_broker::registry::STALE_AFTER;

/// This host's name, as workers register it.
pub fn host() -> String {
    weir_broker::registry::host_name()
}

/// How to start one worker.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// `sh -c` command line, or None for this binary with `args`.
    pub shell: Option<String>,
    /// The binary to run when `shell` is None (normally this `weir`).
    pub exe: std::path::PathBuf,
    /// Its arguments (e.g. [`AutoscaleArgs::default_worker_args`](crate::AutoscaleArgs::default_worker_args)).
    pub args: Vec<String>,
    /// Passed to the worker as `WEIR_REDIS_URL`.
    pub redis_url: String,
    /// Passed to the worker as `WEIR_PREFIX`.
    pub prefix: String,
    /// Extra environment for the worker (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
}

impl Launcher {
    fn command(&self) -> Command {
        let mut c = match &self.shell {
            // exec: the child's pid is the worker's, as the registry records it.
            Some(line) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("exec {line}"));
                c
            }
            None => {
                let mut c = Command::new(&self.exe);
                c.args(&self.args);
                c
            }
        };
        c.env("WEIR_REDIS_URL", &self.redis_url).env("WEIR_PREFIX", &self.prefix).stdin(Stdio::null());
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Starts a worker that this process supervises.
    pub fn spawn(&self) -> std::io::Result<Child> {
        self.command().kill_on_drop(false).spawn()
    }

    /// Starts a worker that outlives this process (cron mode): its own
    /// process group, no inherited output.
    pub fn spawn_detached(&self) -> std::io::Result<u32> {
        let mut c = self.command();
        c.process_group(0).stdout(Stdio::null()).stderr(Stdio::null());
        let child = c.spawn()?;
        Ok(child.id().unwrap_or(0))
    }
}

/// Reads one tick's figures and decides.
pub async fn tick_decision(
    broker: &Broker,
    policy: &Policy,
    queues: &[QueueName],
    tick: Duration,
    current: u32,
    history: &[Entry],
) -> Result<(Decision, Vec<Counters>)> {
    let previous = history.last().map(|e| (e.decision.clone(), e.counters.clone()));
    let (figures, counters) = figures::read(broker, queues, tick, previous.as_ref()).await?;
    let decisions: Vec<Decision> = history.iter().map(|e| e.decision.clone()).collect();
    let d = decide(policy, broker.now_ms(), current, figures, &decisions);
    Ok((d, counters))
}

/// Drains up to `n` of `candidates`, idle ones first. Returns the drained ids.
pub async fn drain_some(broker: &Broker, mut candidates: Vec<WorkerInfo>, n: usize) -> Result<Vec<String>> {
    candidates.sort_by_key(|w| (w.running, std::cmp::Reverse(w.started_at)));
    let mut drained = Vec::new();
    for w in candidates {
        if drained.len() >= n {
            break;
        }
        if broker.request_drain(&w.id).await? {
            tracing::info!(worker = %w.id, pid = w.pid, running = w.running, "draining surplus worker");
            drained.push(w.id);
        }
    }
    Ok(drained)
}

/// Runs the operator's `--scale-cmd` with the desired count.
pub async fn run_scale_cmd(cmd: &str, d: &Decision) -> std::io::Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} {}", d.desired))
        .env("WEIR_DESIRED", d.desired.to_string())
        .env("WEIR_CURRENT", d.current.to_string())
        .status()
        .await?;
    if !status.success() {
        tracing::warn!(%status, "--scale-cmd failed");
    }
    Ok(())
}

/// A worker this supervisor started.
#[derive(Debug)]
struct Owned {
    child: Child,
    pid: u32,
    drained: bool,
}

/// Sidecar mode: decides every tick until `shutdown`, then drains every
/// worker it started and returns when they have exited. If `stop_now`
/// resolves meanwhile (a second signal), the workers still running are told
/// to stop now (their own second signal: running jobs go back to their
/// queues).
pub async fn run_sidecar(
    broker: &Broker,
    args: &AutoscaleArgs,
    policy: &Policy,
    queues: &QueueList,
    launcher: &Launcher,
    shutdown: impl std::future::Future<Output = ()>,
    stop_now: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let names: Vec<QueueName> = queues.0.iter().map(|(q, _)| q.clone()).collect();
    let host = host();
    let mut owned: Vec<Owned> = Vec::new();
    let mut history: Vec<Entry> = history::recent(broker, 50).await?;
    let mut last_scale_cmd: Option<u32> = None;
    tokio::pin!(shutdown);
    let mut failed_ticks = 0;
    let mut failure = None;
    let mut ticker = tokio::time::interval(args.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        // A failed tick (Redis unreachable, a failover) is skipped, not
        // fatal; only many in a row end the sidecar, and even then its
        // workers are drained below, never left behind.
        let tick: Result<()> = async {
            reap(&mut owned);
            let pool = figures::pool_workers(broker.workers(STALE_AFTER).await?, &names);
            let ours: Vec<u32> = owned.iter().map(|o| o.pid).collect();
            let is_ours = |w: &WorkerInfo| w.host == host && ours.contains(&w.pid);
            let others = pool.iter().filter(|w| !is_ours(w)).count() as u32;
            let current = others + owned.iter().filter(|o| !o.drained).count() as u32;
            let (d, counters) = tick_decision(broker, policy, &names, args.tick, current, &history).await?;
            log_decision(&d, args.json);
            if !args.dry_run {
                if let Some(cmd) = &args.scale_cmd {
                    if last_scale_cmd != Some(d.desired) {
                        run_scale_cmd(cmd, &d).await.map_err(Error::ScaleCmd)?;
                        last_scale_cmd = Some(d.desired);
                    }
                } else if d.desired > d.current {
                    for _ in d.current..d.desired {
                        match launcher.spawn() {
                            Ok(child) => {
                                let pid = child.id().unwrap_or(0);
                                tracing::info!(pid, "started worker");
                                owned.push(Owned { child, pid, drained: false });
                            }
                            Err(e) => tracing::error!(error = %e, "cannot start a worker"),
                        }
                    }
                } else if d.desired < d.current {
                    let mine: Vec<WorkerInfo> = pool
                        .iter()
                        .filter(|w| is_ours(w) && !owned.iter().any(|o| o.pid == w.pid && o.drained))
                        .cloned()
                        .collect();
                    let drained = drain_some(broker, mine.clone(), (d.current - d.desired) as usize).await?;
                    for id in drained {
                        if let Some(w) = mine.iter().find(|w| w.id == id)
                            && let Some(o) = owned.iter_mut().find(|o| o.pid == w.pid)
                        {
                            o.drained = true;
                        }
                    }
                }
                let entry = Entry { decision: d, counters, host: host.clone(), mode: "sidecar".into() };
                history::record(broker, &entry).await?;
                history.push(entry);
                if history.len() > 50 {
                    history.remove(0);
                }
            }

            Ok(())
        }
        .await;
        match tick {
            Ok(()) => failed_ticks = 0,
            Err(e) => {
                failed_ticks += 1;
                tracing::warn!(error = %e, failed_ticks, "autoscale tick failed");
                if failed_ticks >= MAX_FAILED_TICKS {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    // Shutdown order: stop deciding, ask every worker we started to drain
    // (through the registry when it has registered, else SIGTERM, which
    // the worker treats the same), then wait for each to exit.
    tracing::info!(workers = owned.len(), "autoscaler stopping: draining its workers");
    let pool = broker.workers(STALE_AFTER).await.unwrap_or_default();
    for o in &owned {
        let drained = match pool.iter().find(|w| w.host == host && w.pid == o.pid) {
            Some(w) => broker.request_drain(&w.id).await.unwrap_or(false),
            None => false,
        };
        if !drained {
            terminate(o.pid).await;
        }
    }
    tokio::pin!(stop_now);
    let mut told_to_stop_now = false;
    for i in 0..owned.len() {
        loop {
            tokio::select! {
                status = owned[i].child.wait() => {
                    tracing::info!(pid = owned[i].pid, ?status, "worker exited");
                    break;
                }
                _ = &mut stop_now, if !told_to_stop_now => {
                    told_to_stop_now = true;
                    tracing::info!(workers = owned.len() - i, "second signal: telling the workers to stop now");
                    // Two signals: a worker drained through the registry has
                    // not had its first yet, and the second is what forces.
                    for _ in 0..2 {
                        for o in &owned[i..] {
                            terminate(o.pid).await;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Ticks in a row that may fail before the sidecar gives up (and drains its workers).
const MAX_FAILED_TICKS: u32 = 10;

async fn terminate(pid: u32) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
}

/// Collects workers that exited, logging why: a limit (they are replaced
/// while still needed, by the next decision) or a crash.
fn reap(owned: &mut Vec<Owned>) {
    owned.retain_mut(|o| match o.child.try_wait() {
        Ok(None) => true,
        Ok(Some(status)) => {
            match status.code() {
                Some(0) => tracing::info!(pid = o.pid, "worker exited"),
                Some(10) => tracing::info!(pid = o.pid, "worker exited on --max-jobs"),
                Some(11) => tracing::info!(pid = o.pid, "worker exited on --max-time"),
                Some(12) => tracing::info!(pid = o.pid, "worker exited on --memory"),
                code => tracing::warn!(pid = o.pid, ?code, %status, "worker crashed"),
            }
            false
        }
        Err(e) => {
            tracing::warn!(pid = o.pid, error = %e, "cannot check a worker");
            true
        }
    });
}

fn log_decision(d: &Decision, json: bool) {
    if json {
        println!("{}", serde_json::to_string(d).expect("a decision always serializes"));
    }
    tracing::info!(current = d.current, desired = d.desired, needed = d.needed, reason = %d.reason, "autoscale decision");
}

/// Cron mode: one decision from the registry and the recorded history; new
/// workers start detached, the surplus on this host drains.
pub async fn run_once(
    broker: &Broker,
    args: &AutoscaleArgs,
    policy: &Policy,
    queues: &QueueList,
    launcher: &Launcher,
) -> Result<Decision> {
    let names: Vec<QueueName> = queues.0.iter().map(|(q, _)| q.clone()).collect();
    let host = host();
    let pool = figures::pool_workers(broker.workers(STALE_AFTER).await?, &names);
    let history = history::recent(broker, 50).await?;
    let (d, counters) = tick_decision(broker, policy, &names, args.tick, pool.len() as u32, &history).await?;
    if args.dry_run {
        return Ok(d);
    }
    if let Some(cmd) = &args.scale_cmd {
        run_scale_cmd(cmd, &d).await.map_err(Error::ScaleCmd)?;
    } else if d.desired > d.current {
        for _ in d.current..d.desired {
            match launcher.spawn_detached() {
                Ok(pid) => tracing::info!(pid, "started detached worker"),
                Err(e) => tracing::error!(error = %e, "cannot start a worker"),
            }
        }
    } else if d.desired < d.current {
        let mine: Vec<WorkerInfo> = pool.iter().filter(|w| w.host == host).cloned().collect();
        drain_some(broker, mine, (d.current - d.desired) as usize).await?;
    }
    let entry = Entry { decision: d.clone(), counters, host, mode: "cron".into() };
    history::record(broker, &entry).await?;
    Ok(d)
}
