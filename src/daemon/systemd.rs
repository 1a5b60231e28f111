//! systemd integration through `sd_notify`: READY=1 after the first reconcile, WATCHDOG=1 sent
//! by the event loop itself (so a stalled loop misses it and gets restarted), RELOADING=1 and
//! STATUS= lines. Outside systemd (no `NOTIFY_SOCKET`) every call is a no-op.

use sd_notify::NotifyState;
use std::time::Duration;

/// How often the loop pets the watchdog: half of `WATCHDOG_USEC`, if systemd asked for one.
pub fn watchdog_tick() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| (d / 2).max(Duration::from_millis(100)))
}

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// Start-up is complete (the first reconcile ran).
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// A reload begins (systemd ≥ 253 wants the monotonic time with it).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// A reload ended: READY again, with a status line.
pub fn reloaded(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A free-form status line.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Shutting down.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}
