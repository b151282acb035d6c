//! The dashboard's routes through the real `weir web` against the private
//! Redis: status codes, escaping, CSRF, read-only, auth, base path, and
//! paging a 100,000-job queue by rank.
use crate::broker_enqueue::{job, q};
use crate::on_every_store;
use crate::store_support::dead_job;
use crate::util;
use crate::web_support::WebProc;
use crate::worker_support::enqueue_n;
use weir::broker::JobState;

const XSS: &str = "<script>alert(1)</script>";

/// GET `path` with the CSRF cookie of an earlier page, and its token.
pub fn session(web: &WebProc, path: &str) -> (String, String) {
    let page = web.get(path, &[]);
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    (page.cookie("weir_csrf").expect("a CSRF cookie on the first page"), page.csrf())
}

#[tokio::test]
async fn every_page_answers_and_escapes_what_it_shows() {
    let b = util::broker("web-pages").await;
    let kind = "<img src=x onerror=alert(2)>";
    let dead = dead_job(&b, "mail", "send", &serde_json::json!({ "x": 1 }).to_string(), 2).await;
    let id = b.enqueue(job("mail", kind, &serde_json::json!({ "note": XSS }).to_string())).await.unwrap().id;
    let web = WebProc::start(b.prefix(), &[]);

    let overview = web.get("/", &[]);
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains(r#"href="/queues/mail""#), "{}", overview.body);
    let csp = overview.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(overview.header("x-frame-options"), Some("DENY"));

    let queue = web.get("/queues/mail", &[]);
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("&lt;img src=x onerror=alert(2)&gt;") && !queue.body.contains(kind), "kind escaped");
    assert!(queue.body.contains(&id));

    let page = web.get(&format!("/queues/mail/jobs/{id}"), &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", page.body);
    assert!(!page.body.contains(XSS), "the payload reaches the page as text only");
    assert!(!page.body.contains(kind));

    let dead_page = web.get(&format!("/queues/mail/jobs/{dead}"), &[]);
    assert_eq!(dead_page.status, 200);
    assert!(dead_page.body.contains("boom 1") && dead_page.body.contains("boom 2"), "every error is shown");
    assert!(web.get("/queues/mail?state=dead", &[]).body.contains(&dead));

    for path in ["/workers", "/limits", "/autoscaler", "/assets/style.css", "/assets/app.js"] {
        assert_eq!(web.get(path, &[]).status, 200, "{path}");
    }
    assert!(web.get("/assets/app.js", &[]).header("content-type").unwrap().starts_with("text/javascript"));

    // Bad input: a clear 4xx, never a 500.
    for (path, status) in [
        ("/queues/nope", 404),
        ("/queues/a%7Bb", 400),
        ("/queues/mail?state=done", 400),
        ("/queues/mail?page=0", 400),
        ("/queues/mail?page=18446744073709551616", 400),
        ("/queues/mail?page=99999", 404),
        ("/queues/mail?id=no%20such", 400),
        ("/queues/mail?id=01NOSUCHJOB", 404),
        ("/queues/mail/jobs/bad%20id", 400),
        ("/queues/mail/jobs/01NOSUCHJOB", 404),
        ("/no/such/page", 404),
    ] {
        let r = web.get(path, &[]);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body.contains("<main>"), "{path}: an error page in the dashboard's shell");
    }
    let put = crate::web_support::http(&web.addr, "PUT", "/queues/mail/pause", &[], Some(""));
    assert_eq!(put.status, 405);
}

