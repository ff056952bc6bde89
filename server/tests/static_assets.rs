//! The compiled front end is served compressed with revalidation headers; unknown paths get the
//! app's 404 page.

use reqwest::header;
use server::{config::Config, startup};
use std::collections::HashMap;
use tokio::net::TcpListener;

#[tokio::test]
async fn pkg_assets_are_compressed_and_revalidated() {
    let dir = std::env::temp_dir().join(format!("erx-static-{}", server::smart::random_token(6)));
    std::fs::create_dir_all(dir.join("site/pkg")).unwrap();
    let css = ".card { padding: 1rem; }\n".repeat(200);
    std::fs::write(dir.join("site/pkg/ereferral.css"), &css).unwrap();

    let app = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("EREFERRAL_LISTEN", app.local_addr().unwrap().to_string()),
        ("EREFERRAL_SANDBOX_PUBLIC_URL", format!("http://{}", sandbox.local_addr().unwrap())),
        ("EREFERRAL_DATA_DIR", dir.join("data").display().to_string()),
    ]);
    let config = Config::from_sources(None, &|k| env.get(k).cloned()).unwrap();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("ereferral")
        .site_root(dir.join("site").display().to_string())
        .build();
    let running = startup::start_on(config, options, app, Some(sandbox)).await.unwrap();
    let base = running.public_url.clone();
    tokio::spawn(running.serve_until(std::future::pending()));

    let http = reqwest::Client::new();
    let r = http
        .get(base.join("/pkg/ereferral.css").unwrap())
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(r.headers()[header::CACHE_CONTROL], "public, no-cache");
    assert!(r.headers().contains_key(header::LAST_MODIFIED));
    assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let compressed = r.bytes().await.unwrap();
    assert!(compressed.len() < css.len() / 4, "{} compressed vs {} raw", compressed.len(), css.len());

    let missing = http.get(base.join("/no/such/page").unwrap()).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    let _ = std::fs::remove_dir_all(dir);
}
