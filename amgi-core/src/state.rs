//! Type maps carried by scopes: application [`StateMap`] and server [`Extensions`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};

type AnyMap = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// State shared between the lifespan scope and every message scope of one server run: a map
/// from type to value.
///
/// The server creates one `StateMap` before lifespan startup and passes a clone (an `Arc` clone) in
/// every scope. The application may insert values while handling `lifespan.startup`; message
/// scopes then see them. Values are stored by type and handed out as `Arc<T>`.
///
/// ```
/// use amgi_core::StateMap;
///
/// let state = StateMap::new();
/// state.insert(String::from("db-pool"));
/// let seen = state.clone();
/// assert_eq!(seen.get::<String>().as_deref().map(String::as_str), Some("db-pool"));
/// assert!(seen.get::<u32>().is_none());
/// ```
#[derive(Clone, Default)]
pub struct StateMap {
    inner: Arc<RwLock<AnyMap>>,
}

impl StateMap {
    /// Creates an empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing an earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        self.write().insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Stores an already shared value.
    pub fn insert_arc<T: Send + Sync + 'static>(&self, value: Arc<T>) {
        self.write().insert(TypeId::of::<T>(), value);
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.read()
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// Whether a value of type `T` was stored.
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.read().contains_key(&TypeId::of::<T>())
    }

    /// Number of stored values.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether nothing was stored.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> RwLockReadGuard<'_, AnyMap> {
        // A panic while holding the lock cannot leave a HashMap insert half-done in a way that
        // matters to readers, so a poisoned lock is used as is.
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, AnyMap> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateMap")
            .field("len", &self.len())
            .finish()
    }
}

/// Server-specific extras attached to one scope, looked up by type.
///
/// Servers use extensions for facts that are not part of the specification (a Lambda context, a
/// Kafka consumer's group generation). Empty extensions do not allocate.
///
/// ```
/// use amgi_core::Extensions;
///
/// #[derive(Debug, PartialEq)]
/// struct RequestId(&'static str);
///
/// let mut extensions = Extensions::new();
/// extensions.insert(RequestId("r-1"));
/// assert_eq!(extensions.get::<RequestId>(), Some(&RequestId("r-1")));
/// ```
#[derive(Default)]
pub struct Extensions {
    // Boxed so that empty extensions are one pointer wide inside every scope.
    #[allow(clippy::box_collection)]
    map: Option<Box<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Extensions {
    /// Empty extensions.
    pub const fn new() -> Self {
        Self { map: None }
    }

    /// Stores `value`, returning the earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast::<T>().ok().map(|b| *b))
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .as_ref()?
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .as_mut()?
            .remove(&TypeId::of::<T>())
            .and_then(|old| old.downcast::<T>().ok().map(|b| *b))
    }

    /// Whether there are no extensions.
    pub fn is_empty(&self) -> bool {
        self.map.as_ref().is_none_or(|m| m.is_empty())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.as_ref().map_or(0, |m| m.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_shared_between_clones() {
        let state = StateMap::new();
        let other = state.clone();
        state.insert(5_u32);
        assert_eq!(*other.get::<u32>().unwrap(), 5);
        state.insert(6_u32);
        assert_eq!(*other.get::<u32>().unwrap(), 6);
        assert_eq!(other.len(), 1);
    }

    #[test]
    fn extensions_replace_and_remove() {
        let mut ext = Extensions::new();
        assert!(ext.is_empty());
        assert_eq!(ext.insert(1_u8), None);
        assert_eq!(ext.insert(2_u8), Some(1));
        assert_eq!(ext.remove::<u8>(), Some(2));
        assert!(ext.get::<u8>().is_none());
    }
}
