//! Running one batch through one channel.
//!
//! The route is resolved once per batch (in `app.rs`); here the batch's messages are read, the
//! per-batch values prepared once, and each message handled: extract → handler → outcome →
//! publish → dependency cleanup (told the final outcome) → ack/nack. Messages are handled one at
//! a time when the scope is ordered, and an ordered batch stops at its first nack: the messages
//! after it stay unanswered, which the server redelivers after the nacked one, so order holds
//! across failures. Otherwise up to the configured concurrency, all within the batch's own future (no task per message). A
//! handler that completes without waiting never allocates: concurrency grows only when a handler
//! actually waits.

use std::future::Future;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use amgi_core::batch::panic_message;
use amgi_core::{
    ApplicationError, MessageId, MessageReceive, MessageScope, NackRetry, ReceiveEvent, Receiver,
    SendEvent, SharedSender,
};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

use crate::context::{BatchContext, MessageContext, Prepared};
use crate::extract::{PrepareContext, PrepareError};
use crate::handler::{ChannelMeta, Handler};
use crate::middleware::{DynMiddleware, Endpoint, Next};
use crate::outcome::{NackKind, Outcome};
use crate::router::Template;

/// What a batch needs from the application.
pub(crate) struct Runtime {
    pub(crate) middleware: Vec<Arc<dyn DynMiddleware>>,
    pub(crate) concurrency: usize,
    pub(crate) state: amgi_core::StateMap,
}

/// One batch, routed.
pub(crate) struct BatchInput<'a> {
    pub(crate) scope: MessageScope,
    pub(crate) template: &'a Template,
    pub(crate) captures: Vec<Range<usize>>,
    pub(crate) receive: &'a mut dyn Receiver,
    pub(crate) send: SharedSender,
    pub(crate) runtime: &'a Runtime,
}

/// A channel behind a pointer: one virtual call and one boxed future per batch.
pub(crate) trait ErasedChannel: Send + Sync + 'static {
    fn meta(&self) -> &'static ChannelMeta;
    fn run_batch<'a>(
        &'a self,
        input: BatchInput<'a>,
    ) -> BoxFuture<'a, Result<(), ApplicationError>>;
}

impl<H: Handler> ErasedChannel for H {
    fn meta(&self) -> &'static ChannelMeta {
        Handler::meta(self)
    }

    fn run_batch<'a>(
        &'a self,
        input: BatchInput<'a>,
    ) -> BoxFuture<'a, Result<(), ApplicationError>> {
        Box::pin(run_batch(self, input))
    }
}

/// Reads every message of the batch.
pub(crate) async fn receive_all(
    receive: &mut dyn Receiver,
) -> Result<Vec<MessageReceive>, ApplicationError> {
    let mut messages = Vec::with_capacity(16);
    loop {
        match receive.receive().await? {
            ReceiveEvent::Message(message) => {
                let more = message.more_messages;
                messages.push(message);
                if !more {
                    return Ok(messages);
                }
            }
            other => {
                return Err(ApplicationError::msg(format!(
                    "unexpected `{}` in a message scope",
                    other.kind()
                )));
            }
        }
    }
}

/// Nacks every message with `reason`, to be retried as `retry` says.
pub(crate) async fn nack_all(
    send: &SharedSender,
    messages: &[MessageReceive],
    reason: &str,
    retry: NackRetry,
) {
    for message in messages {
        let event = SendEvent::nack_with(message.id, reason.to_owned(), retry);
        if let Err(error) = send.send(event).await {
            tracing::warn!(%error, id = %message.id, "could not nack message");
        }
    }
}

/// Runs every parameter's prepare hook.
pub(crate) fn prepare(
    meta: &'static ChannelMeta,
    cx: &PrepareContext<'_>,
) -> Result<Vec<Option<Prepared>>, PrepareError> {
    let mut prepared = Vec::new();
    for spec in meta.param_specs() {
        let Some(hook) = spec.prepare_fn() else {
            continue;
        };
        if let Some(value) = hook(spec, cx)? {
            if prepared.len() <= spec.index() {
                prepared.resize(spec.index() + 1, None);
            }
            prepared[spec.index()] = Some(value);
        }
    }
    Ok(prepared)
}

