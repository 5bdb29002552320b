//! The SSRF guard against real sockets: a loopback HTTP server plays the
//! user's service, and every refusal is shown to happen before (or instead
//! of) a connection.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect},
    routing::get,
};
use omnimcp::outbound::{Outbound, OutboundError, OutboundPolicy};
use reqwest::Method;

/// A loopback service; `hits` counts the requests it received.
async fn service() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route("/to-ok", get(|| async { Redirect::temporary("/ok") }))
        .route("/to-metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }))
        .route("/to-private", get(|| async { Redirect::temporary("http://10.0.0.1/admin") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/big", get(|| async { "x".repeat(10_000) }))
        .route(
            "/big-chunked",
            get(|| async {
                let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1000]));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/headers",
            get(|headers: HeaderMap| async move {
                headers.get(header::USER_AGENT).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND.into_response() })
        .layer(axum::middleware::from_fn(move |req, next: axum::middleware::Next| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { next.run(req).await }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{}", addr.port()), hits)
}

fn dev_policy() -> OutboundPolicy {
    OutboundPolicy {
        allow_http: true,
        allow_loopback: true,
        timeout: Duration::from_millis(800),
        max_response_bytes: 4096,
        ..Default::default()
    }
}

async fn fetch(client: &Outbound, url: &str) -> Result<omnimcp::outbound::OutboundResponse, OutboundError> {
    client.send(Method::GET, url, HeaderMap::new(), None).await
}

#[tokio::test]
async fn production_policy_refuses_every_internal_target() {
    let (base, hits) = service().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    let strict = Outbound::new(OutboundPolicy::default());
    // Plain http is refused outright.
    assert_eq!(fetch(&strict, &format!("{base}/ok")).await.unwrap_err(), OutboundError::SchemeNotAllowed);
    assert_eq!(strict.validate_url("ftp://example.com/").await.unwrap_err(), OutboundError::SchemeNotAllowed);

    // With http allowed, internal addresses are still refused, by literal or by name.
    let service_port: u16 = port.parse().unwrap();
    let http_only =
        Outbound::new(OutboundPolicy { allow_http: true, allowed_ports: vec![service_port], ..Default::default() });
    let refused = |err: OutboundError| match err {
        OutboundError::ForbiddenAddress { reason, .. } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    for (url, reason) in [
        (format!("http://127.0.0.1:{port}/ok"), "loopback"),
        (format!("http://localhost:{port}/ok"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/ok"), "loopback"),
        (format!("http://[::1]:{port}/ok"), "loopback"),
        ("http://169.254.169.254/latest/meta-data/".to_string(), "cloud metadata"),
        ("http://[fd00:ec2::254]/".to_string(), "cloud metadata"),
        ("http://[::ffff:169.254.169.254]/".to_string(), "cloud metadata"),
        ("http://10.1.2.3/".to_string(), "private"),
        ("http://172.20.0.1/".to_string(), "private"),
        ("http://192.168.1.1/".to_string(), "private"),
        ("http://[fd12::1]/".to_string(), "private"),
        ("http://169.254.1.1/".to_string(), "link-local"),
        ("http://[fe80::1]/".to_string(), "link-local"),
        ("http://100.64.1.1/".to_string(), "shared (CGNAT)"),
        ("http://224.0.0.1/".to_string(), "multicast"),
        ("http://0.0.0.0/".to_string(), "unspecified"),
        ("http://[::]/".to_string(), "unspecified"),
    ] {
        assert_eq!(refused(fetch(&http_only, &url).await.unwrap_err()), reason, "{url}");
        assert_eq!(refused(http_only.validate_url(&url).await.unwrap_err()), reason, "validate {url}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no refused request reached the service");

    assert_eq!(strict.validate_url("https://user:pw@example.com/").await.unwrap_err(), OutboundError::CredentialsInUrl);
    // Ports: 80 and 443, and those the policy adds.
    assert_eq!(strict.validate_url("https://example.com:22/").await.unwrap_err(), OutboundError::PortNotAllowed(22));
    assert_eq!(
        http_only.validate_url("http://example.com:6379/").await.unwrap_err(),
        OutboundError::PortNotAllowed(6379)
    );
    // IPv6 forms that carry or tunnel to an internal address.
    for url in
        ["http://[2002:7f00:1::1]/", "http://[2001:0:4136:e378::1]/", "http://[64:ff9b:1::a00:1]/", "http://[fec0::1]/"]
    {
        assert!(
            matches!(http_only.validate_url(url).await.unwrap_err(), OutboundError::ForbiddenAddress { .. }),
            "{url}"
        );
    }
    // A refusal names the host, never what it resolves to.
    let err = http_only.validate_url(&format!("http://localhost:{port}/")).await.unwrap_err().to_string();
    assert!(err.contains("localhost") && !err.contains("127.0.0.1"), "{err}");
    assert!(matches!(strict.validate_url("not a url").await.unwrap_err(), OutboundError::InvalidUrl(_)));
}

#[tokio::test]
async fn allowed_loopback_works_and_redirects_are_rechecked() {
    let (base, hits) = service().await;
    let client = Outbound::new(dev_policy());
    let ok = fetch(&client, &format!("{base}/ok")).await.unwrap();
    assert_eq!((ok.status.as_u16(), ok.body.as_slice()), (200, b"hello".as_slice()));
    let ua = fetch(&client, &format!("{base}/headers")).await.unwrap();
    assert!(String::from_utf8(ua.body).unwrap().starts_with("OmniMCP/"));

    // A redirect to an allowed address is followed...
    let followed = fetch(&client, &format!("{base}/to-ok")).await.unwrap();
    assert_eq!(followed.body, b"hello");
    // ...a redirect to a forbidden one is refused, by literal and by name.
    let before = hits.load(Ordering::SeqCst);
    for (path, reason) in [("/to-metadata", "cloud metadata"), ("/to-private", "private")] {
        match fetch(&client, &format!("{base}{path}")).await.unwrap_err() {
            OutboundError::ForbiddenAddress { reason: r, .. } => assert_eq!(r, reason),
            other => panic!("{path}: {other:?}"),
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), before + 2, "only the redirecting requests arrived");
    assert_eq!(fetch(&client, &format!("{base}/loop")).await.unwrap_err(), OutboundError::TooManyRedirects);
}

#[tokio::test]
async fn size_and_time_limits() {
    let (base, _) = service().await;
    let client = Outbound::new(dev_policy());
    assert_eq!(fetch(&client, &format!("{base}/big")).await.unwrap_err(), OutboundError::TooLarge { limit: 4096 });
    assert_eq!(
        fetch(&client, &format!("{base}/big-chunked")).await.unwrap_err(),
        OutboundError::TooLarge { limit: 4096 }
    );
    assert_eq!(
        fetch(&client, &format!("{base}/slow")).await.unwrap_err(),
        OutboundError::Timeout(Duration::from_millis(800))
    );
}
