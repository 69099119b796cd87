//! Quickstart (filled in once the memory server lands).

fn main() {}
