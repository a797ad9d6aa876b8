//! date, time, timetz, timestamp and timestamptz ↔ chrono (feature "chrono").
//!
//! PostgreSQL counts days (date) and microseconds (timestamp, timestamptz) from 2000-01-01,
//! and microseconds from midnight (time). Sub-microsecond nanoseconds are truncated when sent:
//! the digits are dropped (`23:59:59.999999999` is stored as `23:59:59.999999`), before 2000 too.
//! `infinity` / `-infinity` are an error for chrono types: use [`MaybeInfinite`].
//! PostgreSQL's dates reach 5874897 AD, chrono's about 262142 AD: a later value is an error.
//!
//! [`MaybeInfinite`]: super::MaybeInfinite

use bytes::{BufMut, BytesMut};
use chrono::{
    DateTime, Duration, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};

use super::infinite::infinity_error;
use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn epoch() -> NaiveDateTime {
    epoch_date().and_time(NaiveTime::MIN)
}

const USECS_PER_DAY: i64 = 86_400_000_000;

/// A `time with time zone`: a time of day and its UTC offset.
///
/// ```
/// use chrono::{FixedOffset, NaiveTime};
/// use pgtusk::types::TimeTz;
/// let t = TimeTz {
///     time: NaiveTime::from_hms_opt(12, 30, 0).unwrap(),
///     offset: FixedOffset::east_opt(2 * 3600).unwrap(),
/// };
/// // SELECT $1::timetz::text gives 12:30:00+02
/// # let _ = t;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    pub time: NaiveTime,
    pub offset: FixedOffset,
}

fn time_micros(t: &NaiveTime) -> Result<i64, BoxError> {
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return Err(
            "a chrono leap second (nanoseconds >= 1e9) cannot be sent as PostgreSQL time".into(),
        );
    }
    Ok(i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(nanos / 1_000))
}

fn time_from_micros(ty: &Type, us: i64) -> Result<NaiveTime, BoxError> {
    if us == USECS_PER_DAY {
        return Err(format!(
            "{ty} 24:00:00 cannot be a chrono::NaiveTime (it ends at 23:59:59.999999)"
        )
        .into());
    }
    if !(0..USECS_PER_DAY).contains(&us) {
        return Err(format!("invalid {ty} value: {us} microseconds from midnight").into());
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (us / 1_000_000) as u32,
        (us % 1_000_000) as u32 * 1_000,
    )
    .ok_or_else(|| format!("invalid {ty} value: {us} microseconds from midnight").into())
}

/// Microseconds from 2000-01-01, the nanoseconds truncated toward the past (the digits are
/// dropped, as documented). chrono's `num_microseconds` truncates toward zero instead, which
/// before 2000 rounds a value *up*, across a second, day or year boundary; so the whole days
/// and the time of day are counted apart, and only the time of day, never negative, is divided.
fn timestamp_micros(ty: &Type, dt: &NaiveDateTime) -> Result<i64, BoxError> {
    let days = dt.date().signed_duration_since(epoch_date()).num_days();
    let time = dt.time();
    // A chrono leap second (nanoseconds >= 1e9) counts as the second after it, as chrono's
    // own arithmetic does.
    let of_day = i64::from(time.num_seconds_from_midnight()) * 1_000_000
        + i64::from(time.nanosecond() / 1_000);
    if days < PG_FIRST_DAY {
        return Err(before_first_day(dt));
    }
    days.checked_mul(USECS_PER_DAY)
        .and_then(|us| us.checked_add(of_day))
        .ok_or_else(|| format!("{dt} is out of range for {ty}").into())
}

/// The first day PostgreSQL's date and timestamps hold, 4714-11-24 BC (Julian day 0), in days
/// from 2000-01-01. chrono goes further back; its last day is within PostgreSQL's range.
const PG_FIRST_DAY: i64 = -2_451_545;

#[cold]
fn before_first_day(value: &dyn std::fmt::Display) -> BoxError {
    format!(
        "{value} is before 4714-11-24 BC (-4713-11-24), the first day PostgreSQL's date and \
         timestamps hold"
    )
    .into()
}

fn timestamp_from_micros(ty: &Type, raw: &[u8], rust: &str) -> Result<NaiveDateTime, BoxError> {
    let us = i64::from_be_bytes(fixed(ty, raw)?);
    if us == i64::MAX || us == i64::MIN {
        return Err(infinity_error(ty, us == i64::MAX, rust));
    }
    epoch()
        .checked_add_signed(Duration::microseconds(us))
        .ok_or_else(|| {
            format!("{ty} value ({us} µs from 2000-01-01) is beyond chrono's range (about 262142 BC to 262142 AD)").into()
        })
}

