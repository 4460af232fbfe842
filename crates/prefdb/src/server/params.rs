//! Bound parameters that arrow-pg reads differently from Postgres.
//!
//! **Dates bound to timestamps.** pgjdbc's `setDate` sends a date with its zone, untyped:
//! `2024-01-15 +00`. Postgres reads that as midnight in that zone for a `timestamptz`
//! (and midnight, the zone ignored, for a `timestamp`); pgwire 0.41's text parser accepts
//! only a date with a time, and failed (`Unable to parse datetime`). Such values get the
//! time `00:00:00` before they are read.
//!
//! **Integers too large.**
//! Drivers send an integer too large for `int8` (Python's `2**70`, a JavaScript BigInt) as
//! NUMERIC. arrow-pg 0.16 converts a NUMERIC parameter to the statement's integer type with
//! `to_i64()` and turns a failure into NULL, so `SELECT $1::bigint` answered NULL: a silent
//! wrong answer. Postgres says `bigint out of range` (SQLSTATE 22003); so does prefdb, by
//! checking such parameters before the statement runs.

use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::Type;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use std::sync::Arc;

/// Refuses a NUMERIC parameter whose value does not fit the integer type the server gave
/// its placeholder (`server_types`, as described to the client).
pub fn check_numeric_parameters<S>(portal: &Portal<S>, server_types: &[Type]) -> PgWireResult<()> {
    for (i, value) in portal.parameters.iter().enumerate() {
        let Some(bytes) = value else { continue };
        let declared = portal.statement.parameter_types.get(i).cloned().flatten();
        if declared != Some(Type::NUMERIC) {
            continue;
        }
        let Some((name, range)) = server_types.get(i).and_then(integer_range) else {
            continue;
        };
        let integer = if portal.parameter_format.is_binary(i) {
            binary_numeric_integer(bytes)
        } else {
            text_numeric_integer(std::str::from_utf8(bytes).unwrap_or(""))
        };
        if !integer.is_some_and(|v| range.contains(&v)) {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                "22003".to_string(),
                format!("{name} out of range (parameter ${})", i + 1),
            ))));
        }
    }
    Ok(())
}

/// `portal` with each text date bound to a timestamp (see the module's documentation)
/// given the time of midnight; `None` when none is.
pub fn dates_as_midnight<S: Clone>(portal: &Portal<S>, server_types: &[Type]) -> Option<Portal<S>> {
    let mut parameters = portal.parameters.clone();
    let mut changed = false;
    for (i, value) in parameters.iter_mut().enumerate() {
        let Some(bytes) = value else { continue };
        if portal.parameter_format.is_binary(i) {
            continue;
        }
        let declared = portal.statement.parameter_types.get(i).cloned().flatten();
        let Some(ty) = declared
            .filter(|t| *t != Type::UNKNOWN)
            .or_else(|| server_types.get(i).cloned())
        else {
            continue;
        };
        let with_zone = match ty {
            Type::TIMESTAMPTZ => true,
            Type::TIMESTAMP => false,
            _ => continue,
        };
        if let Some(midnight) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| date_at_midnight(text, with_zone))
        {
            *bytes = midnight.into();
            changed = true;
        }
    }
    changed.then(|| {
        let mut patched = Portal::new_cursor(portal.name.clone(), Arc::clone(&portal.statement));
        patched.parameter_format = portal.parameter_format.clone();
        patched.parameters = parameters;
        patched.result_column_format = portal.result_column_format.clone();
        patched.state = Arc::clone(&portal.state);
        patched
    })
}

