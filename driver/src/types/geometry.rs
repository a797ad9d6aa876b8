//! point, line, lseg, box, path, polygon and circle ↔ small structs of `f64`s, as
//! `geo_ops.c`'s send / recv functions write them.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type};
use crate::error::BoxError;

/// A `point`: `(x,y)`.
///
/// ```
/// use pgtusk::types::Point;
/// let p = Point { x: 1.5, y: -2.0 }; // SELECT $1::point::text gives (1.5,-2)
/// # let _ = p;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// A `line`: the infinite line `a·x + b·y + c = 0` (`a` and `b` not both zero).
///
/// ```
/// use pgtusk::types::Line;
/// let diagonal = Line { a: 1.0, b: -1.0, c: 0.0 }; // {1,-1,0}: y = x
/// # let _ = diagonal;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Line {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

/// An `lseg`: the line segment from `start` to `end`.
///
/// ```
/// use pgtusk::types::{LineSegment, Point};
/// let s = LineSegment { start: Point { x: 0.0, y: 0.0 }, end: Point { x: 1.0, y: 1.0 } };
/// # let _ = s;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineSegment {
    pub start: Point,
    pub end: Point,
}

/// A `box`: two opposite corners. PostgreSQL stores the upper-right corner as `high` and the
/// lower-left as `low`, whatever order they were given in.
///
/// ```
/// use pgtusk::types::{PgBox, Point};
/// let b = PgBox { high: Point { x: 2.0, y: 2.0 }, low: Point { x: 0.0, y: 0.0 } }; // (2,2),(0,0)
/// # let _ = b;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PgBox {
    pub high: Point,
    pub low: Point,
}

/// A `path`: open (`[(0,0),(1,1)]`) or closed (`((0,0),(1,1),(1,0))`), at least one point.
///
/// ```
/// use pgtusk::types::{Path, Point};
/// let p = Path { closed: false, points: vec![Point { x: 0.0, y: 0.0 }, Point { x: 1.0, y: 1.0 }] };
/// # let _ = p;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Path {
    pub closed: bool,
    pub points: Vec<Point>,
}

/// A `polygon`: its vertices in order, at least one.
///
/// ```
/// use pgtusk::types::{Point, Polygon};
/// let triangle = Polygon { points: vec![Point { x: 0.0, y: 0.0 }, Point { x: 1.0, y: 0.0 }, Point { x: 0.0, y: 1.0 }] };
/// # let _ = triangle;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Polygon {
    pub points: Vec<Point>,
}

/// A `circle`: `<(x,y),radius>`.
///
/// ```
/// use pgtusk::types::{Circle, Point};
/// let c = Circle { center: Point { x: 0.0, y: 0.0 }, radius: 1.0 }; // <(0,0),1>
/// # let _ = c;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Circle {
    pub center: Point,
    pub radius: f64,
}

/// Reads `f64`s off the front of a value, never past its end.
struct Reader<'a> {
    ty: &'a Type,
    raw: &'a [u8],
}

impl Reader<'_> {
    fn f64(&mut self) -> Result<f64, BoxError> {
        let Some((head, rest)) = self.raw.split_first_chunk::<8>() else {
            return Err(format!("invalid {} value: too short", self.ty).into());
        };
        self.raw = rest;
        Ok(f64::from_be_bytes(*head))
    }

    fn point(&mut self) -> Result<Point, BoxError> {
        Ok(Point {
            x: self.f64()?,
            y: self.f64()?,
        })
    }

    /// A point count followed by exactly that many points.
    fn points(&mut self) -> Result<Vec<Point>, BoxError> {
        let Some((n, rest)) = self.raw.split_first_chunk::<4>() else {
            return Err(format!("invalid {} value: too short", self.ty).into());
        };
        let n = i32::from_be_bytes(*n);
        self.raw = rest;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n > 0 && rest.len() == n * 16)
            .ok_or_else(|| {
                format!(
                    "invalid {} value: {n} points announced, {} bytes follow",
                    self.ty,
                    rest.len()
                )
            })?;
        (0..n).map(|_| self.point()).collect()
    }

    fn end<T>(self, value: T) -> Result<T, BoxError> {
        if self.raw.is_empty() {
            Ok(value)
        } else {
            Err(format!(
                "invalid {} value: {} bytes left over",
                self.ty,
                self.raw.len()
            )
            .into())
        }
    }
}

fn put_point(p: &Point, buf: &mut BytesMut) {
    buf.put_f64(p.x);
    buf.put_f64(p.y);
}

fn put_points(points: &[Point], ty: &Type, buf: &mut BytesMut) -> Result<(), BoxError> {
    let n = i32::try_from(points.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("a {ty} needs at least one point (and fewer than 2^31)"))?;
    buf.put_i32(n);
    for p in points {
        put_point(p, buf);
    }
    Ok(())
}

macro_rules! geometry {
    ($rust:ty, $ty:ident, |$s:ident, $t:ident, $buf:ident| $enc:block, |$r:ident| $dec:block) => {
        impl Encode for $rust {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::$ty
            }

            #[allow(unused_variables)]
            fn encode(&self, $t: &Type, $buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                let $s = self;
                $enc
                Ok(IsNull::No)
            }
        }

        impl Decode<'_> for $rust {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::$ty
            }

            fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
                let mut $r = Reader { ty, raw };
                let value = $dec;
                $r.end(value)
            }
        }
    };
}

geometry!(
    Point,
    POINT,
    |s, ty, buf| {
        put_point(s, buf);
    },
    |r| { r.point()? }
);
geometry!(
    Line,
    LINE,
    |s, ty, buf| {
        buf.put_f64(s.a);
        buf.put_f64(s.b);
        buf.put_f64(s.c);
    },
    |r| {
        Line {
            a: r.f64()?,
            b: r.f64()?,
            c: r.f64()?,
        }
    }
);
geometry!(
    LineSegment,
    LSEG,
    |s, ty, buf| {
        put_point(&s.start, buf);
        put_point(&s.end, buf);
    },
    |r| {
        LineSegment {
            start: r.point()?,
            end: r.point()?,
        }
    }
);
geometry!(
    PgBox,
    BOX,
    |s, ty, buf| {
        put_point(&s.high, buf);
        put_point(&s.low, buf);
    },
    |r| {
        PgBox {
            high: r.point()?,
            low: r.point()?,
        }
    }
);
geometry!(
    Path,
    PATH,
    |s, ty, buf| {
        buf.put_u8(u8::from(s.closed));
        put_points(&s.points, ty, buf)?;
    },
    |r| {
        let Some((&closed, rest)) = r.raw.split_first() else {
            return Err(format!("invalid {} value: empty", r.ty).into());
        };
        r.raw = rest;
        Path {
            closed: closed != 0,
            points: r.points()?,
        }
    }
);
geometry!(
    Polygon,
    POLYGON,
    |s, ty, buf| {
        put_points(&s.points, ty, buf)?;
    },
    |r| {
        Polygon {
            points: r.points()?,
        }
    }
);
geometry!(
    Circle,
    CIRCLE,
    |s, ty, buf| {
        put_point(&s.center, buf);
        buf.put_f64(s.radius);
    },
    |r| {
        Circle {
            center: r.point()?,
            radius: r.f64()?,
        }
    }
);
