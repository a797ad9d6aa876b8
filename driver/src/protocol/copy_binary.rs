//! COPY's binary format, sans-IO: the header and trailer a writer puts around its tuples, and
//! a reader that splits the server's CopyData stream into tuples.
//!
//! A binary tuple is laid out as a DataRow's body (a 16-bit field count, then each field as a
//! 32-bit length, -1 for NULL, and its bytes), so a tuple read here becomes a
//! [`Record`](crate::Record) that shares the CopyData message's bytes. The protocol does not
//! promise that message boundaries fall between tuples (PostgreSQL sends one tuple per
//! message; a proxy may not): a tuple cut by a boundary is joined in a buffer, bounded by the
//! connection's largest message.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::ProtocolError;
use super::backend::DataRow;

/// The 11-byte signature that starts binary COPY data.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The header flag that says each tuple carries an OID (WITH OIDS, gone since PostgreSQL 12).
const FLAG_HAS_OIDS: u32 = 1 << 16;

/// Flags in the high half that the reader must understand to go on.
const CRITICAL_FLAGS: u32 = 0xffff_0000;

/// Appends the header: signature, no flags, no header extension.
pub fn put_header(buf: &mut BytesMut) {
    buf.put_slice(SIGNATURE);
    buf.put_u32(0);
    buf.put_u32(0);
}

/// Appends the trailer: a field count of -1.
pub fn put_trailer(buf: &mut BytesMut) {
    buf.put_i16(-1);
}

/// Splits binary COPY data, fed one CopyData at a time, into tuples.
#[derive(Debug)]
pub struct BinaryCopyReader {
    /// What is not read yet: the rest of the last CopyData, with a partial tuple that an
    /// earlier message began in front of it.
    pending: Bytes,
    columns: usize,
    max_tuple: usize,
    header_read: bool,
    ended: bool,
}

impl BinaryCopyReader {
    /// A reader for tuples of `columns` fields, refusing any tuple larger than `max_tuple`
    /// bytes (the connection's largest message) before it is buffered.
    pub fn new(columns: usize, max_tuple: usize) -> BinaryCopyReader {
        BinaryCopyReader {
            pending: Bytes::new(),
            columns,
            max_tuple,
            header_read: false,
            ended: false,
        }
    }

    /// Takes the body of one CopyData message.
    pub fn feed(&mut self, data: Bytes) -> Result<(), ProtocolError> {
        if self.ended && !data.is_empty() {
            return Err(ProtocolError::new("binary COPY: data after the trailer"));
        }
        if self.pending.is_empty() {
            self.pending = data;
        } else {
            // A tuple (or the header) was cut by a message boundary: join the two.
            let mut joined = BytesMut::with_capacity(self.pending.len() + data.len());
            joined.put_slice(&self.pending);
            joined.put_slice(&data);
            self.pending = joined.freeze();
        }
        Ok(())
    }

    /// The next whole tuple, `None` when the data fed so far ends inside one (feed more) or
    /// after the trailer (see [`BinaryCopyReader::is_ended`]).
    pub fn next_tuple(&mut self) -> Result<Option<DataRow>, ProtocolError> {
        if self.ended {
            return Ok(None);
        }
        if !self.header_read && !self.read_header()? {
            return Ok(None);
        }
        let Some(&[hi, lo]) = self.pending.first_chunk::<2>() else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([hi, lo]);
        if count == -1 {
            self.pending.advance(2);
            self.ended = true;
            return Ok(None);
        }
        if usize::try_from(count).ok() != Some(self.columns) {
            return Err(ProtocolError::new(format!(
                "binary COPY: a tuple has {count} fields but the query has {} columns",
                self.columns
            )));
        }
        let Some(end) = self.tuple_end(2)? else {
            return Ok(None);
        };
        let mut tuple = self.pending.split_to(end);
        tuple.advance(2);
        // The count is positive here: it equals the column count.
        Ok(Some(DataRow::from_checked(count as u16, tuple)))
    }

