//! Request rate limits (error 15) and failed-login throttling (error 105), kept in memory per
//! node: a client hammering one node is slowed there, which is what the limits are for.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket per key: `rate` requests per second with bursts of `rate`.
pub struct RateLimiter<K> {
    rate: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(rate_per_sec: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate_per_sec.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token; `false` when the key is over its rate.
    pub fn allow(&self, key: &K, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget keys idle long enough to have refilled, so the map cannot grow unbounded.
            let rate = self.rate;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < rate
            });
        }
        let (tokens, at) = buckets.entry(key.clone()).or_insert((self.rate, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts failed logins per key (login name, client address) in a sliding window.
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the key has used up its attempts.
    pub fn blocked(&self, key: &str, now: Instant) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((n, since)) if now.duration_since(*since) < self.window => *n >= self.max_failures,
            Some(_) => {
                map.remove(key);
                false
            }
            None => false,
        }
    }

    pub fn failed(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        map.retain(|_, (_, since)| now.duration_since(*since) < window);
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_rate_then_refills() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow(&"a", t0)));
        assert!(!limiter.allow(&"a", t0));
        assert!(limiter.allow(&"b", t0), "keys are independent");
        assert!(limiter.allow(&"a", t0 + Duration::from_millis(400)));
    }

    #[test]
    fn throttle_blocks_after_failures_until_window_passes() {
        let th = LoginThrottle::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        th.failed("u", t0);
        assert!(!th.blocked("u", t0));
        th.failed("u", t0);
        assert!(th.blocked("u", t0));
        assert!(!th.blocked("u", t0 + Duration::from_secs(61)));
    }
}
