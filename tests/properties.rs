//! Property tests (proptest) for the parsers and guards that take hostile
//! input: the URI-template matcher against a reference implementation, the
//! public name and URI mappings, the outbound URL guard on every textual
//! form of an internal address, the calculator's parser, JSON-RPC bodies
//! at `/mcp` and installation configs, the last two against the real server.
//! Case counts are set per test; `PROPTEST_CASES` raises them all.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{Backend, TestServer};
use omnimcp::{
    gateway::names::{parse_public_uri, public_name, public_uri},
    official::expr::evaluate,
    outbound::{Outbound, OutboundPolicy},
    uri_template,
};
use proptest::{prelude::*, test_runner::TestRunner};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---- URI templates ---------------------------------------------------------

/// A template piece, as the reference matcher sees it.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    /// `{x}`: one or more characters other than `/`, `?`, `#`.
    Simple,
    /// An operator expression (`{+x}`, `{?a,b}`, ...): any text, even none.
    Any(&'static str),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        "[a-c/?#.:=-]{1,4}".prop_map(Piece::Literal),
        Just(Piece::Simple),
        prop_oneof![Just("{+x}"), Just("{#x}"), Just("{/x}"), Just("{?a,b}"), Just("{.x}"), Just("{;x}")]
            .prop_map(Piece::Any),
    ]
}

fn render(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(l) => l.clone(),
            Piece::Simple => "{x}".into(),
            Piece::Any(e) => e.to_string(),
        })
        .collect()
}

/// The obvious backtracking matcher: exponential, fine for small inputs.
fn reference(pieces: &[Piece], uri: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else { return uri.is_empty() };
    match first {
        Piece::Literal(l) => uri.strip_prefix(l.as_str()).is_some_and(|u| reference(rest, u)),
        Piece::Simple => {
            let run = uri.find(['/', '?', '#']).unwrap_or(uri.len());
            (1..=run).any(|n| reference(rest, &uri[n..]))
        }
        Piece::Any(_) => (0..=uri.len()).filter(|&n| uri.is_char_boundary(n)).any(|n| reference(rest, &uri[n..])),
    }
}

/// A URI expanded from the pieces (values drawn from `values`), so that
/// matches are common; random URIs cover the rest.
fn expansion(pieces: &[Piece], values: &[String]) -> String {
    let mut values = values.iter().cycle();
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(l) => l.clone(),
            Piece::Simple | Piece::Any(_) => values.next().cloned().unwrap_or_default(),
        })
        .collect()
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn the_template_matcher_agrees_with_the_reference(
        pieces in prop::collection::vec(piece(), 0..7),
        values in prop::collection::vec("[a-c/?#.=]{0,3}", 1..4),
        random in "[a-c/?#.:=-]{0,16}",
    ) {
        let template = render(&pieces);
        prop_assert!(uri_template::is_valid(&template), "{template}");
        for uri in [expansion(&pieces, &values), random] {
            prop_assert_eq!(
                uri_template::matches(&template, &uri),
                reference(&pieces, &uri),
                "template {:?}, uri {:?}", template, uri
            );
        }
    }

    #[test]
    fn hostile_templates_are_refused_or_matched_cheaply(template in ".{0,600}", uri in ".{0,200}") {
        // Never a panic; anything accepted is within the caps.
        if uri_template::is_valid(&template) {
            prop_assert!(template.len() <= uri_template::MAX_TEMPLATE);
            let _ = uri_template::matches(&template, &uri);
        }
    }
}

// ---- public names and URIs --------------------------------------------------

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn public_uris_round_trip(slug in "[a-z0-9][a-z0-9-]{0,30}", uri in ".{0,80}") {
        let public = public_uri(&slug, &uri);
        prop_assert!(public.is_ascii(), "{public}");
        prop_assert_eq!(parse_public_uri(&public), Some((slug.as_str(), uri.clone())));
    }

    #[test]
    fn public_names_fit_and_do_not_collide(
        slug in "[a-z0-9][a-z0-9-]{0,40}",
        a in "[A-Za-z0-9_-]{1,64}",
        b in "[A-Za-z0-9_-]{1,64}",
    ) {
        let (pa, pb) = (public_name(&slug, &a), public_name(&slug, &b));
        prop_assert!(pa.len() <= 64 && pa.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)), "{pa}");
        prop_assert_eq!(pa == pb, a == b, "{} and {} share {}", a, b, pa);
        if slug.len() + 1 + a.len() <= 64 {
            prop_assert_eq!(pa, format!("{slug}.{a}"));
        }
    }
}

// ---- the outbound guard -----------------------------------------------------

