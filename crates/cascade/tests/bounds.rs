//! Bounded resources through a real `cascade serve` process: connection timeouts (a slowloris
//! client, a client that stops mid-body), the per-source rate limit of password authentication,
//! and the size limit of Nova's `name` regex filter.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT_TIMEOUTS: &str = "[server]\nheader_timeout_secs = 1\nbody_idle_timeout_secs = 1\n";

/// Reads until the server closes the connection (or `limit` passes); returns what was read and
/// whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, SHORT_TIMEOUTS).await;
    let mut s = TcpStream::connect(addr(&c.url)).await.unwrap();
    s.write_all(b"GET /identity HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(
        closed,
        "a client sending half a header line was never cut off"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A well-behaved client is served as before.
    let r = call(Method::GET, &format!("{}/identity", c.url), None, None, &[]).await;
    assert_eq!(r.status, 300);
    drop(c);
    db.cleanup().await;
}

#[tokio::test]
async fn a_stalled_body_is_cut_off() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, SHORT_TIMEOUTS).await;
    let mut s = TcpStream::connect(addr(&c.url)).await.unwrap();
    s.write_all(
        b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"auth\": ",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(
        closed,
        "a client that stopped mid-body was never cut off: {answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(c);
    db.cleanup().await;
}

#[tokio::test]
async fn password_auth_is_rate_limited_per_source() {
    let db = Db::sqlite();
    let c = Cascade::start(
        &db,
        &format!(
            "[identity]\nadmin_password = \"{ADMIN_PASSWORD}\"\nauth_rate_per_sec = 0.05\nauth_burst = 3\n"
        ),
    )
    .await;
    // Successful logins use up nothing (Tempest's workers sign in many users at once) ...
    for _ in 0..6 {
        let (_, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // ... failures do: the burst of three wrong passwords is answered ...
    for _ in 0..3 {
        let (_, r) = token(&c.url, "admin", "wrong", Some("admin")).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // ... and the next try, even with the right password, is refused before any password
    // work, in Keystone's envelope, with when to retry.
    let (_, r) = token(&c.url, "admin", ADMIN_PASSWORD, Some("admin")).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["error"]["code"], 429);
    assert_eq!(r.body["error"]["title"], "Too Many Requests");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // Other identity calls are not limited.
    let r = call(
        Method::GET,
        &format!("{}/identity/v3", c.url),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    drop(c);
    db.cleanup().await;
}

#[tokio::test]
async fn server_name_filters_are_bounded() {
    let db = Db::sqlite();
    let c = Cascade::start(&db, "").await;
    let t = admin_token(&c.url).await;
    let list = |name: String| {
        let url = format!("{}/compute/v2.1/servers/detail", c.url);
        let t = t.clone();
        async move {
            let u = reqwest::Url::parse_with_params(
                &url,
                &[("name", name), ("all_tenants", "1".into())],
            )
            .unwrap();
            call(Method::GET, u.as_str(), Some(&t), None, &[]).await
        }
    };
    let r = list("^web-[0-9]+$".into()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let started = Instant::now();
    let r = list("a".repeat(256)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["badRequest"]["code"], 400, "{}", r.text);
    let r = list("((a{100}){100}){100}".into()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(c);
    db.cleanup().await;
}
