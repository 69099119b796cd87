//! Routing a batch's address to its channel.
//!
//! Exact addresses are found by one hash lookup; templates (`orders.{region}`) are compiled once,
//! when the channel is added, and tried in turn. An exact address wins over a template that also
//! matches it. Two templates that can match the same address are rejected when the application
//! is built, with an address both match. Lookup happens once per batch.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::dispatch::ErasedChannel;

mod template;

pub(crate) use template::{Part, Template, parse};

/// A malformed address template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(template::TemplateError);

impl TemplateError {
    /// A line suggesting the fix.
    pub fn help(&self) -> String {
        self.0.help()
    }

    /// Byte offset of the problem in the template.
    pub fn offset(&self) -> usize {
        self.0.offset
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TemplateError {}

/// A channel that cannot be added to the router.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The address template is malformed.
    #[error("handler `{handler}`: invalid address `{address}`: {source}")]
    InvalidTemplate {
        /// The handler's name.
        handler: &'static str,
        /// The address as written.
        address: &'static str,
        /// What is wrong.
        source: TemplateError,
    },
    /// Two handlers on the same exact address.
    #[error("handlers `{first}` and `{second}` both handle address `{address}`")]
    DuplicateAddress {
        /// The address.
        address: &'static str,
        /// The handler added first.
        first: &'static str,
        /// The handler added second.
        second: &'static str,
    },
    /// Two templates match a common address.
    #[error(
        "address templates `{first_address}` (handler `{first}`) and `{second_address}` (handler \
         `{second}`) overlap: both match `{example}`"
    )]
    Overlap {
        /// The handler added first.
        first: &'static str,
        /// Its template.
        first_address: &'static str,
        /// The handler added second.
        second: &'static str,
        /// Its template.
        second_address: &'static str,
        /// An address both match.
        example: String,
    },
}

/// One routable channel: its compiled template and handler.
pub(crate) struct Route {
    pub(crate) template: Template,
    pub(crate) channel: Arc<dyn ErasedChannel>,
}

/// Exact addresses by hash, templates in a list.
#[derive(Default)]
pub(crate) struct Router {
    routes: Vec<Route>,
    exact: HashMap<Box<str>, usize>,
    templates: Vec<usize>,
}

impl Router {
    /// Compiles and adds `channel`.
    pub(crate) fn insert(&mut self, channel: Arc<dyn ErasedChannel>) -> Result<(), RouteError> {
        let meta = channel.meta();
        let template = parse(meta.address()).map_err(|e| RouteError::InvalidTemplate {
            handler: meta.name(),
            address: meta.address(),
            source: TemplateError(e),
        })?;
        let index = self.routes.len();
        if template.is_exact() {
            if let Some(&first) = self.exact.get(meta.address()) {
                return Err(RouteError::DuplicateAddress {
                    address: meta.address(),
                    first: self.routes[first].channel.meta().name(),
                    second: meta.name(),
                });
            }
            self.exact.insert(meta.address().into(), index);
        } else {
            for &other in &self.templates {
                let route = &self.routes[other];
                if let Some(example) = route.template.overlap(&template) {
                    let first = route.channel.meta();
                    return Err(RouteError::Overlap {
                        first: first.name(),
                        first_address: first.address(),
                        second: meta.name(),
                        second_address: meta.address(),
                        example,
                    });
                }
            }
            self.templates.push(index);
        }
        self.routes.push(Route { template, channel });
        Ok(())
    }

    /// The route for `address`, with the byte ranges of its placeholder values in `captures`.
    pub(crate) fn resolve(
        &self,
        address: &str,
        captures: &mut Vec<Range<usize>>,
    ) -> Option<&Route> {
        if let Some(&index) = self.exact.get(address) {
            return Some(&self.routes[index]);
        }
        self.templates
            .iter()
            .map(|&index| &self.routes[index])
            .find(|route| route.template.matches(address, captures))
    }

    /// Every route, in the order added.
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }
}
