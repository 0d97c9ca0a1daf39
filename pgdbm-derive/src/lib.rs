//! Procedural macros for [`pgdbm`](https://docs.rs/pgdbm).
//!
//! Use them through the `pgdbm` crate, which re-exports them; generated code
//! refers to the runtime only through `::pgdbm::__private`.
