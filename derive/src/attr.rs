//! Attributes: `#[record(...)]` for FromRecord, `#[pg(...)]` for Type, the rename rules, and
//! the error collector every step reports into.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Token};

/// Collects every error of a derive, so the user sees all mistakes at once.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    /// All errors combined into one, if there were any.
    pub fn finish(self) -> Result<(), syn::Error> {
        let mut errors = self.0.into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}

/// A `rename_all` case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
}

const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
];

impl RenameRule {
    pub fn parse(lit: &LitStr) -> syn::Result<RenameRule> {
        let value = lit.value();
        RULES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|&(_, rule)| rule)
            .ok_or_else(|| {
                let names: Vec<String> = RULES.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown rename_all case \"{value}\"; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// Renames a field (written in snake_case).
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut out = String::new();
                let mut capitalize = true;
                for c in field.chars() {
                    if c == '_' {
                        capitalize = true;
                    } else if capitalize {
                        out.push(c.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            RenameRule::Camel => lower_first(&RenameRule::Pascal.apply_to_field(field)),
        }
    }

    /// Renames an enum variant (written in PascalCase).
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => lower_first(variant),
            RenameRule::Snake => {
                let mut out = String::new();
                for (i, c) in variant.char_indices() {
                    if i > 0 && c.is_uppercase() {
                        out.push('_');
                    }
                    out.push(c.to_ascii_lowercase());
                }
                out
            }
            RenameRule::ScreamingSnake => RenameRule::Snake
                .apply_to_variant(variant)
                .to_ascii_uppercase(),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A value of an attribute with the span of its key, to point at in errors.
pub struct Attr<T> {
    pub span: Span,
    pub value: T,
}

/// Sets `slot` once; a second `name` is an error at its key.
pub fn set_once<T>(
    errors: &mut Errors,
    slot: &mut Option<Attr<T>>,
    name: &str,
    span: Span,
    value: T,
) {
    if slot.is_some() {
        errors.error(span, format!("duplicate attribute `{name}`"));
    } else {
        *slot = Some(Attr { span, value });
    }
}

/// A flag attribute (`skip`, `json`, ...): set once, and it takes no value.
fn flag(
    errors: &mut Errors,
    meta: &ParseNestedMeta<'_>,
    slot: &mut Option<Attr<()>>,
    name: &str,
) -> syn::Result<()> {
    let span = meta
        .path
        .get_ident()
        .map_or_else(Span::call_site, |i| i.span());
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        errors.error(
            span,
            format!("`{name}` takes no value: write `{name}` alone"),
        );
        skip_value(meta)?;
        return Ok(());
    }
    set_once(errors, slot, name, span, ());
    Ok(())
}

/// Consumes `= value` or `(...)` after a key that was reported.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// Walks every `#[ns(...)]` attribute, handing each item to `item`, which returns whether it
/// knew the key. Unknown keys are reported (with `expected`) and their values skipped, so one
/// mistake does not hide the next.
pub fn walk(
    errors: &mut Errors,
    attrs: &[Attribute],
    ns: &str,
    expected: &str,
    mut item: impl FnMut(&mut Errors, &ParseNestedMeta<'_>) -> syn::Result<bool>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(ns)) {
        let mut inner = Errors::default();
        let result = attr.parse_nested_meta(|meta| {
            if item(&mut inner, &meta)? {
                return Ok(());
            }
            let key = meta
                .path
                .get_ident()
                .map_or_else(|| "?".to_owned(), ToString::to_string);
            inner.push(meta.error(format!(
                "unknown {ns} attribute `{key}`; expected one of: {expected}"
            )));
            skip_value(&meta)
        });
        errors.0.extend(inner.0);
        if let Err(e) = result {
            errors.push(e);
        }
    }
}

/// `#[record(...)]` on the struct.
#[derive(Default)]
pub struct RecordContainer {
    pub rename_all: Option<Attr<RenameRule>>,
}

impl RecordContainer {
    pub fn parse(errors: &mut Errors, attrs: &[Attribute]) -> RecordContainer {
        let mut out = RecordContainer::default();
        walk(errors, attrs, "record", "rename_all", |errors, meta| {
            if meta.path.is_ident("rename_all") {
                let lit: LitStr = meta.value()?.parse()?;
                match RenameRule::parse(&lit) {
                    Ok(rule) => set_once(
                        errors,
                        &mut out.rename_all,
                        "rename_all",
                        meta.path.get_ident().unwrap().span(),
                        rule,
                    ),
                    Err(e) => errors.push(e),
                }
                return Ok(true);
            }
            Ok(false)
        });
        out
    }
}

/// `#[record(...)]` on a field.
#[derive(Default)]
pub struct RecordField {
    pub rename: Option<Attr<String>>,
    pub default: Option<Attr<()>>,
    pub flatten: Option<Attr<()>>,
    pub try_from: Option<Attr<syn::Type>>,
    pub json: Option<Attr<()>>,
    pub skip: Option<Attr<()>>,
}

impl RecordField {
    pub fn parse(errors: &mut Errors, attrs: &[Attribute]) -> RecordField {
        let mut out = RecordField::default();
        walk(
            errors,
            attrs,
            "record",
            "rename, default, flatten, try_from, json, skip",
            |errors, meta| {
                let Some(key) = meta.path.get_ident() else {
                    return Ok(false);
                };
                let span = key.span();
                match key.to_string().as_str() {
                    "rename" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        set_once(errors, &mut out.rename, "rename", span, lit.value());
                    }
                    "try_from" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        match lit.parse::<syn::Type>() {
                            Ok(ty) => set_once(errors, &mut out.try_from, "try_from", span, ty),
                            Err(e) => errors.error(
                                lit.span(),
                                format!("try_from needs a type, as in try_from = \"i64\": {e}"),
                            ),
                        }
                    }
                    "default" => flag(errors, meta, &mut out.default, "default")?,
                    "flatten" => flag(errors, meta, &mut out.flatten, "flatten")?,
                    "json" => flag(errors, meta, &mut out.json, "json")?,
                    "skip" => flag(errors, meta, &mut out.skip, "skip")?,
                    _ => return Ok(false),
                }
                Ok(true)
            },
        );
        out
    }

    /// The attributes set, in a fixed order, with their key spans.
    pub fn set(&self) -> Vec<(&'static str, Span)> {
        let mut set = Vec::new();
        let mut add = |name, span: Option<Span>| {
            if let Some(span) = span {
                set.push((name, span));
            }
        };
        add("skip", self.skip.as_ref().map(|a| a.span));
        add("flatten", self.flatten.as_ref().map(|a| a.span));
        add("json", self.json.as_ref().map(|a| a.span));
        add("try_from", self.try_from.as_ref().map(|a| a.span));
        add("rename", self.rename.as_ref().map(|a| a.span));
        add("default", self.default.as_ref().map(|a| a.span));
        set
    }
}

/// `#[pg(...)]` on a type deriving `Type`.
#[derive(Default)]
pub struct PgContainer {
    pub transparent: Option<Attr<()>>,
    pub name: Option<Attr<String>>,
    pub rename_all: Option<Attr<RenameRule>>,
}

impl PgContainer {
    pub fn parse(errors: &mut Errors, attrs: &[Attribute]) -> PgContainer {
        let mut out = PgContainer::default();
        walk(
            errors,
            attrs,
            "pg",
            "transparent, name, rename_all",
            |errors, meta| {
                let Some(key) = meta.path.get_ident() else {
                    return Ok(false);
                };
                let span = key.span();
                match key.to_string().as_str() {
                    "transparent" => flag(errors, meta, &mut out.transparent, "transparent")?,
                    "name" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        set_once(errors, &mut out.name, "name", span, lit.value());
                    }
                    "rename_all" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        match RenameRule::parse(&lit) {
                            Ok(rule) => {
                                set_once(errors, &mut out.rename_all, "rename_all", span, rule)
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        );
        out
    }
}

/// `#[pg(rename = "...")]` on an enum variant.
pub fn pg_variant_rename(errors: &mut Errors, attrs: &[Attribute]) -> Option<Attr<String>> {
    let mut rename = None;
    walk(errors, attrs, "pg", "rename", |errors, meta| {
        if meta.path.is_ident("rename") {
            let lit: LitStr = meta.value()?.parse()?;
            set_once(
                errors,
                &mut rename,
                "rename",
                meta.path.get_ident().unwrap().span(),
                lit.value(),
            );
            return Ok(true);
        }
        Ok(false)
    });
    rename
}

/// Attributes of the other derive that do not belong where they are (a `#[pg]` on a field).
pub fn refuse(errors: &mut Errors, attrs: &[Attribute], ns: &str, why: &str) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(ns)) {
        errors.error(attr.path().get_ident().unwrap().span(), why);
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn fields_are_renamed_from_snake_case() {
        let cases = [
            (Lower, "user_id"),
            (Upper, "USER_ID"),
            (Pascal, "UserId"),
            (Camel, "userId"),
            (Snake, "user_id"),
            (ScreamingSnake, "USER_ID"),
        ];
        for (rule, want) in cases {
            assert_eq!(rule.apply_to_field("user_id"), want, "{rule:?}");
        }
    }

    #[test]
    fn variants_are_renamed_from_pascal_case() {
        let cases = [
            (Lower, "verysad"),
            (Upper, "VERYSAD"),
            (Pascal, "VerySad"),
            (Camel, "verySad"),
            (Snake, "very_sad"),
            (ScreamingSnake, "VERY_SAD"),
        ];
        for (rule, want) in cases {
            assert_eq!(rule.apply_to_variant("VerySad"), want, "{rule:?}");
        }
    }
}
