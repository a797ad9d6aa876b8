//! `#[derive(Type)]`: `Encode` + `Decode` for a newtype (it travels as its inner type, which
//! covers domains), for a struct with named fields (a PostgreSQL composite type) and for a
//! fieldless enum (a PostgreSQL enum, travelling as its labels).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Member};

use crate::ast;
use crate::attr::{self, Errors, PgContainer, RenameRule};

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    attr::refuse(
        &mut errors,
        &input.attrs,
        "record",
        "`#[record(...)]` belongs to #[derive(pgtusk::FromRecord)]; Type reads `#[pg(...)]`",
    );
    let attrs = PgContainer::parse(&mut errors, &input.attrs);
    let out = match &input.data {
        Data::Struct(data) if is_composite(&attrs, &data.fields) => {
            composite(&mut errors, input, &attrs, &data.fields)
        }
        Data::Struct(data) => newtype(&mut errors, input, &attrs, &data.fields),
        Data::Enum(data) => pg_enum(&mut errors, input, &attrs, data),
        Data::Union(data) => {
            errors.error(
                data.union_token.span,
                "#[derive(pgtusk::Type)] needs a newtype struct or a fieldless enum, not a union",
            );
            None
        }
    };
    errors.finish()?;
    Ok(out.expect("generated code when there are no errors"))
}

fn newtype(
    errors: &mut Errors,
    input: &DeriveInput,
    attrs: &PgContainer,
    fields: &Fields,
) -> Option<TokenStream> {
    for (name, span) in [
        ("name", attrs.name.as_ref().map(|a| a.span)),
        ("rename_all", attrs.rename_all.as_ref().map(|a| a.span)),
    ] {
        if let Some(span) = span {
            errors.error(
                span,
                format!("`{name}` is for enums; a newtype travels as its inner type"),
            );
        }
    }
    for field in fields {
        attr::refuse(
            errors,
            &field.attrs,
            "pg",
            "`#[pg(...)]` attributes go on the type, not on its field",
        );
    }
    if fields.len() != 1 {
        errors.error(
            input.ident.span(),
            "#[derive(pgtusk::Type)] on a tuple struct needs exactly one field (a newtype, e.g. \
             over a domain); a composite type needs a struct with named fields",
        );
        return None;
    }
    let field = fields.iter().next().expect("one field");
    let inner = &field.ty;
    let member = match &field.ident {
        Some(ident) => Member::Named(ident.clone()),
        None => Member::Unnamed(syn::Index::from(0)),
    };
    let ident = &input.ident;
    let generics = &input.generics;
    let inner_elided = ast::elide_lifetimes(generics, inner);
    let generic = ast::mentions_type_param(generics, inner);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let mut encode_where = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    let mut decode_where = encode_where.clone();
    if generic {
        encode_where
            .predicates
            .push(syn::parse_quote!(#inner: ::pgtusk::Encode));
        decode_where
            .predicates
            .push(syn::parse_quote!(#inner: ::pgtusk::Decode<'__r>));
    }
    let row_generics = ast::with_row_lifetime(generics);
    let (row_impl_generics, _, _) = row_generics.split_for_impl();
    Some(quote! {
        #[automatically_derived]
        impl #impl_generics ::pgtusk::Encode for #ident #ty_generics #encode_where {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::newtype_accepts(ty, <#inner as ::pgtusk::Encode>::accepts)
            }

            fn encode(
                &self,
                ty: &::pgtusk::Type,
                buf: &mut ::pgtusk::__private::BytesMut,
            ) -> ::core::result::Result<::pgtusk::types::IsNull, ::pgtusk::BoxError> {
                ::pgtusk::Encode::encode(&self.#member, ty.base_type(), buf)
            }
        }

        #[automatically_derived]
        impl #row_impl_generics ::pgtusk::Decode<'__r> for #ident #ty_generics #decode_where {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::newtype_accepts(ty, <#inner_elided as ::pgtusk::Decode<'_>>::accepts)
            }

            fn decode(
                ty: &::pgtusk::Type,
                raw: &'__r [u8],
            ) -> ::core::result::Result<Self, ::pgtusk::BoxError> {
                ::core::result::Result::map(
                    ::pgtusk::Decode::decode(ty.base_type(), raw),
                    |inner| Self { #member: inner },
                )
            }

            fn decode_null(
                ty: &::pgtusk::Type,
            ) -> ::core::result::Result<Self, ::pgtusk::BoxError> {
                ::core::result::Result::map(
                    ::pgtusk::Decode::decode_null(ty.base_type()),
                    |inner| Self { #member: inner },
                )
            }
        }
    })
}

/// A struct with named fields is a composite type when it names its type or has more than one
/// field; a single field without a name is a newtype.
fn is_composite(attrs: &PgContainer, fields: &Fields) -> bool {
    matches!(fields, Fields::Named(_))
        && attrs.transparent.is_none()
        && (attrs.name.is_some() || fields.len() > 1)
}

/// A PostgreSQL composite type: the struct's fields are its attributes, by name and in order
/// (checked against the server's `pg_attribute` when the type is looked up), in binary.
fn composite(
    errors: &mut Errors,
    input: &DeriveInput,
    attrs: &PgContainer,
    fields: &Fields,
) -> Option<TokenStream> {
    if let Some(rename_all) = &attrs.rename_all {
        errors.error(
            rename_all.span,
            "`rename_all` is for enums; a composite's fields are its attribute names",
        );
    }
    if let Some(param) = input.generics.params.first() {
        errors.error(
            syn::spanned::Spanned::span(param),
            "#[derive(pgtusk::Type)] on a composite struct takes no generic parameters",
        );
    }
    for field in fields {
        attr::refuse(
            errors,
            &field.attrs,
            "pg",
            "`#[pg(...)]` attributes go on the type, not on its fields",
        );
    }
    let ident = &input.ident;
    let type_name = match &attrs.name {
        Some(name) => name.value.clone(),
        None => RenameRule::Snake.apply_to_variant(&ident.to_string()),
    };
    let members: Vec<&syn::Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let names: Vec<String> = members
        .iter()
        .map(|m| m.to_string().trim_start_matches("r#").to_owned())
        .collect();
    Some(quote! {
        #[automatically_derived]
        impl ::pgtusk::Encode for #ident {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::composite_accepts(ty, #type_name, &[#(#names),*])
            }

            fn encode(
                &self,
                ty: &::pgtusk::Type,
                buf: &mut ::pgtusk::__private::BytesMut,
            ) -> ::core::result::Result<::pgtusk::types::IsNull, ::pgtusk::BoxError> {
                let mut fields = ::pgtusk::types::CompositeWriter::new(ty, buf)?;
                #(fields.write(&self.#members)?;)*
                fields.finish()
            }
        }

        #[automatically_derived]
        impl<'__r> ::pgtusk::Decode<'__r> for #ident {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::composite_accepts(ty, #type_name, &[#(#names),*])
            }

            fn decode(
                ty: &::pgtusk::Type,
                raw: &'__r [u8],
            ) -> ::core::result::Result<Self, ::pgtusk::BoxError> {
                let mut fields = ::pgtusk::types::CompositeReader::new(ty, raw)?;
                let value = Self { #(#members: fields.read()?,)* };
                fields.finish()?;
                ::core::result::Result::Ok(value)
            }
        }
    })
}

