//! [`Broker`]: the handle to the in-memory queues.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use amgi_core::batch::Publisher;
use amgi_core::{EventFuture, MessageSend, SendError};
use amgi_server::{DeadLetterOrigin, dead_letter_headers};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::dead_letter::DeadLetter;
use crate::queue::{Queue, Stored};
use crate::{BrokerConfig, PublishError, PublishErrorKind};

/// A handle to an in-memory broker: named queues (addresses) that applications consume through a
/// [`Server`](crate::Server).
///
/// Cloning is cheap and every clone refers to the same queues. A queue is created the first time
/// something is published to its address or a server consumes it, and lives as long as the
/// broker. The broker outlives the servers that use it: messages a server did not take stay in
/// their queue for the next one.
///
/// Each queue holds at most [`BrokerConfig::capacity`] messages, counting those waiting and those
/// delivered but not yet acked; [`Broker::publish`] waits while the queue is full, `message.send`
/// from an application at most [`BrokerConfig::send_timeout`]. Dead-letter queues are the
/// exception: dead-lettering never waits and never drops a message, so a dead-letter queue may
/// hold more than its capacity (each letter over it is logged at `warn`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use amgi_core::MessageSend;
/// use amgi_memory::Broker;
///
/// let broker = Broker::default();
/// broker.publish(MessageSend::new("orders").payload("{}")).await.unwrap();
/// assert_eq!(broker.depth("orders"), 1);
/// assert_eq!(broker.in_flight("orders"), 0);
/// assert!(broker.dead_letters("orders").is_empty());
/// # });
/// ```
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    config: BrokerConfig,
    queues: RwLock<HashMap<Arc<str>, Arc<Queue>>>,
    /// Changes every time a queue is created.
    created: watch::Sender<()>,
    closed: AtomicBool,
    on_close: Notify,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new(BrokerConfig::default())
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.shared.config)
            .field("queues", &self.read_queues().len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Broker {
    /// A broker with no queues yet. Out-of-range settings are brought into range (see
    /// [`BrokerConfig::capacity`]).
    ///
    /// ```
    /// use amgi_memory::{Broker, BrokerConfig};
    /// let broker = Broker::new(BrokerConfig::new().capacity(0));
    /// assert_eq!(broker.config().capacity, 1);
    /// ```
    pub fn new(config: BrokerConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config: config.normalized(),
                queues: RwLock::new(HashMap::new()),
                created: watch::Sender::new(()),
                closed: AtomicBool::new(false),
                on_close: Notify::new(),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &BrokerConfig {
        &self.shared.config
    }

    /// Publishes `message` to its address, waiting while the queue is full.
    ///
    /// Fails with [`PublishErrorKind::Closed`] once the broker is closed, including while
    /// waiting. Dropping the future before it completes publishes nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use amgi_core::{Headers, KafkaBinding, MessageSend};
    ///
    /// let broker = amgi_memory::Broker::default();
    /// let message = MessageSend::new("orders")
    ///     .headers(Headers::new().with("trace", "t-1"))
    ///     .payload("{}")
    ///     .binding(KafkaBinding::with_key("order-1"));
    /// broker.publish(message).await.unwrap();
    /// assert_eq!(broker.depth("orders"), 1);
    /// # });
    /// ```
    pub async fn publish(&self, message: MessageSend) -> Result<(), PublishError> {
        match self.try_publish_inner(message) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(message)) => Err(self.refused(PublishErrorKind::Closed, message)),
            Err(Refused::Full(queue, message)) => self.wait_for_room(&queue, message, None).await,
        }
    }

    /// Waits for room in `queue` until `deadline`, if any, then publishes `message`.
    async fn wait_for_room(
        &self,
        queue: &Queue,
        message: MessageSend,
        deadline: Option<Instant>,
    ) -> Result<(), PublishError> {
        // Register for the close signal before checking the flag, so a `close` at any point
        // ends the wait below.
        let mut closed = pin!(self.shared.on_close.notified());
        closed.as_mut().enable();
        if self.is_closed() {
            return Err(self.refused(PublishErrorKind::Closed, message));
        }
        let timeout = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = closed => Err(self.refused(PublishErrorKind::Closed, message)),
            () = queue.reserve() => {
                queue.push(Stored::new(message));
                Ok(())
            }
            () = timeout => Err(self.refused(PublishErrorKind::Full, message)),
        }
    }

    fn refused(&self, kind: PublishErrorKind, message: MessageSend) -> PublishError {
        PublishError::new(kind, message, self.shared.config.capacity)
    }

    /// Publishes `message` if its queue has room, without waiting.
    ///
    /// Fails with [`PublishErrorKind::Full`] when the queue is full and
    /// [`PublishErrorKind::Closed`] once the broker is closed; the error hands the message back.
    ///
    /// ```
    /// use amgi_core::MessageSend;
    /// use amgi_memory::{Broker, BrokerConfig, PublishErrorKind};
    ///
    /// let broker = Broker::new(BrokerConfig::new().capacity(1));
    /// broker.try_publish(MessageSend::new("jobs")).unwrap();
    /// let full = broker.try_publish(MessageSend::new("jobs")).unwrap_err();
    /// assert_eq!(full.kind(), PublishErrorKind::Full);
    /// ```
    pub fn try_publish(&self, message: MessageSend) -> Result<(), PublishError> {
        self.try_publish_inner(message)
            .map_err(|refused| match refused {
                Refused::Full(_, message) => self.refused(PublishErrorKind::Full, message),
                Refused::Closed(message) => self.refused(PublishErrorKind::Closed, message),
            })
    }

    fn try_publish_inner(&self, message: MessageSend) -> Result<(), Refused> {
        if self.is_closed() {
            return Err(Refused::Closed(message));
        }
        let queue = self.queue_or_create(&message.address);
        if queue.try_reserve() {
            queue.push(Stored::new(message));
            Ok(())
        } else {
            Err(Refused::Full(queue, message))
        }
    }

    /// How many messages of `address` wait to be delivered (in-flight messages not included);
    /// 0 for an address that does not exist.
    ///
    /// ```
    /// assert_eq!(amgi_memory::Broker::default().depth("nowhere"), 0);
    /// ```
    pub fn depth(&self, address: &str) -> usize {
        self.queue(address).map_or(0, |queue| queue.depth())
    }

    /// How many messages of `address` were delivered to an application and are not yet acked or
    /// nacked; 0 for an address that does not exist.
    ///
    /// ```
    /// assert_eq!(amgi_memory::Broker::default().in_flight("nowhere"), 0);
    /// ```
    pub fn in_flight(&self, address: &str) -> usize {
        self.queue(address).map_or(0, |queue| queue.in_flight())
    }

    /// The dead-letter address of `address` under [`BrokerConfig::dead_letter`], for example
    /// `orders.dlq`; `None` when dead-lettering is disabled.
    ///
    /// ```
    /// let broker = amgi_memory::Broker::default();
    /// assert_eq!(broker.dead_letter_address("orders").as_deref(), Some("orders.dlq"));
    /// ```
    pub fn dead_letter_address(&self, address: &str) -> Option<String> {
        self.shared.config.dead_letter.address_for(address)
    }

    /// A snapshot of the messages waiting on the dead-letter address of `address`, oldest first
    /// (with a [`DeadLetterPolicy::Address`](amgi_server::DeadLetterPolicy::Address) shared by
    /// every address, those of every address). Dead letters a server is consuming from that
    /// address at the moment are not included.
    ///
    /// ```
    /// assert!(amgi_memory::Broker::default().dead_letters("orders").is_empty());
    /// ```
    pub fn dead_letters(&self, address: &str) -> Vec<DeadLetter> {
        let queue = self
            .dead_letter_address(address)
            .and_then(|name| self.queue(&name));
        queue.map_or_else(Vec::new, |queue| {
            queue.snapshot(|message| DeadLetter::from_stored(message, address))
        })
    }

    /// Closes the broker: publishing fails with [`PublishErrorKind::Closed`] from now on, and
    /// publishers waiting for room are woken with that error. Messages already in the broker stay
    /// there; servers keep delivering them, and redelivery and dead-lettering keep working.
    ///
    /// ```
    /// use amgi_core::MessageSend;
    /// use amgi_memory::{Broker, PublishErrorKind};
    ///
    /// let broker = Broker::default();
    /// broker.close();
    /// let error = broker.try_publish(MessageSend::new("orders")).unwrap_err();
    /// assert_eq!(error.kind(), PublishErrorKind::Closed);
    /// assert!(broker.is_closed());
    /// ```
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.on_close.notify_waiters();
    }

    /// Whether [`Broker::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    fn read_queues(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Queue>>> {
        // Map operations do not panic half-way; a poisoned lock is used as is.
        self.shared
            .queues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn queue(&self, address: &str) -> Option<Arc<Queue>> {
        self.read_queues().get(address).cloned()
    }

    /// The queue of `address`, created if needed.
    pub(crate) fn queue_or_create(&self, address: &Arc<str>) -> Arc<Queue> {
        if let Some(queue) = self.queue(address) {
            return queue;
        }
        let mut queues = self
            .shared
            .queues
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get(&**address) {
            return Arc::clone(queue);
        }
        let config = &self.shared.config;
        let queue = Arc::new(Queue::new(
            Arc::clone(address),
            config.dead_letter.is_dead_letter_address(address),
            config.capacity,
        ));
        queues.insert(Arc::clone(address), Arc::clone(&queue));
        drop(queues);
        tracing::debug!(%address, "queue created");
        self.shared.created.send_replace(());
        queue
    }

    /// Every queue that exists now.
    pub(crate) fn queues(&self) -> Vec<Arc<Queue>> {
        self.read_queues().values().cloned().collect()
    }

    /// A receiver that changes whenever a queue is created.
    pub(crate) fn watch_created(&self) -> watch::Receiver<()> {
        self.shared.created.subscribe()
    }

    /// Moves messages consumed from `queue` to its dead-letter queue, which never waits nor
    /// drops (see [`Queue::push_dead_letters`]); with dead-lettering disabled, logs and drops
    /// them.
    pub(crate) fn dead_letter(&self, queue: &Queue, dead: Vec<(Stored, Cow<'static, str>)>) {
        if dead.is_empty() {
            return;
        }
        let Some(name) = self.dead_letter_address(queue.name()) else {
            for (message, reason) in dead {
                tracing::error!(address = %queue.name(), deliveries = message.deliveries,
                    %reason, "message dropped: dead-lettering is disabled");
            }
            return;
        };
        let target = queue.dead_letter_queue(|| self.queue_or_create(&Arc::from(name)));
        let letters = dead
            .into_iter()
            .map(|(message, reason)| {
                tracing::warn!(address = %queue.name(), dead_letter_address = %target.name(),
                    deliveries = message.deliveries, %reason, "message dead-lettered");
                let origin = DeadLetterOrigin {
                    reason: &reason,
                    deliveries: message.deliveries,
                    address: queue.name(),
                };
                Stored {
                    headers: dead_letter_headers(&message.headers, origin, &[]),
                    payload: message.payload,
                    bindings: message.bindings,
                    deliveries: 0,
                }
            })
            .collect();
        target.push_dead_letters(letters);
    }
}

