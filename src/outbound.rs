//! Outbound HTTP to user-supplied URLs (developer callbacks, remote MCP
//! servers, builder tools), guarded against server-side request forgery.
//!
//! Every request goes through one [`Outbound`] client, which enforces:
//!
//! - **Scheme**: `https` only, unless configuration allows `http`.
//! - **Addresses, after DNS**: loopback, private (RFC 1918, IPv6 ULA),
//!   link-local, CGNAT, multicast, unspecified, reserved and documentation
//!   ranges and cloud metadata addresses (169.254.169.254, fd00:ec2::254)
//!   are refused, including in every IPv6 form that carries an IPv4
//!   address (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4
//!   `2002::/16`), and the IPv6 tunnel and local ranges (Teredo
//!   `2001::/32`, local NAT64 `64:ff9b:1::/48`, site-local `fec0::/10`,
//!   discard `100::/64`). Loopback and private ranges can be allowed by
//!   configuration (development, tests).
//! - **Ports**: 80 and 443, and those configuration adds
//!   (`--outbound-allow-port`); any port where loopback is allowed
//!   (development, tests).
//! - **No DNS rebinding**: names are resolved by our own resolver, which
//!   checks the addresses and hands the connector exactly those, so the
//!   connection goes to an address that was checked; there is no second
//!   lookup. Literal IP hosts are checked before the request is sent.
//! - **Redirects**: at most three, each target re-checked (scheme and
//!   literal addresses here, names again in the resolver).
//! - **Limits**: a total timeout and a cap on the response body size.
//! - **No proxies** from the environment: the connection goes where it was
//!   checked to go.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    Method, StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header::HeaderMap,
};

/// What outbound requests may reach.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Allow plain `http://` URLs (development only).
    pub allow_http: bool,
    /// Allow loopback addresses (development and tests).
    pub allow_loopback: bool,
    /// Allow private ranges (RFC 1918, IPv6 unique-local): for deployments
    /// whose developers' services live on the same private network.
    pub allow_private: bool,
    /// Total time for one request, connection included.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Ports allowed besides 80 and 443.
    pub allowed_ports: Vec<u16>,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_loopback: false,
            allow_private: false,
            timeout: Duration::from_secs(10),
            max_response_bytes: 4 * 1024 * 1024,
            allowed_ports: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("the URL must use https")]
    SchemeNotAllowed,
    #[error("URLs with embedded credentials are not allowed")]
    CredentialsInUrl,
    #[error("could not resolve {0}")]
    Resolve(String),
    /// The address itself is not shown: it would tell the caller what an
    /// internal name resolves to.
    #[error("{host} resolves to a {reason} address, which is not allowed")]
    ForbiddenAddress { host: String, addr: IpAddr, reason: &'static str },
    #[error("port {0} is not allowed (80 and 443 are; see --outbound-allow-port)")]
    PortNotAllowed(u16),
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("the request failed: {0}")]
    Failed(String),
}

