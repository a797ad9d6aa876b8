//! `#[derive(ToRecord)]`: check the model (the same rules as FromRecord's, so one struct can
//! derive both), then generate `ToRecord`: the column names, and one `write` per column in
//! field order, each a direct call on the field's own type.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{self, Container, Derive, Kind, Style, Via};
use crate::attr::Errors;

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let container = Container::from_ast(&mut errors, input, Derive::ToRecord);
    if let Some(container) = &container {
        container.check(&mut errors, Derive::ToRecord);
    }
    errors.finish()?;
    Ok(generate(
        &container.expect("a struct when there are no errors"),
    ))
}

fn generate(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let generics = container.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let mut bounds = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));

    let mut names = Vec::new();
    let mut writes = Vec::new();
    for field in &container.fields {
        let ty = field.ty;
        let member = &field.member;
        let span = field.span;
        let generic = ast::mentions_type_param(generics, ty);
        match field.kind() {
            Kind::Skip => {}
            Kind::Flatten => {
                if generic {
                    bounds
                        .predicates
                        .push(syn::parse_quote!(#ty: ::pgtusk::ToRecord));
                }
                names.push(quote_spanned!(span=>
                    ::core::iter::Extend::extend(
                        &mut __names,
                        <#ty as ::pgtusk::ToRecord>::column_names()?,
                    );
                ));
                writes.push(quote_spanned!(span=>
                    ::pgtusk::ToRecord::write_values(&self.#member, __out)?;
                ));
            }
            Kind::Column(via) => {
                let column = ast::column_name(container, field);
                names.push(quote!(__names.push(#column);));
                let write = match via {
                    Via::Direct => {
                        if generic {
                            bounds
                                .predicates
                                .push(syn::parse_quote!(#ty: ::pgtusk::Encode));
                        }
                        quote_spanned!(span=> __out.write(&self.#member)?;)
                    }
                    Via::TryFrom(db) => {
                        if generic || ast::mentions_type_param(generics, db) {
                            bounds
                                .predicates
                                .push(syn::parse_quote!(#ty: ::core::clone::Clone));
                            bounds.predicates.push(syn::parse_quote!(
                                #db: ::core::convert::TryFrom<#ty> + ::pgtusk::Encode
                            ));
                            bounds.predicates.push(syn::parse_quote!(
                                <#db as ::core::convert::TryFrom<#ty>>::Error: ::core::fmt::Display
                            ));
                        }
                        quote_spanned!(span=>
                            ::pgtusk::__private::write_try_from::<#db, #ty>(__out, &self.#member)?;
                        )
                    }
                    Via::Json => {
                        if generic {
                            bounds.predicates.push(syn::parse_quote!(
                                #ty: ::pgtusk::__private::serde::Serialize
                            ));
                        }
                        quote_spanned!(span=>
                            __out.write(&::pgtusk::__private::JsonField(&self.#member))?;
                        )
                    }
                };
                writes.push(write);
            }
        }
    }

    // A tuple struct's values are positional: the trait's default, no names.
    let names = if names.is_empty() {
        quote!(::core::option::Option::Some(::std::vec::Vec::new()))
    } else {
        quote! {
            let mut __names = ::std::vec::Vec::new();
            #(#names)*
            ::core::option::Option::Some(__names)
        }
    };
    let column_names = (container.style != Style::Tuple).then(|| {
        quote! {
            fn column_names() -> ::core::option::Option<::std::vec::Vec<&'static str>> {
                #names
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics ::pgtusk::ToRecord for #ident #ty_generics #bounds {
            #column_names

            fn write_values(
                &self,
                __out: &mut ::pgtusk::ValueWriter<'_>,
            ) -> ::pgtusk::Result<()> {
                #(#writes)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
