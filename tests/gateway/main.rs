//! The gateway's integration tests: one binary, the real server over real
//! mutual TLS on real SQLite files.

mod support;

mod access;
mod announcements;
mod assignment;
mod audit;
mod authorization;
mod bench;
mod caseloads;
mod cli;
mod crash;
mod deadlines;
mod earlier_cases;
mod inbox;
mod intake;
mod invariants;
mod lifecycle;
mod limits;
mod metrics;
mod passing_parts;
mod privacy;
mod process;
mod receipts;
mod revocation;
mod steps;
mod trust;
