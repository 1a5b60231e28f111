//! The state directory: what lbd must not forget across restarts and reboots — administrative
//! overrides (drain, disable, maintenance) and the last known health of every node — kept as
//! versioned JSON documents replaced atomically.

mod atomic;
mod file;

pub use atomic::write_atomic;
pub use file::{JsonFile, StateError};
