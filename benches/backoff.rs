//! Retry schedules: parsing the envelope's schedule string (`exp:1s:1h`,
//! `fixed:5s`, `1s,5s,10s`), which a worker does for every failed attempt of
//! a job that carries its own schedule.
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use weir::Backoff;

const SCHEDULES: [(&str, &str); 3] = [("exp", "exp:1s:1h"), ("fixed", "fixed:5s"), ("list", "1s,5s,10s,30s,1m")];

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff/parse");
    for (label, text) in SCHEDULES {
        g.bench_with_input(BenchmarkId::from_parameter(label), text, |b, text| {
            b.iter(|| black_box(black_box(text).parse::<Backoff>().expect("schedule")))
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
