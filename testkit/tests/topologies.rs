//! Each topology started for real: a key written and read through
//! `redis-cli`, then what tests do to it (restart, failover, migration).
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir_testkit::{RedisCluster, RedisServer, SentinelGroup, key_slot};

/// Runs `f`, printing how long it took (`--nocapture` shows it).
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    eprintln!("{what} in {:?}", started.elapsed());
    value
}

fn stdout(out: Output) -> String {
    assert!(out.status.success(), "redis-cli failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_server_keeps_its_aof_across_kill9_and_restart() {
    let mut server = timed("RedisServer started", || RedisServer::builder().appendonly(true).start());
    let port = server.port();
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(server.cmd(&["PING"]).unwrap(), "+PONG\r\n");
    assert_eq!(stdout(server.redis_cli(&["SET", "k", "v1"])), "OK");
    server.kill9();
    assert!(server.cmd(&["PING"]).is_err(), "a killed server answers");
    server.restart().unwrap();
    assert_eq!(server.port(), port);
    assert_eq!(stdout(server.redis_cli(&["GET", "k"])), "v1");
    assert_eq!(stdout(server.redis_cli(&["SET", "k", "v2"])), "OK");
    server.stop();
    server.restart().unwrap();
    assert_eq!(stdout(server.redis_cli(&["GET", "k"])), "v2");
    server.cmd(&["CONFIG", "RESETSTAT"]).unwrap();
    server.cmd(&["GET", "k"]).unwrap();
    assert_eq!(server.command_calls("GET"), 1);
    assert!(server.command_table().contains(&("get".to_string(), 1)));
    assert!(server.total_commands() >= 1);
}

/// Runs one of the `#[ignore]`d tests below in a child process.
fn run_ignored_test(name: &str, command: impl FnOnce(&mut Command) -> &mut Command) -> (u32, Output) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]).stdout(Stdio::piped());
    let child = command(child.stderr(Stdio::piped())).spawn().unwrap();
    (child.id(), child.wait_with_output().unwrap())
}

#[test]
#[ignore = "run as a child process by a_dead_test_process_leaves_no_server"]
fn start_a_server_then_abort() {
    let server = RedisServer::start();
    println!("port={}", server.port());
    // No destructor runs: only the watcher can clean up.
    std::process::abort();
}

#[test]
fn a_dead_test_process_leaves_no_server() {
    let (pid, child) = run_ignored_test("start_a_server_then_abort", |c| c);
    let out = String::from_utf8_lossy(&child.stdout);
    // libtest prints the test's name on the same line.
    let port = out.split_once("port=").and_then(|(_, rest)| rest.lines().next()?.parse::<u16>().ok());
    let port = port.unwrap_or_else(|| panic!("no port from the child: {child:?}"));
    let dir_prefix = format!("weir-testkit-{pid}-");
    let dir_left = || {
        let mut entries = std::fs::read_dir(std::env::temp_dir()).unwrap();
        entries.any(|e| e.unwrap().file_name().to_string_lossy().starts_with(&dir_prefix))
    };
    let cleaned = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        weir_testkit::cmd(port, &["PING"]).is_err() && !dir_left()
    });
    assert!(cleaned, "the server on {port} or its dir {dir_prefix}* outlived the aborted process");
}

#[test]
#[ignore = "run as a child process by a_missing_redis_server_says_how_to_install_it"]
fn start_a_cluster() {
    RedisCluster::start();
}

#[test]
fn a_missing_redis_server_says_how_to_install_it() {
    let (_, child) = run_ignored_test("start_a_cluster", |c| c.env("PATH", "/nonexistent"));
    let out = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success());
    assert!(out.contains("could not start a Redis Cluster"), "{out}");
    assert!(out.contains("install redis-server (scripts/test does"), "{out}");
}

