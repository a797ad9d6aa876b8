//! `#[derive(FromRecord)]`: check the model, then generate `RecordPlan` (the plan's type: a
//! tuple with one entry per column-reading field) and `FromRecord` (plan once, decode per row).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{self, Container, Field, Style};
use crate::attr::Errors;

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let container = Container::from_ast(&mut errors, input);
    if let Some(container) = &container {
        check(&mut errors, container);
    }
    errors.finish()?;
    Ok(generate(
        &container.expect("a struct when there are no errors"),
    ))
}

/// What a field reads: nothing, a nested FromRecord, or one column.
enum Kind<'a> {
    Skip,
    Flatten,
    Column(Read<'a>),
}

enum Read<'a> {
    Decode,
    TryFrom(&'a syn::Type),
    Json,
}

fn kind<'a>(field: &'a Field<'_>) -> Kind<'a> {
    let attrs = &field.attrs;
    if attrs.skip.is_some() {
        Kind::Skip
    } else if attrs.flatten.is_some() {
        Kind::Flatten
    } else if let Some(ty) = &attrs.try_from {
        Kind::Column(Read::TryFrom(&ty.value))
    } else if attrs.json.is_some() {
        Kind::Column(Read::Json)
    } else {
        Kind::Column(Read::Decode)
    }
}

/// Attributes that cannot go together, and attributes that need named fields.
fn check(errors: &mut Errors, container: &Container<'_>) {
    if container.style == Style::Tuple {
        if let Some(rename_all) = &container.attrs.rename_all {
            errors.error(
                rename_all.span,
                "`rename_all` needs named fields; a tuple struct maps columns by position",
            );
        }
    }
    for field in &container.fields {
        let set = field.attrs.set();
        // Each pair is reported once, at the second attribute of the pair.
        for (i, &(a, _)) in set.iter().enumerate() {
            for &(b, span) in &set[i + 1..] {
                if let Some(why) = conflict(a, b) {
                    errors.error(span, format!("`{a}` and `{b}` cannot go together: {why}"));
                }
            }
        }
        if container.style == Style::Tuple {
            for (name, span) in &set {
                if matches!(*name, "rename" | "flatten") {
                    errors.error(
                        *span,
                        format!(
                            "`{name}` needs a named field; a tuple struct maps columns by position"
                        ),
                    );
                }
            }
        }
    }
}

fn conflict(a: &str, b: &str) -> Option<&'static str> {
    Some(match (a, b) {
        ("skip", _) => "a skipped field reads no column",
        ("flatten", _) => "a flattened field reads its own columns through its FromRecord",
        ("json", "try_from") => "a json field is deserialized by serde, not converted with TryFrom",
        _ => return None,
    })
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
        let value = match kind(field) {
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
            Kind::Column(read) => {
                let at = match container.style {
                    Style::Tuple => {
                        position += 1;
                        let p = position - 1;
                        quote!(::pgtusk::__private::At::Position(#p))
                    }
                    _ => {
                        let column = match (&field.attrs.rename, &container.attrs.rename_all) {
                            (Some(rename), _) => rename.value.clone(),
                            (None, Some(rule)) => rule.value.apply_to_field(name),
                            (None, None) => name.clone(),
                        };
                        quote!(::pgtusk::__private::At::Name(#column))
                    }
                };
                if generic && default {
                    row_where
                        .predicates
                        .push(syn::parse_quote!(#ty: ::core::default::Default));
                }
                let (accepts, rust_type, decode) = match read {
                    Read::Decode => {
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
                    Read::TryFrom(db) => {
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
                    Read::Json => {
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
