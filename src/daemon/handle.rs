//! The daemon's side of the control socket: the channel a socket server sends requests into
//! (each with a one-shot reply slot) and the broadcast of the event history for followers.
//!
//! The event loop owns the receiving end of `requests`; the socket server clones the handle.

use crate::control::proto::{EventRecord, Request, Response};
use tokio::sync::{broadcast, mpsc, oneshot};

/// What a control socket server needs to talk to the running daemon.
#[derive(Debug, Clone)]
pub struct ControlHandle {
    /// One request and where to send its one response.
    pub requests: mpsc::Sender<(Request, oneshot::Sender<Response>)>,
    /// Every new event-history record, for `Events { follow: true }`.
    pub events: broadcast::Sender<EventRecord>,
}
