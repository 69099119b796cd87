//! Procedural macros of AsyncFast (work in progress).
