//! [`Handler`]: what `#[channel]` generates for each handler function.

use std::future::Future;

use crate::MessageContext;
use crate::asyncapi::Sends;
use crate::extract::ParamSpec;
use crate::outcome::Outcome;

/// What `#[channel]` records about the messages a handler sends (see [`Sends`]).
pub type SendsFn = fn(&mut Sends<'_>);

/// The Cargo package a channel is defined in: name, version and description.
///
/// `#[channel]` records its crate's `CARGO_PKG_*`; the AsyncAPI `info` of an application
/// defaults to the package of its channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Package {
    /// `CARGO_PKG_NAME`.
    pub name: &'static str,
    /// `CARGO_PKG_VERSION`.
    pub version: &'static str,
    /// `CARGO_PKG_DESCRIPTION` (empty when the package has none).
    pub description: &'static str,
}

/// What is known about a channel at compile time: its address, names, parameters, the messages
/// it sends and the package it is defined in.
///
/// ```
/// use asyncfast::ChannelMeta;
///
/// static META: ChannelMeta = ChannelMeta::new("user.created", "on_user_created")
///     .description("Greets every new user.");
/// assert_eq!(META.address(), "user.created");
/// assert_eq!(META.name(), "on_user_created");
/// ```
#[derive(Debug)]
pub struct ChannelMeta {
    address: &'static str,
    name: &'static str,
    function: &'static str,
    description: Option<&'static str>,
    params: &'static [ParamSpec],
    module_path: &'static str,
    sends: Option<SendsFn>,
    package: Package,
    hidden: bool,
}

impl ChannelMeta {
    /// A channel on `address` (a template such as `orders.{region}` or an exact address) called
    /// `name`; the function name defaults to `name`.
    pub const fn new(address: &'static str, name: &'static str) -> Self {
        Self {
            address,
            name,
            function: name,
            description: None,
            params: &[],
            module_path: "",
            sends: None,
            package: Package {
                name: "",
                version: "",
                description: "",
            },
            hidden: false,
        }
    }

    /// Leaves the channel out of the AsyncAPI document (the framework's own channels, such as
    /// the reply address of requests).
    #[must_use]
    pub(crate) const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Whether the channel is left out of the AsyncAPI document.
    pub const fn is_hidden(&self) -> bool {
        self.hidden
    }

    /// Sets the description (by default the handler's doc comment).
    #[must_use]
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// Sets the parameter specs, in parameter order.
    #[must_use]
    pub const fn params(mut self, params: &'static [ParamSpec]) -> Self {
        self.params = params;
        self
    }

    /// Sets the Rust function's name and module.
    #[must_use]
    pub const fn function(mut self, function: &'static str, module_path: &'static str) -> Self {
        self.function = function;
        self.module_path = module_path;
        self
    }

    /// Sets what the handler sends: its return type's messages and the messages it sends
    /// through a [`MessageSender`](crate::MessageSender) (`#[channel(…, sends = [A, B])]`).
    #[must_use]
    pub const fn sends(mut self, sends: SendsFn) -> Self {
        self.sends = Some(sends);
        self
    }

    /// Sets the Cargo package the channel is defined in (`#[channel]` passes its crate's
    /// `CARGO_PKG_NAME`, `CARGO_PKG_VERSION` and `CARGO_PKG_DESCRIPTION`).
    #[must_use]
    pub const fn package(
        mut self,
        name: &'static str,
        version: &'static str,
        description: &'static str,
    ) -> Self {
        self.package = Package {
            name,
            version,
            description,
        };
        self
    }

    /// The address template.
    pub const fn address(&self) -> &'static str {
        self.address
    }

    /// The channel's name (the `name` option, or the function's name).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The handler function's name.
    pub const fn function_name(&self) -> &'static str {
        self.function
    }

    /// The module the handler is defined in.
    pub const fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// The description, if any.
    pub const fn description_text(&self) -> Option<&'static str> {
        self.description
    }

    /// The parameter specs.
    pub const fn param_specs(&self) -> &'static [ParamSpec] {
        self.params
    }

    /// What the handler sends, if recorded.
    pub fn sends_fn(&self) -> Option<SendsFn> {
        self.sends
    }

    /// The package the channel is defined in (empty fields when unknown).
    pub const fn package_info(&self) -> Package {
        self.package
    }
}

/// A message handler: the type `#[channel]` generates next to each handler function.
///
/// `call` extracts the parameters, runs the function and turns its return value into an
/// [`Outcome`]. Implement it by hand for handlers that are not functions:
///
/// ```
/// use asyncfast::{ChannelMeta, Handler, MessageContext, Outcome};
///
/// struct AckEverything;
///
/// static META: ChannelMeta = ChannelMeta::new("audit", "ack_everything");
///
/// impl Handler for AckEverything {
///     fn meta(&self) -> &'static ChannelMeta {
///         &META
///     }
///
///     async fn call(&self, _ctx: &mut MessageContext<'_>) -> Outcome {
///         Outcome::ack()
///     }
/// }
///
/// let app = asyncfast::AsyncFast::empty().channel(AckEverything);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an AsyncFast handler",
    note = "pass a function marked `#[channel(\"address\")]` as `handler!(function_name)`, or a \
            type implementing `asyncfast::Handler`"
)]
pub trait Handler: Send + Sync + 'static {
    /// The channel's metadata.
    fn meta(&self) -> &'static ChannelMeta;

    /// Handles one message.
    fn call(&self, ctx: &mut MessageContext<'_>) -> impl Future<Output = Outcome> + Send;
}

impl<H: Handler> Handler for &'static H {
    fn meta(&self) -> &'static ChannelMeta {
        (**self).meta()
    }

    fn call(&self, ctx: &mut MessageContext<'_>) -> impl Future<Output = Outcome> + Send {
        (**self).call(ctx)
    }
}
