//! numeric: exact, any size, as a `String` (PostgreSQL's own text form) and, with the feature
//! "decimal", as a [`rust_decimal::Decimal`] where the value fits.
//!
//! The binary form follows PostgreSQL's `numeric_send` / `numeric_recv`: `ndigits`, `weight: i16`,
//! `sign: u16`, `dscale: u16`, then `ndigits` base-10000 digits (`i16`, 0..=9999).
//! The value is `sum(digit[i] * 10000^(weight - i))`, shown with `dscale` fractional digits.
//!
//! `ndigits` is read and written as a `u16`: `numeric_send` writes it with `pq_sendint16`, so
//! the largest values (up to 36,864 groups) arrive as a wrapped int16, and `numeric_recv` reads
//! it back as a uint16.

use bytes::{BufMut, BytesMut};

use crate::error::BoxError;

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;
/// dscale fits in 14 bits (`NUMERIC_DSCALE_MASK`).
const DSCALE_MAX: u16 = 0x3FFF;
/// The longest numeric PostgreSQL accepts: 131072 digits before the point, 16383 after.
const MAX_EXPONENT: i64 = 131_072 + 16_383 + 8;
/// The most base-10000 groups a numeric PostgreSQL accepts holds: 32768 before the point
/// (weight 32767, `NUMERIC_WEIGHT_MAX`) and 4096 after (16383 digits).
const MAX_GROUPS: usize = 32_768 + 4_096;

/// A numeric value as it travels: a borrowed view of the binary form, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumericView<'a> {
    NaN,
    Infinity,
    NegInfinity,
    Finite {
        negative: bool,
        weight: i16,
        dscale: u16,
        /// Base-10000 digits, big-endian pairs of bytes, each checked to be 0..=9999.
        digits: &'a [u8],
    },
}

impl<'a> NumericView<'a> {
    /// Reads the binary form; an error for any malformed input, never a panic.
    pub(crate) fn parse(raw: &'a [u8]) -> Result<Self, BoxError> {
        let Some((header, digits)) = raw.split_first_chunk::<8>() else {
            return Err(format!(
                "invalid numeric value: expected at least 8 bytes, got {}",
                raw.len()
            )
            .into());
        };
        // A uint16, as numeric_recv reads it (see the module comment).
        let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
        let weight = i16::from_be_bytes([header[2], header[3]]);
        let sign = u16::from_be_bytes([header[4], header[5]]);
        let dscale = u16::from_be_bytes([header[6], header[7]]);
        if digits.len() != ndigits * 2 {
            return Err(format!(
                "invalid numeric value: {ndigits} digits announced, {} bytes follow",
                digits.len()
            )
            .into());
        }
        if dscale > DSCALE_MAX {
            return Err(format!("invalid numeric value: display scale {dscale}").into());
        }
        for pair in digits.chunks_exact(2) {
            let d = i16::from_be_bytes([pair[0], pair[1]]);
            if !(0..10_000).contains(&d) {
                return Err(format!("invalid numeric value: digit {d} out of 0..=9999").into());
            }
        }
        match sign {
            SIGN_POS | SIGN_NEG => Ok(NumericView::Finite {
                negative: sign == SIGN_NEG,
                weight,
                dscale,
                digits,
            }),
            SIGN_NAN => Ok(NumericView::NaN),
            SIGN_PINF => Ok(NumericView::Infinity),
            SIGN_NINF => Ok(NumericView::NegInfinity),
            _ => Err(format!("invalid numeric value: sign {sign:#06x}").into()),
        }
    }

