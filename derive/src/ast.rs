//! The model of a `#[derive(FromRecord)]` or `#[derive(ToRecord)]` struct, parsed from syn's
//! input and checked (the two derives share the model and its rules, so one struct can derive
//! both), and helpers the derives share for generics.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Member};

use crate::attr::{self, Errors, RecordContainer, RecordField};

/// Which derive the model is for: the words its errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derive {
    FromRecord,
    ToRecord,
}

impl Derive {
    fn name(self) -> &'static str {
        match self {
            Derive::FromRecord => "FromRecord",
            Derive::ToRecord => "ToRecord",
        }
    }

    /// Why two field attributes cannot go together, if they cannot.
    fn conflict(self, a: &str, b: &str) -> Option<&'static str> {
        let read = self == Derive::FromRecord;
        Some(match (a, b) {
            ("skip", _) if read => "a skipped field reads no column",
            ("skip", _) => "a skipped field writes no column",
            ("flatten", _) if read => {
                "a flattened field reads its own columns through its FromRecord"
            }
            ("flatten", _) => "a flattened field writes its own columns through its ToRecord",
            ("json", "try_from") if read => {
                "a json field is deserialized by serde, not converted with TryFrom"
            }
            ("json", "try_from") => {
                "a json field is serialized by serde, not converted with TryFrom"
            }
            _ => return None,
        })
    }
}

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

/// What a field is in a row: nothing, a nested record's columns, or one column.
pub enum Kind<'a> {
    Skip,
    Flatten,
    Column(Via<'a>),
}

/// How a column's value and the field's convert.
pub enum Via<'a> {
    /// The field's own `Decode` / `Encode`.
    Direct,
    /// Through this type, with `TryFrom` (`#[record(try_from = "...")]`).
    TryFrom(&'a syn::Type),
    /// Through serde, as json or jsonb.
    Json,
}

impl Field<'_> {
    pub fn kind(&self) -> Kind<'_> {
        let attrs = &self.attrs;
        if attrs.skip.is_some() {
            Kind::Skip
        } else if attrs.flatten.is_some() {
            Kind::Flatten
        } else if let Some(ty) = &attrs.try_from {
            Kind::Column(Via::TryFrom(&ty.value))
        } else if attrs.json.is_some() {
            Kind::Column(Via::Json)
        } else {
            Kind::Column(Via::Direct)
        }
    }
}

impl<'a> Container<'a> {
    /// Parses the input; `None` when it is not a struct (the error is in `errors`).
    pub fn from_ast(
        errors: &mut Errors,
        input: &'a DeriveInput,
        derive: Derive,
    ) -> Option<Container<'a>> {
        attr::refuse(
            errors,
            &input.attrs,
            "pg",
            &format!(
                "`#[pg(...)]` belongs to #[derive(pgtusk::Type)]; {} reads `#[record(...)]`",
                derive.name()
            ),
        );
        let attrs = RecordContainer::parse(errors, &input.attrs);
        let data = match &input.data {
            Data::Struct(data) => data,
            Data::Enum(data) => {
                let why = match derive {
                    Derive::FromRecord => "a row becomes a struct's fields, not an enum",
                    Derive::ToRecord => "a row is written from a struct's fields, not an enum",
                };
                errors.error(
                    data.enum_token.span,
                    format!(
                        "{} needs a struct: {why} (for a PostgreSQL enum type, derive \
                         pgtusk::Type)",
                        derive.name()
                    ),
                );
                return None;
            }
            Data::Union(data) => {
                let why = match derive {
                    Derive::FromRecord => "a row cannot become a union",
                    Derive::ToRecord => "a row cannot be written from a union",
                };
                errors.error(
                    data.union_token.span,
                    format!("{} needs a struct: {why}", derive.name()),
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

impl Container<'_> {
    /// Attributes that cannot go together, and attributes that need named fields.
    pub fn check(&self, errors: &mut Errors, derive: Derive) {
        if self.style == Style::Tuple {
            if let Some(rename_all) = &self.attrs.rename_all {
                errors.error(
                    rename_all.span,
                    "`rename_all` needs named fields; a tuple struct maps columns by position",
                );
            }
        }
        for field in &self.fields {
            let set = field.attrs.set();
            // Each pair is reported once, at the second attribute of the pair.
            for (i, &(a, _)) in set.iter().enumerate() {
                for &(b, span) in &set[i + 1..] {
                    if let Some(why) = derive.conflict(a, b) {
                        errors.error(span, format!("`{a}` and `{b}` cannot go together: {why}"));
                    }
                }
            }
            if self.style == Style::Tuple {
                for (name, span) in &set {
                    if matches!(*name, "rename" | "flatten") {
                        errors.error(
                            *span,
                            format!(
                                "`{name}` needs a named field; a tuple struct maps columns by \
                                 position"
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// A field's column name: its `rename`, else its name under the container's `rename_all`.
pub fn column_name(container: &Container<'_>, field: &Field<'_>) -> String {
    match (&field.attrs.rename, &container.attrs.rename_all) {
        (Some(rename), _) => rename.value.clone(),
        (None, Some(rule)) => rule.value.apply_to_field(&field.name),
        (None, None) => field.name.clone(),
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
