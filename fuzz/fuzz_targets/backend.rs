//! The backend message parser and the session state machine, fed server bytes.
//!
//! Input: `[limit] [script length] [script ...] [server bytes ...]`. The server bytes go
//! through `parse_message` exactly as the connection reads its socket, each message through
//! the session's `handle` (with the connection's DataRow fast path), with one script byte
//! (a client action: a query, a batch, a COPY, a dropped operation, a partial write) applied
//! before each message. Every message's accessors are walked, rows become Records.
//!
//! Invariants checked: parsing the same bytes in small pieces gives the same messages as
//! parsing them whole; a message over the limit is refused from its header; an error from
//! the session leaves it broken, and a broken session refuses the next operation.

#![no_main]

use std::sync::Arc;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgtusk::__fuzz::{self, Event, Session};
use pgtusk::protocol::backend::{Message, parse_message};
use pgtusk::{Columns, Record};

/// The limits a connection may be configured with: the smallest allowed, a typical one, and
/// the default (1 GiB, which a header may claim without anything being allocated for it).
const LIMITS: [usize; 3] = [1024, 1 << 16, pgtusk::protocol::DEFAULT_MAX_MESSAGE_SIZE];

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let max_len = LIMITS[usize::from(limit) % LIMITS.len()];
    let Some((&script_len, rest)) = rest.split_first() else {
        return;
    };
    let script_len = usize::from(script_len % 32).min(rest.len());
    let (script, server) = rest.split_at(script_len);

    let whole = parse_all(server, max_len, usize::MAX);
    let pieces = parse_all(server, max_len, 1 + usize::from(limit % 7));
    assert_eq!(
        whole, pieces,
        "parsing in pieces differs from parsing whole"
    );

    drive_session(script, server, max_len);
});

/// Every outcome of parsing `server`, fed into the read buffer `step` bytes at a time.
fn parse_all(server: &[u8], max_len: usize, step: usize) -> Vec<Result<Message, String>> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    loop {
        match parse_message(&mut buf, max_len) {
            Ok(Some(msg)) => {
                if let Some(len) = declared_len(&msg) {
                    assert!(len <= max_len, "a message over the limit parsed");
                }
                out.push(Ok(msg));
            }
            Ok(None) if fed < server.len() => {
                let end = fed.saturating_add(step).min(server.len());
                buf.extend_from_slice(&server[fed..end]);
                fed = end;
            }
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e.message().to_owned()));
                return out;
            }
        }
    }
}

/// The body length of the larger messages, to check against the limit.
fn declared_len(msg: &Message) -> Option<usize> {
    match msg {
        Message::DataRow(row) => Some(row.buffer().len() + 2 + 4),
        Message::CopyData(data) => Some(data.len() + 4),
        _ => None,
    }
}

/// Feeds the messages to a session as the connection's read loop does.
fn drive_session(script: &[u8], server: &[u8], max_len: usize) {
    let mut session = Session::new();
    let mut script = script.iter().copied();
    let mut buf = BytesMut::from(server);
    let mut columns: Option<Arc<Columns>> = None;
    loop {
        if let Some(op) = script.next() {
            act(&mut session, op);
        }
        let msg = match parse_message(&mut buf, max_len) {
            Ok(Some(msg)) => msg,
            Ok(None) => return,
            Err(_) => {
                session.set_broken();
                assert!(session.start_operation().is_err());
                return;
            }
        };
        inspect(&msg, &mut columns);
        let fast = matches!(
            msg,
            Message::DataRow(_) | Message::BindComplete | Message::CopyData(_)
        ) && session.delivers_rows();
        if fast {
            continue;
        }
        match session.handle(&msg) {
            Ok(Event::Deliver | Event::Consumed) => {}
            Ok(Event::Notice) => {
                let error = __fuzz::db_error(&msg).expect("a notice is an error response");
                let _ = error.to_string();
            }
            Err(e) => {
                let _ = e.to_string();
                assert!(
                    session.is_broken(),
                    "an error from handle left the session usable: {e}"
                );
                assert!(session.start_operation().is_err());
                let _ = session.closed_error().to_string();
                return;
            }
        }
        while let Some(n) = session.next_notification() {
            if let Ok(n) = n {
                let _ = (n.process_id(), n.channel(), n.payload());
            }
        }
    }
}

