//! The outbox: messages to EHRs recorded in the same transaction as the change they report,
//! then delivered by background workers with retries (see `worker`).

pub mod backoff;
pub mod ehr_auth;
pub mod worker;

use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// What handlers and workers share.
#[derive(Clone)]
pub struct Outbox {
    /// Wakes a worker at once when a message is recorded (they also poll).
    pub wake: Arc<Notify>,
    pub tokens: Arc<ehr_auth::TokenCache>,
    halt: Arc<watch::Sender<bool>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox { wake: Arc::default(), tokens: Arc::default(), halt: Arc::new(watch::channel(false).0) }
    }
}

impl Outbox {
    /// Call after committing a transaction that recorded a message.
    pub fn recorded(&self) {
        self.wake.notify_one();
    }

    /// Stops this instance's workers at once, dropping deliveries in flight exactly as a crash
    /// would: nothing more is written for them, and their leases run out.
    pub fn halt(&self) {
        self.halt.send_replace(true);
    }

    /// Resolves once [`Outbox::halt`] has been called.
    pub async fn halted(&self) {
        let mut rx = self.halt.subscribe();
        let _ = rx.wait_for(|h| *h).await;
    }
}
