//! `#[derive(Schema)]`: describes a `#[repr(C)]` plain-old-data struct for `shm-common`, so
//! the struct's layout travels with its data. Use it as `shm_common::Schema`.
//!
//! The derive refuses what cannot be described: enums and unions, generic structs, structs
//! without `#[repr(C)]` (Rust may reorder their fields) and packed ones (their fields are not
//! aligned). Every field's type must implement `shm_common::SchemaField`: the primitive
//! numbers, arrays of them, and other `#[derive(Schema)]` structs. `#[schema(name = "...")]`
//! stores another name than the struct's own.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input, spanned::Spanned};

/// Implements `shm_common::Schema` and `shm_common::SchemaField` for a `#[repr(C)]` struct.
#[proc_macro_derive(Schema, attributes(schema))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            ident.span(),
            "Schema can be derived for structs only",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "Schema cannot be derived for a generic struct: its layout is not fixed",
        ));
    }
    check_repr(input)?;
    let name = stored_name(input)?.unwrap_or_else(|| ident.to_string());
    let fields = match &data.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|field| {
                let member = field.ident.clone().map(syn::Member::Named);
                (member, field)
            })
            .collect::<Vec<_>>(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(index, field)| (Some(syn::Member::Unnamed(index.into())), field))
            .collect(),
        Fields::Unit => Vec::new(),
    };
    let calls = fields.iter().filter_map(|(member, field)| {
        let member = member.as_ref()?;
        let ty = &field.ty;
        let field_name = match member {
            syn::Member::Named(name) => name.to_string(),
            syn::Member::Unnamed(index) => index.index.to_string(),
        };
        Some(quote! {
            .field::<#ty>(#field_name, ::core::mem::offset_of!(Self, #member))
        })
    });
    Ok(quote! {
        impl ::shm_common::Schema for #ident {
            fn descriptor() -> ::shm_common::TypeDescriptor {
                ::shm_common::TypeDescriptor::new::<Self>(#name) #(#calls)*
            }
        }

        impl ::shm_common::SchemaField for #ident {
            fn shape() -> ::shm_common::Shape {
                ::shm_common::Shape::Struct(<Self as ::shm_common::Schema>::descriptor())
            }
        }
    })
}

/// Requires `#[repr(C)]` (possibly with `align(N)`) and refuses `packed`.
fn check_repr(input: &DeriveInput) -> syn::Result<()> {
    let mut c = false;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("repr"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") {
                c = true;
            } else if meta.path.is_ident("packed") {
                return Err(meta.error(
                    "Schema needs aligned fields; a packed struct's fields are not aligned",
                ));
            } else if meta.input.peek(syn::token::Paren) {
                // `align(N)`: fine, its argument is not ours to check.
                let content;
                syn::parenthesized!(content in meta.input);
                let _: TokenStream2 = content.parse()?;
            }
            Ok(())
        })?;
    }
    if !c {
        return Err(syn::Error::new(
            input.ident.span(),
            "Schema needs #[repr(C)]: without it Rust may reorder the fields",
        ));
    }
    Ok(())
}

/// The name given with `#[schema(name = "...")]`, if any.
fn stored_name(input: &DeriveInput) -> syn::Result<Option<String>> {
    let mut name = None;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("schema"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let value: LitStr = meta.value()?.parse()?;
                name = Some(value.value());
                Ok(())
            } else {
                Err(meta.error("the only schema attribute is `name = \"...\"`"))
            }
        })?;
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(tokens) => panic!("expanded: {tokens}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn layouts_the_compiler_may_change_are_refused_in_words() {
        let no_repr = error_of(syn::parse_quote! { struct A { a: u32 } });
        assert!(no_repr.contains("needs #[repr(C)]"), "{no_repr}");
        let packed = error_of(syn::parse_quote! { #[repr(C, packed)] struct A { a: u32 } });
        assert!(
            packed.contains("packed struct's fields are not aligned"),
            "{packed}"
        );
        let generic = error_of(syn::parse_quote! { #[repr(C)] struct A<T> { a: T } });
        assert!(generic.contains("generic struct"), "{generic}");
        let an_enum = error_of(syn::parse_quote! { #[repr(C)] enum A { B } });
        assert!(an_enum.contains("structs only"), "{an_enum}");
        let unknown =
            error_of(syn::parse_quote! { #[repr(C)] #[schema(rename = "B")] struct A { a: u32 } });
        assert!(unknown.contains("`name = \"...\"`"), "{unknown}");
    }

    #[test]
    fn fields_are_described_at_the_compilers_offsets_under_the_given_name() {
        let input: DeriveInput = syn::parse_quote! {
            #[repr(C, align(16))]
            #[schema(name = "robot::Pose")]
            struct Pose { x: f64, id: [u32; 2] }
        };
        let code = expand(&input)
            .map(|tokens| tokens.to_string())
            .unwrap_or_default();
        assert!(code.contains("new :: < Self > (\"robot::Pose\")"), "{code}");
        assert!(
            code.contains("field :: < f64 > (\"x\" , :: core :: mem :: offset_of ! (Self , x))"),
            "{code}"
        );
        assert!(code.contains("field :: < [u32 ; 2] > (\"id\""), "{code}");
    }
}
