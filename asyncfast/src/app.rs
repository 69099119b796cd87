//! [`AsyncFast`]: the application builder, and its [`Application`] implementation.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use amgi_core::extension::{ServerPublisher, ServerRequester};
use amgi_core::{
    Application, ApplicationError, LifespanScope, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};
use futures_util::future::BoxFuture;

use crate::asyncapi::Info;
use crate::dispatch::{self, BatchInput, ErasedChannel, Runtime};
use crate::error::{Error, HandlerNotReady, StartupError};
use crate::extract::{BoxError, PrepareContext};
use crate::handler::{ChannelMeta, Handler};
use crate::middleware::Middleware;
use crate::outcome::NackKind;
use crate::router::{RouteError, Router};
use crate::sender::Publisher;

/// The default number of messages of one batch handled at the same time.
pub const DEFAULT_MESSAGE_CONCURRENCY: usize = 64;

type Hook =
    Box<dyn Fn(amgi_core::StateMap) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;
type Seed = Box<dyn Fn(&amgi_core::StateMap) + Send + Sync>;

/// A registration of a `#[channel]` handler, collected with `inventory`.
#[doc(hidden)]
pub struct ChannelRegistration {
    channel: &'static dyn ErasedChannel,
}

impl ChannelRegistration {
    /// Registers `handler`.
    pub const fn new<H: Handler>(handler: &'static H) -> Self {
        Self { channel: handler }
    }
}

inventory::collect!(ChannelRegistration);

/// A registered channel from `inventory`, shared.
struct Registered(&'static dyn ErasedChannel);

impl ErasedChannel for Registered {
    fn meta(&self) -> &'static ChannelMeta {
        self.0.meta()
    }

    fn run_batch<'a>(
        &'a self,
        input: BatchInput<'a>,
    ) -> BoxFuture<'a, Result<(), ApplicationError>> {
        self.0.run_batch(input)
    }
}

/// An AsyncFast application: channels, state, lifespan hooks and middleware.
///
/// `AsyncFast` implements [`amgi_core::Application`], so any AMGI server runs it; [`run`](Self::run)
/// serves it from the command line.
///
/// ```
/// use asyncfast::prelude::*;
///
/// #[channel("user.created")]
/// async fn on_user(email: Payload<String>) {}
///
/// // Every `#[channel]` of the binary:
/// let app = AsyncFast::new().title("Users").version("1.2.0");
/// // Or a chosen set, for tests and libraries:
/// let app = AsyncFast::empty().channel(handler!(on_user));
/// ```
pub struct AsyncFast {
    pub(crate) info: Info,
    pub(crate) router: Router,
    errors: Vec<RouteError>,
    runtime: Runtime,
    seeds: Vec<Seed>,
    startup: Vec<Hook>,
    shutdown: Vec<Hook>,
    /// The servers `run` can serve on (see [`AsyncFast::serve_on`]).
    pub(crate) servers: Vec<Arc<dyn amgi_server::ServerCommand>>,
    /// Where [`AsyncFast::publisher`] handles publish, once a server runs the application.
    publisher: Publisher,
}

impl Default for AsyncFast {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AsyncFast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFast")
            .field("title", &self.info.title)
            .field(
                "channels",
                &self.channels().map(ChannelMeta::name).collect::<Vec<_>>(),
            )
            .field("layers", &self.runtime.middleware.len())
            .finish_non_exhaustive()
    }
}

impl AsyncFast {
    /// An application with every `#[channel]` handler linked into the binary.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::new();
    /// ```
    pub fn new() -> Self {
        let mut app = Self::empty();
        let mut registered: Vec<_> = inventory::iter::<ChannelRegistration>().collect();
        // Registration order depends on the linker; sort for stable routing errors and documents.
        registered.sort_by_key(|r| (r.channel.meta().address(), r.channel.meta().name()));
        for registration in registered {
            app.add(Arc::new(Registered(registration.channel)));
        }
        app
    }

    /// An application with no channels; add them with [`channel`](Self::channel).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty();
    /// assert_eq!(app.channels().count(), 0);
    /// ```
    pub fn empty() -> Self {
        Self {
            info: Info::default(),
            router: Router::default(),
            errors: Vec::new(),
            runtime: Runtime {
                middleware: Vec::new(),
                concurrency: DEFAULT_MESSAGE_CONCURRENCY,
                state: amgi_core::StateMap::new(),
            },
            seeds: Vec::new(),
            startup: Vec::new(),
            shutdown: Vec::new(),
            servers: crate::cli::builtin_servers(),
            publisher: Publisher::new(),
        }
    }

