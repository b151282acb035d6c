//! Weighted queue selection (`Selector::plan`, smooth weighted round-robin)
//! over 4 and 64 queues, for a reserve batch of 1 and of 128 jobs: the work a
//! worker does before each reserve round trip.
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use weir::QueueName;
use weir::broker::Selector;

fn selector(queues: usize) -> Selector {
    // The four weights, repeated for larger sets.
    let weights = [100, 50, 30, 10];
    Selector::weighted(
        (0..queues).map(|i| (QueueName::new(format!("q{i}")).expect("queue name"), weights[i % weights.len()])),
    )
    .expect("selector")
}

fn plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("select/plan");
    for queues in [4, 64] {
        for batch in [1, 128] {
            let mut s = selector(queues);
            let candidate = vec![true; queues];
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(BenchmarkId::new(format!("{queues}_queues"), format!("batch_{batch}")), |b| {
                b.iter(|| black_box(s.plan(black_box(batch), &candidate)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, plan);
criterion_main!(benches);
