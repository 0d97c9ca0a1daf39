//! Records for `copy_records_to_table`: anything that hands the binary COPY
//! encoder one value per column, read in place (a record is never collected
//! into a slice of references first).

use tokio_postgres::types::ToSql;

/// One record for `copy_records_to_table`: a value per column, in column
/// order.
///
/// Implemented for tuples of 1 to 16 owned or borrowed values
/// (`(1i64, "a".to_string(), Some(3i32))`), for arrays, slices and vectors of
/// `&(dyn ToSql + Sync)`, for `Vec<Box<dyn ToSql + Sync>>` and
/// `Vec<Box<dyn ToSql + Sync + Send>>`, and for a reference to any record.
/// The values are read where they are, one at a time, as the COPY encodes
/// them.
///
/// A COPY future is `Send` (can be spawned) when the records and their
/// iterator are: tuples of `Send` values are, `Vec<Box<dyn ToSql + Sync>>`
/// is not (use `Vec<Box<dyn ToSql + Sync + Send>>`). One compiler limitation
/// (rust-lang/rust#110338): an iterator adapter written inline whose closure
/// takes references (`rows.iter().map(|r| (r.id, &r.name))`) can make the
/// compiler fail to prove a spawned future `Send`, with "implementation of
/// `FnOnce` is not general enough". Pass the rows themselves (`&rows` for
/// tuples), or return the adapter from a function
/// (`fn records(rows: &[Row]) -> impl Iterator<Item = (i64, &String)> + '_`).
///
/// A type of your own can be copied as it is:
///
/// ```no_run
/// use pgdbm::{CopyRecord, ToSql};
///
/// struct Reading {
///     sensor: i32,
///     value: f64,
/// }
///
/// impl CopyRecord for Reading {
///     fn width(&self) -> usize {
///         2
///     }
///     fn value(&self, index: usize) -> &(dyn ToSql + Sync) {
///         match index {
///             0 => &self.sensor,
///             _ => &self.value,
///         }
///     }
/// }
///
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let readings = vec![Reading { sensor: 1, value: 0.5 }, Reading { sensor: 2, value: 1.5 }];
/// db.copy_records_to_table("readings", &["sensor", "value"], &readings).await?;
/// // Tuples need no impl.
/// let rows = vec![(3i32, 2.5f64), (4, 3.5)];
/// db.copy_records_to_table("readings", &["sensor", "value"], rows).await?;
/// # Ok(()) }
/// ```
pub trait CopyRecord: Sync {
    /// How many values the record holds. A record whose width is not the
    /// number of columns fails the COPY, naming the record.
    fn width(&self) -> usize;

    /// The value for column `index`. Only called with `index` below
    /// [`width`](Self::width); the implementations here panic otherwise.
    fn value(&self, index: usize) -> &(dyn ToSql + Sync);
}

impl<R: CopyRecord + ?Sized> CopyRecord for &R {
    fn width(&self) -> usize {
        (**self).width()
    }

    fn value(&self, index: usize) -> &(dyn ToSql + Sync) {
        (**self).value(index)
    }
}

/// Records that hold their values as elements, in column order: the value
/// for a column is the element there, seen through its reference or box.
macro_rules! element_record {
    ($({$($generics:tt)*} $record:ty;)+) => {$(
        impl<$($generics)*> CopyRecord for $record {
            fn width(&self) -> usize {
                self.len()
            }

            fn value(&self, index: usize) -> &(dyn ToSql + Sync) {
                &*self[index]
            }
        }
    )+};
}

element_record! {
    {'v} [&(dyn ToSql + Sync + 'v)];
    {'v, const N: usize} [&(dyn ToSql + Sync + 'v); N];
    {'v} Vec<&(dyn ToSql + Sync + 'v)>;
    {'v} Vec<Box<dyn ToSql + Sync + 'v>>;
    {'v} Vec<Box<dyn ToSql + Sync + Send + 'v>>;
}

#[cold]
#[track_caller]
fn out_of_range(index: usize, width: usize) -> ! {
    panic!("value {index} asked of a record of {width}")
}

macro_rules! tuple_record {
    ($width:literal: $($index:tt $name:ident),+) => {
        impl<$($name: ToSql + Sync),+> CopyRecord for ($($name,)+) {
            fn width(&self) -> usize {
                $width
            }

            fn value(&self, index: usize) -> &(dyn ToSql + Sync) {
                match index {
                    $($index => &self.$index,)+
                    _ => out_of_range(index, $width),
                }
            }
        }
    };
}

tuple_record!(1: 0 A);
tuple_record!(2: 0 A, 1 B);
tuple_record!(3: 0 A, 1 B, 2 C);
tuple_record!(4: 0 A, 1 B, 2 C, 3 D);
tuple_record!(5: 0 A, 1 B, 2 C, 3 D, 4 E);
tuple_record!(6: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
tuple_record!(7: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple_record!(8: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
tuple_record!(9: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
tuple_record!(10: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
tuple_record!(11: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
tuple_record!(12: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
tuple_record!(13: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M);
tuple_record!(14: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N);
tuple_record!(15: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O);
tuple_record!(16: 0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O, 15 P);

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(record: &dyn CopyRecord) -> String {
        (0..record.width())
            .map(|i| format!("{:?}", record.value(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn every_kind_yields_its_values_in_order() {
        let tuple = (1i64, "a".to_string(), Some(3i32));
        assert_eq!(tuple.width(), 3);
        assert_eq!(shown(&tuple), "1,\"a\",Some(3)");
        assert_eq!(shown(&&tuple), shown(&tuple));
        let wide = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16i16);
        assert_eq!(wide.width(), 16);
        assert_eq!(format!("{:?}", wide.value(15)), "16");

        let (a, b) = (1i32, "x");
        let array: [&(dyn ToSql + Sync); 2] = [&a, &b];
        assert_eq!(shown(&array), "1,\"x\"");
        assert_eq!(shown(&&array[..]), "1,\"x\"");
        assert_eq!(shown(&array.to_vec()), "1,\"x\"");
        let boxed: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(1i32), Box::new("x")];
        assert_eq!(shown(&boxed), "1,\"x\"");
        let sendable: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(1i32)];
        assert_eq!(shown(&sendable), "1");
    }

    #[test]
    #[should_panic(expected = "value 3 asked of a record of 3")]
    fn a_tuple_has_no_value_past_its_width() {
        (1, 2, 3).value(3);
    }
}