impl Encode for NaiveDate {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let days = self.signed_duration_since(epoch_date()).num_days();
        if days < PG_FIRST_DAY {
            return Err(before_first_day(self));
        }
        // chrono's range is far inside i32 days.
        buf.put_i32(i32::try_from(days).map_err(|_| format!("{self} is out of range for date"))?);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for NaiveDate {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let days = i32::from_be_bytes(fixed(ty, raw)?);
        if days == i32::MAX || days == i32::MIN {
            return Err(infinity_error(ty, days == i32::MAX, "chrono::NaiveDate"));
        }
        epoch_date()
            .checked_add_signed(Duration::days(days.into()))
            .ok_or_else(|| {
                format!("date value ({days} days from 2000-01-01) is beyond chrono::NaiveDate's range (about 262142 BC to 262142 AD)").into()
            })
    }
}

impl Encode for NaiveTime {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(time_micros(self)?);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for NaiveTime {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIME
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        time_from_micros(ty, i64::from_be_bytes(fixed(ty, raw)?))
    }
}

/// timetz travels as microseconds from midnight and the zone in seconds *west* of UTC.
impl Encode for TimeTz {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMETZ
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(time_micros(&self.time)?);
        buf.put_i32(self.offset.utc_minus_local());
        Ok(IsNull::No)
    }
}

impl Decode<'_> for TimeTz {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMETZ
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let raw: [u8; 12] = fixed(ty, raw)?;
        let (us, zone) = raw.split_at(8);
        let us = i64::from_be_bytes(us.try_into()?);
        let zone = i32::from_be_bytes(zone.try_into()?);
        let time = time_from_micros(ty, us)?;
        let offset = FixedOffset::west_opt(zone)
            .ok_or_else(|| format!("invalid timetz value: zone offset {zone} s"))?;
        Ok(TimeTz { time, offset })
    }
}

impl Encode for NaiveDateTime {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(timestamp_micros(ty, self)?);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for NaiveDateTime {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        timestamp_from_micros(ty, raw, "chrono::NaiveDateTime")
    }
}

/// Any chrono time zone: the instant is sent as UTC.
impl<Tz: TimeZone> Encode for DateTime<Tz> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(timestamp_micros(ty, &self.naive_utc())?);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for DateTime<Utc> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(timestamp_from_micros(ty, raw, "chrono::DateTime<Utc>")?.and_utc())
    }
}

/// The instant with offset +00:00 (the server sends UTC; the session's TimeZone is not used).
impl Decode<'_> for DateTime<FixedOffset> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(
            timestamp_from_micros(ty, raw, "chrono::DateTime<FixedOffset>")?
                .and_utc()
                .fixed_offset(),
        )
    }
}

/// The instant in this process's local time zone.
impl Decode<'_> for DateTime<Local> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(timestamp_from_micros(ty, raw, "chrono::DateTime<Local>")?
            .and_utc()
            .with_timezone(&Local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds_are_truncated_toward_the_past() {
        let ty = Type::TIMESTAMP;
        let at = |y, mo, d, h, mi, s, ns| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_nano_opt(h, mi, s, ns)
                .unwrap()
        };
        for (dt, us) in [
            (at(2000, 1, 1, 0, 0, 0, 0), 0),
            (at(2000, 1, 1, 0, 0, 0, 999), 0),
            (at(1999, 12, 31, 23, 59, 59, 999_999_999), -1),
            (at(1999, 12, 31, 23, 59, 59, 999_998_001), -2),
            (at(1999, 12, 31, 0, 0, 0, 1), -USECS_PER_DAY),
            // A leap second is the second after it.
            (at(1999, 12, 31, 23, 59, 59, 1_000_000_999), 0),
        ] {
            assert_eq!(timestamp_micros(&ty, &dt).unwrap(), us, "{dt}");
        }
        // PostgreSQL's first day (Julian day 0) is the earliest that goes out; chrono's
        // earlier days are refused before they are sent, the message naming the limit.
        let first = at(-4713, 11, 24, 0, 0, 0, 0);
        assert_eq!(
            timestamp_micros(&ty, &first).unwrap(),
            (first - epoch()).num_microseconds().unwrap()
        );
        let before = timestamp_micros(&ty, &(first - Duration::microseconds(1))).unwrap_err();
        assert!(before.to_string().contains("4714-11-24 BC"), "{before}");
        assert!(timestamp_micros(&ty, &NaiveDateTime::MIN).is_err());
    }
}
