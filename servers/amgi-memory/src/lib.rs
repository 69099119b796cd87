//! Embedded in-memory AMGI broker and server (work in progress).
