//! Login throttling: failed logins are counted per account and per client
//! address in fixed windows. Past the limit, further attempts are refused
//! with the seconds until the window ends, before any password is hashed.
//! The same windows, per address only, limit registrations
//! ([`LoginThrottle::check_address`]).
//! State is in memory (one instance); a later issue moves it behind Redis.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Limits for one kind of key.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: u32,
    pub window: Duration,
}

/// Failed logins allowed per account in a window.
pub const PER_ACCOUNT: Policy = Policy { max_failures: 5, window: Duration::from_secs(15 * 60) };
/// Failed logins allowed per client address (IPv6: per /64) in a window.
pub const PER_ADDRESS: Policy = Policy { max_failures: 20, window: Duration::from_secs(15 * 60) };

/// Above this many tracked keys, expired windows are swept on insert.
const SWEEP_AT: usize = 10_000;

struct Window {
    failures: u32,
    started: Instant,
    window: Duration,
}

pub struct LoginThrottle {
    account: Policy,
    address: Policy,
    windows: Mutex<HashMap<String, Window>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(PER_ACCOUNT, PER_ADDRESS)
    }
}

impl LoginThrottle {
    pub fn new(account: Policy, address: Policy) -> Self {
        Self { account, address, windows: Mutex::new(HashMap::new()) }
    }

    fn keys(&self, account: &str, addr: Option<IpAddr>) -> Vec<(String, Policy)> {
        let mut keys = vec![(format!("account:{account}"), self.account)];
        if let Some(addr) = addr {
            keys.push((format!("addr:{}", address_key(addr)), self.address));
        }
        keys
    }

    /// `Err(seconds)` when this account or address must wait.
    pub fn check(&self, account: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let windows = self.windows.lock().expect("throttle lock");
        let mut wait = 0;
        for (key, policy) in self.keys(account, addr) {
            if let Some(w) = windows.get(&key) {
                let elapsed = now.duration_since(w.started);
                if elapsed < w.window && w.failures >= policy.max_failures {
                    wait = wait.max((w.window - elapsed).as_secs().max(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, account: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() > SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < w.window);
        }
        for (key, policy) in self.keys(account, addr) {
            let w = windows.entry(key).or_insert(Window { failures: 0, started: now, window: policy.window });
            if now.duration_since(w.started) >= w.window {
                *w = Window { failures: 0, started: now, window: policy.window };
            }
            w.failures += 1;
        }
    }

    /// `Err(seconds)` when this address has used up its window (address
    /// windows only: for registrations).
    pub fn check_address(&self, addr: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let windows = self.windows.lock().expect("throttle lock");
        match windows.get(&format!("addr:{}", address_key(addr))) {
            Some(w) if now.duration_since(w.started) < w.window && w.failures >= self.address.max_failures => {
                Err((w.window - now.duration_since(w.started)).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one attempt against the address's window.
    pub fn record_address(&self, addr: IpAddr) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() > SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < w.window);
        }
        let w = windows.entry(format!("addr:{}", address_key(addr))).or_insert(Window {
            failures: 0,
            started: now,
            window: self.address.window,
        });
        if now.duration_since(w.started) >= w.window {
            *w = Window { failures: 0, started: now, window: self.address.window };
        }
        w.failures += 1;
    }

    /// A successful login clears the account's count (not the address's:
    /// one good password must not reset a spray against other accounts).
    pub fn record_success(&self, account: &str) {
        self.windows.lock().expect("throttle lock").remove(&format!("account:{account}"));
    }
}

/// IPv6 clients usually own a whole /64, so they are counted per /64.
fn address_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_account_then_address() {
        let t = LoginThrottle::new(
            Policy { max_failures: 2, window: Duration::from_secs(60) },
            Policy { max_failures: 3, window: Duration::from_secs(60) },
        );
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        t.record_failure("a@x.io", Some(ip));
        assert!(t.check("a@x.io", Some(ip)).is_ok());
        t.record_failure("a@x.io", Some(ip));
        let wait = t.check("a@x.io", Some(ip)).unwrap_err();
        assert!((1..=60).contains(&wait));
        // Another account from the same address: one more failure locks the address.
        assert!(t.check("b@x.io", Some(ip)).is_ok());
        t.record_failure("b@x.io", Some(ip));
        assert!(t.check("c@x.io", Some(ip)).is_err());
        assert!(t.check("c@x.io", Some("10.0.0.2".parse().unwrap())).is_ok());
        t.record_success("a@x.io");
        assert!(t.check("a@x.io", None).is_ok());
    }

    #[test]
    fn registrations_are_counted_per_address() {
        let t = LoginThrottle::new(PER_ACCOUNT, Policy { max_failures: 2, window: Duration::from_secs(3600) });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        t.record_address(a);
        assert!(t.check_address(a).is_ok());
        t.record_address(a);
        let wait = t.check_address(a).unwrap_err();
        assert!((3500..=3600).contains(&wait), "{wait}");
        assert!(t.check_address(b).is_ok(), "another address is not affected");
    }

    #[test]
    fn ipv6_grouped_by_slash_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            address_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_eq!(address_key("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.4");
    }
}