#[test]
fn a_cluster_migrates_a_slot_live_and_fails_over() {
    let mut cluster = timed("RedisCluster started", RedisCluster::start);
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3);
    assert_eq!(cluster.replicas().len(), 3);
    assert_eq!(
        cluster.url(),
        format!("redis-cluster://127.0.0.1:{}?node=127.0.0.1:{}&node=127.0.0.1:{}", masters[0], masters[1], masters[2])
    );
    for key in ["foo", "weir:{critical}:pending", "a{}b", "x{a}{b}"] {
        let keyslot = stdout(cluster.redis_cli(&["CLUSTER", "KEYSLOT", key]));
        assert_eq!(keyslot, key_slot(key).to_string(), "slot of {key}");
    }
    let queues = cluster.queue_on_each_master("q");
    let owners: Vec<u16> = queues.iter().map(|q| cluster.master_for_slot(key_slot(q))).collect();
    assert_eq!(owners, masters, "{queues:?}");

    // 250 keys in one slot (one hash tag), moved while they are read.
    let queue = &queues[0];
    let slot = key_slot(queue);
    for i in 0..250 {
        let set = weir_testkit::cmd(masters[0], &["SET", &format!("weir:{{{queue}}}:job{i}"), &i.to_string()]);
        assert_eq!(set.unwrap(), "+OK\r\n");
    }
    // The reader has done one read before the move starts, and reads on
    // until the move is over and it has done at least one read that began
    // after the move started (on a loaded machine one redis-cli can take
    // longer than the whole move).
    let started = Arc::new(AtomicBool::new(false));
    let migrated = Arc::new(AtomicBool::new(false));
    let first_read = Arc::new(AtomicBool::new(false));
    let reader = {
        let (started, migrated, first_read) = (started.clone(), migrated.clone(), first_read.clone());
        let (entry, key) = (masters[1], format!("weir:{{{queue}}}:job7"));
        std::thread::spawn(move || {
            let mut since_start = 0;
            while !migrated.load(Ordering::SeqCst) || since_start == 0 {
                let during = started.load(Ordering::SeqCst);
                assert_eq!(stdout(weir_testkit::redis_cli(entry, &["-c", "GET", &key])), "7");
                first_read.store(true, Ordering::SeqCst);
                if during {
                    since_start += 1;
                }
            }
            since_start
        })
    };
    while !first_read.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let target = masters[2];
    started.store(true, Ordering::SeqCst);
    timed(&format!("slot {slot} (250 keys) migrated"), || cluster.migrate_slot(slot, target));
    migrated.store(true, Ordering::SeqCst);
    assert!(reader.join().expect("every read during the migration succeeds") > 0);
    assert_eq!(cluster.master_for_slot(slot), target);
    let count = weir_testkit::cmd(target, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]).unwrap();
    assert_eq!(count, ":250\r\n");
    assert_eq!(stdout(cluster.redis_cli(&["GET", &format!("weir:{{{queue}}}:job249")])), "249");

    // The replica must hold the keys before its master dies.
    weir_testkit::wait_replicated(target);
    let killed = cluster.kill9_master_of(slot);
    assert_eq!(killed, target);
    timed("cluster failover after kill9", || cluster.wait_failover());
    assert_eq!(cluster.masters().len(), 3);
    assert!(!cluster.masters().contains(&killed));
    assert_eq!(cluster.replicas().len(), 2);
    assert_ne!(cluster.master_for_slot(slot), killed);
    assert_eq!(stdout(cluster.redis_cli(&["GET", &format!("weir:{{{queue}}}:job249")])), "249");
}

#[test]
fn a_sentinel_group_fails_over_on_request() {
    let group = timed("SentinelGroup started", SentinelGroup::start);
    assert!(group.url().starts_with("redis-sentinel://127.0.0.1:"), "{}", group.url());
    assert!(group.url().contains("?sentinelServiceName=weir&node=127.0.0.1:"), "{}", group.url());
    let old = group.master_port();
    assert_eq!(stdout(group.redis_cli(&["SET", "k", "v"])), "OK");
    weir_testkit::wait_replicated(old);
    let new = timed("sentinel failover", || group.failover());
    assert_ne!(new, old);
    assert_eq!(group.master_port(), new);
    assert_eq!(stdout(group.redis_cli(&["GET", "k"])), "v");
}

#[test]
fn a_sentinel_group_fails_over_when_the_master_dies() {
    let mut group = timed("SentinelGroup started", SentinelGroup::start);
    let old = group.master_port();
    assert_eq!(stdout(group.redis_cli(&["SET", "k", "v"])), "OK");
    weir_testkit::wait_replicated(old);
    assert_eq!(group.kill9_master(), old);
    let new = timed("sentinel failover after kill9", || group.wait_for_new_master(old));
    assert_ne!(new, old);
    assert_eq!(stdout(group.redis_cli(&["GET", "k"])), "v");
}
