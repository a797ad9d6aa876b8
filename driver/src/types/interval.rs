//! interval ↔ [`Interval`]: months, days and microseconds, kept apart as PostgreSQL keeps them.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

/// A PostgreSQL `interval`: months, days and microseconds, which PostgreSQL keeps apart because
/// neither a month nor a day has a fixed length (a day across a DST change is 23 or 25 hours).
///
/// Converting to a [`chrono::Duration`] is exact only when `months` and `days` are both zero
/// (`TryFrom`); [`Interval::to_duration_assuming_24h_days`] counts a day as 24 hours, which is
/// what you want for e.g. `'2 days'::interval` as a timeout, and refuses months.
///
/// ```
/// use pgtusk::types::Interval;
/// let i = Interval { months: 1, days: 2, microseconds: 3_000_000 }; // 1 mon 2 days 00:00:03
/// assert!(chrono::Duration::try_from(i).is_err());
/// let d = Interval { months: 0, days: 2, microseconds: 0 }.to_duration_assuming_24h_days().unwrap();
/// assert_eq!(d, chrono::Duration::hours(48));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub microseconds: i64,
}

impl Interval {
    /// An interval of microseconds only.
    pub const fn from_microseconds(microseconds: i64) -> Interval {
        Interval {
            months: 0,
            days: 0,
            microseconds,
        }
    }
}

/// Why an [`Interval`] cannot become a fixed duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalConversionError {
    message: String,
}

impl fmt::Display for IntervalConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IntervalConversionError {}

#[cfg(feature = "chrono")]
mod chrono_conv {
    use chrono::Duration;

    use super::{Interval, IntervalConversionError};

    fn error(message: String) -> IntervalConversionError {
        IntervalConversionError { message }
    }

    impl Interval {
        /// The duration, counting each day as 24 hours. An error when `months` is not zero (a
        /// month has no fixed length) — unlike `TryFrom`, which also refuses days.
        pub fn to_duration_assuming_24h_days(&self) -> Result<Duration, IntervalConversionError> {
            if self.months != 0 {
                return Err(error(format!(
                    "interval {self:?} has months, which have no fixed length"
                )));
            }
            Ok(Duration::days(self.days.into()) + Duration::microseconds(self.microseconds))
        }
    }

    /// Exact only: an error unless `months` and `days` are zero (see
    /// [`Interval::to_duration_assuming_24h_days`]).
    impl TryFrom<Interval> for Duration {
        type Error = IntervalConversionError;

        fn try_from(i: Interval) -> Result<Duration, IntervalConversionError> {
            if i.months != 0 || i.days != 0 {
                return Err(error(format!(
                    "interval {i:?} has months or days, which have no fixed length; use Interval::to_duration_assuming_24h_days to count a day as 24 hours"
                )));
            }
            Ok(Duration::microseconds(i.microseconds))
        }
    }

    /// All of it in microseconds (sub-microsecond nanoseconds are truncated); an error beyond
    /// ±292,000 years, which `i64` microseconds cannot hold.
    impl TryFrom<Duration> for Interval {
        type Error = IntervalConversionError;

        fn try_from(d: Duration) -> Result<Interval, IntervalConversionError> {
            d.num_microseconds()
                .map(Interval::from_microseconds)
                .ok_or_else(|| error(format!("{d} is too long for an interval")))
        }
    }
}

impl Encode for Interval {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    /// `interval_send`: microseconds, days, months.
    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(self.microseconds);
        buf.put_i32(self.days);
        buf.put_i32(self.months);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Interval {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let raw: [u8; 16] = fixed(ty, raw)?;
        let (us, rest) = raw.split_at(8);
        let (days, months) = rest.split_at(4);
        Ok(Interval {
            microseconds: i64::from_be_bytes(us.try_into()?),
            days: i32::from_be_bytes(days.try_into()?),
            months: i32::from_be_bytes(months.try_into()?),
        })
    }
}
