//! Versions of the AMGI specification this crate implements.

/// Version of the AMGI base specification implemented by this crate.
pub const AMGI_VERSION: &str = "1.0";

/// Version of the AMGI message sub-specification implemented by this crate.
pub const MESSAGE_SPEC_VERSION: &str = "1.0";

/// The `amgi` key of every scope: which versions of the specification the server speaks.
///
/// ```
/// let info = amgi_core::AmgiInfo::default();
/// assert_eq!(info.version, amgi_core::AMGI_VERSION);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmgiInfo {
    /// Version of the AMGI base specification (`scope["amgi"]["version"]`).
    pub version: &'static str,
    /// Version of the sub-specification for this scope type (`scope["amgi"]["spec_version"]`).
    pub spec_version: &'static str,
}

impl Default for AmgiInfo {
    fn default() -> Self {
        Self {
            version: AMGI_VERSION,
            spec_version: MESSAGE_SPEC_VERSION,
        }
    }
}
