//! The domain: cases, agencies, routing, deadlines and validation.
//!
//! Pure: no transport, storage or runtime. Everything here is tested by
//! plain unit and property tests.

pub mod access;
pub mod agency;
pub mod announcement;
pub mod audit;
pub mod case;
pub mod clock;
pub mod deadline;
pub mod event;
pub mod id_number;
pub mod intake;
pub mod lifecycle;
pub mod notice;
pub mod person;
pub mod plan;
pub mod policy;
pub mod recipients;
pub mod region;
pub mod routing;
pub mod submission;
pub mod validation;

#[cfg(test)]
pub(crate) mod testing;
