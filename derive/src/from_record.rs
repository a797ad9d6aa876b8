//! `#[derive(FromRecord)]`: check the model, then generate `RecordPlan` (the plan's type: a
//! tuple with one entry per column-reading field) and `FromRecord` (plan once, decode per row).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{self, Container, Derive, Kind, Style, Via};
use crate::attr::Errors;

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let container = Container::from_ast(&mut errors, input, Derive::FromRecord);
    if let Some(container) = &container {
        container.check(&mut errors, Derive::FromRecord);
    }
    errors.finish()?;
    Ok(generate(
        &container.expect("a struct when there are no errors"),
    ))
}

fn generate(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let struct_name = ident.to_string();
    let generics = container.generics;
    let (plan_impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let row_generics = ast::with_row_lifetime(generics);
    let (row_impl_generics, _, _) = row_generics.split_for_impl();

    let mut plan_where = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    let mut row_where = plan_where.clone();

    let mut plan_types = Vec::new();
    let mut plan_exprs = Vec::new();
    let mut values = Vec::new();
    let mut position = 0usize;
    for field in &container.fields {
        let ty = field.ty;
        let ty_elided = ast::elide_lifetimes(generics, ty);
        let generic = ast::mentions_type_param(generics, ty);
        let name = &field.name;
        let ctx = quote!(&::pgtusk::__private::Ctx { struct_name: #struct_name, field: #name });
        let k = syn::Index::from(plan_types.len());
        let default = field.attrs.default.is_some();
        let span = field.span;
        let value = match field.kind() {
            Kind::Skip => {
                if generic {
                    row_where
                        .predicates
                        .push(syn::parse_quote!(#ty: ::core::default::Default));
                }
                quote_spanned!(span=> ::core::default::Default::default())
            }
            Kind::Flatten => {
                if generic {
                    plan_where
                        .predicates
                        .push(syn::parse_quote!(#ty: ::pgtusk::RecordPlan));
                    row_where
                        .predicates
                        .push(syn::parse_quote!(#ty: ::pgtusk::FromRecord<'__r>));
                }
                plan_types.push(quote!(<#ty as ::pgtusk::RecordPlan>::Plan));
                plan_exprs.push(quote_spanned!(span=>
                    <#ty_elided as ::pgtusk::FromRecord<'_>>::plan(__columns)?
                ));
                quote_spanned!(span=> ::pgtusk::FromRecord::from_record(__record, &__plan.#k)?)
            }
            Kind::Column(via) => {
                let at = match container.style {
                    Style::Tuple => {
                        position += 1;
                        let p = position - 1;
                        quote!(::pgtusk::__private::At::Position(#p))
                    }
                    _ => {
                        let column = ast::column_name(container, field);
                        quote!(::pgtusk::__private::At::Name(#column))
                    }
                };
                if generic && default {
                    row_where
                        .predicates
                        .push(syn::parse_quote!(#ty: ::core::default::Default));
                }
                let (accepts, rust_type, decode) = match via {
                    Via::Direct => {
                        if generic {
                            row_where
                                .predicates
                                .push(syn::parse_quote!(#ty: ::pgtusk::Decode<'__r>));
                        }
                        let decode = if default {
                            quote_spanned!(span=> ::pgtusk::__private::decode_or_default)
                        } else {
                            quote_spanned!(span=> ::pgtusk::__private::decode)
                        };
                        (
                            quote!(<#ty_elided as ::pgtusk::Decode<'_>>::accepts),
                            quote!(<#ty_elided as ::pgtusk::Decode<'_>>::rust_type_name()),
                            decode,
                        )
                    }
                    Via::TryFrom(db) => {
                        let db_elided = ast::elide_lifetimes(generics, db);
                        if generic || ast::mentions_type_param(generics, db) {
                            row_where
                                .predicates
                                .push(syn::parse_quote!(#db: ::pgtusk::Decode<'__r>));
                            row_where
                                .predicates
                                .push(syn::parse_quote!(#ty: ::core::convert::TryFrom<#db>));
                            row_where.predicates.push(syn::parse_quote!(
                                <#ty as ::core::convert::TryFrom<#db>>::Error: ::core::fmt::Display
                            ));
                        }
                        let decode = if default {
                            quote_spanned!(span=> ::pgtusk::__private::decode_try_from_or_default::<#db_elided, _>)
                        } else {
                            quote_spanned!(span=> ::pgtusk::__private::decode_try_from::<#db_elided, _>)
                        };
                        (
                            quote!(<#db_elided as ::pgtusk::Decode<'_>>::accepts),
                            quote!(<#db_elided as ::pgtusk::Decode<'_>>::rust_type_name()),
                            decode,
                        )
                    }
                    Via::Json => {
                        if generic {
                            row_where.predicates.push(syn::parse_quote!(
                                #ty: ::pgtusk::__private::serde::Deserialize<'__r>
                            ));
                        }
                        let decode = if default {
                            quote_spanned!(span=> ::pgtusk::__private::decode_json_or_default)
                        } else {
                            quote_spanned!(span=> ::pgtusk::__private::decode_json)
                        };
                        (
                            quote!(::pgtusk::__private::json_accepts),
                            quote!(::pgtusk::__private::type_name::<#ty_elided>()),
                            decode,
                        )
                    }
                };
                plan_types.push(quote!(::pgtusk::__private::FieldPlan));
                plan_exprs.push(quote_spanned!(span=>
                    ::pgtusk::__private::plan_field(__columns, #ctx, #at, #default, #accepts, #rust_type)?
                ));
                quote_spanned!(span=> #decode(&__plan.#k, __record, #ctx)?)
            }
        };
        values.push((&field.member, value));
    }

    let build = match container.style {
        Style::Unit => quote!(Self),
        Style::Tuple => {
            let values = values.iter().map(|(_, v)| v);
            quote!(Self(#(#values),*))
        }
        Style::Named => {
            let values = values.iter().map(|(m, v)| quote!(#m: #v));
            quote!(Self { #(#values),* })
        }
    };

    quote! {
        #[automatically_derived]
        impl #plan_impl_generics ::pgtusk::RecordPlan for #ident #ty_generics #plan_where {
            type Plan = (#(#plan_types,)*);
        }

        #[automatically_derived]
        impl #row_impl_generics ::pgtusk::FromRecord<'__r> for #ident #ty_generics #row_where {
            fn plan(
                __columns: &::pgtusk::Columns,
            ) -> ::pgtusk::Result<<Self as ::pgtusk::RecordPlan>::Plan> {
                let _ = __columns;
                ::core::result::Result::Ok((#(#plan_exprs,)*))
            }

            fn from_record(
                __record: &'__r ::pgtusk::Record,
                __plan: &<Self as ::pgtusk::RecordPlan>::Plan,
            ) -> ::pgtusk::Result<Self> {
                let _ = (__record, __plan);
                ::core::result::Result::Ok(#build)
            }
        }
    }
}
