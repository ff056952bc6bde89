//! Many page loads at once, on the multi-threaded runtime the binary uses, must all finish
//! streaming: a stalled body is reported with what arrived, instead of hanging the suite.
mod common;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_page_loads_all_finish() {
    let env = start().await;
    let (first, session, jar, _) = launch(&env, launch_request("pat-1", "Practitioner/prac-1")).await;
    first.text().await.unwrap();
    let url = env.app_url.join(&session.unwrap()).unwrap();
    for round in 0..25 {
        let loads: Vec<_> = (0..8)
            .map(|_| {
                let request = env.http.get(url.clone()).header("cookie", jar.header());
                tokio::spawn(async move {
                    let mut response = request.send().await.map_err(|e| e.to_string())?;
                    let mut body = Vec::new();
                    loop {
                        match tokio::time::timeout(Duration::from_secs(10), response.chunk()).await {
                            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                            Ok(Ok(None)) => return Ok(String::from_utf8_lossy(&body).into_owned()),
                            Ok(Err(e)) => return Err(e.to_string()),
                            Err(_) => return Err(format!("stalled after:\n{}", String::from_utf8_lossy(&body))),
                        }
                    }
                })
            })
            .collect();
        for load in loads {
            let body = load.await.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(body.contains("Amelia"), "round {round}: the page names the patient");
        }
    }
}
