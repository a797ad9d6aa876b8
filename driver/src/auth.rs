//! TEMPORARY stub until the config branch lands.
use crate::error::Error;
pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
pub(crate) fn md5_password(_u: &str, _p: &str, _s: [u8; 4]) -> String { String::new() }
pub(crate) struct ScramSha256;
impl ScramSha256 { pub fn new(_p: &str) -> Self { ScramSha256 } pub fn client_first(&self) -> Vec<u8> { vec![] } pub fn handle_server_first(&mut self, _d: &[u8]) -> Result<Vec<u8>, Error> { Ok(vec![]) } pub fn verify_server_final(&self, _d: &[u8]) -> Result<(), Error> { Ok(()) } }
