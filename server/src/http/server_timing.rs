//! `Server-Timing` for the launch endpoints: how long we spent ourselves (`app`) and waiting on
//! the EHR (`ehr`). Operators see it in browser dev tools; the launch benchmark reads it to
//! report server time with EHR time excluded. It carries durations only, nothing about the patient.

use axum::http::{HeaderName, HeaderValue};
use std::{
    future::Future,
    time::{Duration, Instant},
};

pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

pub struct Stopwatch {
    started: Instant,
    ehr: Duration,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Stopwatch {
    pub fn new() -> Self {
        Stopwatch { started: Instant::now(), ehr: Duration::ZERO }
    }

    /// Awaits `f`, counting its wall time as time spent on the EHR.
    pub async fn ehr<F: Future>(&mut self, f: F) -> F::Output {
        let t = Instant::now();
        let out = f.await;
        self.ehr += t.elapsed();
        out
    }

    pub fn header(&self) -> (HeaderName, HeaderValue) {
        let total = self.started.elapsed();
        let app = total.saturating_sub(self.ehr);
        let value = format!("app;dur={:.3}, ehr;dur={:.3}", ms(app), ms(self.ehr));
        (SERVER_TIMING, HeaderValue::from_str(&value).expect("ASCII"))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Parses `app` and `ehr` (milliseconds) back out of a header value.
pub fn parse(value: &str) -> Option<(f64, f64)> {
    let mut app = None;
    let mut ehr = None;
    for part in value.split(',') {
        let (name, rest) = part.trim().split_once(";dur=")?;
        let v: f64 = rest.trim().parse().ok()?;
        match name {
            "app" => app = Some(v),
            "ehr" => ehr = Some(v),
            _ => {}
        }
    }
    Some((app?, ehr?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ehr_time_is_excluded_from_app_time() {
        let mut sw = Stopwatch::new();
        sw.ehr(tokio::time::sleep(Duration::from_millis(20))).await;
        let (_, value) = sw.header();
        let (app, ehr) = parse(value.to_str().unwrap()).unwrap();
        assert!(ehr >= 20.0, "{ehr}");
        assert!(app < ehr, "{app} vs {ehr}");
    }
}