#[tokio::test]
async fn changes_need_a_post_with_the_csrf_token() {
    let b = util::broker("web-csrf").await;
    b.enqueue(job("billing", "k", "1")).await.unwrap();
    let id = b.enqueue(job("billing", "k", "2")).await.unwrap().id;
    let web = WebProc::start(b.prefix(), &[]);
    let (cookie, token) = session(&web, "/queues/billing");
    let cookie_h = [("Cookie", cookie.as_str())];

    // No token, a wrong token, or a token without its cookie: refused, nothing changes.
    assert_eq!(web.post("/queues/billing/pause", &cookie_h, "").status, 403);
    assert_eq!(web.post("/queues/billing/pause", &cookie_h, "csrf=00000000000000000000000000000000").status, 403);
    assert_eq!(web.post("/queues/billing/pause", &[], &format!("csrf={token}")).status, 403);
    assert!(!b.stats(&q("billing")).await.unwrap().paused);
    // GET never changes anything.
    assert_eq!(web.get("/queues/billing/pause", &cookie_h).status, 405);

    let r = web.post("/queues/billing/pause", &cookie_h, &format!("csrf={token}"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(b.stats(&q("billing")).await.unwrap().paused);
    let page = web.get(r.header("location").unwrap(), &cookie_h);
    assert!(page.body.contains("paused billing") && page.body.contains("Resume"), "{}", page.body);
    assert_eq!(web.post("/queues/billing/resume", &cookie_h, &format!("csrf={token}")).status, 303);
    assert!(!b.stats(&q("billing")).await.unwrap().paused);

    let r = web.post(&format!("/queues/billing/jobs/{id}/delete"), &cookie_h, &format!("csrf={token}"));
    assert_eq!(r.status, 303);
    assert!(b.job(&q("billing"), &id).await.unwrap().is_none());
    assert_eq!(web.post("/queues/nope/pause", &cookie_h, &format!("csrf={token}")).status, 404);

    // Limits: set, refuse bad input with a 400, clear.
    let r = web.post("/limits/billing", &cookie_h, &format!("csrf={token}&rate=5%2Fs&burst=2&concurrency=3"));
    assert_eq!(r.status, 303, "{}", r.body);
    let l = b.limits(&q("billing")).await.unwrap();
    assert_eq!((l.rate.as_deref(), l.burst, l.concurrency), (Some("5/s"), Some(2), Some(3)));
    for bad in ["rate=fast", "concurrency=0", "concurrency=99999999999", "burst=2", ""] {
        let r = web.post("/limits/billing", &cookie_h, &format!("csrf={token}&{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(web.post("/limits/billing/clear", &cookie_h, &format!("csrf={token}")).status, 303);
    assert_eq!(b.limits(&q("billing")).await.unwrap(), Default::default());
    assert_eq!(web.post("/workers/nobody/drain", &cookie_h, &format!("csrf={token}")).status, 404);
}

#[tokio::test]
async fn read_only_hides_and_refuses_every_action() {
    let b = util::broker("web-ro").await;
    let id = b.enqueue(job("ro", "k", "1")).await.unwrap().id;
    let web = WebProc::start(b.prefix(), &["--read-only"]);
    let page = web.get("/queues/ro", &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("read-only") && !page.body.contains("method=\"post\""), "{}", page.body);
    let cookie = page.cookie("weir_csrf").unwrap();
    let job_page = web.get(&format!("/queues/ro/jobs/{id}"), &[("Cookie", &cookie)]);
    assert!(!job_page.body.contains("method=\"post\""));
    // Even with a good token (taken from a writable dashboard's form shape), 403.
    let token = cookie.trim_start_matches("weir_csrf=");
    let r = web.post("/queues/ro/pause", &[("Cookie", &cookie)], &format!("csrf={token}"));
    assert_eq!(r.status, 403);
    assert!(!b.stats(&q("ro")).await.unwrap().paused);
    assert_eq!(b.job(&q("ro"), &id).await.unwrap().unwrap().state, Some(JobState::Pending));
}

#[tokio::test]
async fn a_token_guards_every_page_and_other_addresses_need_one() {
    let b = util::broker("web-auth").await;
    b.enqueue(job("auth", "k", "1")).await.unwrap();
    let token = "s3cret-token-for-tests";
    let web = WebProc::start(b.prefix(), &["--auth-token", token, "--base-path", "/ops/weir/"]);
    assert!(web.url.ends_with("/ops/weir"), "{}", web.url);
    let r = web.get("/ops/weir/", &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/ops/weir/login")));
    assert_eq!(web.get("/ops/weir/queues/auth", &[]).status, 303);
    assert_eq!(web.get("/ops/weir/assets/style.css", &[]).status, 200, "assets need no login");
    let login = web.get("/ops/weir/login", &[]);
    let csrf_cookie = login.cookie("weir_csrf").unwrap();
    let csrf = login.csrf();
    let wrong = web.post("/ops/weir/login", &[("Cookie", &csrf_cookie)], &format!("csrf={csrf}&token=guess"));
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie("weir_auth").is_none());
    let ok = web.post("/ops/weir/login", &[("Cookie", &csrf_cookie)], &format!("csrf={csrf}&token={token}"));
    assert_eq!(ok.status, 303, "{}", ok.body);
    let set =
        ok.headers.iter().find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("weir_auth=")).unwrap();
    assert!(
        set.1.contains("HttpOnly") && set.1.contains("SameSite=Strict") && set.1.contains("Path=/ops/weir"),
        "{set:?}"
    );
    let auth = ok.cookie("weir_auth").unwrap();
    let page = web.get("/ops/weir/queues/auth", &[("Cookie", &auth)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"href="/ops/weir/queues/auth?state=delayed""#), "links carry the base path");
    assert!(!page.body.contains(token), "the token is never shown");
    let bearer = format!("Bearer {token}");
    assert_eq!(web.get("/ops/weir/workers", &[("Authorization", &bearer)]).status, 200);
    assert_eq!(web.get("/workers", &[("Authorization", &bearer)]).status, 404, "nothing outside the base path");
    // A POST without the login is 401, whatever its CSRF token.
    assert_eq!(
        web.post("/ops/weir/queues/auth/pause", &[("Cookie", &csrf_cookie)], &format!("csrf={csrf}")).status,
        401
    );

    // Any address but loopback needs a token, or the explicit opt-out.
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["web", "--listen", "0.0.0.0:0"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("--auth-token") && err.contains("--insecure-no-auth"), "{err}");
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["web", "--auth-token", "short"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("at least 16"), "{err}");
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["web", "--base-path", "/a/../b"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("invalid base path"), "{err}");
    let open = WebProc::start(b.prefix(), &["--insecure-no-auth"]);
    assert_eq!(open.get("/", &[]).status, 200);
}

#[tokio::test]
async fn a_queue_of_100000_jobs_pages_by_rank() {
    let b = util::broker("web-paging").await;
    enqueue_n(&b, "big", "bulk", "{}", 100_000).await;
    let ids: Vec<String> =
        b.query(weir::broker::redis::cmd("ZRANGE").arg(&b.keys(&q("big")).pending).arg(0).arg(-1)).await.unwrap();
    assert_eq!(ids.len(), 100_000);
    let web = WebProc::start(b.prefix(), &[]);

    let first = web.get("/queues/big", &[]);
    assert!(first.body.contains("page 1 of 2,000"), "{}", &first.body[..first.body.len().min(3000)]);
    assert!(first.body.contains(&ids[0]) && first.body.contains(&ids[49]) && !first.body.contains(&ids[50]));
    let p2 = web.get("/queues/big?page=2", &[]);
    assert!(p2.body.contains(&ids[50]) && p2.body.contains(&ids[99]) && !p2.body.contains(&ids[100]));
    let last = web.get("/queues/big?page=2000", &[]);
    assert!(last.body.contains(&ids[99_950]) && last.body.contains(&ids[99_999]));
    assert!(!last.body.contains("rel=\"next\""));
    assert_eq!(web.get("/queues/big?page=2001", &[]).status, 404);

    // A kind filter that matches nothing looks at a bounded window and says so.
    let none = web.get("/queues/big?kind=other", &[]);
    assert_eq!(none.status, 200);
    assert!(none.body.contains("among ranks 0–5,000 of 100,000") && none.body.contains("from=5000"), "{}", none.body);
    let some = web.get("/queues/big?kind=bulk&from=99990", &[]);
    assert!(some.body.contains(&ids[99_990]) && some.body.contains(&ids[99_999]));
    // Search by id goes straight to the job.
    let found = web.get(&format!("/queues/big?id={}", ids[77_777]), &[]);
    assert_eq!((found.status, found.header("location")), (303, Some(&*format!("/queues/big/jobs/{}", ids[77_777]))));
}

#[tokio::test]
async fn dead_jobs_are_listed_filtered_and_retried_or_deleted() {
    let b = util::broker("web-dead").await;
    let a = dead_job(&b, "dq", "send", "{}", 1).await;
    let c = dead_job(&b, "dq", "send", "{}", 1).await;
    let other = dead_job(&b, "dq", "resize", "{}", 1).await;
    let web = WebProc::start(b.prefix(), &[]);
    let (cookie, token) = session(&web, "/dead");
    let h = [("Cookie", cookie.as_str())];

    let page = web.get("/dead?queue=dq", &h);
    assert!(page.body.contains(&a) && page.body.contains(&c) && page.body.contains(&other), "{}", page.body);
    let by_kind = web.get("/dead?queue=dq&kind=resize", &h);
    assert!(by_kind.body.contains(&other) && !by_kind.body.contains(&a));
    for bad in ["/dead?queue=dq&newer=soon", "/dead?queue=dq&after=nonsense", "/dead?queue=a%7Bb"] {
        assert_eq!(web.get(bad, &h).status, 400, "{bad}");
    }
    assert_eq!(web.get("/dead/archive", &h).status, 404, "no store configured");

    // One, ticked: back to pending with its attempts reset.
    let r = web.post("/dead/selected", &h, &format!("csrf={token}&do=retry&queue=dq&ids={other}"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(b.job(&q("dq"), &other).await.unwrap().unwrap().state, Some(JobState::Pending));
    assert_eq!(web.post("/dead/selected", &h, &format!("csrf={token}&do=retry&queue=dq")).status, 400);
    assert_eq!(web.post("/dead/selected", &h, &format!("csrf={token}&do=burn&queue=dq&ids={a}")).status, 400);

    // All matching: the count first, nothing done until confirmed.
    let ask = web.post("/dead/all", &h, &format!("csrf={token}&do=delete&queue=dq&kind=send"));
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("<strong>2</strong> of 2 dead jobs match"), "{}", ask.body);
    assert_eq!(b.stats(&q("dq")).await.unwrap().dead, 2);
    let r = web.post("/dead/all", &h, &format!("csrf={token}&do=delete&queue=dq&kind=send&confirm=yes"));
    assert_eq!(r.status, 303);
    let done = web.get(r.header("location").unwrap(), &h);
    assert!(done.body.contains("deleted 2 dead jobs of dq"), "{}", done.body);
    assert_eq!(b.stats(&q("dq")).await.unwrap().dead, 0);
    assert!(b.job(&q("dq"), &a).await.unwrap().is_none());
}

#[tokio::test]
async fn with_a_store_the_archive_and_the_history_are_shown() {
    let b = util::broker("web-store").await;
    let st = crate::store_support::sqlite("web-store").await;
    let id = dead_job(&b, "arch", "send", "{}", 1).await;
    let archiver = weir_store::Archiver::new(b.clone(), st.store.clone(), Default::default());
    assert_eq!(archiver.pass().await.unwrap(), 1);
    let now = b.redis_time_ms().await.unwrap();
    let sample = |p| vec![weir_store::Sample { queue: "arch".into(), processed: p, failed: 1 }];
    st.store.record_samples(&sample(0), now - 180_000).await.unwrap();
    st.store.record_samples(&sample(40), now - 60_000).await.unwrap();
    let web = WebProc::start(b.prefix(), &["--database-url", &st.url()]);
    let overview = web.get("/", &[]);
    assert!(overview.body.contains("Last 24 hours"), "{}", overview.body);
    let (cookie, token) = session(&web, "/dead/archive");
    let page = web.get("/dead/archive?queue=arch", &[("Cookie", &cookie)]);
    assert!(page.body.contains(&id), "{}", page.body);
    let r = web.post("/dead/archive/retry", &[("Cookie", &cookie)], &format!("csrf={token}&id={id}"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(b.job(&q("arch"), &id).await.unwrap().unwrap().state, Some(JobState::Pending));
    let r = web.post("/dead/archive/retry", &[("Cookie", &cookie)], &format!("csrf={token}&id=01NOSUCH"));
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_fleet_metrics_are_served_beside_the_pages_behind_the_same_token() {
    let b = util::broker("web-metrics").await;
    b.enqueue(job("scraped", "k", "1")).await.unwrap();
    b.enqueue(job("scraped", "k", "2")).await.unwrap();
    let series = r#"weir_queue_jobs{queue="scraped",state="pending"} 2"#;

    // No token (loopback): served at the root as `weir exporter` serves them.
    let open = WebProc::start(b.prefix(), &[]);
    let m = open.get("/metrics", &[]);
    assert_eq!(m.status, 200, "{}", m.body);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"), "{:?}", m.headers);
    assert!(m.body.contains(series), "{}", m.body);
    let api = open.get("/api/queues", &[]);
    assert_eq!(api.status, 200);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let scraped = v["queues"].as_array().unwrap().iter().find(|q| q["queue"] == "scraped").expect("the queue");
    assert_eq!(scraped["pending"], 2, "{v}");
    assert_eq!(open.get("/api/queues/scraped", &[]).status, 200);
    assert_eq!(open.get("/", &[]).status, 200, "the pages are still there");

    // With a token and a base path: under the base path, refused without the token.
    let token = "metrics-token-for-tests";
    let web = WebProc::start(b.prefix(), &["--auth-token", token, "--base-path", "/weir"]);
    for path in ["/weir/metrics", "/weir/api/queues"] {
        let r = web.get(path, &[]);
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"), "{:?}", r.headers);
        assert!(!r.body.contains("weir_queue"), "{path}: nothing leaks");
        let wrong = web.get(path, &[("Authorization", "Bearer not-the-token-at-all")]);
        assert_eq!(wrong.status, 401, "{path}");
    }
    assert_eq!(web.get("/metrics", &[("Authorization", &format!("Bearer {token}"))]).status, 404, "only under /weir");
    let bearer = web.get("/weir/metrics", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(bearer.status, 200);
    assert!(bearer.body.contains(series), "{}", bearer.body);
    // The login cookie the pages use works too.
    let login = web.get("/weir/login", &[]);
    let csrf_cookie = login.cookie("weir_csrf").unwrap();
    let ok = web.post("/weir/login", &[("Cookie", &csrf_cookie)], &format!("csrf={}&token={token}", login.csrf()));
    assert_eq!(ok.status, 303, "{}", ok.body);
    let auth = ok.cookie("weir_auth").unwrap();
    let api = web.get("/weir/api/queues", &[("Cookie", &auth)]);
    assert_eq!(api.status, 200, "{}", api.body);
    assert!(api.body.contains("\"scraped\""), "{}", api.body);
}

#[tokio::test]
async fn a_delayed_or_retrying_job_runs_now_from_its_page_or_the_cli() {
    use std::time::Duration;
    let b = util::broker("web-run-now").await;
    let mut later = job("later", "k", "1");
    later.run_at = weir::broker::RunAt::After(Duration::from_secs(3600));
    let scheduled = b.enqueue(later).await.unwrap().id;
    let web = WebProc::start(b.prefix(), &[]);
    let (cookie, token) = session(&web, "/queues/later");
    let h = [("Cookie", cookie.as_str())];

    let page = web.get(&format!("/queues/later/jobs/{scheduled}"), &h);
    assert!(page.body.contains(&format!("/queues/later/jobs/{scheduled}/run-now")), "{}", page.body);
    assert!(page.body.contains("Run now"), "{}", page.body);
    let r = web.post(&format!("/queues/later/jobs/{scheduled}/run-now"), &h, &format!("csrf={token}"));
    assert_eq!(r.status, 303, "{}", r.body);
    let info = b.job(&q("later"), &scheduled).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (Some(JobState::Pending), 0));
    assert!(info.score.unwrap() <= b.now_ms(), "ready now: {:?}", info.score);
    let after = web.get(r.header("location").unwrap(), &h);
    assert!(after.body.contains("it runs now") && !after.body.contains("/run-now\""), "{}", after.body);
    // Again, now that it is pending: nothing changes, and the page says so.
    let again = web.post(&format!("/queues/later/jobs/{scheduled}/run-now"), &h, &format!("csrf={token}"));
    assert!(web.get(again.header("location").unwrap(), &h).body.contains("not delayed any more"));
    assert_eq!(web.post("/queues/later/jobs/bad%20id/run-now", &h, &format!("csrf={token}")).status, 400);
    assert_eq!(web.post("/queues/later/jobs/01NOSUCHJOB/run-now", &h, &format!("csrf={token}")).status, 404);

    // A job waiting for its retry: "Retry now" on its page; the CLI moves it, attempts and errors kept.
    let retrying = b.enqueue(job("later", "k", "2")).await.unwrap().id;
    let mut sel = weir::broker::Selector::strict([q("later")]).unwrap();
    let taken = b.reserve(&mut sel, 2, Duration::from_secs(30)).await.unwrap();
    let lease = &taken.iter().find(|r| r.lease.id == retrying).expect("reserved").lease;
    b.fail(lease, "flaky upstream", Some(Duration::from_secs(600))).await.unwrap();
    let page = web.get(&format!("/queues/later/jobs/{retrying}"), &h);
    assert!(page.body.contains("Retry now") && page.body.contains("/run-now"), "{}", page.body);
    let out = util::run_ok(util::weir(b.prefix()).args(["run-now", &retrying]));
    assert!(out.contains(&format!("{retrying} is pending in later")), "{out}");
    let info = b.job(&q("later"), &retrying).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (Some(JobState::Pending), 1));
    assert_eq!(info.errors.last().map(|e| e.error.as_str()), Some("flaky upstream"));

    // Not delayed, unknown, malformed: one line, exit code 1, nothing moves.
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["run-now", &retrying, "--queue", "later"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("is pending, not delayed"), "{err}");
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["run-now", "01NOSUCHJOB"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("no delayed job 01NOSUCHJOB in any queue"), "{err}");
    let (code, _, err) = util::run_any(util::weir(b.prefix()).args(["run-now", "bad id", "--queue", "later"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("id"), "{err}");
}

on_every_store! {
async fn the_archive_retries_or_deletes_all_matching_after_showing_the_count(db: TestStore) {
    let driver = if db.store.pg_pool().is_some() { "pg" } else { "lite" };
    let b = util::broker(&format!("web-archive-all-{driver}")).await;
    let mut sends = Vec::new();
    for _ in 0..3 {
        sends.push(dead_job(&b, "arch", "send", "{}", 1).await);
    }
    dead_job(&b, "arch", "resize", "{}", 1).await;
    let elsewhere = dead_job(&b, "other", "send", "{}", 1).await;
    let archiver = weir_store::Archiver::new(b.clone(), db.store.clone(), Default::default());
    assert_eq!(archiver.pass().await.unwrap(), 5);
    let web = WebProc::start(b.prefix(), &["--database-url", &db.url()]);
    let (cookie, token) = session(&web, "/dead/archive");
    let h = [("Cookie", cookie.as_str())];
    let page = web.get("/dead/archive?queue=arch", &h);
    assert!(page.body.contains("action=\"/dead/archive/all\"") && page.body.contains("Delete all matching"), "{}", page.body);

    // The filter: error text (case ignored, any attempt) and time.
    let by_error = web.get("/dead/archive?queue=arch&error=BOOM%201", &h);
    assert!(sends.iter().all(|id| by_error.body.contains(id.as_str())), "{}", by_error.body);
    for path in ["/dead/archive?error=no%25such", "/dead/archive?older=1d", "/dead/archive?newer=1h&error=_x"] {
        let r = web.get(path, &h);
        assert!(r.body.contains("No archived jobs match.") && !r.body.contains(&elsewhere), "{path}: {}", r.body);
    }
    assert!(web.get("/dead/archive?newer=1h", &h).body.contains(&elsewhere));
    assert_eq!(web.get("/dead/archive?older=soon", &h).status, 400);
    let none = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=delete&older=1d"));
    assert!(none.body.contains("<strong>0</strong> of 5 archived jobs match"), "{}", none.body);

    // Retry: the count first, nothing enqueued until confirmed.
    let ask = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=retry&queue=arch&kind=send"));
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("<strong>3</strong> of 5 archived jobs match"), "{}", ask.body);
    assert_eq!(b.stats(&q("arch")).await.unwrap().pending, 0);
    let r = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=retry&queue=arch&kind=send&confirm=yes"));
    assert_eq!(r.status, 303, "{}", r.body);
    let back = web.get(r.header("location").unwrap(), &h);
    assert!(back.body.contains("enqueued 3 archived jobs again"), "{}", back.body);
    for id in &sends {
        assert_eq!(b.job(&q("arch"), id).await.unwrap().unwrap().state, Some(JobState::Pending));
    }
    // Retried since they died: they no longer count for a retry.
    let again = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=retry&queue=arch&kind=send"));
    assert!(again.body.contains("<strong>0</strong> of 5 archived jobs match"), "{}", again.body);

    // Delete every archived job of the queue, whatever its kind.
    let ask = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=delete&queue=arch"));
    assert!(ask.body.contains("<strong>4</strong> of 5 archived jobs match"), "{}", ask.body);
    assert_eq!(db.store.dead_count().await.unwrap(), 5);
    let r = web.post("/dead/archive/all", &h, &format!("csrf={token}&do=delete&queue=arch&confirm=yes"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(web.get(r.header("location").unwrap(), &h).body.contains("deleted 4 archived jobs"));
    assert_eq!(db.store.dead_count().await.unwrap(), 1);
    assert!(db.store.dead_job(&elsewhere).await.unwrap().is_some(), "another queue's record stays");

    for bad in ["do=burn&queue=arch", "do=delete&newer=soon"] {
        let r = web.post("/dead/archive/all", &h, &format!("csrf={token}&{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(db.store.dead_count().await.unwrap(), 1);

    // A selection: what is there is done, the rest reported.
    let r = web.post("/dead/archive/retry", &h, &format!("csrf={token}&ids={elsewhere}&ids=01NOSUCH"));
    let back = web.get(r.header("location").unwrap(), &h);
    assert!(back.body.contains("enqueued 1 of 2 selected archived jobs again; 1 no longer archived"), "{}", back.body);
    assert_eq!(b.job(&q("other"), &elsewhere).await.unwrap().unwrap().state, Some(JobState::Pending));
    let r = web.post("/dead/archive/delete", &h, &format!("csrf={token}&ids={elsewhere}&ids=01NOSUCH"));
    assert!(web.get(r.header("location").unwrap(), &h).body.contains("deleted 1 of 2 selected archived jobs"));
    assert_eq!(db.store.dead_count().await.unwrap(), 0);
    assert_eq!(web.post("/dead/archive/delete", &h, &format!("csrf={token}")).status, 400);

    // Batches: 1,100 records go in three steps, each reported.
    let records: Vec<_> = (0..1_100).map(|i| crate::store_archive::record(&format!("bulk{i:05}"), 1_000 + i)).collect();
    db.store.archive(&records).await.unwrap();
    let f = weir_store::DeadFilter { queue: Some("q".into()), ..Default::default() };
    assert_eq!(db.store.dead_count_matching(&f, false).await.unwrap(), 1_100);
    let mut steps = Vec::new();
    assert_eq!(db.store.delete_dead_matching(&f, |n| steps.push(n)).await.unwrap(), 1_100);
    assert_eq!(steps, [500, 1_000, 1_100]);
    assert_eq!(db.store.dead_count().await.unwrap(), 0);
}
}

#[tokio::test]
async fn login_tries_are_rate_limited_per_peer() {
    let b = util::broker("web-login-limit").await;
    let token = "rate-limited-token-for-tests";
    let web = WebProc::start(b.prefix(), &["--auth-token", token]);
    let login = web.get("/login", &[]);
    let cookie = login.cookie("weir_csrf").unwrap();
    let csrf = login.csrf();
    let h = [("Cookie", cookie.as_str())];
    // The first tries are answered (a wrong token is 401); a guesser soon gets 429.
    let statuses: Vec<u16> =
        (0..10).map(|_| web.post("/login", &h, &format!("csrf={csrf}&token=guess")).status).collect();
    assert_eq!(statuses, [401; 10]);
    let mut refused = None;
    for _ in 0..40 {
        let r = web.post("/login", &h, &format!("csrf={csrf}&token={token}"));
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 303, "a try the limit lets through is answered: {}", r.body);
    }
    let refused = refused.expect("a burst of login tries is refused with 429");
    assert!(refused.body.contains("too many login tries") && refused.cookie("weir_auth").is_none(), "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("6"));
    // Pages with the token still answer: only the login form is limited.
    assert_eq!(web.get("/", &[("Authorization", &format!("Bearer {token}"))]).status, 200);
}
