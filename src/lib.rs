//! handover-gateway: the inter-agency exchange that keeps every person
//! released from compulsory detox under joint supervision.
//!
//! The rooms, from the inside out:
//!
//! - [`domain`]: pure rules: cases and their events, agencies, routing,
//!   deadlines, validation, the audit log's hash chain. No I/O.
//! - [`storage`]: the durable store behind one interface: SQLite (the
//!   default) and PostgreSQL.
//! - [`gateway`]: the application: intake, inboxes and case queries, in
//!   domain terms, transport-neutral.
//! - [`pki`]: the gateway's certificate authority and the mutual TLS it
//!   owns.
//! - [`api`]: the gRPC adapter: protobuf types, conversion, error mapping,
//!   and the wrapper that writes every call to the audit log.
//! - [`metrics`]: what operators watch, served to Prometheus on a
//!   plain-HTTP port of its own.
//! - [`server`]: assembling and running it all, with one shutdown path.
//! - [`config`] and [`cli`]: how an operator and a user drive it.

pub mod api;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod metrics;
pub mod pki;
pub mod server;
pub mod storage;
