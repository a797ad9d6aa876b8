//! The SCRAM-SHA-256 client fed server messages, hostile and honest.
//!
//! Input: `[mode] [binding] rest`. In hostile mode `rest` is `server-first \0 server-final`,
//! given to the client as the server's AuthenticationSASLContinue and AuthenticationSASLFinal
//! data. In honest mode `rest` is `password \0 salt`: an honest server (written here from
//! RFC 5802, independently of the driver) with a fuzzed password, salt and iteration count
//! answers the client.
//!
//! Invariants checked: no panic on any server message; a server-first the client accepts
//! yields a client-final that carries the server's nonce and ends in a 32-byte proof; with an
//! honest server the proof verifies and the server's signature is accepted, while a signature
//! with one bit flipped is refused.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use pgtusk::__fuzz::Scram;
use sha2::{Digest, Sha256};

const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";

/// Key derivation costs `iterations` HMACs; past this the fuzzer skips it (the driver allows
/// up to 10 million, which is slow by design, not a hang).
const MAX_FUZZ_ITERATIONS: u32 = 4096;

fuzz_target!(|data: &[u8]| {
    let [mode, binding, rest @ ..] = data else {
        return;
    };
    if mode % 2 == 0 {
        hostile(*binding, rest);
    } else {
        honest(*binding, rest);
    }
});

fn client(password: &str, binding: u8) -> Scram {
    Scram::new(password, CLIENT_NONCE, binding % 3, b"certificate hash")
}

fn hostile(binding: u8, rest: &[u8]) {
    let (server_first, server_final) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let mut scram = client("pencil", binding);
    // Before any server-first, a server-final is out of order.
    assert!(scram.verify_server_final(server_final).is_err());
    if Scram::iterations(server_first, CLIENT_NONCE).is_some_and(|i| i > MAX_FUZZ_ITERATIONS) {
        return;
    }
    let Ok(client_final) = scram.handle_server_first(server_first) else {
        return;
    };
    check_client_final(&client_final, server_first);
    // A second server-first is refused.
    assert!(scram.handle_server_first(server_first).is_err());
    if let Ok(()) = scram.verify_server_final(server_final) {
        panic!("a fuzzed server-final was accepted: {server_final:?}");
    }
}

/// `c=...,r=<server nonce>,p=<base64 of 32 bytes>`.
fn check_client_final(client_final: &[u8], server_first: &[u8]) {
    let text = std::str::from_utf8(client_final).expect("client-final is UTF-8");
    let server_first = std::str::from_utf8(server_first).unwrap();
    let nonce = server_first
        .split(',')
        .find_map(|p| p.strip_prefix("r="))
        .expect("an accepted server-first has a nonce");
    let mut parts = text.split(',');
    assert!(parts.next().unwrap().starts_with("c="), "{text}");
    assert_eq!(parts.next(), Some(format!("r={nonce}").as_str()), "{text}");
    let proof = parts
        .next()
        .and_then(|p| p.strip_prefix("p="))
        .expect("a proof");
    assert_eq!(BASE64.decode(proof).map(|p| p.len()), Ok(32), "{text}");
    assert_eq!(parts.next(), None, "{text}");
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn honest(binding: u8, rest: &[u8]) {
    let (password, salt) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"salt"[..]),
    };
    // Printable ASCII passwords: SASLprep leaves them as they are, so the server side needs no
    // SASLprep of its own.
    let Ok(password) = std::str::from_utf8(password) else {
        return;
    };
    if !password.bytes().all(|b| (0x20..0x7f).contains(&b)) || salt.is_empty() {
        return;
    }
    let iterations = 1 + u32::from(binding) * 8;

    let mut scram = client(password, binding);
    let client_first = String::from_utf8(scram.client_first()).expect("client-first is UTF-8");
    let (gs2_header, client_first_bare) = client_first
        .match_indices(",,")
        .next()
        .map(|(i, _)| (&client_first[..i + 2], &client_first[i + 2..]))
        .expect("a GS2 header");

    let server_nonce = format!("{CLIENT_NONCE}3rfcNHYJY1ZVvWVs7j");
    let server_first = format!("r={server_nonce},s={},i={iterations}", BASE64.encode(salt));
    let client_final = scram
        .handle_server_first(server_first.as_bytes())
        .unwrap_or_else(|e| panic!("an honest server-first {server_first:?} was refused: {e}"));
    check_client_final(&client_final, server_first.as_bytes());

    // The server's side of RFC 5802.
    let client_final = String::from_utf8(client_final).unwrap();
    let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
    let channel = BASE64
        .decode(
            without_proof
                .strip_prefix("c=")
                .unwrap()
                .split(',')
                .next()
                .unwrap(),
        )
        .unwrap();
    assert!(
        channel.starts_with(gs2_header.as_bytes()),
        "c= carries the GS2 header"
    );
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof = BASE64.decode(proof).unwrap();
    let recovered: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
    assert_eq!(
        Sha256::digest(&recovered).as_slice(),
        stored_key.as_slice(),
        "the client's proof does not verify"
    );

    let server_signature = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
    let good = format!("v={}", BASE64.encode(server_signature));
    scram
        .verify_server_final(good.as_bytes())
        .unwrap_or_else(|e| panic!("the honest server's signature was refused: {e}"));
    let mut forged = server_signature;
    forged[usize::from(binding) % 32] ^= 1 << (binding % 8);
    let forged = format!("v={}", BASE64.encode(forged));
    assert!(scram.verify_server_final(forged.as_bytes()).is_err());
}
