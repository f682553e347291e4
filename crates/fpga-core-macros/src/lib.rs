//! Attribute macros re-exported by `fpga-core` (use them from there):
//! `#[fpga_core::manager_ops]` and `#[fpga_core::bridge_ops]` on an
//! `impl FpgaManagerOps for …` / `impl FpgaBridgeOps for …` block write its
//! `caps()` from the optional ops the block defines, and apply
//! `async_trait`. What an impl defines is what the core calls: an op cannot
//! be written and then skipped because a capability bit was forgotten.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, ImplItem, ItemImpl};

/// The optional manager ops and their `MgrCaps` bits.
const MANAGER_OPS: &[(&str, &str)] = &[
    ("state", "STATE"),
    ("status", "STATUS"),
    ("parse_header", "PARSE_HEADER"),
    ("write_init", "WRITE_INIT"),
    ("write", "WRITE"),
    ("write_sg", "WRITE_SG"),
    ("write_complete", "WRITE_COMPLETE"),
    ("fpga_remove", "REMOVE"),
];

/// Methods of the manager trait that are not optional ops.
const MANAGER_OTHER: &[&str] = &["initial_header_size", "skip_header"];

/// The optional bridge ops and their `BridgeCaps` bits.
const BRIDGE_OPS: &[(&str, &str)] = &[
    ("enable_show", "ENABLE_SHOW"),
    ("enable_set", "ENABLE_SET"),
    ("fpga_bridge_remove", "REMOVE"),
];

/// On an `impl FpgaManagerOps for T` block: writes `caps()` from the ops
/// defined, and applies `async_trait`.
#[proc_macro_attribute]
pub fn manager_ops(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand(attr.into(), item, "MgrCaps", MANAGER_OPS, MANAGER_OTHER)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// On an `impl FpgaBridgeOps for T` block: writes `caps()` from the ops
/// defined, and applies `async_trait`.
#[proc_macro_attribute]
pub fn bridge_ops(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand(attr.into(), item, "BridgeCaps", BRIDGE_OPS, &[])
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

fn expand(
    attr: Tokens,
    mut item: ItemImpl,
    caps_type: &str,
    ops: &[(&str, &str)],
    other: &[&str],
) -> syn::Result<Tokens> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(attr, "takes no arguments"));
    }
    if item.trait_.is_none() {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "goes on the `impl` of the ops trait",
        ));
    }
    let mut bits = Vec::new();
    for member in &item.items {
        let ImplItem::Fn(f) = member else { continue };
        let name = f.sig.ident.to_string();
        if name == "caps" {
            return Err(syn::Error::new_spanned(
                &f.sig.ident,
                "caps() is written from the ops this impl defines; remove it",
            ));
        }
        match ops.iter().find(|(op, _)| *op == name) {
            Some((_, bit)) => bits.push(format_ident!("{bit}")),
            None if other.contains(&name.as_str()) => {}
            None => {
                let known: Vec<&str> = ops.iter().map(|(op, _)| *op).collect();
                return Err(syn::Error::new_spanned(
                    &f.sig.ident,
                    format!("not an op of this trait (ops: {})", known.join(", ")),
                ));
            }
        }
    }
    let caps = format_ident!("{caps_type}");
    let caps_fn: ImplItem = syn::parse_quote! {
        fn caps(&self) -> ::fpga_core::#caps {
            ::fpga_core::#caps::empty() #( | ::fpga_core::#caps::#bits )*
        }
    };
    item.items.insert(0, caps_fn);
    Ok(quote! {
        #[::fpga_core::__private::async_trait]
        #item
    })
}