    /// PostgreSQL's text form, exactly as `numeric_out` writes it (`get_str_from_var`) for
    /// the value `numeric_recv` reads from these bytes.
    pub(crate) fn to_text(self) -> String {
        let (negative, weight, dscale, digits) = match self {
            NumericView::NaN => return "NaN".to_owned(),
            NumericView::Infinity => return "Infinity".to_owned(),
            NumericView::NegInfinity => return "-Infinity".to_owned(),
            NumericView::Finite {
                negative,
                weight,
                dscale,
                digits,
            } => (negative, i32::from(weight), usize::from(dscale), digits),
        };
        // numeric_recv strips leading zero groups and gives zero the weight 0 (a server never
        // sends either): from bytes that have them, "0500" is 500 and "0000" is 0, as the
        // server would read them.
        let (mut weight, mut digits) = (weight, digits);
        while let Some(([0, 0], rest)) = digits.split_first_chunk::<2>() {
            digits = rest;
            weight -= 1;
        }
        if digits.is_empty() {
            weight = 0;
        }
        let digit = |i: i32| -> u16 {
            usize::try_from(i)
                .ok()
                .and_then(|i| digits.get(i * 2..i * 2 + 2))
                .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
        };
        let int_groups = usize::try_from(weight + 1).unwrap_or(0);
        let mut out = String::with_capacity(int_groups * 4 + dscale + 3);
        if negative {
            out.push('-');
        }
        if weight < 0 {
            out.push('0');
        } else {
            let mut d = 0;
            while d <= weight {
                let dig = digit(d);
                if d == 0 {
                    push_u16(&mut out, dig, false);
                } else {
                    push_u16(&mut out, dig, true);
                }
                d += 1;
            }
        }
        if dscale > 0 {
            out.push('.');
            let start = out.len();
            let mut d = weight + 1;
            while out.len() - start < dscale {
                push_u16(&mut out, digit(d), true);
                d += 1;
            }
            out.truncate(start + dscale);
        }
        // numeric_recv truncates to the display scale and makes a zero positive, so a server
        // never sends -0; from bytes that say so (no digits, or only digits past the scale),
        // the value is the server's 0, not "-0".
        if negative && out[1..].bytes().all(|b| matches!(b, b'0' | b'.')) {
            out.remove(0);
        }
        out
    }
}

fn push_u16(out: &mut String, v: u16, pad: bool) {
    use std::fmt::Write;
    let _ = if pad {
        write!(out, "{v:04}")
    } else {
        write!(out, "{v}")
    };
}

/// Appends a numeric's binary form.
fn put_numeric(
    buf: &mut BytesMut,
    sign: u16,
    weight: i16,
    dscale: u16,
    digits: &[i16],
) -> Result<(), BoxError> {
    // Written as a uint16, as numeric_send does; numeric_recv reads it back as one.
    let ndigits = u16::try_from(digits.len())
        .ok()
        .filter(|&n| usize::from(n) <= MAX_GROUPS)
        .ok_or_else(|| {
            format!(
                "numeric value out of range: {} base-10000 digit groups, PostgreSQL holds at most {MAX_GROUPS}",
                digits.len()
            )
        })?;
    buf.reserve(8 + digits.len() * 2);
    buf.put_u16(ndigits);
    buf.put_i16(weight);
    buf.put_u16(sign);
    buf.put_u16(dscale);
    for &d in digits {
        buf.put_i16(d);
    }
    Ok(())
}

