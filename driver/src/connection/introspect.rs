//! Types the driver does not know are looked up in `pg_type` once per connection and cached:
//! enums with their labels, composites with their attributes, domains, arrays, ranges and
//! multiranges of any of them, and extension types (citext, hstore, ...).

use std::collections::HashMap;

use super::{Connection, db_error};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::types::{CustomType, Field, Kind, Oid, Type};

/// Each round looks up the types the previous round referred to (elements, attributes, base
/// types). Type graphs are shallow; this bounds a server that keeps inventing new OIDs.
const MAX_ROUNDS: usize = 16;

/// One `pg_type` row, as text.
struct TypeRow {
    name: String,
    schema: String,
    typtype: String,
    category: String,
    element: Oid,
    base: Oid,
    range_subtype: Oid,
    multirange_of: Oid,
}

impl Connection {
    /// The type for `oid`: built-in, or looked up earlier by [`Connection::resolve_types`].
    pub(super) fn type_for(&self, oid: Oid) -> Type {
        Type::from_oid(oid)
            .or_else(|| self.custom_types.get(&oid).cloned())
            .unwrap_or_else(|| unknown(oid))
    }

    /// Makes sure every OID in `oids` has a known type, querying `pg_type` for the others.
    pub(super) async fn resolve_types(
        &mut self,
        oids: impl IntoIterator<Item = Oid>,
    ) -> Result<()> {
        let mut pending: Vec<Oid> = oids
            .into_iter()
            .filter(|&oid| self.is_unknown(oid))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let mut rows: HashMap<Oid, TypeRow> = HashMap::new();
        let mut labels: HashMap<Oid, Vec<String>> = HashMap::new();
        let mut attributes: HashMap<Oid, Vec<(String, Oid)>> = HashMap::new();
        for _ in 0..MAX_ROUNDS {
            pending.sort_unstable();
            pending.dedup();
            if pending.is_empty() {
                break;
            }
            let list = pending
                .iter()
                .map(Oid::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let results = self.simple_text_query(&lookup_sql(&list)).await?;
            let [types, enum_labels, attrs] = <[_; 3]>::try_from(results).map_err(|_| {
                Error::Protocol(
                    "the pg_type lookup returned an unexpected number of results".into(),
                )
            })?;
            let mut referenced = Vec::new();
            for row in types {
                let [
                    oid,
                    name,
                    schema,
                    typtype,
                    category,
                    element,
                    base,
                    subtype,
                    multirange_of,
                ] = <[Option<String>; 9]>::try_from(row).map_err(|_| bad_row())?;
                let oid = parse_oid(oid)?;
                let row = TypeRow {
                    name: name.unwrap_or_default(),
                    schema: schema.unwrap_or_default(),
                    typtype: typtype.unwrap_or_default(),
                    category: category.unwrap_or_default(),
                    element: parse_oid(element)?,
                    base: parse_oid(base)?,
                    range_subtype: parse_oid(subtype)?,
                    multirange_of: parse_oid(multirange_of)?,
                };
                referenced.extend([row.element, row.base, row.range_subtype, row.multirange_of]);
                rows.insert(oid, row);
            }
            for row in enum_labels {
                let [oid, label] = <[Option<String>; 2]>::try_from(row).map_err(|_| bad_row())?;
                labels
                    .entry(parse_oid(oid)?)
                    .or_default()
                    .push(label.unwrap_or_default());
            }
            for row in attrs {
                let [oid, name, type_oid] =
                    <[Option<String>; 3]>::try_from(row).map_err(|_| bad_row())?;
                let type_oid = parse_oid(type_oid)?;
                referenced.push(type_oid);
                attributes
                    .entry(parse_oid(oid)?)
                    .or_default()
                    .push((name.unwrap_or_default(), type_oid));
            }
            pending = referenced
                .into_iter()
                .filter(|&oid| oid != 0 && !rows.contains_key(&oid) && self.is_unknown(oid))
                .collect();
        }
        let mut built = HashMap::new();
        let oids: Vec<Oid> = rows.keys().copied().collect();
        for oid in oids {
            let ty = build(oid, &rows, &labels, &attributes, &mut built, self, 0);
            self.custom_types.insert(oid, ty);
        }
        Ok(())
    }

    pub(super) fn is_unknown(&self, oid: Oid) -> bool {
        oid != 0 && Type::from_oid(oid).is_none() && !self.custom_types.contains_key(&oid)
    }

    /// Runs SQL through the simple query protocol and returns each statement's rows as text.
    async fn simple_text_query(&mut self, sql: &str) -> Result<Vec<Vec<Vec<Option<String>>>>> {
        self.session.simple_query(sql)?;
        self.flush().await?;
        let mut results = Vec::new();
        let mut current = Vec::new();
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::RowDescription(_) => current = Vec::new(),
                Message::DataRow(row) => {
                    let mut values = Vec::with_capacity(row.len());
                    for range in row.ranges() {
                        values.push(match range? {
                            Some(r) => Some(
                                std::str::from_utf8(&row.buffer()[r])
                                    .map_err(|_| {
                                        Error::Protocol("non-UTF-8 text in a pg_type lookup".into())
                                    })?
                                    .to_owned(),
                            ),
                            None => None,
                        });
                    }
                    current.push(values);
                }
                Message::CommandComplete(_) => results.push(std::mem::take(&mut current)),
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::EmptyQueryResponse => {}
                Message::ReadyForQuery(_) => return error.map_or(Ok(results), Err),
                other => return Err(self.unexpected(&other, "a pg_type lookup")),
            }
        }
    }
}