enum Refused {
    Full(Arc<Queue>, MessageSend),
    Closed(MessageSend),
}

/// `message.send` from an application (and the lifespan scope's
/// [`ServerPublisher`](amgi_core::extension::ServerPublisher)) publishes into this broker. A
/// message that fits is accepted without allocating a future; otherwise the send waits for room
/// at most [`BrokerConfig::send_timeout`], then fails with a retryable
/// [`SendErrorKind::Transport`](amgi_core::SendErrorKind::Transport) error naming the queue and
/// its capacity.
impl Publisher for Broker {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        match self.try_publish_inner(message) {
            Ok(()) => EventFuture::ready(Ok(())),
            Err(Refused::Full(queue, message)) => EventFuture::boxed(async move {
                let timeout = self.shared.config.send_timeout;
                let deadline = Instant::now() + timeout;
                self.wait_for_room(&queue, message, Some(deadline))
                    .await
                    .map_err(|error| match error.kind() {
                        PublishErrorKind::Full => SendError::transport(error)
                            .with_detail(format!("no room within {timeout:?}")),
                        PublishErrorKind::Closed => error.into(),
                    })
            }),
            Err(Refused::Closed(message)) => {
                EventFuture::ready(Err(self.refused(PublishErrorKind::Closed, message).into()))
            }
        }
    }
}
