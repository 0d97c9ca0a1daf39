//! The wrapper every expansion goes in.

use proc_macro2::TokenStream;
use quote::quote;

/// Wraps generated items in `const _: () = { .. };`, so nothing they bring
/// in can clash with the user's names.
pub(crate) fn wrap_in_const(items: TokenStream) -> TokenStream {
    quote! {
        const _: () = {
            #items
        };
    }
}
