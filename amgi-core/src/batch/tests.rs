use std::sync::Mutex;

use super::*;

#[derive(Clone, Copy)]
enum Action {
    Ack,
    Nack,
    Ignore,
    AckTwice,
    NackThenAck,
    AckUnknown,
    Publish,
    LifespanEvent,
    Fail,
    Panic,
    /// Acks the first message, nacks the second (retry never) and answers nothing else.
    StopAtSecond,
}

struct Script {
    action: Action,
    errors: Mutex<Vec<SendErrorKind>>,
    seen: Mutex<Vec<(MessageId, bool)>>,
}

impl Script {
    fn new(action: Action) -> Arc<Self> {
        Arc::new(Self {
            action,
            errors: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, result: Result<(), SendError>) {
        if let Err(error) = result {
            self.errors.lock().unwrap().push(error.kind());
        }
    }
}

impl Application for Script {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: crate::SharedSender,
    ) -> Result<(), ApplicationError> {
        assert!(matches!(scope, Scope::Message(_)));
        loop {
            let event = receive.receive().await?;
            let ReceiveEvent::Message(m) = event else {
                panic!("unexpected event");
            };
            self.seen.lock().unwrap().push((m.id, m.more_messages));
            match self.action {
                Action::Ack => self.record(send.send(SendEvent::ack(m.id)).await),
                Action::Nack => self.record(send.send(SendEvent::nack(m.id, "bad payload")).await),
                Action::Ignore => {}
                Action::AckTwice => {
                    self.record(send.send(SendEvent::ack(m.id)).await);
                    self.record(send.send(SendEvent::ack(m.id)).await);
                }
                Action::NackThenAck => {
                    self.record(send.send(SendEvent::nack(m.id, "first")).await);
                    self.record(send.send(SendEvent::ack(m.id)).await);
                }
                Action::AckUnknown => {
                    self.record(send.send(SendEvent::ack(MessageId::new(9_999))).await);
                    // An id of this batch not yet delivered is unknown too.
                    if m.more_messages {
                        let next = MessageId::new(m.id.get() + 1);
                        self.record(send.send(SendEvent::ack(next)).await);
                    }
                    self.record(send.send(SendEvent::ack(m.id)).await);
                }
                Action::Publish => {
                    self.record(send.send(MessageSend::new("out").payload("x").into()).await);
                    self.record(send.send(SendEvent::ack(m.id)).await);
                }
                Action::LifespanEvent => {
                    self.record(send.send(SendEvent::LifespanStartupComplete).await);
                    self.record(send.send(SendEvent::ack(m.id)).await);
                }
                Action::Fail => {
                    send.send(SendEvent::ack(m.id)).await?;
                    return Err(ApplicationError::msg("database down"));
                }
                Action::Panic => {
                    send.send(SendEvent::ack(m.id)).await?;
                    panic!("handler bug");
                }
                Action::StopAtSecond => {
                    let seen = self.seen.lock().unwrap().len();
                    let event = match seen {
                        1 => Some(SendEvent::ack(m.id)),
                        2 => Some(SendEvent::nack_with(m.id, "bad", NackRetry::Never)),
                        _ => None,
                    };
                    if let Some(event) = event {
                        self.record(send.send(event).await);
                    }
                }
            }
            if !m.more_messages {
                // Receiving past the end is an error, not a hang.
                let error = receive.receive().await.unwrap_err();
                assert_eq!(error.kind(), ReceiveErrorKind::BatchExhausted);
                return Ok(());
            }
        }
    }
}

#[derive(Default)]
struct Recording {
    published: Mutex<Vec<MessageSend>>,
}

impl Publisher for Recording {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        self.published.lock().unwrap().push(message);
        EventFuture::boxed(async { Ok(()) })
    }
}

async fn run(action: Action, n: usize) -> (Arc<Script>, BatchReport, Arc<Recording>) {
    run_scope(action, n, MessageScope::new("in")).await
}

async fn run_scope(
    action: Action,
    n: usize,
    scope: MessageScope,
) -> (Arc<Script>, BatchReport, Arc<Recording>) {
    let app = Script::new(action);
    let publisher = Arc::new(Recording::default());
    let dispatcher = BatchDispatcher::new(Arc::clone(&app), publisher.clone());
    let messages = (0..n)
        .map(|i| IncomingMessage::new(Headers::new(), Some(Bytes::from(i.to_string())), None))
        .collect();
    let report = dispatcher.dispatch(scope, messages).await;
    (app, report, publisher)
}

#[tokio::test]
async fn acks_every_message_and_marks_the_last() {
    let (app, report, _) = run(Action::Ack, 3).await;
    assert_eq!(report.outcomes, vec![Outcome::Acked; 3]);
    assert!(report.error.is_none());
    let seen = app.seen.lock().unwrap().clone();
    let more: Vec<bool> = seen.iter().map(|(_, more)| *more).collect();
    assert_eq!(more, [true, true, false]);
    let ids: std::collections::HashSet<_> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 3, "ids are unique");
}

#[tokio::test]
async fn nack_keeps_the_reason() {
    let (_, report, _) = run(Action::Nack, 2).await;
    assert_eq!(report.nacked(), 2);
    assert_eq!(report.outcomes[0].nack_reason(), Some("bad payload"));
}

