//! Login throttling: failed logins are counted per account and per client
//! address in fixed windows.
//!
//! - Past the address's limit, its attempts are refused (429 with the
//!   seconds until the window ends), before any password is hashed.
//! - Past the account's limit, attempts are *slowed*, never refused on
//!   their own: each waits a delay that doubles with every further failure
//!   (1 s, 2 s, 4 s, capped at 8 s) after the one before it, so guesses at
//!   one account run one after another however many arrive at once, and the
//!   owner's correct password still gets in (a hard lock would let anyone
//!   lock anyone out). Only when the queue of waiting attempts reaches 30 s
//!   is a new one refused with 429 until it drains.
//!
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

/// How an account past its limit is slowed.
#[derive(Debug, Clone, Copy)]
pub struct Slowdown {
    /// The delay after the limit's first failure; it doubles with each one.
    pub first: Duration,
    /// The longest delay.
    pub cap: Duration,
    /// How far ahead attempts may queue before new ones are refused.
    pub max_queue: Duration,
}

pub const SLOWDOWN: Slowdown =
    Slowdown { first: Duration::from_secs(1), cap: Duration::from_secs(8), max_queue: Duration::from_secs(30) };

/// Above this many tracked keys, expired windows are swept on insert.
const SWEEP_AT: usize = 10_000;

struct Window {
    failures: u32,
    started: Instant,
    window: Duration,
    /// When the next slowed attempt at an account may run.
    next_slot: Instant,
}

impl Window {
    fn new(now: Instant, window: Duration) -> Self {
        Self { failures: 0, started: now, window, next_slot: now }
    }
}

pub struct LoginThrottle {
    account: Policy,
    address: Policy,
    slowdown: Slowdown,
    windows: Mutex<HashMap<String, Window>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(PER_ACCOUNT, PER_ADDRESS)
    }
}

impl LoginThrottle {
    pub fn new(account: Policy, address: Policy) -> Self {
        Self { account, address, slowdown: SLOWDOWN, windows: Mutex::new(HashMap::new()) }
    }

    pub fn with_slowdown(mut self, slowdown: Slowdown) -> Self {
        self.slowdown = slowdown;
        self
    }

    /// The delay for an account with `failures` in its window.
    fn delay(&self, failures: u32) -> Duration {
        let over = failures.saturating_sub(self.account.max_failures).min(16);
        self.slowdown.first.saturating_mul(1 << over).min(self.slowdown.cap)
    }

    /// Admits one login attempt: `Ok(wait)`, how long it must wait before
    /// its password is checked (zero unless the account is past its
    /// limit), or `Err(seconds)` when the address is blocked or the
    /// account's queue is full.
    pub fn admit(&self, account: &str, addr: Option<IpAddr>) -> Result<Duration, u64> {
        self.admit_at(account, addr, Instant::now())
    }

    fn admit_at(&self, account: &str, addr: Option<IpAddr>, now: Instant) -> Result<Duration, u64> {
        let mut windows = self.windows.lock().expect("throttle lock");
        if let Some(addr) = addr
            && let Some(w) = windows.get(&format!("addr:{}", address_key(addr)))
        {
            let elapsed = now.duration_since(w.started);
            if elapsed < w.window && w.failures >= self.address.max_failures {
                return Err((w.window - elapsed).as_secs().max(1));
            }
        }
        let Some(w) = windows.get_mut(&format!("account:{account}")) else { return Ok(Duration::ZERO) };
        if now.duration_since(w.started) >= w.window || w.failures < self.account.max_failures {
            return Ok(Duration::ZERO);
        }
        let slot = w.next_slot.max(now) + self.delay(w.failures);
        let wait = slot - now;
        if wait > self.slowdown.max_queue {
            return Err((wait - self.slowdown.max_queue).as_secs().max(1));
        }
        w.next_slot = slot;
        Ok(wait)
    }

    fn keys(&self, account: &str, addr: Option<IpAddr>) -> Vec<(String, Policy)> {
        let mut keys = vec![(format!("account:{account}"), self.account)];
        if let Some(addr) = addr {
            keys.push((format!("addr:{}", address_key(addr)), self.address));
        }
        keys
    }

    pub fn record_failure(&self, account: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() > SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < w.window);
        }
        for (key, policy) in self.keys(account, addr) {
            let w = windows.entry(key).or_insert_with(|| Window::new(now, policy.window));
            if now.duration_since(w.started) >= w.window {
                *w = Window::new(now, policy.window);
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
        let w = windows
            .entry(format!("addr:{}", address_key(addr)))
            .or_insert_with(|| Window::new(now, self.address.window));
        if now.duration_since(w.started) >= w.window {
            *w = Window::new(now, self.address.window);
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
    fn slows_the_account_and_blocks_the_address() {
        let t = LoginThrottle::new(
            Policy { max_failures: 2, window: Duration::from_secs(60) },
            Policy { max_failures: 3, window: Duration::from_secs(60) },
        );
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        t.record_failure("a@x.io", Some(ip));
        assert_eq!(t.admit("a@x.io", Some(ip)), Ok(Duration::ZERO));
        t.record_failure("a@x.io", Some(ip));
        // Past the account's limit: slowed, from any address, not refused.
        let wait = t.admit("a@x.io", Some(other)).unwrap();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        // Another account from the same address: one more failure blocks the address.
        assert_eq!(t.admit("b@x.io", Some(ip)), Ok(Duration::ZERO));
        t.record_failure("b@x.io", Some(ip));
        assert!(t.admit("c@x.io", Some(ip)).is_err());
        assert_eq!(t.admit("c@x.io", Some(other)), Ok(Duration::ZERO));
        t.record_success("a@x.io");
        assert_eq!(t.admit("a@x.io", None), Ok(Duration::ZERO));
    }

    #[test]
    fn slowed_attempts_queue_one_after_another_up_to_a_limit() {
        let t = LoginThrottle::new(Policy { max_failures: 2, window: Duration::from_secs(600) }, PER_ADDRESS);
        let fail = |n| (0..n).for_each(|_| t.record_failure("a@x.io", None));
        fail(2);
        let now = Instant::now();
        // 40 attempts at the same instant: each waits 1 s after the one
        // before; past 30 s of queue the rest are refused.
        let answers: Vec<_> = (0..40).map(|_| t.admit_at("a@x.io", None, now)).collect();
        let admitted: Vec<Duration> = answers.iter().filter_map(|a| a.ok()).collect();
        assert_eq!(admitted.len(), 30, "{answers:?}");
        assert!(admitted.windows(2).all(|w| w[1] - w[0] == Duration::from_secs(1)));
        assert!(answers[30..].iter().all(|a| a.is_err()));
        // Each further failure doubles the delay, up to the cap.
        assert_eq!(t.delay(2), Duration::from_secs(1));
        fail(1);
        assert_eq!(t.delay(3), Duration::from_secs(2));
        assert_eq!(t.delay(5), Duration::from_secs(8));
        assert_eq!(t.delay(u32::MAX), Duration::from_secs(8));
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
        // Registrations and logins share nothing but the address windows.
        assert!(t.admit("x@y.io", Some(b)).is_ok());
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