/// One client action between two server messages.
fn act(session: &mut Session, op: u8) {
    // A request begins only after the last one has its Sync: the connection starts every
    // operation with `start_operation`, which ends an unsynced request left by a dropped one.
    if op % 12 < 4 && session.is_unsynced() && session.start_operation().is_err() {
        return;
    }
    let _ = match op % 12 {
        0 => session.simple_query("SELECT 1"),
        1 => session.copy_query("COPY t FROM STDIN"),
        2 => {
            session.extended(1 + op / 12 % 3, op & 0x80 != 0, true, None);
            Ok(())
        }
        3 => {
            session.extended(1, false, op & 0x40 != 0, Some("pgtusk_1"));
            Ok(())
        }
        4 => session.start_operation(),
        5 => {
            session.abort_request();
            Ok(())
        }
        6 => {
            session.transmit(usize::MAX);
            Ok(())
        }
        7 => {
            session.transmit(usize::from(op / 12) + 1);
            Ok(())
        }
        8 => {
            session.queue_prelude("ROLLBACK");
            Ok(())
        }
        9 => session.end_copy_in(None),
        10 => session.end_copy_in(Some("stop")),
        _ => {
            session.set_notification_capacity(usize::from(op / 12));
            Ok(())
        }
    };
    let _ = (
        session.is_draining(),
        session.is_settled(),
        session.queued_output(),
        session.parameter("server_version"),
        session.notification_capacity(),
    );
}

/// Walks every accessor of a message; rows are decoded through the last RowDescription.
fn inspect(msg: &Message, columns: &mut Option<Arc<Columns>>) {
    match msg {
        Message::AuthenticationSasl(mechanisms) => mechanisms.iter().for_each(drop),
        Message::CommandComplete(done) => {
            let _ = (done.tag(), done.rows());
        }
        Message::CopyInResponse(copy)
        | Message::CopyOutResponse(copy)
        | Message::CopyBothResponse(copy) => {
            assert_eq!(copy.column_formats().count(), copy.len());
            let _ = copy.format();
        }
        Message::DataRow(row) => {
            let mut fields = 0;
            for range in row.ranges() {
                match range {
                    Ok(Some(r)) => assert!(r.end <= row.buffer().len()),
                    Ok(None) => {}
                    Err(_) => break,
                }
                fields += 1;
            }
            assert_eq!(fields, row.len(), "a DataRow that parsed has a bad field");
            if let Some(columns) = columns {
                read_record(__fuzz::record(row.clone(), columns.clone()));
            }
        }
        Message::ErrorResponse(_) | Message::NoticeResponse(_) => {
            if let Some(e) = __fuzz::db_error(msg) {
                let _ = (e.to_string(), format!("{e:?}"));
            }
        }
        Message::NotificationResponse(n) => {
            let _ = (n.channel(), n.payload());
        }
        Message::ParameterDescription(p) => {
            assert_eq!(p.types().count(), p.len());
        }
        Message::ParameterStatus(p) => {
            let _ = (p.name(), p.value());
        }
        Message::RowDescription(desc) => {
            *columns = __fuzz::columns(desc).ok();
        }
        _ => {}
    }
}

/// Decodes every value of a row as the column's text and raw bytes.
fn read_record(record: Record) {
    for i in 0..record.columns().len() {
        let _ = record.try_get::<Option<String>>(i);
        let _ = record.try_get::<Option<&[u8]>>(i);
        let _ = record.raw(i);
    }
    for (column, raw) in record.iter() {
        let _ = (column.name(), column.type_(), raw);
    }
}
