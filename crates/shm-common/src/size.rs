//! Human-readable sizes and durations: parsing `16MiB`, printing `12.4 MiB` and `0.82 ms`.

use std::fmt;
use std::time::Duration;

use crate::error::SizeError;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: usize = 1024 * MIB;

/// Displays a byte count the way people read it: `512 bytes`, `3.5 KiB`, `12.4 MiB`, `10 MiB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let (unit, name) = match bytes {
            b if b >= GIB => (GIB, "GiB"),
            b if b >= MIB => (MIB, "MiB"),
            b if b >= KIB => (KIB, "KiB"),
            1 => return f.write_str("1 byte"),
            b => return write!(f, "{b} bytes"),
        };
        let tenths = (bytes as u128 * 10 + unit as u128 / 2) / unit as u128;
        if tenths.is_multiple_of(10) {
            write!(f, "{} {name}", tenths / 10)
        } else {
            write!(f, "{}.{} {name}", tenths / 10, tenths % 10)
        }
    }
}

/// Displays a duration the way people read it: `850 µs`, `1.84 ms`, `2.5 s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_secs_f64() * 1e6;
        if micros < 1000.0 {
            write!(f, "{micros:.0} µs")
        } else if micros < 1e6 {
            write!(f, "{:.2} ms", micros / 1e3)
        } else {
            write!(f, "{:.1} s", micros / 1e6)
        }
    }
}

/// Parses `4096`, `512KiB`, `16MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`, all binary,
/// any case, spaces allowed before the unit).
pub fn parse_size(input: &str) -> Result<usize, SizeError> {
    let error = || SizeError {
        input: input.to_owned(),
    };
    let text = input.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits.parse().map_err(|_| error())?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return Err(error()),
    };
    number.checked_mul(multiplier).ok_or_else(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_display_like_people_write_them() {
        assert_eq!(ByteSize(0).to_string(), "0 bytes");
        assert_eq!(ByteSize(1).to_string(), "1 byte");
        assert_eq!(ByteSize(1023).to_string(), "1023 bytes");
        assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
        assert_eq!(ByteSize(10 * MIB).to_string(), "10 MiB");
        assert_eq!(ByteSize(13_002_342).to_string(), "12.4 MiB");
        assert_eq!(ByteSize(GIB).to_string(), "1 GiB");
    }

    #[test]
    fn durations_display_in_a_fitting_unit() {
        assert_eq!(Elapsed(Duration::from_micros(850)).to_string(), "850 µs");
        assert_eq!(Elapsed(Duration::from_micros(1840)).to_string(), "1.84 ms");
        assert_eq!(Elapsed(Duration::from_millis(2500)).to_string(), "2.5 s");
    }

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16MiB"), Ok(16 * MIB));
        assert_eq!(parse_size("16 mb"), Ok(16 * MIB));
        assert_eq!(parse_size("512K"), Ok(512 * KIB));
        assert_eq!(parse_size("1GiB"), Ok(GIB));
        for bad in [
            "",
            "MiB",
            "12.5MiB",
            "-1",
            "10 parsecs",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad} should not parse");
        }
    }
}