/// An address the guard must refuse: loopback, private, link-local (the
/// cloud metadata service), CGNAT, "this network", multicast, broadcast.
fn internal_v4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(127, a, b, c)),
        any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(10, a, b, c)),
        (16u8..32, any::<[u8; 2]>()).prop_map(|(a, [b, c])| Ipv4Addr::new(172, a, b, c)),
        any::<[u8; 2]>().prop_map(|[b, c]| Ipv4Addr::new(192, 168, b, c)),
        any::<[u8; 2]>().prop_map(|[b, c]| Ipv4Addr::new(169, 254, b, c)),
        (64u8..128, any::<[u8; 2]>()).prop_map(|(a, [b, c])| Ipv4Addr::new(100, a, b, c)),
        any::<[u8; 3]>().prop_map(|[a, b, c]| Ipv4Addr::new(0, a, b, c)),
        (224u8..=255, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d)),
    ]
}

/// Every way a URL's host can spell an IPv4 address, as the URL parser
/// (WHATWG rules, like browsers) reads them: dotted, one number in
/// decimal, hex or octal, shortened forms, and IPv6 wrappings (mapped,
/// NAT64, 6to4).
fn spellings(v4: Ipv4Addr) -> Vec<String> {
    let [a, b, c, d] = v4.octets();
    let n = u32::from(v4);
    let mapped = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, (n >> 16) as u16, n as u16);
    let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, (n >> 16) as u16, n as u16);
    let six_to_four = Ipv6Addr::new(0x2002, (n >> 16) as u16, n as u16, 0, 0, 0, 0, 1);
    vec![
        format!("{a}.{b}.{c}.{d}"),
        format!("{n}"),
        format!("0x{n:x}"),
        format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        format!("{a}.{}", (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)),
        format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
        format!("[::ffff:{a}.{b}.{c}.{d}]"),
        format!("[::{a}.{b}.{c}.{d}]"),
        format!("[::ffff:0:{a}.{b}.{c}.{d}]"),
        format!("[{mapped}]"),
        format!("[{nat64}]"),
        format!("[{six_to_four}]"),
    ]
}

fn internal_v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        Just(Ipv6Addr::LOCALHOST),
        Just(Ipv6Addr::UNSPECIFIED),
        any::<[u16; 7]>().prop_map(|s| Ipv6Addr::new(0xfc00 | (s[0] & 0x1ff), s[1], s[2], s[3], s[4], s[5], s[6], 1)),
        any::<[u16; 4]>().prop_map(|s| Ipv6Addr::new(0xfe80, 0, 0, 0, s[0], s[1], s[2], s[3])),
        any::<[u16; 4]>().prop_map(|s| Ipv6Addr::new(0xfec0, s[0], 0, 0, s[1], s[2], s[3], 1)),
        any::<[u16; 4]>().prop_map(|s| Ipv6Addr::new(0xff00 | (s[0] & 0xff), s[1], 0, 0, s[2], s[3], 0, 1)),
        any::<[u16; 4]>().prop_map(|s| Ipv6Addr::new(0x2001, 0, s[0], s[1], s[2], s[3], 0, 1)),
        any::<[u16; 2]>().prop_map(|s| Ipv6Addr::new(0x100, 0, 0, 0, s[0], s[1], 0, 1)),
    ]
}

#[test]
fn every_spelling_of_an_internal_address_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let guard = Outbound::new(OutboundPolicy::default());
    let mut runner = TestRunner::new(cases(500));
    runner
        .run(&internal_v4(), |v4| {
            for host in spellings(v4) {
                for url in [format!("https://{host}/"), format!("https://{host}:443/x")] {
                    let parsed = reqwest::Url::parse(&url);
                    // A spelling the URL parser rejects cannot be used either.
                    if parsed.is_err() {
                        continue;
                    }
                    let refused = rt.block_on(guard.validate_url(&url)).is_err();
                    prop_assert!(refused, "{url} (for {v4}) was allowed");
                }
            }
            Ok(())
        })
        .unwrap();
    runner
        .run(&internal_v6(), |v6| {
            let url = format!("https://[{v6}]/");
            prop_assert!(rt.block_on(guard.validate_url(&url)).is_err(), "{url} was allowed");
            prop_assert!(omnimcp::outbound::classify(IpAddr::V6(v6)).is_some(), "{v6} is not classified");
            Ok(())
        })
        .unwrap();
}

// ---- the calculator ---------------------------------------------------------

