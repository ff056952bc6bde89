//! Where a referral's notification to the EHR stands, as its clinician sees it.

use crate::{state::AppState, store::outbox as store};
use app::wizard_api::DeliveryView;
use std::time::{Duration, Instant};

/// The delivery of `service_request_id`'s `notify-add-service-request`. With `wait`, gives the
/// first attempt up to `outbox.confirm_wait_millis` to finish, so the confirmation page usually
/// says "delivered" straight away.
pub async fn delivery_view(
    state: &AppState,
    service_request_id: &str,
    wait: bool,
) -> Result<DeliveryView, sqlx::Error> {
    let deadline =
        Instant::now() + Duration::from_millis(if wait { state.config.outbox.confirm_wait_millis } else { 0 });
    loop {
        let row = store::delivery(&state.db, service_request_id, super::submit::NOTIFY_ADD_EVENT).await?;
        let view = view_of(row.as_ref());
        if view != (DeliveryView::Retrying { attempts: 0 }) || Instant::now() >= deadline {
            return Ok(view);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pure mapping from the outbox row. A pending message whose attempts have not failed yet is
/// "being delivered" (`attempts: 0`).
pub fn view_of(row: Option<&store::Delivery>) -> DeliveryView {
    match row {
        Some(d) if d.status == "delivered" => DeliveryView::Delivered,
        Some(d) if d.status == "rejected" => {
            DeliveryView::Rejected { reason: d.rejection.clone().unwrap_or_else(|| "no reason was given".to_string()) }
        }
        Some(d) if d.last_error.is_some() => DeliveryView::Retrying { attempts: d.attempts },
        _ => DeliveryView::Retrying { attempts: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, attempts: i64, last_error: Option<&str>, rejection: Option<&str>) -> store::Delivery {
        store::Delivery {
            status: status.into(),
            attempts,
            next_attempt_at: 0,
            last_error: last_error.map(Into::into),
            rejection: rejection.map(Into::into),
            delivered_at: None,
        }
    }

    #[test]
    fn rows_map_to_what_the_clinician_reads() {
        assert_eq!(view_of(Some(&row("delivered", 3, Some("HTTP 500"), None))), DeliveryView::Delivered);
        assert_eq!(
            view_of(Some(&row("rejected", 1, None, Some("Patient not found")))),
            DeliveryView::Rejected { reason: "Patient not found".into() }
        );
        assert_eq!(view_of(Some(&row("pending", 1, None, None))), DeliveryView::Retrying { attempts: 0 });
        assert_eq!(view_of(Some(&row("pending", 2, Some("HTTP 503"), None))), DeliveryView::Retrying { attempts: 2 });
        assert_eq!(view_of(None), DeliveryView::Retrying { attempts: 0 });
        assert!(DeliveryView::Rejected { reason: "No such patient".into() }
            .sentence("General EHR")
            .contains("No such patient"));
    }
}
