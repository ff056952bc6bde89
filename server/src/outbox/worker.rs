//! The delivery workers: take the next message due, POST it to the EHR's `$process-message`,
//! and record what the EHR said. Messages are claimed with a lease (see [`store::claim`]), so
//! several workers and several app instances share one outbox, and a message whose process
//! died mid-delivery is sent again, with the same ids, once its lease runs out.

use super::{backoff::retry_delay_secs, ehr_auth, Outbox};
use crate::{
    messaging::response::Verdict,
    smart::now_unix,
    state::AppState,
    store::outbox::{self as store, Claimed, Outcome, Recorded},
};
use rand::Rng;
use std::time::Duration;
use tracing::Instrument;

/// Starts `count` workers on the current runtime.
pub fn spawn(state: AppState, count: usize) {
    for _ in 0..count {
        tokio::spawn(run(state.clone()));
    }
    // Messages recorded by other instances wake this one's workers (PostgreSQL: LISTEN/NOTIFY).
    let listener = state.clone();
    tokio::spawn(async move {
        let wake = listener.outbox.wake.clone();
        tokio::select! {
            _ = store::wake_on_records(&listener.db, move || wake.notify_one()) => {}
            _ = listener.outbox.halted() => {}
        }
    });
}

async fn run(state: AppState) {
    tokio::select! {
        _ = work(&state) => {}
        _ = state.outbox.halted() => {}
    }
}

async fn work(state: &AppState) {
    let state = state.clone();
    let poll = Duration::from_millis(state.config.outbox.poll_millis);
    loop {
        let claimed = {
            let _gate = state.db.write_gate().await;
            store::claim(&state.db, now_unix(), state.config.outbox.lease_secs).await
        };
        match claimed {
            Ok(Some(message)) => deliver(&state, &state.outbox, message).await,
            Ok(None) => {
                tokio::select! {
                    _ = state.outbox.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox: claiming a message failed");
                tokio::time::sleep(poll).await;
            }
        }
    }
}

async fn deliver(state: &AppState, outbox: &Outbox, message: Claimed) {
    let span = tracing::info_span!(
        "deliver",
        event = %message.event,
        bundle = %message.id,
        referral = %message.referral_id,
        ehr = %message.ehr_id,
        attempt = message.attempts
    );
    deliver_in_span(state, outbox, message).instrument(span).await
}

/// How long one attempt may take, all of its calls (discovery, token, POST) included: well inside
/// its lease, so the lease can never run out while the attempt is still going and another worker
/// take the message at the same time.
pub fn attempt_deadline(lease_secs: u64) -> Duration {
    Duration::from_millis(lease_secs * 750)
}

async fn deliver_in_span(state: &AppState, outbox: &Outbox, message: Claimed) {
    let deadline = attempt_deadline(state.config.outbox.lease_secs);
    let verdict = match tokio::time::timeout(deadline, attempt(state, outbox, &message)).await {
        Ok(v) => v,
        Err(_) => Verdict::Retry {
            reason: format!(
                "the delivery attempt ran past its {} ms deadline (inside its lease)",
                deadline.as_millis()
            ),
        },
    };
    let now = now_unix();
    let (outcome, history) = match &verdict {
        Verdict::Delivered => (Outcome::Delivered, "delivered"),
        Verdict::Retry { reason } => {
            let cfg = &state.config.outbox;
            let jitter: f64 = rand::thread_rng().gen();
            let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
            let delay = retry_delay_secs(attempts, cfg.retry_base_secs, cfg.retry_max_secs, jitter);
            tracing::warn!(%reason, retry_in_secs = delay, "delivery failed; will retry");
            (Outcome::Retry { next_attempt_at: now + delay as i64, reason }, "retry")
        }
        Verdict::Rejected { text } => {
            // The EHR's text can name the patient: it is kept for the clinician, not logged.
            tracing::warn!(text_len = text.len(), "the EHR rejected the message");
            (Outcome::Rejected { text }, "rejected")
        }
    };
    let recorded = {
        let _gate = state.db.write_gate().await;
        store::record(&state.db, &message, now, &outcome, history).await
    };
    match recorded {
        Ok(Recorded::Yes) => {
            if matches!(outcome, Outcome::Delivered) {
                tracing::info!("message delivered");
            }
        }
        Ok(Recorded::YesAndWiped) => {
            tracing::info!(outcome = history, "revoked meanwhile: the message's body is wiped");
            crate::referral::revoke::checkpoint(&state.db).await;
        }
        // Our lease ran out and another holder took over: its result stands, not ours.
        Ok(Recorded::LeaseLost) => tracing::warn!(outcome = history, "lease lost before the result was recorded"),
        // The lease runs out and the message is sent again (same ids): the EHR de-duplicates.
        Err(e) => tracing::error!(error = %e, "recording a delivery result failed"),
    }
}

async fn attempt(state: &AppState, outbox: &Outbox, message: &Claimed) -> Verdict {
    let Some(ehr) = crate::smart::registry::registration_by_id(&state.config, &message.ehr_id) else {
        return Verdict::Retry { reason: format!("EHR {:?} is not registered (any more)", message.ehr_id) };
    };
    let token = match ehr_auth::bearer(&state.smart, &outbox.tokens, ehr).await {
        Ok(t) => t,
        Err(e) => return Verdict::Retry { reason: format!("cannot authenticate to the EHR: {e}") },
    };
    let sent = state
        .smart
        .http
        .post(&message.endpoint)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/fhir+json")
        .header(reqwest::header::ACCEPT, "application/fhir+json")
        .body(message.body.clone())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Verdict::Retry { reason: "the EHR did not answer in time".into() },
        Err(e) if e.is_connect() => return Verdict::Retry { reason: "cannot connect to the EHR".into() },
        Err(e) => return Verdict::Retry { reason: format!("network error: {e}") },
    };
    let status = response.status().as_u16();
    if status == 401 {
        outbox.tokens.forget(&ehr.id);
    }
    match crate::fhir::client::read_limited(response, crate::fhir::client::Expect::MESSAGE_ANSWER.max_bytes).await {
        Ok(body) => crate::messaging::response::classify(status, &body),
        // A 2xx whose body broke off is not proof of delivery: send again (same ids).
        Err(e) => Verdict::Retry { reason: format!("reading the EHR's answer failed (HTTP {status}): {e}") },
    }
}