/// An integer expression and its value, computed independently.
fn int_expr() -> impl Strategy<Value = (String, i128)> {
    let leaf = (-50i64..50)
        .prop_map(|n| if n < 0 { (format!("({n})"), i128::from(n)) } else { (n.to_string(), i128::from(n)) });
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|((a, x), (b, y))| (format!("{a} + {b}"), x + y)),
            (inner.clone(), inner.clone()).prop_map(|((a, x), (b, y))| (format!("{a} - ({b})"), x - y)),
            (inner.clone(), inner.clone()).prop_map(|((a, x), (b, y))| (format!("({a}) * ({b})"), x * y)),
            inner.prop_map(|(a, x)| (format!("-({a})"), -x)),
        ]
    })
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn the_calculator_never_panics(input in ".{0,300}") {
        let _ = evaluate(&input);
    }

    #[test]
    fn the_calculator_never_panics_on_its_own_alphabet(input in "[0-9.+*/%^() e-]{0,60}|[a-z0-9(),. ]{0,40}") {
        let _ = evaluate(&input);
    }

    #[test]
    fn integer_arithmetic_is_exact((expr, value) in int_expr()) {
        prop_assert_eq!(evaluate(&expr), Ok(Decimal::from_i128_with_scale(value, 0)), "{}", expr);
    }
}

// ---- the real server: /mcp bodies and installation configs -----------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON-RPC-shaped message with random parts: methods the gateway knows
/// and does not, ids of every type, params of any shape.
fn rpc_message() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        Just("tools/call"),
        Just("tools/list"),
        Just("resources/read"),
        Just("resources/templates/list"),
        Just("prompts/get"),
        Just("completion/complete"),
        Just("initialize"),
        Just("ping"),
        Just("notifications/initialized"),
        Just("subscriptions/listen"),
        Just("server/discover"),
        Just("nope/nothing"),
    ];
    (
        method,
        json_value(),
        prop_oneof![Just(json!(1)), Just(json!("a")), Just(Value::Null), json_value()],
        any::<bool>(),
    )
        .prop_map(|(method, params, id, with_id)| {
            let mut m = json!({"jsonrpc": "2.0", "method": method, "params": params});
            if with_id {
                m["id"] = id;
            }
            m
        })
}

#[test]
fn any_body_at_mcp_gets_a_clear_answer_never_a_server_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, key) = rt.block_on(async {
        let s = TestServer::start_on_with(Backend::Sqlite, &[]).await.unwrap();
        let token = s.register("fuzz@example.com", "correct horse battery").await;
        let calc = s.state.db.server_by_slug("calculator").await.unwrap().unwrap();
        s.post_json("/api/installations", json!({"serverId": calc.id}), Some(&token)).await;
        // A plan whose budgets a few hundred requests cannot exhaust.
        let user = s.state.db.user_by_email("fuzz@example.com").await.unwrap().unwrap();
        s.state.db.update_user(user.id, None, Some("enterprise")).await.unwrap();
        let key = s.create_key(&token, "fuzz").await.1;
        (s, key)
    });
    let post = |body: Vec<u8>, version: &'static str| {
        let request = s
            .client
            .post(s.at("/mcp"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .body(body);
        rt.block_on(async move {
            let res = request.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap())
        })
    };
    let mut runner = TestRunner::new(cases(300));
    let strategy = (
        prop_oneof![
            rpc_message().prop_map(|m| m.to_string().into_bytes()),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..200),
        ],
        prop_oneof![Just("2025-11-25"), Just("2026-07-28"), Just("1999-01-01")],
    );
    runner
        .run(&strategy, |(body, version)| {
            let (status, text) = post(body.clone(), version);
            prop_assert!(status < 500, "{status} for {:?}: {text}", String::from_utf8_lossy(&body));
            if !text.is_empty() {
                let answer = common::rpc::message(&text);
                prop_assert!(answer.get("raw").is_none(), "not JSON: {text}");
            }
            Ok(())
        })
        .unwrap();
    rt.block_on(s.stop());
}

#[test]
fn any_installation_config_is_checked_without_echoing_secrets() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, token, github) = rt.block_on(async {
        let s = TestServer::start_on_with(Backend::Sqlite, &[]).await.unwrap();
        let token = s.register("cfg@example.com", "correct horse battery").await;
        let github = s.state.db.server_by_slug("github").await.unwrap().unwrap().id;
        (s, token, github)
    });
    let mut runner = TestRunner::new(cases(200));
    let strategy = (json_value(), "secret_[a-z]{8}");
    runner
        .run(&strategy, |(mut config, secret)| {
            // Plant the secret somewhere in what is sent.
            if let Value::Object(m) = &mut config {
                m.insert("token".into(), json!(secret));
            }
            let (status, text) = rt.block_on(async {
                let res = s
                    .post_json("/api/installations", json!({"serverId": github, "config": config}), Some(&token))
                    .await;
                (res.status().as_u16(), res.text().await.unwrap())
            });
            prop_assert!(status < 500, "{status}: {text}");
            prop_assert!(!text.contains(&secret), "the secret came back: {text}");
            if status == 201 {
                // Installed: remove it for the next case.
                let id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
                rt.block_on(s.client.delete(s.at(&format!("/api/installations/{id}"))).bearer_auth(&token).send())
                    .unwrap();
            }
            Ok(())
        })
        .unwrap();
    rt.block_on(s.stop());
}
