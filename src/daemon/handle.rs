//! The daemon's side of the control socket: the channel a socket server sends requests into
//! (each with a one-shot reply slot), the broadcast of the event history for followers, and an
//! input port for inputs from outside the daemon (tests feed check reports through it when the
//! checks do not run).
//!
//! The event loop owns the receiving ends; the socket server clones the handle.

use crate::control::proto::{EventRecord, Request, Response};
use crate::director::Input;
use tokio::sync::{broadcast, mpsc, oneshot};

/// What a control socket server (or a test) needs to talk to the running daemon.
#[derive(Debug, Clone)]
pub struct ControlHandle {
    /// One request and where to send its one response.
    pub requests: mpsc::Sender<(Request, oneshot::Sender<Response>)>,
    /// Every new event-history record, for `Events { follow: true }`.
    pub events: broadcast::Sender<EventRecord>,
    /// Inputs fed to the director as they come.
    pub inputs: mpsc::UnboundedSender<Input>,
}
