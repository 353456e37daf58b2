//! The session lifecycle, one step per module, each an `impl` block on [`crate::pool::Pool`]:
//! spawn (and resume), settle (first prompt), observe, steer (send, keys, interrupt), collect
//! (artifacts and transcript), terminate, and reconcile (with the read side: show, list).

pub mod collect;
pub mod observe;
pub mod reconcile;
pub mod settle;
pub mod spawn;
pub mod steer;
pub mod terminate;
