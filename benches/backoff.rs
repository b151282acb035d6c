//! Retry schedules: the worker's delay before the next attempt
//! (`weir::worker::retry::delay`, built on backon, with jitter) for each kind
//! of schedule, and parsing the schedule string an envelope carries
//! (`exp:1s:1h`, `fixed:5s`, `1s,5s,10s`). A worker does both once per
//! failed attempt.
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weir::Backoff;
use weir::worker::retry;

const SCHEDULES: [(&str, &str); 3] = [("exp", "exp:1s:1h"), ("fixed", "fixed:5s"), ("list", "1s,5s,10s,30s,1m")];

fn delay(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff/delay");
    for (label, text) in SCHEDULES {
        let backoff: Backoff = text.parse().expect("schedule");
        for attempt in [1, 10] {
            g.bench_with_input(BenchmarkId::new(label, format!("attempt_{attempt}")), &backoff, |b, backoff| {
                b.iter(|| black_box(retry::delay(black_box(backoff), black_box(attempt))))
            });
        }
    }
    g.finish();
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff/parse");
    for (label, text) in SCHEDULES {
        g.bench_with_input(BenchmarkId::from_parameter(label), text, |b, text| {
            b.iter(|| black_box(black_box(text).parse::<Backoff>().expect("schedule")))
        });
    }
    g.finish();
}

criterion_group!(benches, delay, parse);
criterion_main!(benches);
