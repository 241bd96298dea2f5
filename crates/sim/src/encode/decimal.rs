//! Fixed-point decimals for the text protocols. `format!("{x:.6}")` formats a float exactly
//! (Grisu, with Dragon where Grisu cannot decide), and that was a sixth of the simulator's
//! CPU in (b) with three devices in ten on Wialon IPS (BENCHMARKS.md); a simulated reading
//! needs only its digits, which integer arithmetic gives.

use std::fmt;

/// `value` with `places` digits after the point (at most 7), rounded half away from zero:
/// what `format!("{value:.places$}")` writes but for exact ties, which that rounds to even.
#[derive(Clone, Copy, Debug)]
pub struct Fixed(pub f64, pub u32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fixed(value, places) = *self;
        let Some(n) = scaled(value.abs(), places) else {
            // Not simulated (NaN, infinities, huge values): the exact way.
            return write!(f, "{value:.*}", places as usize);
        };
        let sign = if value < 0.0 && n != 0 { "-" } else { "" };
        if places == 0 {
            return write!(f, "{sign}{n}");
        }
        let scale = 10u64.pow(places);
        let width = places as usize;
        write!(f, "{sign}{}.{:0width$}", n / scale, n % scale)
    }
}

/// `value × 10^places` rounded to an integer, half away from zero, from the float's exact
/// binary value (`mantissa × 2^exponent`): multiplying in floating point would round near
/// ties the wrong way. `None` past 2^53, and for more than 7 places.
fn scaled(value: f64, places: u32) -> Option<u64> {
    if places > 7 || !value.is_finite() {
        return None;
    }
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, biased - 1075),
    };
    // Below 2^77: a 53-bit mantissa times at most 10^7.
    let product = u128::from(mantissa) * u128::from(10u64.pow(places));
    let n = match u32::try_from(-exponent) {
        // An integer value: past 2^52 already.
        Err(_) | Ok(0) => return None,
        Ok(shift) if shift >= 128 => 0,
        Ok(shift) => {
            let half = 1u128 << (shift - 1);
            let rest = product & ((half << 1) - 1);
            (product >> shift) + u128::from(rest >= half)
        }
    };
    u64::try_from(n).ok().filter(|&n| n < 1 << 53)
}

#[cfg(test)]
mod tests {
    use super::Fixed;

    #[test]
    fn writes_what_the_exact_formatting_writes() {
        // A fixed sequence of values of every magnitude the simulator sends, both signs.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            let magnitude = [1.0, 100.0, 18_000.0, 1.0e6][i % 4];
            let value = if i % 3 == 0 { -unit } else { unit } * magnitude;
            for places in 0..=7 {
                let exact = format!("{value:.*}", places as usize);
                // The exact way writes "-0.00" for a small negative value; a sign on zero
                // means nothing to a device.
                let exact = match exact.strip_prefix('-') {
                    Some(digits) if digits.bytes().all(|b| b == b'0' || b == b'.') => {
                        digits.to_owned()
                    }
                    _ => exact,
                };
                assert_eq!(
                    Fixed(value, places).to_string(),
                    exact,
                    "{value} to {places}"
                );
            }
        }
    }

    #[test]
    fn ties_round_away_from_zero_and_the_rest_is_left_to_the_exact_way() {
        assert_eq!(Fixed(2.5, 0).to_string(), "3");
        assert_eq!(Fixed(-2.5, 0).to_string(), "-3");
        assert_eq!(Fixed(0.125, 2).to_string(), "0.13");
        assert_eq!(Fixed(5230.0, 6).to_string(), "5230.000000");
        assert_eq!(Fixed(-0.0000001, 6).to_string(), "0.000000");
        assert_eq!(Fixed(1.0e300, 2).to_string(), format!("{:.2}", 1.0e300));
        assert_eq!(Fixed(4.0e15, 0).to_string(), "4000000000000000");
        assert_eq!(Fixed(f64::NAN, 1).to_string(), "NaN");
        assert_eq!(Fixed(1.5, 9).to_string(), "1.500000000");
        assert_eq!(Fixed(5e-324, 7).to_string(), "0.0000000");
    }
}
