//! The binary COPY format, written into one reusable buffer.
//!
//! As PostgreSQL documents it: a header, then each row as a field count and
//! its fields (a length, `-1` for NULL, then the value's binary form), then a
//! trailer. A row is encoded without awaiting anything, so the caller can
//! drop the row before the buffer is sent: a row held across an await would
//! put its type (often an iterator adapter with a closure over borrowed
//! values) into the COPY future, where the compiler then fails to prove the
//! future `Send` (a known limitation with higher-ranked lifetimes).

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type};

/// Signature, flags (no OIDs) and header extension length (none).
pub(super) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The field count that ends the data.
pub(super) const TRAILER: i16 = -1;

/// Why one row could not be encoded.
#[derive(Debug)]
pub(super) enum RowError {
    /// It had this many values, not one per column.
    Width(usize),
    /// The value for this column (an index into the COPY's columns) could
    /// not be encoded as the column's type.
    Value {
        column: usize,
        cause: Box<dyn StdError + Sync + Send>,
    },
}

/// One row being appended to the buffer. On an error the row's bytes are
/// taken out again, so a failed row leaves nothing half-encoded behind.
pub(super) struct RowEncoder<'a> {
    out: &'a mut BytesMut,
    types: &'a [Type],
    start: usize,
}

impl<'a> RowEncoder<'a> {
    /// Starts a row of `width` values, refused unless there is one value per
    /// column of `types`.
    pub(super) fn start(
        out: &'a mut BytesMut,
        types: &'a [Type],
        width: usize,
    ) -> Result<Self, RowError> {
        // A table has at most 1,600 columns, so the count fits.
        let count = match i16::try_from(width) {
            Ok(count) if width == types.len() => count,
            _ => return Err(RowError::Width(width)),
        };
        let start = out.len();
        out.put_i16(count);
        Ok(RowEncoder { out, types, start })
    }

    /// Appends the value of column `column` (values come in column order).
    pub(super) fn value(
        &mut self,
        column: usize,
        value: &(dyn ToSql + Sync),
    ) -> Result<(), RowError> {
        let at = self.out.len();
        self.out.put_i32(0);
        let len = match value.to_sql_checked(&self.types[column], self.out) {
            Ok(IsNull::Yes) => {
                self.out.truncate(at + 4);
                Ok(-1)
            }
            Ok(IsNull::No) => i32::try_from(self.out.len() - at - 4)
                .map_err(|_| "a value of 2 GiB or more cannot be copied".into()),
            Err(cause) => Err(cause),
        };
        match len {
            Ok(len) => {
                self.out[at..at + 4].copy_from_slice(&len.to_be_bytes());
                Ok(())
            }
            Err(cause) => {
                self.out.truncate(self.start);
                Err(RowError::Value { column, cause })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_count_then_length_prefixed_fields() {
        let types = [Type::INT4, Type::TEXT, Type::INT8];
        let mut out = BytesMut::new();
        let mut row = RowEncoder::start(&mut out, &types, 3).unwrap();
        row.value(0, &7i32).unwrap();
        row.value(1, &None::<&str>).unwrap();
        row.value(2, &-1i64).unwrap();
        let mut expected = vec![0, 3];
        expected.extend([0, 0, 0, 4, 0, 0, 0, 7]);
        expected.extend((-1i32).to_be_bytes());
        expected.extend([0, 0, 0, 8]);
        expected.extend((-1i64).to_be_bytes());
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(HEADER.len(), 19);
    }

    #[test]
    fn a_failed_row_leaves_the_buffer_as_it_was() {
        let types = [Type::INT4, Type::INT4];
        let mut out = BytesMut::from(&b"before"[..]);
        let mut row = RowEncoder::start(&mut out, &types, 2).unwrap();
        row.value(0, &1i32).unwrap();
        match row.value(1, &"text") {
            Err(RowError::Value { column: 1, cause }) => {
                assert!(cause.to_string().contains("int4"), "{cause}");
            }
            other => panic!("expected a value error, got {other:?}"),
        }
        assert_eq!(&out[..], b"before");
        assert!(matches!(
            RowEncoder::start(&mut out, &types, 3),
            Err(RowError::Width(3))
        ));
        assert_eq!(&out[..], b"before");
    }
}
