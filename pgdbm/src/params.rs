//! PostgreSQL's limits on parameters, checked on the client so that a call
//! over them fails alone, before anything of it is sent.
//!
//! The server refuses a Bind message with more than 65,535 parameters (the
//! count is 16 bits on the wire) and any value over 1 GiB − 1; a message it
//! cannot read ends the whole connection, and on a multiplexed connection
//! that fails every caller pipelined on it. tokio-postgres encodes all of a
//! statement's parameters into its buffer before it writes anything to the
//! socket, so an error raised while encoding leaves the connection as it was.

use std::fmt;

use bytes::BytesMut;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};

use crate::error::{Error, Result};

/// The most parameters one statement can carry.
pub(crate) const MAX_PARAMETERS: usize = u16::MAX as usize;

/// The largest value PostgreSQL accepts (`MaxAllocSize - 1`).
pub(crate) const MAX_VALUE_BYTES: usize = 0x3FFF_FFFF;

/// Refuses a statement with more parameters than the protocol can carry.
pub(crate) fn check_count(n: usize, sql: &str) -> Result<()> {
    if n <= MAX_PARAMETERS {
        return Ok(());
    }
    Err(Error::parameter(
        None,
        format!(
            "{n} parameters, more than the {MAX_PARAMETERS} PostgreSQL accepts in one statement; \
             nothing was sent (pass a list as one array parameter, `= ANY($1)`, or split the statement)"
        ),
        sql,
    ))
}

/// A parameter that refuses to encode past [`MAX_VALUE_BYTES`]; otherwise
/// exactly the value it wraps (type check and wire format included).
#[derive(Debug)]
pub(crate) struct Bounded<'a>(pub &'a (dyn ToSql + Sync));

impl ToSql for Bounded<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        encode_within(self.0, ty, out, MAX_VALUE_BYTES)
    }

    /// Every type: the wrapped value's `to_sql_checked` makes the real
    /// check, so a mismatch reports the wrapped Rust type, not this one.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        self.0.encode_format(ty)
    }

    to_sql_checked!();
}

/// Encodes `value` into `out`, failing if it takes more than `limit` bytes.
fn encode_within(
    value: &(dyn ToSql + Sync),
    ty: &Type,
    out: &mut BytesMut,
    limit: usize,
) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
    let start = out.len();
    let is_null = value.to_sql_checked(ty, out)?;
    let len = out.len() - start;
    if len > limit {
        // `out` is the connection's reusable buffer: copy what came before
        // into a fresh one, so the connection does not keep the oversized
        // allocation for as long as it lives.
        *out = BytesMut::from(&out[..start]);
        return Err(Box::new(ValueTooLarge { len, limit }));
    }
    Ok(is_null)
}

/// The error of [`Bounded`], which the driver reports as the cause of
/// "error serializing parameter N".
#[derive(Debug)]
struct ValueTooLarge {
    len: usize,
    limit: usize,
}

impl fmt::Display for ValueTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the value is {} bytes encoded, over PostgreSQL's limit of {} bytes for one value; \
             nothing was sent (store large data in chunks, or stream it with COPY)",
            self.len, self.limit
        )
    }
}

impl std::error::Error for ValueTooLarge {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_count_limit_is_the_protocols() {
        assert!(check_count(0, "SELECT 1").is_ok());
        assert!(check_count(MAX_PARAMETERS, "SELECT 1").is_ok());
        let err = check_count(MAX_PARAMETERS + 1, "SELECT $1").unwrap_err();
        let Error::Parameter(e) = &err else {
            panic!("expected Error::Parameter, got {err:?}");
        };
        assert!(e.message().starts_with("65536 parameters"), "{err}");
        assert!(e.message().contains("65535"), "{err}");
        assert_eq!(e.parameter(), None);
        assert_eq!(err.sql(), Some("SELECT $1"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_bounded_value_encodes_as_the_value_it_wraps() {
        let value = "hello";
        let mut wrapped = BytesMut::new();
        let mut plain = BytesMut::new();
        let wrapped_null = Bounded(&value).to_sql_checked(&Type::TEXT, &mut wrapped);
        let plain_null = value.to_sql_checked(&Type::TEXT, &mut plain);
        assert!(matches!(wrapped_null, Ok(IsNull::No)));
        assert!(matches!(plain_null, Ok(IsNull::No)));
        assert_eq!(wrapped, plain);

        let none: Option<i32> = None;
        let null = Bounded(&none).to_sql_checked(&Type::INT4, &mut BytesMut::new());
        assert!(matches!(null, Ok(IsNull::Yes)));
        let text_format = Bounded(&value).encode_format(&Type::TEXT);
        assert!(matches!(text_format, Format::Binary));
    }

    #[test]
    fn a_bounded_value_keeps_the_wrapped_types_check() {
        let Err(err) = Bounded(&5i32).to_sql_checked(&Type::TEXT, &mut BytesMut::new()) else {
            panic!("an i32 encoded as text");
        };
        assert!(err.to_string().contains("`i32`"), "{err}");
    }

    #[test]
    fn a_value_over_the_limit_is_refused_and_the_buffer_left_as_it_was() {
        let mut out = BytesMut::from(&b"head"[..]);
        assert!(encode_within(&"1234", &Type::TEXT, &mut out, 4).is_ok());
        assert_eq!(&out[..], b"head1234");

        let Err(err) = encode_within(&"12345", &Type::TEXT, &mut out, 4) else {
            panic!("5 bytes passed a limit of 4");
        };
        assert_eq!(&out[..], b"head1234");
        let message = err.to_string();
        assert!(
            message.starts_with("the value is 5 bytes encoded"),
            "{message}"
        );
        assert!(message.contains("limit of 4 bytes"), "{message}");
    }
}
