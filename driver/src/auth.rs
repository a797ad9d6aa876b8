//! Client side of PostgreSQL password authentication: MD5 and SCRAM-SHA-256.
//!
//! Sans-IO: these functions turn the server's authentication messages into the
//! bytes we answer with; the connection sends and receives them. Cleartext
//! needs no help (the password goes out as is). All crypto comes from the
//! RustCrypto crates (`md-5`, `sha2`, `hmac`, `pbkdf2`).
//!
//! SCRAM follows RFC 5802 / RFC 7677 the way PostgreSQL uses it: the user name
//! in the client-first message is empty (the server takes it from the startup
//! packet). Over TLS, SCRAM-SHA-256-PLUS binds the exchange to the connection with
//! `tls-server-end-point` (GS2 header `p=tls-server-end-point,,` and the hash of the
//! server's certificate in `c=`); otherwise the header says `n,,` (no binding) or `y,,`
//! (we could bind but the server did not offer it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use rand::RngCore as _;
use sha2::Sha256;

use crate::error::Error;

/// The SASL mechanism name PostgreSQL offers in AuthenticationSASL.
pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// The same with channel binding, offered over TLS (PostgreSQL 11+).
pub(crate) const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Highest iteration count we accept from a server. PostgreSQL's default is
/// 4096; 10 million already costs seconds of CPU, and an unbounded count lets a
/// hostile server pin a core.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Bytes of randomness in our nonce (libpq uses 18, which is 24 base64 chars).
const NONCE_BYTES: usize = 18;

/// Whether and how a SCRAM exchange binds to the TLS connection (RFC 5802 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) enum ScramBinding {
    /// `n`: the client does not bind (no TLS, or `channel_binding=disable`).
    None,
    /// `y`: the client could bind but the server did not offer SCRAM-SHA-256-PLUS.
    ServerLacksIt,
    /// `p=tls-server-end-point`: the hash of the server's certificate.
    TlsServerEndPoint(Vec<u8>),
}

impl ScramBinding {
    fn gs2_header(&self) -> &'static str {
        match self {
            ScramBinding::None => "n,,",
            ScramBinding::ServerLacksIt => "y,,",
            ScramBinding::TlsServerEndPoint(_) => "p=tls-server-end-point,,",
        }
    }

    /// The SASL mechanism this binding goes with.
    pub(crate) fn mechanism(&self) -> &'static str {
        match self {
            ScramBinding::TlsServerEndPoint(_) => SCRAM_SHA_256_PLUS,
            _ => SCRAM_SHA_256,
        }
    }

    /// `c=`: base64 of the GS2 header and the binding data.
    fn c_attribute(&self) -> String {
        let mut input = self.gs2_header().as_bytes().to_vec();
        if let ScramBinding::TlsServerEndPoint(data) = self {
            input.extend_from_slice(data);
        }
        BASE64.encode(input)
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The answer to AuthenticationMD5Password:
/// `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
pub(crate) fn md5_password(user: &str, password: &str, salt: [u8; 4]) -> String {
    let mut inner = Md5::new();
    inner.update(password.as_bytes());
    inner.update(user.as_bytes());
    let inner_hex = hex(&inner.finalize());

    let mut outer = Md5::new();
    outer.update(inner_hex.as_bytes());
    outer.update(salt);
    let mut out = String::with_capacity(35);
    out.push_str("md5");
    out.push_str(&hex(&outer.finalize()));
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

/// One SCRAM-SHA-256 exchange, client side.
///
/// ```text
/// client_first()            -> SASLInitialResponse data
/// handle_server_first(..)   <- AuthenticationSASLContinue data, -> SASLResponse data
/// verify_server_final(..)   <- AuthenticationSASLFinal data
/// ```
pub(crate) struct ScramSha256 {
    /// The SASLprep'd password bytes.
    password: Vec<u8>,
    /// Our nonce (printable, no ',').
    nonce: String,
    /// `n=<user>,r=<nonce>`: the client-first message without the GS2 header.
    client_first_bare: String,
    binding: ScramBinding,
    state: State,
}

enum State {
    /// client_first() may be sent; waiting for the server-first message.
    Initial,
    /// The client-final message went out; this is what the server must prove.
    SentFinal { expected_server_signature: [u8; 32] },
}

impl std::fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSha256")
            .field("nonce", &self.nonce)
            .field("mechanism", &self.binding.mechanism())
            .field(
                "state",
                &match self.state {
                    State::Initial => "initial",
                    State::SentFinal { .. } => "sent-final",
                },
            )
            .finish_non_exhaustive()
    }
}

