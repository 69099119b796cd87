//! The full application path, driven the way a server drives it.
//!
//! Run with `cargo bench -p asyncfast --bench dispatch`. Each message goes through
//! `amgi_core::batch::BatchDispatcher` → route (once per batch) → `Header<String>` →
//! `Payload<UserCreated>` (JSON) → handler → ack, on a current-thread runtime (one core), in
//! batches of 1 and of 100. `floor/serde_json` decodes the same payload with
//! `serde_json::from_slice` alone: the framework's target is to stay within 1.5× of it.
//! `baseline/dispatcher` is the dispatcher with a raw application that only acks, i.e. what any
//! AMGI application pays. Before measuring, the bench counts heap allocations per message with a
//! counting global allocator and prints them.
//!
//! The figures, the machine they were taken on, and how far they are from the targets:
//! `docs/performance.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, IncomingMessage, Publisher};
use amgi_core::{
    Application, ApplicationError, EventFuture, Headers, MessageScope, MessageSend, ReceiveEvent,
    Receiver, Scope, SendError, SendEvent, SharedSender,
};
use asyncfast::prelude::*;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput};
use schemars::JsonSchema;
use serde::Deserialize;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const PAYLOAD: &[u8] = br#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;
const ADDRESS: &str = "user.created";

#[derive(Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    email: String,
    tags: Vec<String>,
}

#[channel("user.created")]
async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {
    black_box((payload.id, &payload.email, &payload.tags, &*correlation_id));
}

struct Nowhere;

impl Publisher for Nowhere {
    fn publish(&self, _: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::ready(Ok(()))
    }
}

/// A raw application that acks everything: the cost of the dispatcher itself.
struct AckAll;

impl Application for AckAll {
    async fn call(
        &self,
        _scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            send.send(SendEvent::ack(message.id)).await?;
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

fn messages(count: usize) -> Vec<IncomingMessage> {
    (0..count)
        .map(|i| {
            let headers = Headers::new().with(
                Bytes::from_static(b"correlation-id"),
                Bytes::from(format!("c-{i}")),
            );
            IncomingMessage::new(headers, Some(Bytes::from_static(PAYLOAD)), None)
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn app_dispatcher() -> BatchDispatcher<asyncfast::AsyncFast> {
    let app = AsyncFast::empty().channel(handler!(handle_user_created));
    BatchDispatcher::new(Arc::new(app), Arc::new(Nowhere))
}

fn dispatch<A: Application>(
    runtime: &tokio::runtime::Runtime,
    dispatcher: &BatchDispatcher<A>,
    address: &Arc<str>,
    batch: Vec<IncomingMessage>,
) {
    let report =
        runtime.block_on(dispatcher.dispatch(MessageScope::new(Arc::clone(address)), batch));
    assert_eq!(report.nacked(), 0, "{:?}", report.outcomes.first());
}

/// Heap allocations of one batch of `count` messages through `dispatcher`.
fn allocations<A: Application>(dispatcher: &BatchDispatcher<A>, count: usize) -> usize {
    let runtime = runtime();
    let address: Arc<str> = Arc::from(ADDRESS);
    // Warm up (lazy statics, the runtime's first poll).
    dispatch(&runtime, dispatcher, &address, messages(count));
    let batch = messages(count);
    let region = Region::new(GLOBAL);
    dispatch(&runtime, dispatcher, &address, batch);
    region.change().allocations
}

fn allocation_report() {
    let floor = {
        let region = Region::new(GLOBAL);
        let user: UserCreated = serde_json::from_slice(PAYLOAD).unwrap();
        let header = String::from("c-1");
        black_box((&user, &header));
        drop((user, header));
        region.change().allocations
    };
    for count in [1, 100] {
        let app = allocations(&app_dispatcher(), count);
        let raw = allocations(
            &BatchDispatcher::new(Arc::new(AckAll), Arc::new(Nowhere)),
            count,
        );
        #[allow(clippy::cast_precision_loss)]
        let per_message = (app as f64 - raw as f64) / count as f64 - floor as f64;
        println!(
            "allocations, batch of {count}: app {app}, raw dispatcher {raw}, payload+header values \
             {floor}/message => framework {per_message:.2}/message"
        );
    }
}

fn benches(c: &mut Criterion) {
    let runtime = runtime();
    let address: Arc<str> = Arc::from(ADDRESS);
    let app = app_dispatcher();
    let raw = BatchDispatcher::new(Arc::new(AckAll), Arc::new(Nowhere));
    for count in [1_usize, 100] {
        let mut group = c.benchmark_group(format!("batch_{count}"));
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function("asyncfast", |b| {
            b.iter_batched(
                || messages(count),
                |batch| dispatch(&runtime, &app, &address, batch),
                BatchSize::SmallInput,
            );
        });
        group.bench_function("baseline/dispatcher", |b| {
            b.iter_batched(
                || messages(count),
                |batch| dispatch(&runtime, &raw, &address, batch),
                BatchSize::SmallInput,
            );
        });
        group.finish();
    }
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            let user: UserCreated = serde_json::from_slice(black_box(PAYLOAD)).unwrap();
            black_box(user)
        });
    });
    group.finish();
}

fn main() {
    allocation_report();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