/// Encodes a finite value given as decimal digits (0..=9, most significant first, no leading
/// zeros needed) where the decimal point sits after `point` digits (`point` may be negative or
/// past the end), shown with `dscale` fractional digits.
fn put_decimal_digits(
    buf: &mut BytesMut,
    negative: bool,
    dec: &[u8],
    point: i64,
    dscale: i64,
) -> Result<(), BoxError> {
    let dscale = u16::try_from(dscale)
        .ok()
        .filter(|&s| s <= DSCALE_MAX)
        .ok_or_else(|| {
            format!("numeric display scale {dscale} is out of range (max {DSCALE_MAX})")
        })?;
    // Skip leading zeros: they move the point, not the value.
    let first = dec.iter().position(|&d| d != 0);
    let last = dec.iter().rposition(|&d| d != 0);
    let (Some(first), Some(last)) = (first, last) else {
        return put_numeric(buf, SIGN_POS, 0, dscale, &[]);
    };
    let dec = &dec[first..=last];
    let point = point - first as i64;
    // The decimal exponent of the first digit is point - 1; group g holds exponents 4g..4g+3.
    let top_exp = point - 1;
    let bottom_exp = point - dec.len() as i64;
    let weight = top_exp.div_euclid(4);
    let bottom_group = bottom_exp.div_euclid(4);
    let weight16 = i16::try_from(weight)
        .map_err(|_| "numeric value out of range: its exponent is too large for PostgreSQL")?;
    let ngroups =
        usize::try_from(weight - bottom_group + 1).map_err(|_| "numeric value out of range")?;
    let mut groups = vec![0i16; ngroups];
    for (i, &d) in dec.iter().enumerate() {
        let exp = top_exp - i as i64;
        let g = usize::try_from(weight - exp.div_euclid(4))
            .map_err(|_| "numeric value out of range")?;
        let pos = exp.rem_euclid(4) as u32;
        if let Some(slot) = groups.get_mut(g) {
            *slot += i16::from(d) * 10i16.pow(pos);
        }
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let sign = if negative { SIGN_NEG } else { SIGN_POS };
    put_numeric(buf, sign, weight16, dscale, &groups)
}

/// Parses a decimal string (`-12.50`, `1e-1000`, `NaN`, `Infinity`, `-Infinity`; surrounding
/// whitespace allowed, as `numeric_in` allows it) and appends its binary form.
pub(crate) fn encode_str(s: &str, buf: &mut BytesMut) -> Result<(), BoxError> {
    let t = s.trim();
    let mut special = |sign| put_numeric(buf, sign, 0, 0, &[]);
    if t.eq_ignore_ascii_case("nan") {
        return special(SIGN_NAN);
    }
    for (names, sign) in [
        (&["infinity", "+infinity", "inf", "+inf"][..], SIGN_PINF),
        (&["-infinity", "-inf"][..], SIGN_NINF),
    ] {
        if names.iter().any(|n| t.eq_ignore_ascii_case(n)) {
            return special(sign);
        }
    }
    let invalid = || -> BoxError {
        format!("{s:?} is not a valid numeric: expected digits with an optional sign, point and exponent, or NaN / Infinity / -Infinity").into()
    };
    let bytes = t.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut dec = Vec::with_capacity(mantissa.len());
    let mut frac_digits: i64 = 0;
    let mut seen_point = false;
    for &b in mantissa {
        match b {
            b'0'..=b'9' => {
                dec.push(b - b'0');
                if seen_point {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return Err(invalid()),
        }
    }
    if dec.is_empty() {
        return Err(invalid());
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(b"-").or(e.strip_prefix(b"+")).unwrap_or(e);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(invalid());
            }
            let value: i64 = std::str::from_utf8(e)
                .ok()
                .and_then(|e| e.parse().ok())
                .filter(|v: &i64| v.abs() <= MAX_EXPONENT)
                .ok_or_else(|| format!("{s:?}: the exponent is out of numeric's range"))?;
            value
        }
    };
    let point = dec.len() as i64 - frac_digits + exponent;
    let dscale = (frac_digits - exponent).max(0);
    put_decimal_digits(buf, negative, &dec, point, dscale)
}

#[cfg(feature = "decimal")]
mod decimal {
    use bytes::BytesMut;
    use rust_decimal::Decimal;

    use super::{NumericView, SIGN_NEG, SIGN_POS, put_numeric};
    use crate::error::BoxError;
    use crate::types::{Decode, Encode, IsNull, Type};

    /// 2^96 - 1: the largest mantissa a Decimal holds.
    const MAX_MANTISSA: u128 = (1 << 96) - 1;

    /// Base-10000 groups of the largest mantissa padded to whole fraction groups: below
    /// 2^96 * 1000 < 10^32, so 8.
    const MAX_GROUPS_OF_DECIMAL: usize = 8;

    impl Encode for Decimal {
        fn accepts(ty: &Type) -> bool {
            *ty == Type::NUMERIC
        }

        fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
            let scale = self.scale();
            let mut m = self.mantissa().unsigned_abs();
            // Pad the fraction to whole base-10000 groups.
            let pad = (4 - scale % 4) % 4;
            m *= 10u128.pow(pad);
            let frac_groups = (scale + pad) / 4;
            // Least significant group first, on the stack; u64 arithmetic when it fits (most
            // values), since a u128 division is a library call.
            let mut groups = [0i16; MAX_GROUPS_OF_DECIMAL];
            let mut len = 0;
            if let Ok(mut small) = u64::try_from(m) {
                while small > 0 {
                    groups[len] = (small % 10_000) as i16;
                    small /= 10_000;
                    len += 1;
                }
            } else {
                while m > 0 {
                    groups[len] = (m % 10_000) as i16;
                    m /= 10_000;
                    len += 1;
                }
            }
            let weight = len as i64 - i64::from(frac_groups) - 1;
            // Trailing zero groups (the least significant, first here) carry nothing.
            let zeros = groups[..len].iter().take_while(|&&g| g == 0).count();
            let groups = &mut groups[zeros..len];
            groups.reverse();
            let (sign, weight) = if groups.is_empty() {
                (SIGN_POS, 0)
            } else if self.is_sign_negative() {
                (SIGN_NEG, weight as i16)
            } else {
                (SIGN_POS, weight as i16)
            };
            put_numeric(buf, sign, weight, scale as u16, groups)?;
            Ok(IsNull::No)
        }
    }

    /// A numeric that fits: at most 28 fractional digits (after dropping trailing zeros beyond
    /// that) and a magnitude below 2^96 as an integer of its digits. NaN, ±Infinity and larger
    /// values are an error, never a rounded number: decode those into `String`.
    impl Decode<'_> for Decimal {
        fn accepts(ty: &Type) -> bool {
            *ty == Type::NUMERIC
        }

        fn decode(_ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
            let view = NumericView::parse(raw)?;
            let (negative, weight, dscale, digits) = match view {
                NumericView::NaN | NumericView::Infinity | NumericView::NegInfinity => {
                    return Err(format!(
                        "rust_decimal::Decimal cannot hold numeric {}; decode into String to read it",
                        view.to_text()
                    )
                    .into());
                }
                NumericView::Finite {
                    negative,
                    weight,
                    dscale,
                    digits,
                } => (negative, i64::from(weight), i64::from(dscale), digits),
            };
            let too_big = || -> BoxError {
                format!(
                    "numeric {} is out of range for rust_decimal::Decimal (at most 28 significant digits, |value| < 7.9e28); decode into String to read it exactly",
                    abbreviate(&view.to_text())
                )
                .into()
            };
            let group = |pair: &[u8]| u16::from_be_bytes([pair[0], pair[1]]);
            let Some(last_nonzero) = digits.chunks_exact(2).rposition(|p| group(p) != 0) else {
                return Decimal::try_from_i128_with_scale(0, dscale.min(28) as u32)
                    .map_err(|e| e.to_string().into());
            };
            // value = m * 10^exp, m the integer of the significant groups without the last
            // group's trailing zeros (the only trailing zeros m can have): no u128 division.
            let mut last = group(&digits[last_nonzero * 2..]);
            let mut trailing_zeros = 0;
            while last % 10 == 0 {
                last /= 10;
                trailing_zeros += 1;
            }
            let append = |m: u128, scale: u128, g: u16| {
                m.checked_mul(scale)
                    .and_then(|m| m.checked_add(u128::from(g)))
                    .filter(|&m| m <= MAX_MANTISSA)
            };
            let mut m: u128 = 0;
            for pair in digits.chunks_exact(2).take(last_nonzero) {
                m = append(m, 10_000, group(pair)).ok_or_else(too_big)?;
            }
            m = append(m, 10u128.pow(4 - trailing_zeros), last).ok_or_else(too_big)?;
            let exp = 4 * (weight - last_nonzero as i64) + i64::from(trailing_zeros);
            if -exp > 28 {
                return Err(format!(
                    "numeric {} has {} significant fractional digits; rust_decimal::Decimal holds at most 28: decode into String to read it exactly",
                    abbreviate(&view.to_text()),
                    -exp
                )
                .into());
            }
            // Keep the display scale when it fits (1.50 stays 1.50), else the smallest exact one.
            let scale = dscale.clamp((-exp).max(0), 28);
            let shift = u32::try_from(scale + exp).map_err(|_| too_big())?;
            let m = 10u128
                .checked_pow(shift)
                .and_then(|p| m.checked_mul(p))
                .filter(|&m| m <= MAX_MANTISSA)
                .ok_or_else(too_big)?;
            let signed = if negative { -(m as i128) } else { m as i128 };
            Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| too_big())
        }
    }

    fn abbreviate(text: &str) -> String {
        if text.len() <= 60 {
            text.to_owned()
        } else {
            format!("{}…({} characters)", &text[..40], text.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let mut buf = BytesMut::new();
        encode_str(s, &mut buf).unwrap();
        NumericView::parse(&buf).unwrap().to_text()
    }

    #[test]
    fn text_forms_match_numeric_out() {
        for (input, text) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.00", "0.00"),
            ("1", "1"),
            ("-1.50", "-1.50"),
            ("12345e10", "123450000000000"),
            ("1e-5", "0.00001"),
            ("0.0001", "0.0001"),
            ("10000", "10000"),
            ("9999.9999", "9999.9999"),
            (" 42 ", "42"),
            ("1.5e3", "1500"),
            ("1.2345E+2", "123.45"),
            (".5", "0.5"),
            ("5.", "5"),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
            ("inf", "Infinity"),
        ] {
            assert_eq!(roundtrip(input), text, "{input}");
        }
        let big = format!("-{}.{}", "9".repeat(1000), "1".repeat(1000));
        assert_eq!(roundtrip(&big), big);
        let tiny = format!("0.{}1", "0".repeat(999));
        assert_eq!(roundtrip("1e-1000"), tiny);
    }

    #[test]
    fn more_than_32767_groups_travel_as_a_uint16_count() {
        // 131,072 nines: 32,768 groups of 9999, weight 32,767; the count is 0x8000 on the wire.
        let nines = "9".repeat(131_072);
        let mut buf = BytesMut::new();
        encode_str(&nines, &mut buf).unwrap();
        assert_eq!(&buf[..8], &[0x80, 0x00, 0x7f, 0xff, 0, 0, 0, 0]);
        assert_eq!(buf.len(), 8 + 32_768 * 2);
        assert_eq!(NumericView::parse(&buf).unwrap().to_text(), nines);
        // The largest numeric PostgreSQL allows, both signs.
        let largest = format!("{nines}.{}", "9".repeat(16_383));
        assert_eq!(roundtrip(&largest), largest);
        assert_eq!(roundtrip(&format!("-{largest}")), format!("-{largest}"));
        // One more digit before the point is out of PostgreSQL's range.
        for s in [format!("1{nines}"), "1e131072".to_owned()] {
            let err = encode_str(&s, &mut BytesMut::new()).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    }

    #[test]
    fn a_count_without_its_digits_is_an_error_not_an_allocation() {
        // 65,535 groups announced, none sent.
        let err = NumericView::parse(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("65535 digits announced"), "{err}");
        let mut raw = vec![0x80, 0x00, 0x7f, 0xff, 0, 0, 0, 0];
        raw.extend(std::iter::repeat_n([0x27, 0x0f], 32_767).flatten());
        assert!(NumericView::parse(&raw).is_err());
    }

    #[test]
    fn bad_strings_are_errors() {
        for s in [
            "",
            "-",
            "1.2.3",
            "abc",
            "1e",
            "1e+",
            "1e99999999999",
            "--1",
            "1 2",
        ] {
            let mut buf = BytesMut::new();
            assert!(encode_str(s, &mut buf).is_err(), "{s:?}");
        }
    }

    #[test]
    fn non_canonical_binary_reads_as_the_server_reads_it() {
        // Found by fuzz/ (decode): sign NEG with no digits, dscale 6.
        let no_digits = [0, 0, 0, 0, 0x40, 0, 0, 6];
        assert_eq!(
            NumericView::parse(&no_digits).unwrap().to_text(),
            "0.000000"
        );
        // -0.5 at display scale 0: numeric_recv truncates it to 0.
        let truncated = [0, 1, 0xff, 0xff, 0x40, 0, 0, 0, 0x13, 0x88];
        assert_eq!(NumericView::parse(&truncated).unwrap().to_text(), "0");
        // Leading zero groups: 0|5000 with weight 1 is 5000, not "05000".
        let leading_zero = [0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0x13, 0x88];
        assert_eq!(NumericView::parse(&leading_zero).unwrap().to_text(), "5000");
        let only_zeros = [0, 2, 0, 1, 0x40, 0, 0, 2, 0, 0, 0, 0];
        assert_eq!(NumericView::parse(&only_zeros).unwrap().to_text(), "0.00");
        // No digits at weight 3: zero, not sixteen zeros.
        let weighty_zero = [0, 0, 0, 3, 0, 0, 0, 1];
        assert_eq!(NumericView::parse(&weighty_zero).unwrap().to_text(), "0.0");
        // A real negative value keeps its sign.
        let minus_half = [0, 1, 0xff, 0xff, 0x40, 0, 0, 1, 0x13, 0x88];
        assert_eq!(NumericView::parse(&minus_half).unwrap().to_text(), "-0.5");
    }

    #[test]
    fn malformed_binary_is_an_error() {
        for raw in [
            &[][..],
            &[0, 1, 0, 0, 0, 0, 0, 0][..],
            &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10][..],
            &[0xff, 0xff, 0, 0, 0, 0, 0, 0][..],
            &[0, 0, 0, 0, 0x12, 0x34, 0, 0][..],
            &[0, 0, 0, 0, 0, 0, 0xff, 0xff][..],
        ] {
            assert!(NumericView::parse(raw).is_err(), "{raw:?}");
        }
    }
}
