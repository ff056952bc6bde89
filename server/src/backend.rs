//! The server side of the UI's [`app::backend::AppBackend`]: what pages may see of a launch.

use crate::{
    fhir::display::{patient_banner, preferred_name},
    session::{binding, store},
    smart::{now_unix, registry},
    state::AppState,
};
use app::{
    api::LaunchView,
    backend::{AppBackend, BoxFuture},
    error::AppError,
};
use axum::http::HeaderMap;

pub struct ServerBackend {
    state: AppState,
}

impl ServerBackend {
    pub fn new(state: AppState) -> Self {
        ServerBackend { state }
    }

    /// The session `id` if this browser may use it (see [`binding::check`]).
    async fn authorised_session(&self, id: &str, headers: &HeaderMap) -> Result<store::SessionRow, AppError> {
        if id.len() != 43 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AppError::LaunchUnavailable);
        }
        let row = store::get(&self.state.db, id, now_unix())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "session lookup failed");
                AppError::Internal
            })?
            .ok_or(AppError::LaunchUnavailable)?;
        let presented = binding::presented_secret(headers, id);
        match binding::check(&row.binding_hash, row.cookie_bound, presented.as_deref()) {
            binding::BindingCheck::Bound | binding::BindingCheck::Cookieless => Ok(row),
            binding::BindingCheck::FirstBound => {
                store::mark_cookie_bound(&self.state.db, id).await.map_err(|e| {
                    tracing::error!(error = %e, "marking session cookie-bound failed");
                    AppError::Internal
                })?;
                Ok(row)
            }
            binding::BindingCheck::Refused => {
                tracing::warn!(session = %&id[..8], "session refused: browser binding cookie missing or wrong");
                Err(AppError::LaunchUnavailable)
            }
        }
    }
}

impl AppBackend for ServerBackend {
    fn launch_view<'a>(
        &'a self,
        launch: &'a str,
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Result<LaunchView, AppError>> {
        Box::pin(async move {
            let row = self.authorised_session(launch, headers).await?;
            let corrupt = |e: store::SessionError| {
                tracing::error!(error = %e, "stored session unreadable");
                AppError::Internal
            };
            let context = row.context().map_err(corrupt)?;
            let patient = row.patient().map_err(corrupt)?;
            let user = row.user().map_err(corrupt)?;
            let mut signed_in_as = preferred_name(&user.practitioner).unwrap_or_else(|| "Unnamed practitioner".into());
            if let Some(role) = user.role.as_ref().and_then(|r| {
                r.pointer("/code/0/text").or_else(|| r.pointer("/code/0/coding/0/display")).and_then(|v| v.as_str())
            }) {
                signed_in_as = format!("{signed_in_as} ({role})");
            }
            let ehr_name = registry::registration_by_id(&self.state.config, &row.ehr_id)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| row.ehr_id.clone());
            Ok(LaunchView {
                ehr_name,
                patient: patient_banner(&patient),
                show_patient_banner: context.need_patient_banner,
                signed_in_as,
            })
        })
    }

    fn page_csp_template(&self) -> &str {
        self.state.security.page_csp_template()
    }
}
