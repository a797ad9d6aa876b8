//! A user-defined Rust type with its own `Encode` / `Decode`: `Celsius` travels as a float8
//! and `Rgb` as a 3-byte bytea, checked on the way in and out.
//!
//! ```sh
//! cargo run --example custom_type   (against DATABASE_URL when set, else a throwaway TempCluster)
//! ```

mod support;

use bytes::{BufMut, BytesMut};
use pgtusk::types::{IsNull, Type};
use pgtusk::{BoxError, Connection, Decode, Encode};

/// A temperature, stored as a plain `float8` in degrees Celsius.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Celsius(f64);

impl Encode for Celsius {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::FLOAT8
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.0 < -273.15 {
            return Err(format!("{} °C is below absolute zero", self.0).into());
        }
        buf.put_f64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Celsius {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::FLOAT8
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 8] = raw
            .try_into()
            .map_err(|_| format!("invalid {ty}: {} bytes", raw.len()))?;
        Ok(Celsius(f64::from_be_bytes(bytes)))
    }
}

/// A colour, stored as three bytes in a `bytea`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb {
    r: u8,
    g: u8,
    b: u8,
}

impl Encode for Rgb {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_slice(&[self.r, self.g, self.b]);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Rgb {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn decode(_ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        match *raw {
            [r, g, b] => Ok(Rgb { r, g, b }),
            _ => Err(format!("an Rgb is 3 bytes, this bytea has {}", raw.len()).into()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = support::server()?;
    let mut conn = Connection::connect(&server.dsn).await?;

    conn.execute_script(
        "CREATE TEMP TABLE readings (place text, temperature float8, colour bytea)",
    )
    .await?;
    for (place, t, colour) in [
        (
            "Oslo",
            Celsius(-3.5),
            Rgb {
                r: 0,
                g: 90,
                b: 200,
            },
        ),
        (
            "Cairo",
            Celsius(31.0),
            Rgb {
                r: 230,
                g: 160,
                b: 40,
            },
        ),
    ] {
        conn.execute(
            "INSERT INTO readings VALUES ($1, $2, $3)",
            &[&place, &t, &colour],
        )
        .await?;
    }

    for row in conn
        .fetch(
            "SELECT place, temperature, colour FROM readings ORDER BY place",
            &[],
        )
        .await?
    {
        let place: &str = row.get("place");
        let t: Celsius = row.get("temperature");
        let c: Rgb = row.get("colour");
        println!(
            "{place}: {:.1} °C, colour #{:02x}{:02x}{:02x}",
            t.0, c.r, c.g, c.b
        );
    }

    // The checks in encode and decode are errors, not panics.
    let err = conn
        .execute(
            "INSERT INTO readings VALUES ('Nowhere', $1, NULL)",
            &[&Celsius(-300.0)],
        )
        .await
        .unwrap_err();
    println!("refused: {err}");
    let err = conn
        .fetch_one("SELECT '\\x0102'::bytea AS colour", &[])
        .await?
        .try_get::<Rgb>("colour")
        .unwrap_err();
    println!("refused: {err}");
    // A type the codec does not accept is caught before anything is sent.
    let err = conn
        .execute(
            "INSERT INTO readings VALUES ('Nowhere', NULL, $1)",
            &[&Celsius(20.0)],
        )
        .await
        .unwrap_err();
    println!("refused: {err}");
    Ok(())
}
