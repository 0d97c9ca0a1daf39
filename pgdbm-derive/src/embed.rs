//! `embed_migrations!`: a directory's migration files compiled into the
//! program, each through `include_str!` so that cargo rebuilds when one
//! changes or disappears.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

pub(crate) fn expand(dir: &LitStr) -> syn::Result<TokenStream> {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| {
            syn::Error::new(
                dir.span(),
                "CARGO_MANIFEST_DIR is not set: build with cargo",
            )
        })?;
    let path = root.join(dir.value());
    let entries = std::fs::read_dir(&path).map_err(|e| {
        syn::Error::new(
            dir.span(),
            format!(
                "cannot read the migrations directory {} ({e}); the path is relative to the crate's Cargo.toml",
                path.display()
            ),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| syn::Error::new(dir.span(), e.to_string()))?;
        let file = entry.path();
        // The same rule as `Migrator::from_dir`: every visible `.sql` file.
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".sql") || name.starts_with('.') || !file.is_file() {
            continue;
        }
        let absolute = file.to_str().ok_or_else(|| {
            syn::Error::new(
                dir.span(),
                format!("{} is not a UTF-8 path", file.display()),
            )
        })?;
        files.push((name.to_owned(), absolute.to_owned()));
    }
    files.sort();
    let entries = files.iter().map(|(name, absolute)| {
        quote! { (#name, ::core::include_str!(#absolute)) }
    });
    Ok(quote! {{
        const FILES: &[(&str, &str)] = &[#(#entries),*];
        ::pgdbm::Migrator::from_files(FILES.iter().copied())
    }})
}
