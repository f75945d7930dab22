//! Every input kept in `fuzz/corpus/<target>/` (the `cargo fuzz` corpora, seeds and what the
//! fuzzer found worth keeping) runs through the same checks as the fuzz target, on stable, so
//! CI replays them on every change. `bash scripts/fuzz.sh` grows the corpora.

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a readable corpus directory").path();
        let data = std::fs::read(&path).expect("a readable corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            panic!("{target}: {} fails: {panic:?}", path.display());
        }
        inputs += 1;
    }
    assert!(inputs >= 10, "{target}: only {inputs} corpus inputs");
}

#[test]
fn the_normalizer_corpus_passes() {
    replay("normalize", checks::normalize);
}

#[test]
fn the_entity_corpus_passes() {
    replay("entities", checks::entities);
}

#[test]
fn the_json_import_corpus_passes() {
    replay("import_json", checks::import_json);
}

#[test]
fn the_csv_import_corpus_passes() {
    replay("import_csv", checks::import_csv);
}

#[test]
fn the_websocket_frame_corpus_passes() {
    replay("ws_frames", checks::ws_frames);
}
