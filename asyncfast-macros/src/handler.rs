//! `handler!(path::to::function)`: the hidden handler type of a `#[channel]` function.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Path;
use syn::ext::IdentExt;

/// Expands `handler!(f)` to `__channel_f`, keeping the path.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut path: Path = match syn::parse2(input) {
        Ok(path) => path,
        Err(error) => {
            return syn::Error::new(
                error.span(),
                "expected the path of a `#[channel]` function, as in `handler!(users::on_created)`",
            )
            .to_compile_error();
        }
    };
    let Some(last) = path.segments.last_mut() else {
        return quote!();
    };
    if !last.arguments.is_empty() {
        return syn::Error::new_spanned(
            &last.arguments,
            "a `#[channel]` function has no generic arguments",
        )
        .to_compile_error();
    }
    // Keep the user's span, so that a function without `#[channel]` is reported where named.
    last.ident = format_ident!("__channel_{}", last.ident.unraw(), span = last.ident.span());
    quote!(#path)
}
