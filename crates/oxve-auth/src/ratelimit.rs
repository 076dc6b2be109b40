//! Per-client limit on failed logins.
//!
//! Each client address may fail at most [`RateLimitConfig::max_failures`] logins (default 5)
//! within a sliding window of [`RateLimitConfig::window_secs`] (default 60 s). Once it has,
//! further attempts are refused without checking the password until the oldest failure
//! leaves the window. Refused attempts are not counted, successful logins reset nothing, and
//! one client's failures never affect another client. IPv4-mapped IPv6 addresses count as
//! their IPv4 address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

/// Limits of the failed-login rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Failures allowed within the window.
    pub max_failures: usize,
    /// Window length in seconds.
    pub window_secs: i64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            max_failures: 5,
            window_secs: 60,
        }
    }
}

/// Remembers recent failures per client.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    failures: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

/// Above this many tracked clients, idle ones are purged on the next failure.
const PURGE_THRESHOLD: usize = 4096;

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl RateLimiter {
    /// A limiter with `config`.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            config,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<i64>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds to wait)` if `client` is currently blocked at time `now`.
    pub fn check(&self, client: IpAddr, now: i64) -> Result<(), u64> {
        let mut map = self.lock();
        let Some(times) = map.get_mut(&canonical(client)) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| *t <= now - self.config.window_secs)
        {
            times.pop_front();
        }
        if times.len() >= self.config.max_failures {
            let oldest = times.front().copied().unwrap_or(now);
            Err((oldest + self.config.window_secs - now).max(1) as u64)
        } else {
            Ok(())
        }
    }

    /// Record a failed login of `client` at `now`.
    pub fn record_failure(&self, client: IpAddr, now: i64) {
        let mut map = self.lock();
        if map.len() > PURGE_THRESHOLD {
            let cutoff = now - self.config.window_secs;
            map.retain(|_, t| t.back().is_some_and(|last| *last > cutoff));
        }
        let times = map.entry(canonical(client)).or_default();
        times.push_back(now);
        while times.len() > self.config.max_failures {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_five_failures_per_client() {
        let rl = RateLimiter::new(RateLimitConfig::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t = 1000;
        for i in 0..5 {
            assert!(rl.check(a, t + i).is_ok());
            rl.record_failure(a, t + i);
        }
        assert_eq!(rl.check(a, t + 5), Err(55));
        assert!(rl.check(b, t + 5).is_ok(), "other clients unaffected");
        // The first failure leaves the window at t+60: one more attempt is allowed.
        assert!(rl.check(a, t + 59).is_err());
        assert!(rl.check(a, t + 60).is_ok());
        rl.record_failure(a, t + 60);
        assert!(rl.check(a, t + 60).is_err());
        assert!(rl.check(a, t + 200).is_ok());
    }

    #[test]
    fn mapped_ipv6_counts_as_ipv4() {
        let rl = RateLimiter::new(RateLimitConfig {
            max_failures: 1,
            window_secs: 60,
        });
        rl.record_failure("::ffff:192.0.2.9".parse().unwrap(), 0);
        assert!(rl.check("192.0.2.9".parse().unwrap(), 1).is_err());
    }
}