impl ScramSha256 {
    /// A new exchange with a random 18-byte nonce.
    ///
    /// The password is normalized with SASLprep (RFC 4013); like libpq, a
    /// password that SASLprep refuses (prohibited or unassigned code points) is
    /// used as its raw bytes, which is what the server did when it stored it.
    pub(crate) fn new(password: &str) -> Self {
        let mut raw = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut raw);
        Self::with_nonce(password, &BASE64.encode(raw))
    }

    /// A new exchange with a chosen nonce (tests). The nonce must be printable
    /// ASCII without ','.
    pub(crate) fn with_nonce(password: &str, nonce: &str) -> Self {
        Self::with_user_and_nonce("", password, nonce)
    }

    /// PostgreSQL ignores the SCRAM user name, so we always send `n=`; the
    /// RFC test vectors use `n=user`, hence this constructor.
    fn with_user_and_nonce(user: &str, password: &str, nonce: &str) -> Self {
        let password = match stringprep::saslprep(password) {
            Ok(prepped) => prepped.into_owned().into_bytes(),
            Err(_) => password.as_bytes().to_vec(),
        };
        ScramSha256 {
            password,
            nonce: nonce.to_owned(),
            client_first_bare: format!("n={user},r={nonce}"),
            binding: ScramBinding::None,
            state: State::Initial,
        }
    }

    /// Binds the exchange to the TLS connection, or says why it does not.
    pub(crate) fn with_binding(mut self, binding: ScramBinding) -> Self {
        self.binding = binding;
        self
    }

    /// The client-first message: `n,,n=,r=<nonce>` (or with `y,,` / `p=...,,`).
    pub(crate) fn client_first(&self) -> Vec<u8> {
        let header = self.binding.gs2_header();
        let mut out = Vec::with_capacity(header.len() + self.client_first_bare.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(self.client_first_bare.as_bytes());
        out
    }

    /// Checks the server-first message (`r=<nonce>,s=<salt>,i=<count>`) and
    /// returns the client-final message with our proof.
    pub(crate) fn handle_server_first(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        if !matches!(self.state, State::Initial) {
            return Err(auth_err("server-first message received twice"));
        }
        let server_first = std::str::from_utf8(data)
            .map_err(|_| auth_err("server-first message is not valid UTF-8"))?;
        let ServerFirst {
            nonce,
            salt,
            iterations,
        } = parse_server_first(server_first, &self.nonce)?;

        let mut salted_password = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&self.password, &salt, iterations, &mut salted_password);

        let client_key = hmac(&salted_password, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();

        let client_final_without_proof = format!("c={},r={nonce}", self.binding.c_attribute());
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, client_final_without_proof
        );

        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }

        let server_key = hmac(&salted_password, b"Server Key");
        let expected_server_signature = hmac(&server_key, auth_message.as_bytes());
        self.state = State::SentFinal {
            expected_server_signature,
        };

        let mut out = client_final_without_proof.into_bytes();
        out.extend_from_slice(b",p=");
        out.extend_from_slice(BASE64.encode(proof).as_bytes());
        Ok(out)
    }

    /// Checks the server-final message: `v=<signature>` must prove the server
    /// knows the password; `e=<error>` is the server refusing us.
    pub(crate) fn verify_server_final(&self, data: &[u8]) -> Result<(), Error> {
        let State::SentFinal {
            expected_server_signature,
        } = &self.state
        else {
            return Err(auth_err(
                "server-final message received before the client-final message was sent",
            ));
        };
        let text = std::str::from_utf8(data)
            .map_err(|_| auth_err("server-final message is not valid UTF-8"))?;
        // server-final-message = (server-error / verifier) ["," extensions]
        let first = text.split(',').next().unwrap_or("");
        if let Some(e) = first.strip_prefix("e=") {
            return Err(auth_err(format!("server rejected the SCRAM exchange: {e}")));
        }
        let Some(v) = first.strip_prefix("v=") else {
            return Err(auth_err(format!(
                "server-final message has no verifier (expected \"v=...\" or \"e=...\"): {}",
                preview(text)
            )));
        };
        let signature = BASE64.decode(v).map_err(|_| {
            auth_err("server signature in the server-final message is not valid base64")
        })?;
        if signature.len() == expected_server_signature.len()
            && constant_time_eq(&signature, expected_server_signature)
        {
            Ok(())
        } else {
            Err(auth_err(
                "server signature does not match: the server did not prove it knows the password",
            ))
        }
    }
}

pub(crate) struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    pub(crate) iterations: u32,
}

/// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
pub(crate) fn parse_server_first<'a>(
    msg: &'a str,
    client_nonce: &str,
) -> Result<ServerFirst<'a>, Error> {
    let mut parts = msg.split(',');
    let mut next = |name: char, what: &str| -> Result<&'a str, Error> {
        let part = parts.next().unwrap_or("");
        match part.strip_prefix(name).and_then(|p| p.strip_prefix('=')) {
            Some(value) => Ok(value),
            None if part.starts_with("m=") => Err(auth_err(
                "server-first message demands a SCRAM extension (m=) we do not support",
            )),
            None => Err(auth_err(format!(
                "malformed server-first message: expected {what} (\"{name}=\"), got {}",
                preview(part)
            ))),
        }
    };

    let nonce = next('r', "the nonce")?;
    if !nonce.starts_with(client_nonce) || nonce.len() <= client_nonce.len() {
        return Err(auth_err(
            "server nonce does not extend the client nonce (possible man-in-the-middle)",
        ));
    }
    if !nonce
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(auth_err("server nonce contains non-printable characters"));
    }

    let salt_b64 = next('s', "the salt")?;
    let salt = BASE64.decode(salt_b64).map_err(|_| {
        auth_err(format!(
            "server salt is not valid base64: {}",
            preview(salt_b64)
        ))
    })?;
    if salt.is_empty() {
        return Err(auth_err("server salt is empty"));
    }

    let iter_text = next('i', "the iteration count")?;
    let iterations: u32 = iter_text.parse().map_err(|_| {
        auth_err(format!(
            "server iteration count is not a number: {}",
            preview(iter_text)
        ))
    })?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(auth_err(format!(
            "server iteration count {iterations} is out of range (expected 1-{MAX_ITERATIONS})"
        )));
    }
    // Extensions after the iteration count are allowed and ignored.
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// At most 64 characters of server text, for error messages.
fn preview(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    format!("{out:?}")
}

