//! The gateway's integration tests: one binary, the real server over real
//! mutual TLS on real SQLite files.

mod support;

mod access;
mod cli;
mod deadlines;
mod inbox;
mod intake;
mod invariants;
mod lifecycle;
mod process;
mod steps;
mod trust;
