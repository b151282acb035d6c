//! The job envelope on the hot path, without Redis: encode (payload codec +
//! envelope JSON, as enqueue does) and decode (envelope parse + payload
//! decode, as a worker does), for JSON and bincode payloads of 100 B and
//! 10 KiB. The bincode cases need `--features bincode`.
mod shared;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use shared::{Payload, SIZES};
use std::hint::black_box;
use weir::broker::{Codec, Envelope};

/// The envelope enqueue would build, read from JSON so that fields added
/// later take their defaults here too.
fn template() -> Envelope {
    Envelope::parse(
        r#"{"id":"01JD5Z8Q3XK2V7M4N6P8R0T2W4","queue":"default","kind":"bench.payload","payload":{},
            "max_attempts":25,"enqueued_at":1763000000000,"run_at":1763000000000}"#,
    )
    .expect("template envelope")
}

/// Encodes the payload and the envelope around it, as enqueue does.
fn encode_one(template: &Envelope, codec: Codec, payload: &Payload) -> String {
    let mut env = template.clone();
    env.codec = codec;
    env.payload = codec.encode(payload).expect("encode");
    env.to_json()
}

fn codecs() -> Vec<Codec> {
    let mut codecs = vec![Codec::Json];
    if cfg!(feature = "bincode") {
        codecs.push(Codec::Bincode);
    }
    codecs
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("envelope/encode");
    for codec in codecs() {
        for (label, size) in SIZES {
            let payload = Payload::of_size(size);
            let template = template();
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::new(codec.as_str(), label), &payload, |b, p| {
                b.iter(|| black_box(encode_one(&template, codec, black_box(p))))
            });
        }
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("envelope/decode");
    for codec in codecs() {
        for (label, size) in SIZES {
            let json = encode_one(&template(), codec, &Payload::of_size(size));
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::new(codec.as_str(), label), &json, |b, json| {
                b.iter(|| {
                    let env = Envelope::parse(black_box(json)).expect("parse");
                    black_box(env.decode::<Payload>().expect("decode"))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
