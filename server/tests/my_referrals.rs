//! "My referrals": a standalone launch (the EHR signs the practitioner in, no patient) lists the
//! referrals that practitioner sent, across patients, and nobody else's.

mod common;

use common::*;
use reqwest::StatusCode;

async fn submit(env: &TestEnv, patient: &str, user: &str) -> String {
    let (l, _) = launched(env, launch_request(patient, user)).await;
    fill_valid_referral(env, &l).await;
    l.post_see_other(env, "/do/submit", &[]).await;
    server::sql_scalar!(&env.state.db, "SELECT r.referral_number FROM referrals r JOIN referral_events e ON e.referral_id = r.id AND e.kind = 'submitted' ORDER BY e.seq DESC LIMIT 1")
        .unwrap()
}

#[tokio::test]
async fn a_standalone_sign_in_shows_my_referrals_across_patients_only() {
    let env = start().await;
    let mine_1 = submit(&env, "pat-1", "Practitioner/prac-1").await;
    let mine_2 = submit(&env, "pat-2", "Practitioner/prac-1").await;
    let theirs = submit(&env, "pat-3", "Practitioner/prac-2").await;

    // /my starts a standalone launch at the only registered EHR; its sandbox signs in prac-1.
    let mut jar = Jar::default();
    let (hops, response) = follow(&env, &mut jar, env.app_url.join("my").unwrap()).await;
    let authorize = hops.iter().find(|h| h.url.path() == "/auth/authorize").expect("went to the EHR's authorize");
    let params: std::collections::HashMap<_, _> = authorize.url.query_pairs().into_owned().collect();
    assert!(!params.contains_key("launch"), "a standalone launch has no launch parameter");
    assert!(!params["scope"].split(' ').any(|s| s == "launch" || s.starts_with("patient/")), "{}", params["scope"]);
    let session = response.url().path().to_string();
    assert!(session.starts_with("/me/"), "{session}");
    let body = response.text().await.unwrap();
    assert!(body.contains(&mine_1) && body.contains(&mine_2), "{body}");
    assert!(body.contains("Amelia Jeanne Tremblay") && body.contains("Zoë Ndiaye-Côté"));
    assert!(!body.contains(&theirs), "another practitioner's referral is not listed");

    // The detail of one of mine, and not of theirs; never without the browser's cookie.
    let id: String =
        server::sql_scalar!(&env.state.db, "SELECT id FROM referrals WHERE referral_number = $1", &mine_2).unwrap();
    let their_id: String =
        server::sql_scalar!(&env.state.db, "SELECT id FROM referrals WHERE referral_number = $1", &theirs).unwrap();
    let get = |path: String, with_cookie: bool| {
        let env = &env;
        let cookie = jar.header();
        async move {
            let mut r = env.http.get(env.app_url.join(&path).unwrap());
            if with_cookie {
                r = r.header("cookie", cookie);
            }
            let r = r.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (status, page) = get(format!("{session}/referrals/{id}"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Prediabetes, HbA1c 6.2%") && page.contains("data-testid=\"timeline-event\""));
    let (status, page) = get(format!("{session}/referrals/{their_id}"), true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Łukasz"));
    assert_eq!(get(session.clone(), false).await.0, StatusCode::GONE);
}
