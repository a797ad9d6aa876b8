//! A pipeline's statements, found or described: what the connection does not hold yet is
//! described in one write and one round trip, each text once.

use std::collections::HashMap;

use super::{Entry, check_pipelined};
use crate::connection::query::{PendingName, query_text, write_parse_describe};
use crate::connection::{Connection, QueryRef};
use crate::error::{Error, Result};
use crate::pipeline::Queued;
use crate::protocol::session::{Abandon, RequestKind};
use crate::statement::Statement;

impl Connection {
    /// Finds each statement's prepared form; what the connection does not hold yet is
    /// described now, each text once, all in one round trip.
    pub(super) async fn find_statements(
        &mut self,
        statements: &[Queued<'_>],
        entries: &mut [Entry],
    ) -> Result<()> {
        let mut missing: Vec<(&str, bool)> = Vec::new();
        let mut index_of: HashMap<&str, usize> = HashMap::new();
        let mut waiting: Vec<(usize, usize)> = Vec::new();
        for (i, (queued, entry)) in statements.iter().zip(entries.iter_mut()).enumerate() {
            let sql = query_text(queued.query);
            if let Err(e) = check_pipelined(queued, sql) {
                entry.outcome = Some(Err(e));
                continue;
            }
            match queued.query {
                QueryRef::Statement(stmt) => match self.own_statement(stmt) {
                    Ok(stmt) => entry.stmt = Some(stmt),
                    Err(e) => entry.outcome = Some(Err(e)),
                },
                QueryRef::Sql(sql) => {
                    let named = self.cache.admits(sql);
                    let known = if named {
                        self.cache.get(sql).cloned()
                    } else if !queued.plan_now {
                        self.described.get(sql).cloned()
                    } else {
                        // A typed statement is checked against its columns as they are now.
                        None
                    };
                    match known {
                        Some(stmt) => entry.stmt = Some(stmt),
                        None => {
                            let at = *index_of.entry(sql).or_insert_with(|| {
                                missing.push((sql, named));
                                missing.len() - 1
                            });
                            waiting.push((i, at));
                        }
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let described = self.describe_all(&missing).await?;
        for (i, at) in waiting {
            match &described[at] {
                Ok(stmt) => entries[i].stmt = Some(stmt.clone()),
                Err(e) => entries[i].outcome = Some(Err(copy_error(e))),
            }
        }
        Ok(())
    }

    /// Describes each text (`named`: as a new named statement for the cache, else as the
    /// unnamed one) in one write and one round trip, Parse + Describe + Sync each, then looks
    /// up the types they use.
    async fn describe_all(&mut self, texts: &[(&str, bool)]) -> Result<Vec<Result<Statement>>> {
        // Held across the awaits: if this future is dropped, the names go to the close queue.
        let mut names: Vec<Option<PendingName>> = Vec::with_capacity(texts.len());
        let mut written: Vec<Result<()>> = Vec::with_capacity(texts.len());
        for &(sql, named) in texts {
            self.prepares += 1;
            let name = named.then(|| {
                self.next_statement_id += 1;
                PendingName::new(
                    format!("pgtusk_{}", self.next_statement_id),
                    self.session.close_queue().clone(),
                )
            });
            self.session
                .begin_request(RequestKind::Extended, Abandon::Sync);
            let name_str = name.as_ref().map_or("", PendingName::as_str);
            match write_parse_describe(name_str, sql, self.session.out()) {
                Ok(()) => {
                    self.session.sync();
                    written.push(Ok(()));
                }
                Err(e) => {
                    // Not sent yet: the request is cut.
                    self.session.abort_request();
                    written.push(Err(e));
                }
            }
            names.push(name);
        }
        self.flush().await?;
        let mut descriptions = Vec::with_capacity(texts.len());
        for (&(sql, _), written) in texts.iter().zip(written) {
            let description = match written {
                Err(e) => Err(e),
                Ok(()) => match self.read_description(true, sql).await {
                    Err(e) if self.session.is_broken() => return Err(e),
                    described => described,
                },
            };
            descriptions.push(description);
        }
        let oids: Vec<u32> = descriptions
            .iter()
            .flatten()
            .flat_map(|(params, fields)| {
                params
                    .iter()
                    .copied()
                    .chain(fields.iter().map(|f| f.type_oid))
            })
            .collect();
        self.resolve_types(oids).await?;
        let mut statements = Vec::with_capacity(texts.len());
        for ((&(sql, named), name), description) in texts.iter().zip(names).zip(descriptions) {
            statements.push(description.map(|(param_oids, fields)| {
                let owner = name.map_or((String::new(), None), PendingName::into_inner);
                let stmt = self.statement_from(owner, sql, &param_oids, fields);
                if named {
                    self.cache.insert(stmt.clone());
                } else if self.described.admits(sql) {
                    self.described.remove(sql);
                    self.described.insert(stmt.clone());
                }
                stmt
            }));
        }
        Ok(statements)
    }
}

/// An error for each statement that shares one SQL text's failed description.
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Db(db) => Error::Db(db.clone()),
        other => Error::Interface(other.to_string()),
    }
}