#[tokio::test]
async fn unanswered_messages_are_nacked_as_not_acknowledged() {
    let (_, report, _) = run(Action::Ignore, 2).await;
    assert_eq!(report.outcomes, vec![Outcome::nacked(NOT_ACKNOWLEDGED); 2]);
}

#[tokio::test]
async fn ordered_batch_skips_what_follows_a_nack() {
    let scope = MessageScope::new("in").ordered(true);
    let (_, report, _) = run_scope(Action::StopAtSecond, 4, scope).await;
    assert_eq!(
        report.outcomes,
        [
            Outcome::Acked,
            Outcome::Nacked {
                reason: "bad".into(),
                retry: NackRetry::Never
            },
            Outcome::Skipped,
            Outcome::Skipped
        ]
    );
    assert_eq!(
        (report.acked(), report.nacked(), report.skipped()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn unordered_batch_nacks_unanswered_messages() {
    let (_, report, _) = run(Action::StopAtSecond, 3).await;
    assert_eq!(report.outcomes[2], Outcome::nacked(NOT_ACKNOWLEDGED));
    assert_eq!(report.skipped(), 0);
}

#[tokio::test]
async fn double_ack_is_an_error() {
    let (app, report, _) = run(Action::AckTwice, 1).await;
    assert_eq!(*app.errors.lock().unwrap(), [SendErrorKind::AlreadyAcked]);
    assert_eq!(report.outcomes, [Outcome::Acked]);
}

#[tokio::test]
async fn ack_after_nack_is_an_error_and_nack_stands() {
    let (app, report, _) = run(Action::NackThenAck, 1).await;
    assert_eq!(*app.errors.lock().unwrap(), [SendErrorKind::AlreadyNacked]);
    assert_eq!(report.outcomes[0].nack_reason(), Some("first"));
}

#[tokio::test]
async fn unknown_and_undelivered_ids_are_errors() {
    let (app, report, _) = run(Action::AckUnknown, 2).await;
    assert_eq!(
        *app.errors.lock().unwrap(),
        [
            SendErrorKind::UnknownMessage,
            SendErrorKind::UnknownMessage,
            SendErrorKind::UnknownMessage
        ]
    );
    assert_eq!(report.acked(), 2);
}

#[tokio::test]
async fn message_send_goes_to_the_publisher() {
    let (app, report, publisher) = run(Action::Publish, 2).await;
    assert!(app.errors.lock().unwrap().is_empty());
    assert_eq!(report.acked(), 2);
    let sent = publisher.published.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(&*sent[0].address, "out");
}

#[tokio::test]
async fn lifespan_event_in_message_scope_is_rejected() {
    let (app, report, _) = run(Action::LifespanEvent, 1).await;
    assert_eq!(
        *app.errors.lock().unwrap(),
        [SendErrorKind::UnexpectedEvent]
    );
    assert_eq!(report.acked(), 1);
}

#[tokio::test]
async fn failing_application_nacks_the_rest_with_its_error() {
    let (_, report, _) = run(Action::Fail, 3).await;
    assert_eq!(report.outcomes[0], Outcome::Acked);
    assert_eq!(
        report.outcomes[1].nack_reason(),
        Some("not acknowledged: database down")
    );
    assert_eq!(report.error.unwrap().to_string(), "database down");
}

#[tokio::test]
async fn panicking_application_is_contained() {
    let (_, report, _) = run(Action::Panic, 2).await;
    assert_eq!(report.outcomes[0], Outcome::Acked);
    assert_eq!(
        report.outcomes[1].nack_reason(),
        Some("not acknowledged: application panicked: handler bug")
    );
}

#[tokio::test]
async fn empty_batch_does_not_call_the_application() {
    let (app, report, _) = run(Action::Ack, 0).await;
    assert!(report.outcomes.is_empty());
    assert!(app.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn ack_after_the_batch_ended_is_an_error() {
    struct Keep(Mutex<Option<(crate::SharedSender, MessageId)>>);
    impl Application for Keep {
        async fn call(
            &self,
            _: Scope,
            receive: &mut dyn Receiver,
            send: crate::SharedSender,
        ) -> Result<(), ApplicationError> {
            if let ReceiveEvent::Message(m) = receive.receive().await? {
                *self.0.lock().unwrap() = Some((send, m.id));
            }
            Ok(())
        }
    }
    let app = Arc::new(Keep(Mutex::new(None)));
    let dispatcher = BatchDispatcher::new(Arc::clone(&app), Arc::new(Recording::default()));
    let report = dispatcher
        .dispatch(MessageScope::new("a"), vec![IncomingMessage::default()])
        .await;
    assert_eq!(report.nacked(), 1);
    let (send, id) = app.0.lock().unwrap().take().unwrap();
    let error = send.send(SendEvent::ack(id)).await.unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::BatchFinished);
}

#[tokio::test]
async fn ids_do_not_repeat_across_batches() {
    let app = Script::new(Action::Ack);
    let dispatcher = BatchDispatcher::new(Arc::clone(&app), Arc::new(Recording::default()));
    for _ in 0..2 {
        dispatcher
            .dispatch(MessageScope::new("a"), vec![IncomingMessage::default(); 2])
            .await;
    }
    let seen = app.seen.lock().unwrap();
    let ids: std::collections::HashSet<_> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 4);
}