fn auth_err(msg: impl Into<String>) -> Error {
    Error::Auth(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth_msg(e: Error) -> String {
        match e {
            Error::Auth(m) => m,
            other => panic!("expected Error::Auth, got {other:?}"),
        }
    }

    #[test]
    fn md5_known_value() {
        // python3: "md5" + md5(md5(b"secret" + b"alice").hexdigest().encode() + bytes([1,2,3,4])).hexdigest()
        assert_eq!(
            md5_password("alice", "secret", [1, 2, 3, 4]),
            "md598a0412b9c31436fc53776e863350083"
        );
    }

    #[test]
    fn md5_empty_password_and_user() {
        // python3: "md5" + md5(md5(b"").hexdigest().encode() + b"\0\0\0\0").hexdigest()
        assert_eq!(
            md5_password("", "", [0, 0, 0, 0]),
            "md591b86670dcd47857d222fa05653500aa"
        );
    }

    const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    #[test]
    fn scram_rfc7677_vector() {
        let mut scram = ScramSha256::with_user_and_nonce("user", "pencil", RFC_CLIENT_NONCE);
        assert_eq!(scram.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let client_final = scram
            .handle_server_first(RFC_SERVER_FIRST.as_bytes())
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&client_final).unwrap(),
            RFC_CLIENT_FINAL
        );
        scram
            .verify_server_final(RFC_SERVER_FINAL.as_bytes())
            .unwrap();
    }

    #[test]
    fn scram_postgres_style_empty_user() {
        // Same exchange as PostgreSQL runs it (n= empty); the expected proof and
        // server signature were computed independently with python3's hashlib/hmac.
        let mut scram = ScramSha256::with_nonce("pencil", RFC_CLIENT_NONCE);
        assert_eq!(scram.client_first(), b"n,,n=,r=rOprNGfwEbeRWgbNEkqO");
        let client_final = scram
            .handle_server_first(RFC_SERVER_FIRST.as_bytes())
            .unwrap();
        assert_eq!(std::str::from_utf8(&client_final).unwrap(), PG_CLIENT_FINAL);
        scram
            .verify_server_final(PG_SERVER_FINAL.as_bytes())
            .unwrap();
    }

    const PG_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=";
    const PG_SERVER_FINAL: &str = "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=";

    #[test]
    fn scram_random_nonce_is_24_base64_chars() {
        let a = ScramSha256::new("x");
        let b = ScramSha256::new("x");
        assert_eq!(a.nonce.len(), 24);
        assert_ne!(a.nonce, b.nonce);
        let first = String::from_utf8(a.client_first()).unwrap();
        assert_eq!(first, format!("n,,n=,r={}", a.nonce));
    }

    #[test]
    fn scram_saslprep() {
        // U+00A0 (no-break space) maps to U+0020; U+00AD (soft hyphen) maps to nothing.
        let s = ScramSha256::with_nonce("pen\u{00AD}cil\u{00A0}x", "n");
        assert_eq!(s.password, b"pencil x");
        // A prohibited character (U+0007 control) makes SASLprep fail: raw bytes are used.
        let s = ScramSha256::with_nonce("bell\u{0007}", "n");
        assert_eq!(s.password, "bell\u{0007}".as_bytes());
    }

    #[test]
    fn scram_rejects_bad_server_first() {
        let cases: &[(&str, &str)] = &[
            ("", "expected the nonce"),
            (
                "r=otherNonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                "does not extend",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                "does not extend",
            ),
            ("m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=1", "extension"),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,i=4096", "expected the salt"),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=not*base64,i=4096",
                "not valid base64",
            ),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096", "salt is empty"),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA",
                "expected the iteration count",
            ),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=abc", "not a number"),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=0", "out of range"),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=-1", "not a number"),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=10000001",
                "out of range",
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=99999999999999",
                "not a number",
            ),
            ("r=rOprNGfwEbeRWgbNEkqO\u{1}x,s=AAAA,i=1", "non-printable"),
        ];
        for (input, want) in cases {
            let mut s = ScramSha256::with_nonce("pencil", RFC_CLIENT_NONCE);
            let err = auth_msg(s.handle_server_first(input.as_bytes()).unwrap_err());
            assert!(err.contains(want), "{input:?}: {err:?} lacks {want:?}");
        }
        let mut s = ScramSha256::with_nonce("pencil", RFC_CLIENT_NONCE);
        let err = auth_msg(s.handle_server_first(&[0xff, 0xfe]).unwrap_err());
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn scram_accepts_extensions_after_iterations() {
        let mut s = ScramSha256::with_user_and_nonce("user", "pencil", RFC_CLIENT_NONCE);
        let msg = format!("{RFC_SERVER_FIRST},x=ext");
        // Extensions change the auth message, so only check that it is accepted.
        s.handle_server_first(msg.as_bytes()).unwrap();
    }

    #[test]
    fn scram_rejects_bad_server_final() {
        let fresh = || {
            let mut s = ScramSha256::with_user_and_nonce("user", "pencil", RFC_CLIENT_NONCE);
            s.handle_server_first(RFC_SERVER_FIRST.as_bytes()).unwrap();
            s
        };
        let cases: &[(&[u8], &str)] = &[
            (
                b"e=invalid-proof",
                "server rejected the SCRAM exchange: invalid-proof",
            ),
            (b"v=AAAA", "does not match"),
            // A well-formed signature for a different auth message (n= instead of n=user).
            (
                b"v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=",
                "does not match",
            ),
            (b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", "base64"),
            (b"v=!!!", "base64"),
            (b"x=1", "no verifier"),
            (b"", "no verifier"),
            (&[0xff], "UTF-8"),
        ];
        for (input, want) in cases {
            let err = auth_msg(fresh().verify_server_final(input).unwrap_err());
            assert!(err.contains(want), "{input:?}: {err:?} lacks {want:?}");
        }
        // Extensions after the verifier are fine.
        fresh()
            .verify_server_final(format!("{RFC_SERVER_FINAL},x=1").as_bytes())
            .unwrap();
    }

    #[test]
    fn scram_out_of_order() {
        let s = ScramSha256::with_nonce("pencil", RFC_CLIENT_NONCE);
        let err = auth_msg(
            s.verify_server_final(RFC_SERVER_FINAL.as_bytes())
                .unwrap_err(),
        );
        assert!(err.contains("before"), "{err}");
        let mut s = ScramSha256::with_user_and_nonce("user", "pencil", RFC_CLIENT_NONCE);
        s.handle_server_first(RFC_SERVER_FIRST.as_bytes()).unwrap();
        let err = auth_msg(
            s.handle_server_first(RFC_SERVER_FIRST.as_bytes())
                .unwrap_err(),
        );
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn channel_binding_headers_and_c_attribute() {
        let s = ScramSha256::with_nonce("pencil", "abc");
        assert_eq!(s.client_first(), b"n,,n=,r=abc");
        assert_eq!(s.binding.c_attribute(), "biws");
        assert_eq!(s.binding.mechanism(), SCRAM_SHA_256);

        let s = ScramSha256::with_nonce("pencil", "abc").with_binding(ScramBinding::ServerLacksIt);
        assert_eq!(s.client_first(), b"y,,n=,r=abc");
        assert_eq!(s.binding.c_attribute(), "eSws");
        assert_eq!(s.binding.mechanism(), SCRAM_SHA_256);

        let data = vec![0xde, 0xad, 0xbe, 0xef];
        let mut s = ScramSha256::with_nonce("pencil", RFC_CLIENT_NONCE)
            .with_binding(ScramBinding::TlsServerEndPoint(data));
        assert_eq!(
            s.client_first(),
            b"p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(s.binding.mechanism(), SCRAM_SHA_256_PLUS);
        let expected_c = BASE64.encode(b"p=tls-server-end-point,,\xde\xad\xbe\xef");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final =
            String::from_utf8(s.handle_server_first(server_first.as_bytes()).unwrap()).unwrap();
        assert!(
            client_final.starts_with(&format!("c={expected_c},r=")),
            "{client_final}"
        );
    }
}
