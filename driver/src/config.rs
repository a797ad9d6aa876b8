//! TEMPORARY stub until the config branch lands.
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use crate::error::Error;
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions { s: String }
impl FromStr for ConnectOptions { type Err = Error; fn from_str(s: &str) -> Result<Self, Error> { Ok(ConnectOptions { s: s.to_owned() }) } }
pub(crate) struct Resolved { pub targets: Vec<Target>, pub user: String, pub dbname: String, pub application_name: Option<String>, pub options: Option<String>, pub connect_timeout: Option<Duration>, pub statement_cache_size: usize, pub max_cacheable_statement_size: usize, pub max_message_size: usize }
pub(crate) struct Target { pub host: Host, pub port: u16, pub password: Option<String> }
pub(crate) enum Host { Tcp(String), #[allow(dead_code)] Unix(PathBuf) }
impl Target { pub fn describe(&self) -> String { String::new() } }
impl ConnectOptions { pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
  let port = self.s.rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap();
  Ok(Resolved { targets: vec![Target { host: Host::Tcp("127.0.0.1".into()), port, password: Some("secret".into()) }], user: "postgres".into(), dbname: "postgres".into(), application_name: None, options: None, connect_timeout: None, statement_cache_size: 100, max_cacheable_statement_size: 15360, max_message_size: 1<<30 }) } }
