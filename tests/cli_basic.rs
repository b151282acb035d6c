//! `weir enqueue`, `weir stats`, `weir pause`/`resume` through the built binary.
use crate::broker_enqueue::q;
use crate::util;
use weir::broker::JobState;

fn stats(prefix: &str) -> serde_json::Value {
    serde_json::from_str(&util::run_ok(util::weir(prefix).args(["stats", "--json"]))).unwrap()
}

/// `weir enqueue --queue mail --kind send --json PAYLOAD EXTRA...`: what it printed (the id).
fn enqueue_mail(prefix: &str, payload: &str, extra: &[&str]) -> String {
    util::run_ok(
        util::weir(prefix).args(["enqueue", "--queue", "mail", "--kind", "send", "--json", payload]).args(extra),
    )
}

/// `weir enqueue <args> --stdin` fed `input`: (exit code, stdout, stderr).
fn enqueue_stdin(prefix: &str, args: &[&str], input: &str) -> (Option<i32>, String, String) {
    util::enqueue_stdin(util::weir(prefix), args, input)
}

#[tokio::test]
async fn enqueue_stats_pause_resume() {
    let prefix = util::prefix("cli");
    let b = util::broker_with(util::config(&prefix)).await;
    let id = enqueue_mail(&prefix, r#"{"to":"a@b"}"#, &[]);
    let id = id.trim();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let info = b.job(&q("mail"), id).await.unwrap().unwrap();
    assert_eq!(info.state, Some(JobState::Pending));
    assert_eq!(info.parse_envelope().unwrap().unwrap().payload.get(), r#"{"to":"a@b"}"#);

    let later = enqueue_mail(&prefix, "{}", &["--delay", "30s", "--max-attempts", "2", "--unique-key", "u1"]);
    let again = enqueue_mail(&prefix, "{}", &["--unique-key", "u1"]);
    assert_eq!(later, again, "the unique key returned the existing job's id");
    let info = b.job(&q("mail"), later.trim()).await.unwrap().unwrap();
    assert_eq!((info.state, info.max_attempts), (Some(JobState::Delayed), Some(2)));

    let s = stats(&prefix);
    assert_eq!(s["mail"]["pending"], 1);
    assert_eq!(s["mail"]["delayed"], 1);
    assert_eq!(s["mail"]["paused"], false);
    for field in ["active", "dead", "processed", "failed", "oldest_pending_ms"] {
        assert!(s["mail"].get(field).is_some(), "stats has {field}");
    }

    util::run_ok(util::weir(&prefix).args(["pause", "mail"]));
    assert_eq!(stats(&prefix)["mail"]["paused"], true);
    assert!(b.stats(&q("mail")).await.unwrap().paused);
    util::run_ok(util::weir(&prefix).args(["resume", "mail"]));
    assert_eq!(stats(&prefix)["mail"]["paused"], false);

    let table = util::run_ok(util::weir(&prefix).arg("stats"));
    assert!(table.lines().any(|l| l.starts_with("mail")), "{table}");
}

#[tokio::test]
async fn enqueue_from_stdin_in_batches() {
    let prefix = util::prefix("cli-stdin");
    let b = util::broker_with(util::config(&prefix)).await;
    let mut lines = String::new();
    for i in 0..2_500 {
        lines.push_str(&format!("{{\"n\":{i}}}\n"));
    }
    lines.push_str("{\"kind\":\"other\",\"queue\":\"side\",\"payload\":[1,2]}\n");
    let (code, out, err) = enqueue_stdin(&prefix, &["--queue", "bulk", "--kind", "import"], &lines);
    assert_eq!(code, Some(0), "{err}");
    let ids: Vec<&str> = out.lines().collect();
    assert_eq!(ids.len(), 2_501);
    assert_eq!(b.stats(&q("bulk")).await.unwrap().pending, 2_500);
    let last = b.job(&q("side"), ids[2_500]).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!((last.kind.as_str(), last.payload.get()), ("other", "[1,2]"));
    let first = b.job(&q("bulk"), ids[0]).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!(first.payload.get(), r#"{"n":0}"#);
}

#[test]
fn bad_input_gives_one_clear_line_and_enqueues_nothing() {
    let prefix = util::prefix("cli-bad");
    let cases: &[(&[&str], &str)] = &[
        (&["enqueue", "--queue", "bad queue", "--kind", "k", "--json", "{}"], "invalid queue name"),
        (&["enqueue", "--kind", "k", "--json", "{not json"], "not valid JSON"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--delay", "-5s"], "negative"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--max-attempts", "0"], "max attempts"),
        (&["enqueue", "--kind", "k", "--json", "{}", "--delay", "soon"], "invalid duration"),
    ];
    for (args, want) in cases {
        let out = util::weir(&prefix).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.to_lowercase().contains(&want.to_lowercase()), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A bad line in --stdin enqueues none of the lines.
    let (code, _, err) = enqueue_stdin(&prefix, &["--kind", "k"], "{\"a\":1}\nnot json\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("line 2"), "{err}");
    let s = util::run_ok(util::weir(&prefix).args(["stats", "--json"]));
    assert_eq!(s.trim(), "{}", "nothing was enqueued");
}

#[tokio::test]
async fn stdin_object_lines_are_objects_whatever_the_flags() {
    let prefix = util::prefix("cli-stdin-obj");
    let b = util::broker_with(util::config(&prefix)).await;
    // Before: with --kind, this line became a bare payload on the default queue.
    let (code, out, err) =
        enqueue_stdin(&prefix, &["--kind", "import"], "{\"payload\":{\"n\":1},\"queue\":\"cli-obj\"}\n");
    assert_eq!(code, Some(0), "{err}");
    let env = b.job(&q("cli-obj"), out.trim()).await.unwrap().unwrap().parse_envelope().unwrap().unwrap();
    assert_eq!((env.kind.as_str(), env.payload.get()), ("import", r#"{"n":1}"#));
    assert_eq!(b.stats(&q("default")).await.unwrap().pending, 0);
}

#[test]
fn stdin_lines_with_a_wrong_field_enqueue_nothing_and_name_line_and_field() {
    let prefix = util::prefix("cli-stdin-types");
    for (input, want) in [
        // Before: a job of --kind carrying the whole line as its payload.
        ("{\"payload\":1}\n{\"payload\":2,\"max_attempts\":\"3\"}\n", r#"stdin line 2: field "max_attempts" must be"#),
        ("{\"payload\":1,\"max_atempts\":3}\n", r#"stdin line 1: unknown field "max_atempts""#),
        ("{\"kind\":\"k\",\"queue\":\"q\"}\n", r#"stdin line 1: an object line needs "payload""#),
        ("{\"payload\":1}\n\n{\"payload\":1,\"delay_ms\":99999999999999}\n", "stdin line 3: delay_ms of"),
    ] {
        let (code, out, err) = enqueue_stdin(&prefix, &["--kind", "k"], input);
        assert_eq!(code, Some(1), "{input}: {err}");
        assert!(err.contains(want), "{input}: {err}");
        assert!(out.is_empty(), "{input}: no ids printed: {out}");
    }
    let s = util::run_ok(util::weir(&prefix).args(["stats", "--json"]));
    assert_eq!(s.trim(), "{}", "nothing was enqueued");
}

#[test]
fn unreachable_redis_is_one_line_and_a_non_zero_exit() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--redis", &format!("redis://127.0.0.1:{port}"), "stats"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("cannot reach Redis"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(started.elapsed().as_secs() < 20);
}

/// `weir pause|resume Q` and `weir limit set Q` on a queue never seen refuse
/// with one line naming `--create` and write nothing (`weir limit clear Q`
/// refuses too, with nothing to create); with `--create` they
/// succeed and the queue is known from then on (stats, limit list), with
/// its limit showing although it has no jobs.
#[test]
fn unknown_queues_are_refused_unless_created() {
    let prefix = util::prefix("cli-unknown-queue");
    for args in [
        &["pause", "fresh"][..],
        &["resume", "fresh"],
        &["limit", "set", "fresh", "--rate", "5/s"],
        &["limit", "set", "fresh", "--concurrency", "2"],
    ] {
        let (code, out, err) = util::run_any(util::weir(&prefix).args(args));
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert!(err.contains("queue fresh is not known") && err.contains("--create"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // Clearing an unknown queue's limits names the mistake (it said "cleared").
    let (code, out, err) = util::run_any(util::weir(&prefix).args(["limit", "clear", "fresh"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("queue fresh is not known") && err.trim().lines().count() == 1, "{err}");
    let keys = util::redis().cmd(&["KEYS", &format!("{prefix}:*")]).unwrap();
    assert!(keys.starts_with("*0"), "nothing was written: {keys}");
    assert_eq!(stats(&prefix), serde_json::json!({}));

    let out = util::run_ok(util::weir(&prefix).args(["pause", "fresh", "--create"]));
    assert!(out.contains("created queue fresh") && out.contains("paused fresh"), "{out}");
    assert_eq!(stats(&prefix)["fresh"]["paused"], true);
    // Known now: no --create needed, and not "created" again.
    let out = util::run_ok(util::weir(&prefix).args(["resume", "fresh"]));
    assert_eq!(out.trim(), "resumed fresh");

    let out = util::run_ok(util::weir(&prefix).args(["limit", "set", "other", "--rate", "5/s", "--create"]));
    assert!(out.contains("created queue other"), "{out}");
    let list = util::run_ok(util::weir(&prefix).args(["limit", "list"]));
    assert!(list.lines().any(|l| l.starts_with("queue other:") && l.contains("5/s")), "{list}");
    let s = stats(&prefix);
    assert_eq!(s["other"]["limits"]["rate"], "5/s", "{s}");
    assert_eq!(s["other"]["pending"], 0, "{s}");
    let table = util::run_ok(util::weir(&prefix).arg("stats"));
    let line = table.lines().find(|l| l.starts_with("other")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("rate 5/s burst 1"), "{table}");
    let out = util::run_ok(util::weir(&prefix).args(["limit", "clear", "other"]));
    assert_eq!(out.trim(), "cleared limits of other");
    let out = util::run_ok(util::weir(&prefix).args(["limit", "clear", "other"]));
    assert_eq!(out.trim(), "other had no limits");
}

/// `weir completions SHELL` prints a script naming the subcommands, for
/// every shell clap_complete knows; an unknown shell is clap's usage error.
#[test]
fn completions_name_the_subcommands_in_every_shell() {
    let bash = util::run_ok(util::weir("cli-completions").args(["completions", "bash"]));
    assert!(bash.contains("complete -F") && bash.contains("weir"), "{bash}");
    for sub in ["enqueue", "stats", "pause", "limit", "dead", "work", "completions", "man"] {
        assert!(bash.contains(sub), "bash completions lack {sub}");
    }
    assert!(bash.contains("--max-attempts") && bash.contains("--create"), "flags are completed too");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = util::run_ok(util::weir("cli-completions").args(["completions", shell]));
        assert!(out.contains("enqueue") && out.contains("limit"), "{shell}: {out}");
    }
    let (code, _, err) = util::run_any(util::weir("cli-completions").args(["completions", "tcsh"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

/// A reader that quits early (`weir completions bash | head -1`) ends the
/// output quietly: no panic, no backtrace, exit 0.
#[test]
fn completions_and_man_into_a_closed_pipe_end_quietly() {
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut child = util::weir("cli-pipe")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read nothing and close our end: every write of the child then fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `weir man` prints weir.1 as roff; `weir man --out DIR` writes one page
/// per command, subcommands of subcommands included.
#[test]
fn man_prints_roff_and_writes_a_page_per_command() {
    let page = util::run_ok(util::weir("cli-man").arg("man"));
    assert!(page.starts_with(".ie") || page.contains("\n.TH weir"), "roff with .TH: {page}");
    assert!(page.contains(".TH weir 1"), "{page}");
    assert!(page.contains("enqueue") && page.contains("\\-\\-redis"), "lists subcommands and global options");
    let dir = std::env::temp_dir().join(format!("weir-man-{}", ulid::Ulid::new()));
    let out = util::run_ok(util::weir("cli-man").args(["man", "--out"]).arg(&dir));
    let written = std::fs::read_dir(&dir).unwrap().count();
    assert!(out.starts_with(&format!("wrote {written} man pages into ")), "{out}");
    for name in ["weir.1", "weir-enqueue.1", "weir-limit.1", "weir-limit-set.1", "weir-completions.1", "weir-man.1"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e} ({out})"));
        assert!(text.contains(".TH "), "{name}: {text}");
    }
    let set = std::fs::read_to_string(dir.join("weir-limit-set.1")).unwrap();
    assert!(set.contains("\\-\\-create") && set.contains("Create the queue"), "{set}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reader that stops early (`weir stats | head -1`) ends a printing
/// command quietly with exit code 0; it panicked with a backtrace (exit 101).
#[tokio::test]
async fn a_closed_stdout_ends_a_listing_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let prefix = util::prefix("closed-pipe");
    // Enough queues that the table outgrows the pipe's buffer (64 KiB).
    let queues: Vec<String> = (0..3_000).map(|n| format!("queue-{n}")).collect();
    let mut sadd = vec!["SADD".to_string(), format!("{prefix}:queues")];
    sadd.extend(queues);
    let args: Vec<&str> = sadd.iter().map(String::as_str).collect();
    util::redis().cmd(&args).unwrap();
    let mut child = util::weir(&prefix).arg("stats").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut header = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut header).unwrap();
    assert!(header.starts_with("QUEUE"), "{header}");
    // The reader is gone: every later write meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
