//! The director daemon: one event loop that keeps the kernel's IPVS table equal to what the
//! configuration, the health of the nodes and the operator's overrides say.

mod handle;

pub use handle::ControlHandle;
