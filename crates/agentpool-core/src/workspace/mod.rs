//! Where a worker's work lands: its artifact directory, its git worktree, the file leases
//! that keep workers apart, and the git facts AgentPool reads.

pub mod artifacts;
pub mod git;
pub mod leases;
pub mod worktrees;