    /// Whether the trailer was read: the data is complete.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Checks that the data ended where it should, once the server's CopyDone arrived.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if !self.ended {
            return Err(ProtocolError::new(format!(
                "binary COPY: the data ended without its trailer ({} bytes of a tuple left)",
                self.pending.len()
            )));
        }
        if !self.pending.is_empty() {
            return Err(ProtocolError::new(format!(
                "binary COPY: {} bytes after the trailer",
                self.pending.len()
            )));
        }
        Ok(())
    }

    /// Reads the header once it is all there; `false` when more data is needed.
    fn read_header(&mut self) -> Result<bool, ProtocolError> {
        let fixed = SIGNATURE.len() + 8;
        let Some(header) = self.pending.get(..fixed) else {
            return self.check_partial_signature().map(|()| false);
        };
        if &header[..SIGNATURE.len()] != SIGNATURE {
            return Err(ProtocolError::new(
                "binary COPY: the data does not start with the PGCOPY signature (is the COPY \
                 in FORMAT binary?)",
            ));
        }
        let flags = u32::from_be_bytes([header[11], header[12], header[13], header[14]]);
        let extension = u32::from_be_bytes([header[15], header[16], header[17], header[18]]);
        if flags & FLAG_HAS_OIDS != 0 {
            return Err(ProtocolError::new(
                "binary COPY: tuples carry OIDs (WITH OIDS), which pgtusk does not read",
            ));
        }
        if flags & CRITICAL_FLAGS != 0 {
            return Err(ProtocolError::new(format!(
                "binary COPY: unknown critical header flags {flags:#010x}"
            )));
        }
        let extension = extension as usize;
        if extension > self.max_tuple {
            return Err(ProtocolError::new(format!(
                "binary COPY: a header extension of {extension} bytes"
            )));
        }
        if self.pending.len() < fixed + extension {
            return Ok(false);
        }
        self.pending.advance(fixed + extension);
        self.header_read = true;
        Ok(true)
    }

    /// A wrong signature is refused as soon as its first bytes are in.
    fn check_partial_signature(&self) -> Result<(), ProtocolError> {
        let n = self.pending.len().min(SIGNATURE.len());
        if self.pending[..n] != SIGNATURE[..n] {
            return Err(ProtocolError::new(
                "binary COPY: the data does not start with the PGCOPY signature (is the COPY \
                 in FORMAT binary?)",
            ));
        }
        Ok(())
    }

    /// Where the tuple whose fields start at `pos` ends, `None` when it is not all here.
    fn tuple_end(&self, mut pos: usize) -> Result<Option<usize>, ProtocolError> {
        let buf: &[u8] = &self.pending;
        for _ in 0..self.columns {
            let Some(&len) = buf.get(pos..).and_then(<[u8]>::first_chunk::<4>) else {
                return self.incomplete(pos);
            };
            let len = i32::from_be_bytes(len);
            pos += 4;
            match len {
                -1 => {}
                len if len >= 0 => pos += len as usize,
                len => {
                    return Err(ProtocolError::new(format!(
                        "binary COPY: invalid field length {len}"
                    )));
                }
            }
            if pos > self.max_tuple {
                return Err(ProtocolError::new(format!(
                    "binary COPY: a tuple longer than the {} bytes allowed (max_message_size)",
                    self.max_tuple
                )));
            }
        }
        if pos > buf.len() {
            return self.incomplete(pos);
        }
        Ok(Some(pos))
    }

    fn incomplete(&self, needed: usize) -> Result<Option<usize>, ProtocolError> {
        if needed > self.max_tuple {
            return Err(ProtocolError::new(format!(
                "binary COPY: a tuple longer than the {} bytes allowed (max_message_size)",
                self.max_tuple
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (fields.len() as i16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                Some(v) => {
                    out.extend((v.len() as i32).to_be_bytes());
                    out.extend(*v);
                }
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out
    }

    fn stream(tuples: &[Vec<u8>]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        put_header(&mut buf);
        for t in tuples {
            buf.put_slice(t);
        }
        put_trailer(&mut buf);
        buf.to_vec()
    }

    fn fields(row: &DataRow) -> Vec<Option<Vec<u8>>> {
        row.ranges()
            .map(|r| r.unwrap().map(|r| row.buffer()[r].to_vec()))
            .collect()
    }

    fn read_all(reader: &mut BinaryCopyReader, chunks: &[&[u8]]) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut rows = Vec::new();
        for chunk in chunks {
            reader.feed(Bytes::copy_from_slice(chunk)).unwrap();
            while let Some(row) = reader.next_tuple().unwrap() {
                rows.push(fields(&row));
            }
        }
        rows
    }

    #[test]
    fn tuples_in_one_message_are_shared_not_copied() {
        let data = Bytes::from(stream(&[
            tuple(&[Some(b"ab"), None]),
            tuple(&[Some(b""), Some(b"xyz")]),
        ]));
        let mut reader = BinaryCopyReader::new(2, 1 << 20);
        reader.feed(data.clone()).unwrap();
        let first = reader.next_tuple().unwrap().unwrap();
        // The row's bytes point into the message.
        let start = data.as_ptr() as usize;
        let row_at = first.buffer().as_ptr() as usize;
        assert!(row_at > start && row_at < start + data.len());
        assert_eq!(fields(&first), vec![Some(b"ab".to_vec()), None]);
        let second = reader.next_tuple().unwrap().unwrap();
        assert_eq!(fields(&second), vec![Some(vec![]), Some(b"xyz".to_vec())]);
        assert!(reader.next_tuple().unwrap().is_none());
        assert!(reader.is_ended());
        reader.finish().unwrap();
    }

    #[test]
    fn tuples_cut_at_every_byte_are_joined() {
        let data = stream(&[tuple(&[Some(b"hello"), None]), tuple(&[None, Some(b"w")])]);
        for cut in 1..data.len() {
            let mut reader = BinaryCopyReader::new(2, 1 << 20);
            let rows = read_all(&mut reader, &[&data[..cut], &data[cut..]]);
            assert_eq!(rows.len(), 2, "cut at {cut}");
            assert_eq!(rows[1], vec![None, Some(b"w".to_vec())]);
            reader.finish().unwrap();
        }
    }

    #[test]
    fn a_header_extension_is_skipped() {
        let mut data = SIGNATURE.to_vec();
        data.extend(0u32.to_be_bytes());
        data.extend(3u32.to_be_bytes());
        data.extend(b"ext");
        data.extend(tuple(&[Some(b"1")]));
        data.extend((-1i16).to_be_bytes());
        let mut reader = BinaryCopyReader::new(1, 1 << 20);
        let rows = read_all(&mut reader, &[&data]);
        assert_eq!(rows, vec![vec![Some(b"1".to_vec())]]);
    }

    #[test]
    fn bad_data_is_an_error_not_a_panic() {
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            (
                "signature",
                b"PGCOPX\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec(),
                1,
            ),
            ("text data", b"1\tone\n".to_vec(), 1),
            (
                "oids",
                {
                    let mut d = SIGNATURE.to_vec();
                    d.extend(FLAG_HAS_OIDS.to_be_bytes());
                    d.extend(0u32.to_be_bytes());
                    d
                },
                1,
            ),
            (
                "critical flag",
                {
                    let mut d = SIGNATURE.to_vec();
                    d.extend((1u32 << 20).to_be_bytes());
                    d.extend(0u32.to_be_bytes());
                    d
                },
                1,
            ),
            (
                "field count",
                stream(&[tuple(&[Some(b"1"), Some(b"2")])]),
                1,
            ),
            (
                "field length",
                {
                    let mut d = stream(&[]);
                    d.truncate(d.len() - 2);
                    d.extend(1i16.to_be_bytes());
                    d.extend((-2i32).to_be_bytes());
                    d
                },
                1,
            ),
            (
                "huge field",
                {
                    let mut d = stream(&[]);
                    d.truncate(d.len() - 2);
                    d.extend(1i16.to_be_bytes());
                    d.extend(i32::MAX.to_be_bytes());
                    d
                },
                1,
            ),
        ];
        for (what, data, columns) in cases {
            let mut reader = BinaryCopyReader::new(columns, 1 << 20);
            reader.feed(Bytes::from(data)).unwrap();
            let result = (0..3).try_for_each(|_| reader.next_tuple().map(drop));
            assert!(result.is_err(), "{what}: {result:?}");
        }
    }

    #[test]
    fn data_cut_short_or_past_the_trailer_fails_finish() {
        let data = stream(&[tuple(&[Some(b"1")])]);
        let mut reader = BinaryCopyReader::new(1, 1 << 20);
        read_all(&mut reader, &[&data[..data.len() - 3]]);
        assert!(reader.finish().is_err());

        let mut reader = BinaryCopyReader::new(1, 1 << 20);
        read_all(&mut reader, &[&data]);
        assert!(reader.feed(Bytes::from_static(b"x")).is_err());
    }
}