    /// Adds a handler: `handler!(function)` for a `#[channel]` function, or any [`Handler`].
    ///
    /// A malformed or overlapping address is reported when the application starts (and by
    /// [`validate`](Self::validate)).
    ///
    /// ```
    /// use asyncfast::prelude::*;
    ///
    /// #[channel("orders.{region}")]
    /// async fn on_order(region: Param<String>) {}
    ///
    /// let app = AsyncFast::empty().channel(handler!(on_order));
    /// assert!(app.validate().is_ok());
    /// ```
    #[must_use]
    pub fn channel(mut self, handler: impl Handler) -> Self {
        self.add(Arc::new(handler));
        self
    }

    fn add(&mut self, channel: Arc<dyn ErasedChannel>) {
        if let Err(error) = self.router.insert(channel) {
            self.errors.push(error);
        }
    }

    /// Sets the title (AsyncAPI `info.title`).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().title("Users");
    /// ```
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.info.title = Some(title.into());
        self
    }

    /// Sets the version (AsyncAPI `info.version`).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().version("1.0.0");
    /// ```
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.info.version = Some(version.into());
        self
    }

    /// Sets the description (AsyncAPI `info.description`).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().description("Handles user events.");
    /// ```
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info.description = Some(description.into());
        self
    }

    /// Registers shared state, available to handlers as [`State<T>`](crate::extract::State).
    ///
    /// At startup the value is also inserted into the server's state, where lifespan hooks see
    /// it.
    ///
    /// ```
    /// struct Config { greeting: String }
    /// let app = asyncfast::AsyncFast::empty().state(Config { greeting: "hi".into() });
    /// ```
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(self, value: T) -> Self {
        self.state_arc(Arc::new(value))
    }

    /// Registers already shared state.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().state_arc(std::sync::Arc::new(5_u32));
    /// ```
    #[must_use]
    pub fn state_arc<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        self.runtime.state.insert_arc(Arc::clone(&value));
        self.seeds
            .push(Box::new(move |state| state.insert_arc(Arc::clone(&value))));
        self
    }

    /// Runs `hook` at lifespan startup, before the first batch; it may insert state. An error
    /// fails the startup (the server does not start).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().on_startup(|state: amgi_core::StateMap| async move {
    ///     state.insert(String::from("connection pool"));
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// ```
    #[must_use]
    pub fn on_startup<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(amgi_core::StateMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.startup.push(box_hook(hook));
        self
    }

    /// Runs `hook` at lifespan shutdown, after the last batch.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().on_shutdown(|_state| async {
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// ```
    #[must_use]
    pub fn on_shutdown<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(amgi_core::StateMap) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.shutdown.push(box_hook(hook));
        self
    }

    /// Adds middleware around every message. The first layer added is the outermost; see
    /// [`middleware`](crate::middleware).
    ///
    /// ```
    /// use asyncfast::middleware::{Middleware, Next};
    /// use asyncfast::{MessageContext, Outcome};
    ///
    /// struct Log;
    /// impl Middleware for Log {
    ///     async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
    ///         println!("message on {}", ctx.address());
    ///         next.run(ctx).await
    ///     }
    /// }
    /// let app = asyncfast::AsyncFast::empty().layer(Log);
    /// ```
    #[must_use]
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.runtime.middleware.push(Arc::new(middleware));
        self
    }

    /// How many messages of one unordered batch are handled at the same time (default
    /// [`DEFAULT_MESSAGE_CONCURRENCY`]). Ordered batches are always handled one message at a time.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().concurrency(8);
    /// ```
    #[must_use]
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.runtime.concurrency = limit.max(1);
        self
    }

    /// A handle to publish from outside any handler (an HTTP handler, a startup hook, a
    /// background task) through whichever server runs the application. Clone it freely; it
    /// connects when the server starts the application (lifespan startup), and sending before
    /// that fails with [`SendErrorKind::Closed`](amgi_core::SendErrorKind::Closed).
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty();
    /// let publisher = app.publisher();
    /// assert!(!publisher.is_connected());
    /// ```
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Gives the application a reply address, so that [`Publisher::request`] can await replies:
    /// a random one, `amgi.replies.<16 hex digits>`, new at every start of the process. The
    /// server consumes it like a channel (left out of the AsyncAPI document). See
    /// [`replies_to`](Self::replies_to) to choose it.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().replies();
    /// assert!(app.reply_address().unwrap().starts_with("amgi.replies."));
    /// ```
    #[must_use]
    pub fn replies(self) -> Self {
        let address = format!("amgi.replies.{}", crate::request::random_hex());
        self.replies_to(address)
    }

    /// Gives the application the reply address `address` (see [`replies`](Self::replies)), for
    /// brokers where addresses must exist beforehand or follow a naming scheme. Two processes
    /// may share one: each takes only the replies to its own requests (the others are dropped
    /// and, on a broker that shares the address between consumers, not seen by their owner —
    /// so give each process its own where the broker load-balances). Calling it again has no
    /// effect.
    ///
    /// ```
    /// let app = asyncfast::AsyncFast::empty().replies_to("billing.replies.instance-1");
    /// assert_eq!(app.reply_address(), Some("billing.replies.instance-1"));
    /// ```
    #[must_use]
    pub fn replies_to(mut self, address: impl Into<String>) -> Self {
        let inbox = Arc::new(crate::request::Inbox::new(address.into()));
        if self.publisher.set_inbox(Arc::clone(&inbox)) {
            self.add(Arc::new(crate::request::InboxChannel::new(inbox)));
        }
        self
    }

    /// The reply address, if the application has one.
    pub fn reply_address(&self) -> Option<&str> {
        self.publisher.inbox().map(|inbox| inbox.address())
    }

    /// The channels, in the order they were added.
    pub fn channels(&self) -> impl Iterator<Item = &'static ChannelMeta> + '_ {
        self.router
            .routes()
            .iter()
            .map(|route| route.channel.meta())
    }

    /// Checks that every address is well-formed and that no two channels overlap.
    pub fn validate(&self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Routes(self.errors.clone()))
        }
    }

    /// What lifespan startup does: connect the publisher, seed state, run hooks, check that
    /// every handler can run.
    async fn startup(&self, scope: &LifespanScope) -> Result<(), StartupError> {
        let state = &scope.state;
        if !self.errors.is_empty() {
            return Err(StartupError::Routes(self.errors.clone()));
        }
        if let Some(server) = scope.extensions.get::<ServerPublisher>() {
            self.publisher.connect(Arc::clone(&server.0));
        }
        if let Some(requester) = scope.extensions.get::<ServerRequester>() {
            self.publisher.connect_requester(Arc::clone(&requester.0));
        }
        for seed in &self.seeds {
            seed(state);
        }
        for hook in &self.startup {
            hook(state.clone()).await.map_err(StartupError::Hook)?;
        }
        let cx = PrepareContext {
            state,
            app_state: &self.runtime.state,
        };
        let problems: Vec<HandlerNotReady> = self
            .channels()
            .filter_map(|meta| {
                dispatch::prepare(meta, &cx)
                    .err()
                    .map(|source| HandlerNotReady {
                        handler: meta.name(),
                        source,
                    })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StartupError::Handlers(problems))
        }
    }

    async fn lifespan(
        &self,
        scope: LifespanScope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        loop {
            let Ok(event) = receive.receive().await else {
                return Ok(());
            };
            match event {
                ReceiveEvent::LifespanStartup => match self.startup(&scope).await {
                    Ok(()) => send.send(SendEvent::LifespanStartupComplete).await?,
                    Err(error) => {
                        tracing::error!(%error, "startup failed");
                        send.send(SendEvent::LifespanStartupFailed {
                            message: error.to_string(),
                        })
                        .await?;
                        return Ok(());
                    }
                },
                ReceiveEvent::LifespanShutdown => {
                    let mut failures = Vec::new();
                    for hook in &self.shutdown {
                        if let Err(error) = hook(scope.state.clone()).await {
                            failures.push(error.to_string());
                        }
                    }
                    let event = if failures.is_empty() {
                        SendEvent::LifespanShutdownComplete
                    } else {
                        SendEvent::LifespanShutdownFailed {
                            message: failures.join("; "),
                        }
                    };
                    send.send(event).await?;
                    return Ok(());
                }
                other => {
                    return Err(ApplicationError::msg(format!(
                        "unexpected `{}` in the lifespan scope",
                        other.kind()
                    )));
                }
            }
        }
    }

    async fn messages(
        &self,
        scope: amgi_core::MessageScope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let mut captures = Vec::new();
        let Some(route) = self.router.resolve(&scope.address, &mut captures) else {
            let messages = dispatch::receive_all(receive).await?;
            let reason = format!("no channel for address `{}`", scope.address);
            tracing::warn!(address = %scope.address, count = messages.len(), "{reason}");
            dispatch::nack_all(
                &send,
                &messages,
                &reason,
                NackKind::Unroutable.default_retry(),
            )
            .await;
            return Ok(());
        };
        let input = BatchInput {
            scope,
            template: &route.template,
            captures,
            receive,
            send,
            runtime: &self.runtime,
        };
        route.channel.run_batch(input).await
    }
}

fn box_hook<F, Fut, E>(hook: F) -> Hook
where
    F: Fn(amgi_core::StateMap) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Box::new(move |state| {
        let future = hook(state);
        Box::pin(async move { future.await.map_err(Into::into) })
    })
}

impl Application for AsyncFast {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        match scope {
            Scope::Message(scope) => self.messages(scope, receive, send).await,
            Scope::Lifespan(scope) => self.lifespan(scope, receive, send).await,
            other => Err(ApplicationError::unsupported_scope(other.kind())),
        }
    }
}
