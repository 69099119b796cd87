//! AsyncFast: typed handlers for message brokers (work in progress).
