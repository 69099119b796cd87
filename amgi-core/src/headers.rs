//! Message headers: an ordered list of byte pairs.

use bytes::Bytes;

/// The headers of a message: an ordered list of `(name, value)` byte pairs.
///
/// Names may repeat, order is kept, and neither names nor values need be UTF-8, exactly as the AMGI
/// message specification describes (`Iterable[tuple[bytes, bytes]]`). Lookups by name are
/// case-sensitive.
///
/// ```
/// use amgi_core::Headers;
///
/// let mut headers = Headers::new();
/// headers.append("correlation-id", "c-1");
/// headers.append("tag", "a");
/// headers.append("tag", "b");
/// assert_eq!(headers.get(b"correlation-id").map(|v| &v[..]), Some(&b"c-1"[..]));
/// assert_eq!(headers.get_all(b"tag").count(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pairs: Vec<(Bytes, Bytes)>,
}

impl Headers {
    /// Creates an empty header list; this does not allocate.
    pub const fn new() -> Self {
        Self { pairs: Vec::new() }
    }

    /// Creates an empty header list with room for `capacity` pairs.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            pairs: Vec::with_capacity(capacity),
        }
    }

    /// Appends a header, keeping any earlier header of the same name.
    pub fn append(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Builder form of [`Headers::append`].
    ///
    /// ```
    /// let headers = amgi_core::Headers::new().with("a", "1").with("b", "2");
    /// assert_eq!(headers.len(), 2);
    /// ```
    #[must_use]
    pub fn with(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.append(name, value);
        self
    }

    /// The value of the first header called `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<&Bytes> {
        self.pairs
            .iter()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v)
    }

    /// Every value of the headers called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n.as_ref() == name)
            .map(|(_, v)| v)
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Number of header pairs (repeated names counted each time).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Iterates over the pairs in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Bytes, Bytes)> {
        self.pairs.iter()
    }

    /// The pairs as a slice.
    pub fn as_slice(&self) -> &[(Bytes, Bytes)] {
        &self.pairs
    }

    /// Consumes the list and returns the pairs.
    pub fn into_vec(self) -> Vec<(Bytes, Bytes)> {
        self.pairs
    }
}

impl From<Vec<(Bytes, Bytes)>> for Headers {
    fn from(pairs: Vec<(Bytes, Bytes)>) -> Self {
        Self { pairs }
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a (Bytes, Bytes);
    type IntoIter = std::slice::Iter<'a, (Bytes, Bytes)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.iter()
    }
}

impl IntoIterator for Headers {
    type Item = (Bytes, Bytes);
    type IntoIter = std::vec::IntoIter<(Bytes, Bytes)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_repeats() {
        let headers: Headers = [("a", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
        let names: Vec<_> = headers.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(headers.get(b"a").unwrap(), "1");
        assert_eq!(headers.get_all(b"a").collect::<Vec<_>>(), ["1", "3"]);
    }

    #[test]
    fn lookup_is_case_sensitive() {
        let headers = Headers::new().with("Key", "v");
        assert!(headers.contains(b"Key"));
        assert!(!headers.contains(b"key"));
    }

    #[test]
    fn new_does_not_allocate() {
        assert_eq!(Headers::new().into_vec().capacity(), 0);
    }
}
