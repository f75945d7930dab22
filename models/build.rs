//! Embeds the committed weights when they exist.
//!
//! `Nlu::shipped()` compiles the six files under `weights/` into the library with
//! `include_bytes!`, so a server finds its models from any working directory. Before the
//! first training run those files do not exist yet; the build then goes on without them (so
//! the train example can be compiled) and `Nlu::shipped()` answers `ModelError::NotShipped`.

use std::path::Path;

const SHIPPED: [&str; 6] = [
    "weights/intent/config.json",
    "weights/intent/tokenizer.json",
    "weights/intent/model.safetensors",
    "weights/sentiment/config.json",
    "weights/sentiment/tokenizer.json",
    "weights/sentiment/model.safetensors",
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(models_shipped_weights)");
    for file in SHIPPED {
        println!("cargo::rerun-if-changed={file}");
    }
    if SHIPPED.iter().all(|file| Path::new(file).is_file()) {
        println!("cargo::rustc-cfg=models_shipped_weights");
    }
}
