//! The dashboard in a real browser: headless Chromium (Debian's
//! `/usr/bin/chromium`) driven by playwright-core (tests/browser/, installed
//! by `npm ci`; scripts/test installs both when missing). It loads the
//! overview with three queues, retries a dead job through the UI and sees it
//! processed, pauses and resumes a queue, checks that an XSS payload is
//! inert, and saves screenshots (to $WEIR_SCREENSHOTS, e.g. docs/img; else
//! a temp dir).
use crate::broker_enqueue::{job, q};
use crate::store_support::dead_job;
use crate::util;
use crate::web_support::WebProc;
use crate::worker_support::WorkerProc;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_works_in_headless_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in tests/browser (scripts/test does)"
    );
    let chromium = std::env::var("WEIR_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "no Chromium at {chromium}: apt-get install chromium (scripts/test does)");

    let b = util::broker("web-browser").await;
    let queues = ["critical", "default", "webhooks"];
    // The dead job first, before any worker could take it.
    let dead = dead_job(&b, "webhooks", "weir.echo", "{}", 2).await;
    let xss =
        b.enqueue(job("default", "weir.sleep", r#"{"ms":1,"note":"<script>alert(1)</script>"}"#)).await.unwrap().id;
    b.pause(&q("default")).await.unwrap(); // keeps the XSS job pending for its page
    for (i, name) in queues.iter().enumerate() {
        let jobs: Vec<_> = (0..300)
            .map(|n| job(name, "weir.sleep", &format!(r#"{{"ms":{}}}"#, 20 + (n % 7) * 10 * (i + 1))))
            .collect();
        b.enqueue_many(jobs).await.unwrap();
    }
    let fails: Vec<_> = (0..40).map(|_| job("critical", "weir.fail", r#"{"fatal":true}"#)).collect();
    b.enqueue_many(fails).await.unwrap();
    let mut worker =
        WorkerProc::start(b.prefix(), &["--queues", "critical=100,default=10,webhooks=30", "--concurrency", "2"]);
    let web = WebProc::start(b.prefix(), &[]);
    let shots = std::env::var("WEIR_SCREENSHOTS")
        .map(|d| Path::new(env!("CARGO_MANIFEST_DIR")).join(d))
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("weir-shots-{}", std::process::id())));

    let out = tokio::task::spawn_blocking({
        let (url, shots) = (web.url.clone(), shots.clone());
        let (dead, xss) = (dead.clone(), xss.clone());
        move || {
            Command::new("node")
                .arg(dir.join("dashboard.mjs"))
                .current_dir(&dir)
                .env("WEIR_BROWSER_URL", url)
                .env("WEIR_BROWSER_SHOTS", shots)
                .env("WEIR_BROWSER_QUEUES", queues.join(","))
                .env("WEIR_BROWSER_DEAD_QUEUE", "webhooks")
                .env("WEIR_BROWSER_DEAD_ID", dead)
                .env("WEIR_BROWSER_XSS_PATH", format!("/queues/default/jobs/{xss}"))
                .env("WEIR_CHROMIUM", chromium)
                .output()
                .expect("run node (is Node.js installed?)")
        }
    })
    .await
    .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "the browser test failed ({}):\nstdout:\n{}\nstderr:\n{}\nscreenshots: {}\nworker:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr),
        shots.display(),
        worker.report()
    );
    assert!(text(&out.stdout).contains(", 0 failed"), "{}", text(&out.stdout));
    // What the browser saw, checked in Redis: the retried job ran, the queue is not paused.
    let status = b.status_in(&q("webhooks"), &dead).await.unwrap().unwrap();
    assert_eq!(status.state, Some(weir::broker::JobState::Done));
    assert!(!b.stats(&q(queues[0])).await.unwrap().paused);
    worker.signal("TERM");
    assert!(worker.wait_exit(Duration::from_secs(20)).is_some(), "{}", worker.report());
}