fn pg_enum(
    errors: &mut Errors,
    input: &DeriveInput,
    attrs: &PgContainer,
    data: &syn::DataEnum,
) -> Option<TokenStream> {
    if let Some(t) = &attrs.transparent {
        errors.error(t.span, "`transparent` is for a newtype struct, not an enum");
    }
    if let Some(param) = input.generics.params.first() {
        errors.error(
            syn::spanned::Spanned::span(param),
            "#[derive(pgtusk::Type)] on an enum takes no generic parameters",
        );
    }
    if data.variants.is_empty() {
        errors.error(
            input.ident.span(),
            "a PostgreSQL enum needs at least one variant",
        );
    }
    let rule = attrs.rename_all.as_ref().map(|a| a.value);
    let mut variants = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for variant in &data.variants {
        let rename = attr::pg_variant_rename(errors, &variant.attrs);
        if !matches!(variant.fields, Fields::Unit) {
            errors.error(
                syn::spanned::Spanned::span(&variant.fields),
                "a PostgreSQL enum label carries no data: every variant must be fieldless",
            );
        }
        let name = variant.ident.to_string();
        let label = match (rename, rule) {
            (Some(rename), _) => rename.value,
            (None, Some(rule)) => rule.apply_to_variant(&name),
            (None, None) => name,
        };
        if labels.contains(&label) {
            errors.error(
                variant.ident.span(),
                format!("two variants have the label \"{label}\""),
            );
        }
        labels.push(label);
        variants.push(&variant.ident);
    }
    let ident = &input.ident;
    let type_name = match &attrs.name {
        Some(name) => name.value.clone(),
        None => RenameRule::Snake.apply_to_variant(&ident.to_string()),
    };
    let label_bytes = labels
        .iter()
        .map(|l| syn::LitByteStr::new(l.as_bytes(), ident.span()));
    Some(quote! {
        #[automatically_derived]
        impl ::pgtusk::Encode for #ident {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::enum_accepts(ty, #type_name)
            }

            fn encode(
                &self,
                _ty: &::pgtusk::Type,
                buf: &mut ::pgtusk::__private::BytesMut,
            ) -> ::core::result::Result<::pgtusk::types::IsNull, ::pgtusk::BoxError> {
                let label: &str = match self {
                    #(Self::#variants => #labels,)*
                };
                buf.extend_from_slice(label.as_bytes());
                ::core::result::Result::Ok(::pgtusk::types::IsNull::No)
            }
        }

        #[automatically_derived]
        impl<'__r> ::pgtusk::Decode<'__r> for #ident {
            fn accepts(ty: &::pgtusk::Type) -> bool {
                ::pgtusk::__private::enum_accepts(ty, #type_name)
            }

            fn decode(
                ty: &::pgtusk::Type,
                raw: &'__r [u8],
            ) -> ::core::result::Result<Self, ::pgtusk::BoxError> {
                match raw {
                    #(#label_bytes => ::core::result::Result::Ok(Self::#variants),)*
                    other => ::core::result::Result::Err(
                        ::pgtusk::__private::unknown_label(ty, other, ::core::any::type_name::<Self>()),
                    ),
                }
            }
        }
    })
}
