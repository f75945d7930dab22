//! What each fuzz target checks, beside "no panic, no sanitizer report".
//!
//! Shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`, nightly) and by the corpus
//! replay test (`tests/tests/api/fuzz_corpora.rs`, stable, in CI), which runs every input kept
//! in `fuzz/corpus/<target>/` through the same function.

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame};
use bytes::BytesMut;

/// The text normaliser: output is trimmed, single-spaced, and a fixed point.
pub fn normalize(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = kb::normalize(text);
    assert_eq!(once.trim(), once, "untrimmed output {once:?}");
    assert!(!once.contains("  "), "double space in {once:?}");
    assert!(
        !once.chars().any(|c| c.is_whitespace() && c != ' '),
        "whitespace other than a space in {once:?}"
    );
    assert_eq!(kb::normalize(&once), once, "not idempotent on {text:?}");
}

/// The entity extractor: every entity is a piece of the normalised text.
pub fn entities(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let found = bot::extract_entities(text);
    let normalized = kb::normalize(text);
    let upper = normalized.to_uppercase();
    for id in &found.order_ids {
        assert!(
            normalized.contains(id.as_str()),
            "order id {id:?} not in {normalized:?}"
        );
    }
    for phone in &found.phones {
        assert!(
            normalized.contains(phone.as_str()),
            "phone {phone:?} not in {normalized:?}"
        );
    }
    for email in &found.emails {
        assert!(
            normalized.contains(email.as_str()),
            "e-mail {email:?} not in {normalized:?}"
        );
    }
    for number in &found.tracking_numbers {
        assert!(
            upper.contains(number.as_str()),
            "tracking {number:?} not in {upper:?}"
        );
    }
    for list in [
        &found.order_ids,
        &found.phones,
        &found.amounts,
        &found.emails,
        &found.tracking_numbers,
    ] {
        for (i, value) in list.iter().enumerate() {
            assert!(!value.is_empty(), "an empty entity");
            assert!(!list[..i].contains(value), "{value:?} listed twice");
        }
    }
}

fn lines_in(data: &[u8]) -> u64 {
    1 + data.iter().filter(|&&b| b == b'\n').count() as u64
}

fn check_parsed(data: &[u8], parsed: &gateway::import::Parsed) {
    use gateway::knowledge::{MAX_ANSWER_CHARS, MAX_IMPORT_ROWS, MAX_QUESTION_CHARS};
    let (articles, errors) = parsed;
    assert!(articles.len() + errors.len() <= MAX_IMPORT_ROWS);
    for article in articles {
        assert!(
            !article.question.trim().is_empty(),
            "an article without a question"
        );
        assert!(
            !article.answer.trim().is_empty(),
            "an article without an answer"
        );
        assert!(article.question.chars().count() <= MAX_QUESTION_CHARS);
        assert!(article.answer.chars().count() <= MAX_ANSWER_CHARS);
        assert!(
            (1..=64).contains(&article.id.len())
                && article
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "bad id {:?}",
            article.id
        );
    }
    let lines = lines_in(data);
    for error in errors {
        assert!(
            error.line <= lines,
            "row error on line {} of {lines}",
            error.line
        );
        assert!(!error.message.is_empty());
    }
}

/// The KB import's JSON parser: valid articles only, row errors on lines of the input.
pub fn import_json(data: &[u8]) {
    if let Ok(parsed) = gateway::import::parse_json(data) {
        check_parsed(data, &parsed);
        for error in &parsed.1 {
            assert!(error.line >= 1, "JSON row errors name a line");
        }
    }
}

/// The KB import's CSV parser: the same.
pub fn import_csv(data: &[u8]) {
    if let Ok(parsed) = gateway::import::parse_csv(data) {
        check_parsed(data, &parsed);
    }
}

/// Decodes client → server frames with the server's codec and frame limit; every text frame
/// goes through the gateway's frame reader.
fn decode(codec: &mut Codec, buf: &mut BytesMut, frames: &mut Vec<Frame>) -> bool {
    loop {
        match codec.decode(buf) {
            Ok(Some(frame)) => {
                if let Frame::Text(text) = &frame {
                    if let Ok(text) = std::str::from_utf8(text) {
                        let _ = gateway::events::ClientFrame::parse(text);
                    }
                }
                frames.push(frame);
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// The WebSocket frame decoding: the first byte picks a read size, the rest is the byte
/// stream. Frames are the same however the stream is cut into reads.
pub fn ws_frames(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let new_codec = || Codec::new().max_size(gateway::events::MAX_WS_FRAME_BYTES);

    let (mut whole, mut whole_frames) = (new_codec(), Vec::new());
    let whole_ok = decode(&mut whole, &mut BytesMut::from(stream), &mut whole_frames);

    let (mut cut, mut cut_frames, mut buf) = (new_codec(), Vec::new(), BytesMut::new());
    let mut cut_ok = true;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        if !decode(&mut cut, &mut buf, &mut cut_frames) {
            cut_ok = false;
            break;
        }
    }
    assert_eq!(
        format!("{whole_frames:?}"),
        format!("{cut_frames:?}"),
        "frames differ with reads of {chunk} bytes"
    );
    assert_eq!(whole_ok, cut_ok, "an error in one reading only");
}