/// Why an address may not be reached, or `None` when it is public. The
/// categories `loopback` and `private` can be allowed by policy; the rest
/// never can.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata",
        _ if a == 0 => "unspecified",
        _ if a == 127 => "loopback",
        _ if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) => "private",
        _ if a == 169 && b == 254 => "link-local",
        _ if a == 100 && (64..=127).contains(&b) => "shared (CGNAT)",
        _ if (224..=239).contains(&a) => "multicast",
        _ if a >= 240 => "reserved",
        _ if (a == 192 && b == 0 && c == 0) || (a == 198 && (18..=19).contains(&b)) => "reserved",
        _ if (a == 192 && b == 0 && c == 2)
            || (a == 198 && b == 51 && c == 100)
            || (a == 203 && b == 0 && c == 113) =>
        {
            "documentation"
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("cloud metadata");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses
    // reach IPv4 hosts: judge the IPv4 address they carry.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let v4 = |hi: u16, lo: u16| {
        let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
        Ipv4Addr::new(a, b, c, d)
    };
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return classify_v4(v4(s[6], s[7]));
    }
    // 6to4 carries an IPv4 address in its second and third groups: one that
    // is public is a public tunnel endpoint; anything else is refused.
    if s[0] == 0x2002 {
        return classify_v4(v4(s[1], s[2])).map(|_| "6to4 (private IPv4 inside)");
    }
    Some(match s[0] {
        0 => "reserved", // IPv4-compatible and other ::/8 forms
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local NAT64",
        0x100 if s[1..4] == [0, 0, 0] => "discard-only",
        0x2001 if s[1] == 0 => "Teredo tunnel",
        x if x & 0xfe00 == 0xfc00 => "private",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

impl OutboundPolicy {
    /// `Err` with the reason when the policy refuses this address.
    fn check_ip(&self, host: &str, addr: IpAddr) -> Result<(), OutboundError> {
        match classify(addr) {
            None => Ok(()),
            Some("loopback") if self.allow_loopback => Ok(()),
            Some("private") if self.allow_private => Ok(()),
            Some(reason) => Err(OutboundError::ForbiddenAddress { host: host.to_string(), addr, reason }),
        }
    }

    /// Checks what can be checked without DNS: scheme, credentials, and a
    /// literal IP host.
    fn check_url(&self, url: &reqwest::Url) -> Result<(), OutboundError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(OutboundError::SchemeNotAllowed),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::CredentialsInUrl);
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip))?,
            Some(url::Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), IpAddr::V6(ip))?,
            Some(url::Host::Domain(_)) => {}
            None => return Err(OutboundError::InvalidUrl("the URL has no host".into())),
        }
        let port = url.port_or_known_default().unwrap_or(0);
        if !(matches!(port, 80 | 443) || self.allowed_ports.contains(&port) || self.allow_loopback) {
            return Err(OutboundError::PortNotAllowed(port));
        }
        Ok(())
    }
}

/// The resolver the client uses: resolves, refuses the whole name if any
/// address is forbidden (a name that mixes public and private records is
/// suspect), and returns the checked addresses for the connector to use.
struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| OutboundError::Resolve(host.clone()))?
                .collect();
            if addrs.is_empty() {
                return Err(OutboundError::Resolve(host).into());
            }
            for addr in &addrs {
                policy.check_ip(&host, addr.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A response read within the limits.
#[derive(Debug)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The guarded client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    policy: Arc<OutboundPolicy>,
    client: reqwest::Client,
    /// The same client, but a redirect is returned as it is, never
    /// followed: for requests carrying a secret that must reach only the
    /// host it was meant for.
    no_redirects: reqwest::Client,
    /// The same client without the total time limit, for MCP sessions:
    /// their SSE streams last as long as a call (or the session), and each
    /// call has a deadline of its own (see `upstream::CallLimits`).
    streams: reqwest::Client,
}

const MAX_REDIRECTS: usize = 3;

impl Outbound {
    pub fn new(policy: OutboundPolicy) -> Self {
        let policy = Arc::new(policy);
        let redirect_policy = || {
            let policy = policy.clone();
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(OutboundError::TooManyRedirects);
                }
                match policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            })
        };
        let builder = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
                .redirect(redirects)
                .no_proxy()
                .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("OmniMCP/", env!("CARGO_PKG_VERSION")))
        };
        let built = |b: reqwest::ClientBuilder| b.build().expect("the outbound HTTP client configuration is valid");
        let client = built(builder(redirect_policy()).timeout(policy.timeout));
        let no_redirects = built(builder(reqwest::redirect::Policy::none()).timeout(policy.timeout));
        // A stream that goes quiet is told apart from a dead peer by TCP
        // keep-alive, not by a read timeout: an idle session's stream is
        // normal.
        let streams = built(builder(redirect_policy()).tcp_keepalive(Duration::from_secs(30)));
        Self { policy, client, no_redirects, streams }
    }

    /// The guarded HTTP client itself, for protocol clients (rmcp's
    /// Streamable HTTP transport) that drive requests on their own. Its
    /// resolver, redirect policy and timeouts apply; the response size cap
    /// is the protocol client's to enforce.
    pub fn http_client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// As [`Outbound::http_client`], without the total time limit: for MCP
    /// sessions, whose response streams stay open through long calls. The
    /// caller bounds each call itself.
    pub fn stream_client(&self) -> reqwest::Client {
        self.streams.clone()
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Validates a URL a user wants us to call later (at deploy time): the
    /// scheme, and that its host resolves only to allowed addresses.
    pub async fn validate_url(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        self.policy.check_url(&parsed)?;
        if let Some(url::Host::Domain(host)) = parsed.host() {
            let resolver = GuardedResolver { policy: self.policy.clone() };
            let name: Name = host.parse().map_err(|_| OutboundError::InvalidUrl(host.to_string()))?;
            let _checked = resolver
                .resolve(name)
                .await
                .map_err(|e| downcast(e.as_ref()).unwrap_or(OutboundError::Resolve(host.to_string())))?;
        }
        Ok(parsed)
    }

    /// Sends one request and reads the response within the limits,
    /// following up to three redirects (each one checked by the guard).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send_on(&self.client, method, url, headers, body).await
    }

    /// Sends one request and returns a redirect as the answer instead of
    /// following it, so the headers (a webhook secret) never reach a host
    /// the answer points to.
    pub async fn send_without_redirects(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send_on(&self.no_redirects, method, url, headers, body).await
    }

    async fn send_on(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<OutboundResponse, OutboundError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        self.policy.check_url(&parsed)?;
        let mut request = client.request(method, parsed).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(|e| self.map_error(&e))?;
        let limit = self.policy.max_response_bytes;
        if response.content_length().is_some_and(|len| len as usize > limit) {
            return Err(OutboundError::TooLarge { limit });
        }
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.map_error(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse { status, headers, body })
    }

    fn map_error(&self, err: &reqwest::Error) -> OutboundError {
        if let Some(ours) = downcast(err) {
            return ours;
        }
        if err.is_timeout() {
            return OutboundError::Timeout(self.policy.timeout);
        }
        // The message without the URL (which may carry query secrets).
        OutboundError::Failed(without_url(err))
    }
}