async fn run_batch<H: Handler>(handler: &H, input: BatchInput<'_>) -> Result<(), ApplicationError> {
    let BatchInput {
        scope,
        template,
        captures,
        receive,
        send,
        runtime,
    } = input;
    let messages = receive_all(receive).await?;
    let meta = handler.meta();
    let cx = PrepareContext {
        state: &scope.state,
        app_state: &runtime.state,
    };
    let prepared = match prepare(meta, &cx) {
        Ok(prepared) => prepared,
        Err(error) => {
            let reason = format!("handler `{}` cannot run: {error}", meta.name());
            tracing::error!(address = %scope.address, %reason, "nacking batch");
            nack_all(
                &send,
                &messages,
                &reason,
                NackKind::Unroutable.default_retry(),
            )
            .await;
            return Ok(());
        }
    };
    let batch = BatchContext {
        address: &scope.address,
        template,
        captures: &captures,
        state: &scope.state,
        sender: &send,
        prepared: &prepared,
        ordered: scope.ordered,
        meta,
    };
    let limit = if scope.ordered {
        1
    } else {
        runtime.concurrency.clamp(1, messages.len().max(1))
    };
    if limit == 1 {
        for message in &messages {
            let acked = process(handler, &batch, runtime, message).await;
            if !acked && scope.ordered {
                // The rest stays unanswered: the server redelivers it after this message.
                break;
            }
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let (messages, next_ref, batch) = (&messages, &next, &batch);
    let lane = move || async move {
        loop {
            // Lanes are polled one at a time by the single future below, and never between this
            // load and store, so a plain load and store claim the next message: no atomic
            // read-modify-write per message. (Atomic only so that the lanes may share it.)
            let index = next_ref.load(Ordering::Relaxed);
            let Some(message) = messages.get(index) else {
                break;
            };
            next_ref.store(index + 1, Ordering::Relaxed);
            process(handler, batch, runtime, message).await;
        }
    };
    // The first lane runs in place; further lanes are added (one allocation each, plus the set
    // that holds them, created with the first) only while every running lane waits, up to
    // `limit`. Handlers that never wait cost no allocation.
    let mut first = std::pin::pin!(lane());
    let mut first_done = false;
    let mut extra = None;
    std::future::poll_fn(|cx| {
        loop {
            if !first_done && first.as_mut().poll(cx).is_ready() {
                first_done = true;
            }
            if let Some(extra) = extra.as_mut() {
                while let Poll::Ready(Some(())) = FuturesUnordered::poll_next_unpin(extra, cx) {}
            }
            let running =
                usize::from(!first_done) + extra.as_ref().map_or(0, FuturesUnordered::len);
            if running == 0 {
                return Poll::Ready(());
            }
            if running < limit && next.load(Ordering::Relaxed) < messages.len() {
                extra.get_or_insert_with(FuturesUnordered::new).push(lane());
            } else {
                return Poll::Pending;
            }
        }
    })
    .await;
    Ok(())
}

fn panicked(panic: &(dyn std::any::Any + Send)) -> Outcome {
    Outcome::nack(
        NackKind::Panicked,
        format!("handler panicked: {}", panic_message(panic)),
    )
}

/// Runs the handler, turning a panic into a nack.
pub(crate) async fn call_handler<H: Handler>(handler: &H, ctx: &mut MessageContext<'_>) -> Outcome {
    AssertUnwindSafe(handler.call(ctx))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| panicked(panic.as_ref()))
}

struct HandlerEndpoint<'h, H>(&'h H);

impl<H: Handler> Endpoint for HandlerEndpoint<'_, H> {
    fn call<'a>(&'a self, ctx: &'a mut MessageContext<'_>) -> BoxFuture<'a, Outcome> {
        Box::pin(call_handler(self.0, ctx))
    }
}

/// Handles one message to the end; whether it was acked.
async fn process<H: Handler>(
    handler: &H,
    batch: &BatchContext<'_>,
    runtime: &Runtime,
    message: &MessageReceive,
) -> bool {
    let mut ctx = MessageContext::new(batch, message);
    let outcome = if runtime.middleware.is_empty() {
        call_handler(handler, &mut ctx).await
    } else {
        let endpoint = HandlerEndpoint(handler);
        AssertUnwindSafe(Next::new(&runtime.middleware, &endpoint).run(&mut ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| panicked(panic.as_ref()))
    };
    let id = message.id;
    let outcome = match outcome {
        Outcome::Reply(body) => crate::reply::address_reply(message, batch.address, body),
        outcome => outcome,
    };
    let event = match outcome {
        // The common case: nothing to publish, no future to build.
        Outcome::Ack(outgoing) if outgoing.is_empty() => SendEvent::ack(id),
        outcome => settle(batch, id, outcome).await,
    };
    let acked = matches!(event, SendEvent::Ack(_));
    // After publishing, so that a dependency (a transaction) learns the final outcome.
    if ctx.has_dependencies() {
        ctx.cleanup(acked).await;
    }
    if let Err(error) = batch.sender.send(event).await {
        refused(batch, id, &error);
    }
    acked
}

#[cold]
fn refused(batch: &BatchContext<'_>, id: MessageId, error: &amgi_core::SendError) {
    tracing::warn!(address = %batch.address, %id, %error, "the server refused the ack or nack");
}

/// Publishes what the handler returned and answers ack; or answers nack.
async fn settle(batch: &BatchContext<'_>, id: MessageId, outcome: Outcome) -> SendEvent {
    match outcome {
        Outcome::Ack(outgoing) => match publish(batch.sender, outgoing).await {
            Ok(()) => SendEvent::ack(id),
            Err(reason) => nack_event(
                batch,
                id,
                NackKind::Publish,
                reason,
                NackKind::Publish.default_retry(),
            ),
        },
        // Addressed in `process` before settling.
        Outcome::Reply(_) => SendEvent::ack(id),
        Outcome::Nack(nack) => {
            let kind = nack.kind();
            let (reason, retry) = nack.into_parts();
            nack_event(batch, id, kind, reason, retry)
        }
    }
}

fn nack_event(
    batch: &BatchContext<'_>,
    id: MessageId,
    kind: NackKind,
    reason: std::borrow::Cow<'static, str>,
    retry: NackRetry,
) -> SendEvent {
    let handler = batch.meta.name();
    if kind == NackKind::Panicked {
        tracing::error!(address = %batch.address, %id, handler, %kind, ?retry, %reason, "message nacked");
    } else {
        tracing::warn!(address = %batch.address, %id, handler, %kind, ?retry, %reason, "message nacked");
    }
    SendEvent::nack_with(id, reason, retry)
}

async fn publish(
    sender: &SharedSender,
    outgoing: Vec<amgi_core::MessageSend>,
) -> Result<(), std::borrow::Cow<'static, str>> {
    for message in outgoing {
        let address = Arc::clone(&message.address);
        if let Err(error) = sender.send(SendEvent::Send(message)).await {
            return Err(format!("publishing to `{address}` failed: {error}").into());
        }
    }
    Ok(())
}
