//! When to try a failed delivery again: exponential backoff with jitter. Pure.

/// Seconds to wait after the `attempts`-th failed attempt (1-based): `base · 2^(attempts-1)`,
/// capped at `max`, then jittered into its upper half by `jitter` (uniform in `[0, 1)`), so
/// many messages failing together do not all come back at the same instant.
pub fn retry_delay_secs(attempts: u32, base: u64, max: u64, jitter: f64) -> u64 {
    let exp = attempts.saturating_sub(1).min(32);
    let full = base.saturating_mul(1u64 << exp).min(max).max(1);
    let half = full / 2;
    let jitter = jitter.clamp(0.0, 1.0);
    (half + ((full - half) as f64 * jitter).round() as u64).clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        assert_eq!(retry_delay_secs(1, 2, 600, 1.0), 2);
        assert_eq!(retry_delay_secs(2, 2, 600, 1.0), 4);
        assert_eq!(retry_delay_secs(5, 2, 600, 1.0), 32);
        assert_eq!(retry_delay_secs(30, 2, 600, 1.0), 600);
        assert_eq!(retry_delay_secs(u32::MAX, 2, 600, 1.0), 600);
        assert_eq!(retry_delay_secs(5, 2, 600, 0.0), 16);
        for j in [0.0, 0.1, 0.5, 0.99] {
            let d = retry_delay_secs(4, 2, 600, j);
            assert!((8..=16).contains(&d), "{d}");
        }
        assert_eq!(retry_delay_secs(1, 1, 1, 0.0), 1, "never zero");
    }
}