fn lookup_sql(oids: &str) -> String {
    format!(
        "SELECT t.oid::text, t.typname::text, n.nspname::text, t.typtype::text, t.typcategory::text, \
                t.typelem::text, t.typbasetype::text, coalesce(r.rngsubtype, 0)::text, coalesce(m.rngtypid, 0)::text \
         FROM pg_catalog.pg_type t \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
         LEFT JOIN pg_catalog.pg_range m ON m.rngmultitypid = t.oid \
         WHERE t.oid IN ({oids}); \
         SELECT enumtypid::text, enumlabel::text FROM pg_catalog.pg_enum \
         WHERE enumtypid IN ({oids}) ORDER BY enumtypid, enumsortorder; \
         SELECT t.oid::text, a.attname::text, a.atttypid::text \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid \
         WHERE t.oid IN ({oids}) AND t.typtype = 'c' AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY t.oid, a.attnum"
    )
}

/// Builds the `Type` for `oid` from the looked-up rows, building what it refers to first.
fn build(
    oid: Oid,
    rows: &HashMap<Oid, TypeRow>,
    labels: &HashMap<Oid, Vec<String>>,
    attributes: &HashMap<Oid, Vec<(String, Oid)>>,
    built: &mut HashMap<Oid, Type>,
    conn: &Connection,
    depth: usize,
) -> Type {
    if let Some(ty) = built.get(&oid) {
        return ty.clone();
    }
    let Some(row) = rows.get(&oid) else {
        return conn.type_for(oid);
    };
    if depth > MAX_ROUNDS {
        return unknown(oid);
    }
    let mut sub = |oid| build(oid, rows, labels, attributes, built, conn, depth + 1);
    let kind = match row.typtype.as_str() {
        "e" => Kind::Enum(labels.get(&oid).cloned().unwrap_or_default()),
        "c" => Kind::Composite(
            attributes
                .get(&oid)
                .map(|attrs| {
                    attrs
                        .iter()
                        .map(|(name, ty)| Field {
                            name: name.clone(),
                            ty: sub(*ty),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "d" => Kind::Domain(sub(row.base)),
        "r" => Kind::Range(sub(row.range_subtype)),
        "m" => Kind::Multirange(sub(row.multirange_of)),
        "p" => Kind::Pseudo,
        _ if row.category == "A" && row.element != 0 => Kind::Array(sub(row.element)),
        _ => Kind::Simple,
    };
    let ty = Type::custom(CustomType {
        oid,
        name: row.name.clone(),
        schema: row.schema.clone(),
        kind,
    });
    built.insert(oid, ty.clone());
    ty
}

/// A type that could not be looked up: it travels as text and decodes to String.
fn unknown(oid: Oid) -> Type {
    Type::custom(CustomType {
        oid,
        name: format!("oid {oid}"),
        schema: String::new(),
        kind: Kind::Simple,
    })
}

fn parse_oid(value: Option<String>) -> Result<Oid> {
    value
        .as_deref()
        .unwrap_or("0")
        .parse()
        .map_err(|_| Error::Protocol(format!("invalid OID {value:?} in a pg_type lookup")))
}

fn bad_row() -> Error {
    Error::Protocol("a pg_type lookup row has an unexpected shape".into())
}
