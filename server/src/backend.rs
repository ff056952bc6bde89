//! The server side of the UI's [`app::backend::AppBackend`]: what pages may see of a launch.

use crate::{referral::wizard, state::AppState};
use app::{
    backend::{AppBackend, BoxFuture},
    error::AppError,
    wizard_api::{ServiceSearch, WizardView},
};
use axum::http::HeaderMap;

pub struct ServerBackend {
    state: AppState,
}

impl ServerBackend {
    pub fn new(state: AppState) -> Self {
        ServerBackend { state }
    }
}

impl AppBackend for ServerBackend {
    fn wizard_view<'a>(
        &'a self,
        launch: &'a str,
        step: &'a str,
        search: &'a ServiceSearch,
        headers: &'a HeaderMap,
    ) -> BoxFuture<'a, Result<WizardView, AppError>> {
        Box::pin(async move {
            let w = wizard::load(&self.state, launch, headers).await?;
            wizard::view(&self.state, &w, step, search).await
        })
    }

    fn page_csp_template(&self) -> &str {
        self.state.security.page_csp_template()
    }
}
