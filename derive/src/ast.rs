//! The model of a `#[derive(FromRecord)]` struct, parsed from syn's input, and helpers both
//! derives share for generics.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Member};

use crate::attr::{self, Errors, RecordContainer, RecordField};

/// How a struct's fields are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Named,
    Tuple,
    Unit,
}

pub struct Container<'a> {
    pub ident: &'a Ident,
    pub generics: &'a Generics,
    pub style: Style,
    pub attrs: RecordContainer,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub member: Member,
    /// The field's name as the user wrote it (without `r#`), or its position.
    pub name: String,
    pub ty: &'a syn::Type,
    /// The field's type: where errors about how it is read point.
    pub span: Span,
    pub attrs: RecordField,
}

impl<'a> Container<'a> {
    /// Parses the input; `None` when it is not a struct (the error is in `errors`).
    pub fn from_ast(errors: &mut Errors, input: &'a DeriveInput) -> Option<Container<'a>> {
        attr::refuse(
            errors,
            &input.attrs,
            "pg",
            "`#[pg(...)]` belongs to #[derive(pgtusk::Type)]; FromRecord reads `#[record(...)]`",
        );
        let attrs = RecordContainer::parse(errors, &input.attrs);
        let data = match &input.data {
            Data::Struct(data) => data,
            Data::Enum(data) => {
                errors.error(
                    data.enum_token.span,
                    "FromRecord needs a struct: a row becomes a struct's fields, not an enum \
                     (for a PostgreSQL enum type, derive pgtusk::Type)",
                );
                return None;
            }
            Data::Union(data) => {
                errors.error(
                    data.union_token.span,
                    "FromRecord needs a struct: a row cannot become a union",
                );
                return None;
            }
        };
        let style = match &data.fields {
            Fields::Named(_) => Style::Named,
            Fields::Unnamed(_) => Style::Tuple,
            Fields::Unit => Style::Unit,
        };
        let fields = data
            .fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let (member, name, span) = match &field.ident {
                    Some(ident) => (
                        Member::Named(ident.clone()),
                        syn::ext::IdentExt::unraw(ident).to_string(),
                        syn::spanned::Spanned::span(&field.ty),
                    ),
                    None => (
                        Member::Unnamed(syn::Index::from(i)),
                        i.to_string(),
                        syn::spanned::Spanned::span(&field.ty),
                    ),
                };
                Field {
                    member,
                    name,
                    ty: &field.ty,
                    span,
                    attrs: RecordField::parse(errors, &field.attrs),
                }
            })
            .collect();
        Some(Container {
            ident: &input.ident,
            generics: &input.generics,
            style,
            attrs,
            fields,
        })
    }
}

/// Whether `ty` mentions one of the generic type parameters (so it needs a where-clause).
pub fn mentions_type_param(generics: &Generics, ty: &impl ToTokens) -> bool {
    let params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    fn walk(tokens: TokenStream, params: &[&Ident]) -> bool {
        tokens.into_iter().any(|tt| match tt {
            TokenTree::Ident(ident) => params.iter().any(|p| **p == ident),
            TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), &params)
}

/// `ty` with the struct's own lifetimes replaced by `'_`, for a path in a function body whose
/// lifetimes the compiler then infers (`<&'_ str as Decode<'_>>::accepts`).
pub fn elide_lifetimes(generics: &Generics, ty: &syn::Type) -> syn::Type {
    struct Elide<'g>(&'g Generics);
    impl VisitMut for Elide<'_> {
        fn visit_lifetime_mut(&mut self, lt: &mut syn::Lifetime) {
            if self.0.lifetimes().any(|p| p.lifetime == *lt) {
                *lt = syn::Lifetime::new("'_", lt.apostrophe);
            }
        }
    }
    let mut ty = ty.clone();
    Elide(generics).visit_type_mut(&mut ty);
    ty
}

/// The struct's generics plus a row lifetime `'__r` that outlives each of its lifetimes.
pub fn with_row_lifetime(generics: &Generics) -> Generics {
    let mut out = generics.clone();
    let bounds: Vec<&syn::Lifetime> = generics.lifetimes().map(|p| &p.lifetime).collect();
    let row: syn::LifetimeParam = if bounds.is_empty() {
        syn::parse_quote!('__r)
    } else {
        syn::parse_quote!('__r: #(#bounds)+*)
    };
    out.params.insert(0, syn::GenericParam::Lifetime(row));
    out
}