/// Our error, wherever it sits in a source chain.
fn downcast(err: &(dyn std::error::Error + 'static)) -> Option<OutboundError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(ours) = e.downcast_ref::<OutboundError>() {
            return Some(ours.clone());
        }
        current = e.source();
    }
    None
}

fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "bad redirect"
    } else if err.is_body() || err.is_decode() {
        "bad response body"
    } else {
        "transport error"
    };
    kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forbidden_range_is_classified() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("::1", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.0.10", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("169.254.169.254", Some("cloud metadata")),
            ("fd00:ec2::254", Some("cloud metadata")),
            ("169.254.10.1", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("100.127.255.254", Some("shared (CGNAT)")),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
            ("255.255.255.255", Some("reserved")),
            ("192.0.2.1", Some("documentation")),
            ("2001:db8::1", Some("documentation")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("cloud metadata")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("::127.0.0.1", Some("reserved")),
            ("2002:7f00:1::1", Some("6to4 (private IPv4 inside)")),
            ("2002:a9fe:a9fe::1", Some("6to4 (private IPv4 inside)")),
            ("2002:5db8:d822::1", None),
            ("2001:0:4136:e378::1", Some("Teredo tunnel")),
            ("64:ff9b:1::a00:1", Some("local NAT64")),
            ("fec0::1", Some("site-local")),
            ("100::1", Some("discard-only")),
            ("93.184.216.34", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("2606:4700::1111", None),
            ("::ffff:93.184.216.34", None),
        ];
        for (ip, want) in cases {
            assert_eq!(classify(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn policy_allows_only_loopback_and_private_on_request() {
        let strict = OutboundPolicy::default();
        let dev = OutboundPolicy { allow_loopback: true, allow_private: true, ..Default::default() };
        for ip in ["127.0.0.1", "10.0.0.1", "fd00::1"] {
            assert!(strict.check_ip("h", ip.parse().unwrap()).is_err());
            assert!(dev.check_ip("h", ip.parse().unwrap()).is_ok());
        }
        for ip in ["169.254.169.254", "fd00:ec2::254", "100.64.0.1", "0.0.0.0", "224.0.0.1"] {
            assert!(dev.check_ip("h", ip.parse().unwrap()).is_err(), "{ip} is never allowed");
        }
    }
}
