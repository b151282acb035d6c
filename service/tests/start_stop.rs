//! The service kit under stress: start and stop in every order, from many
//! tasks at once, and a group's stop order.
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use weir_service::{Group, Service, pause};

/// A loop that counts how many of its bodies ever started and how many are running now.
#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    running: AtomicUsize,
}

fn start(service: &Service, counts: &Arc<Counts>) {
    let c = counts.clone();
    service.start(move |stop| async move {
        c.started.fetch_add(1, Ordering::SeqCst);
        c.running.fetch_add(1, Ordering::SeqCst);
        while pause(&stop, Duration::from_millis(1)).await {}
        c.running.fetch_sub(1, Ordering::SeqCst);
    });
}

#[tokio::test]
async fn stop_before_start_and_twice_are_no_ops() {
    let counts = Arc::new(Counts::default());
    let s = Service::default();
    s.stop().await;
    s.stop().await;
    start(&s, &counts);
    s.stop().await;
    assert_eq!(counts.started.load(Ordering::SeqCst), 0, "a stopped service must not start");

    let s = Service::default();
    start(&s, &counts);
    start(&s, &counts);
    s.stop().await;
    s.stop().await;
    assert_eq!(counts.started.load(Ordering::SeqCst), 1, "a second start must not run a second loop");
    assert_eq!(counts.running.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_and_stops_leave_nothing_running() {
    let counts = Arc::new(Counts::default());
    let services: Arc<Vec<Service>> = Arc::new((0..500).map(|_| Service::default()).collect());
    let mut tasks = Vec::new();
    // Per service: two starters and two stoppers racing, in varied order.
    for round in 0..4 {
        let services = services.clone();
        let counts = counts.clone();
        tasks.push(tokio::spawn(async move {
            for (i, s) in services.iter().enumerate() {
                if (i + round) % 4 < 2 {
                    start(s, &counts);
                } else {
                    s.stop().await;
                }
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for s in services.iter() {
        s.stop().await;
    }
    let started = counts.started.load(Ordering::SeqCst);
    assert!(started <= services.len(), "some service ran two loops: {started} starts for {}", services.len());
    assert_eq!(counts.running.load(Ordering::SeqCst), 0, "a loop outlived its service's stop");
}

/// A member that records when it was stopped.
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
    service: Service,
}

impl AsRef<Service> for Recorder {
    fn as_ref(&self) -> &Service {
        self.log.lock().unwrap().push(self.name);
        &self.service
    }
}

#[tokio::test]
async fn a_group_stops_in_the_order_it_was_built() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let make = |name| Recorder { name, log: log.clone(), service: Service::default() };
    let (a, b, c) = (make("a"), make("b"), make("c"));
    let counts = Arc::new(Counts::default());
    start(&b.service, &counts);
    let group = Group::new().then("c", &c).then_some("a", Some(&a)).then_some("none", None).then("b", &b);
    assert_eq!(group.order(), ["c", "a", "b"]);
    group.stop().await;
    group.stop().await;
    assert_eq!(*log.lock().unwrap(), ["c", "a", "b", "c", "a", "b"]);
    assert_eq!(counts.running.load(Ordering::SeqCst), 0);
}
