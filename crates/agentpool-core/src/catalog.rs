//! The model catalog (embedded file, layering, validation) lives in `agentpool-sdk` and is
//! re-exported here; front ends list it through `Pool::models` ([`crate::describe`]).

pub use agentpool_sdk::catalog::*;