/// `2024-01-15` or `2024-01-15 +00` (`-05:30` ...) as `2024-01-15 00:00:00` with the zone
/// kept if `with_zone`; `None` for anything else.
fn date_at_midnight(text: &str, with_zone: bool) -> Option<String> {
    let text = text.trim();
    let (date, zone) = match text.split_once(' ') {
        Some((date, zone)) => (date, Some(zone.trim())),
        None => (text, None),
    };
    let shape = date.len() == 10
        && date.bytes().enumerate().all(|(k, b)| match k {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let zone = match zone {
        None => "",
        Some(z)
            if z.len() >= 3
                && (z.starts_with('+') || z.starts_with('-'))
                && z[1..].bytes().all(|b| b.is_ascii_digit() || b == b':') =>
        {
            z
        }
        Some(_) => return None,
    };
    Some(match with_zone {
        true => format!("{date} 00:00:00{zone}"),
        false => format!("{date} 00:00:00"),
    })
}

/// The Postgres name and value range of an integer wire type.
fn integer_range(t: &Type) -> Option<(&'static str, std::ops::RangeInclusive<i128>)> {
    Some(match *t {
        Type::INT2 => ("smallint", i16::MIN as i128..=i16::MAX as i128),
        Type::INT4 => ("integer", i32::MIN as i128..=i32::MAX as i128),
        Type::INT8 => ("bigint", i64::MIN as i128..=i64::MAX as i128),
        _ => return None,
    })
}

/// The value of a NUMERIC in text form, rounded half away from zero to an integer as
/// Postgres casts it; `None` for NaN, infinities and values beyond i128.
fn text_numeric_integer(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut value: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    if fraction.bytes().next().is_some_and(|d| d >= b'5') {
        value = value.checked_add(1)?;
    }
    Some(if negative { -value } else { value })
}

/// The value of a NUMERIC in binary form (ndigits, weight, sign, dscale, then base-10000
/// digits), rounded half away from zero; `None` for NaN, infinities and values beyond i128.
fn binary_numeric_integer(bytes: &[u8]) -> Option<i128> {
    let word = |k: usize| -> Option<u16> {
        Some(u16::from_be_bytes(
            bytes.get(2 * k..2 * k + 2)?.try_into().ok()?,
        ))
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i32;
    let sign = word(2)?;
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        _ => return None,
    };
    let mut value: i128 = 0;
    let mut first_fraction_digit = 0u16;
    for k in 0..ndigits {
        let digit = word(4 + k)?;
        let position = weight - k as i32;
        if position >= 0 {
            value = value.checked_mul(10_000)?.checked_add(digit as i128)?;
        } else if position == -1 {
            first_fraction_digit = digit;
        }
    }
    // Whole-number digits left out at the end (trailing zero groups).
    let last = weight - ndigits as i32 + 1;
    for _ in 0..last.max(0) {
        value = value.checked_mul(10_000)?;
    }
    if first_fraction_digit >= 5_000 {
        value = value.checked_add(1)?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(weight: i16, negative: bool, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [
            digits.len() as u16,
            weight as u16,
            if negative { 0x4000 } else { 0 },
            0,
        ] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn dates_bound_to_timestamps_mean_midnight() {
        assert_eq!(
            date_at_midnight("2024-01-15 +00", true).as_deref(),
            Some("2024-01-15 00:00:00+00")
        );
        assert_eq!(
            date_at_midnight("2024-01-15 -05:30", true).as_deref(),
            Some("2024-01-15 00:00:00-05:30")
        );
        assert_eq!(
            date_at_midnight("2024-01-15 +02", false).as_deref(),
            Some("2024-01-15 00:00:00")
        );
        assert_eq!(
            date_at_midnight("2024-01-15", true).as_deref(),
            Some("2024-01-15 00:00:00")
        );
        for other in ["2024-01-15 10:00:00+00", "15.01.2024", "2024-01-15 UTC", ""] {
            assert_eq!(date_at_midnight(other, true), None, "{other}");
        }
    }

    #[test]
    fn numerics_read_as_postgres_rounds_them() {
        assert_eq!(
            text_numeric_integer("1180591620717411303424"),
            Some(1 << 70)
        );
        assert_eq!(text_numeric_integer("-12.5"), Some(-13));
        assert_eq!(text_numeric_integer("12.49"), Some(12));
        assert_eq!(text_numeric_integer("NaN"), None);
        assert_eq!(text_numeric_integer("1e5"), None);
        assert_eq!(text_numeric_integer(&"9".repeat(50)), None);
        // 2^70 = 1180591620717411303424: base-10000 groups 11 8059 1620 7174 1130 3424.
        let two_70 = binary(5, false, &[11, 8059, 1620, 7174, 1130, 3424]);
        assert_eq!(binary_numeric_integer(&two_70), Some(1 << 70));
        // 120000 = 12 0000 with the trailing zero group left out; -3.5 rounds to -4.
        assert_eq!(
            binary_numeric_integer(&binary(1, false, &[12])),
            Some(120_000)
        );
        assert_eq!(
            binary_numeric_integer(&binary(0, true, &[3, 5000])),
            Some(-4)
        );
        assert_eq!(binary_numeric_integer(&binary(-1, false, &[4999])), Some(0));
        assert_eq!(binary_numeric_integer(&binary(40, false, &[1])), None);
        assert_eq!(binary_numeric_integer(&[0, 0, 0, 0, 0xC0, 0, 0, 0]), None);
    }
}
