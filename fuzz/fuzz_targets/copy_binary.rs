//! The binary COPY reader fed arbitrary CopyData bodies.
//!
//! Input: `[columns] [piece] data ...`. The data is fed to a `BinaryCopyReader` for
//! `columns % 4` columns (int4, text, bytea, numeric), first whole, then in pieces of
//! `piece % 16 + 1` bytes (a proxy may split CopyData anywhere), and every tuple becomes a
//! Record whose values are decoded.
//!
//! Invariants checked: both feedings give the same tuples and the same outcome; no tuple is
//! larger than the reader's limit; a reader that ended refuses more data.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pgtusk::__fuzz;
use pgtusk::protocol::copy_binary::BinaryCopyReader;
use pgtusk::types::Type;

/// The reader's tuple limit: small, so the limit itself gets exercised.
const MAX_TUPLE: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let [columns, piece, data @ ..] = data else {
        return;
    };
    let types = &[Type::INT4, Type::TEXT, Type::BYTEA, Type::NUMERIC][..usize::from(columns % 4)];
    let whole = read(types, data, data.len().max(1));
    let pieces = read(types, data, usize::from(piece % 16) + 1);
    assert_eq!(
        whole, pieces,
        "reading in pieces differs from reading whole"
    );
});

/// The tuples read (as their bytes) and whether the data was whole and well formed (the
/// error itself may differ: data after the trailer is refused by `feed` when it comes in a
/// later piece, by `finish` when it came with the trailer).
fn read(types: &[Type], data: &[u8], piece: usize) -> (Vec<Vec<u8>>, bool) {
    let columns = __fuzz::columns_of(types);
    let mut reader = BinaryCopyReader::new(types.len(), MAX_TUPLE);
    let mut tuples = Vec::new();
    for chunk in data.chunks(piece) {
        if let Err(e) = reader.feed(Bytes::copy_from_slice(chunk)) {
            assert!(
                reader.is_ended(),
                "feed refused data before the trailer: {e}"
            );
            return (tuples, false);
        }
        loop {
            match reader.next_tuple() {
                Ok(Some(row)) => {
                    assert_eq!(row.len(), types.len());
                    assert!(row.buffer().len() <= MAX_TUPLE, "a tuple over the limit");
                    tuples.push(row.buffer().to_vec());
                    let record = __fuzz::record(row, columns.clone());
                    for i in 0..types.len() {
                        let _ = record.try_get::<Option<i32>>(i);
                        let _ = record.try_get::<Option<String>>(i);
                        let _ = record.try_get::<Option<&[u8]>>(i);
                    }
                }
                Ok(None) => break,
                Err(_) => return (tuples, false),
            }
        }
    }
    (tuples, reader.finish().is_ok())
}
