//! The documents tell the truth about the tree: every repository path that
//! ARCHITECTURE.md names exists, and the README's commands are the real ones.

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// Backticked words in `text` that look like repository paths.
fn named_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            (w.starts_with("crates/")
                || w.starts_with(".ci/")
                || w.starts_with("src/")
                || w.starts_with("migrations/")
                || w.starts_with("templates/")
                || w.starts_with("assets/")
                || w.starts_with("benches/"))
                && !w.contains(' ')
                && !w.contains('*')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn architecture_names_only_existing_paths() {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let paths = named_paths(&text);
    assert!(paths.len() > 10, "the code map names paths: {paths:?}");
    let mut missing = Vec::new();
    for p in &paths {
        // Paths inside a crate are written relative to the crate they follow.
        let found = repo().join(p).exists()
            || std::fs::read_dir(repo().join("crates"))
                .unwrap()
                .any(|c| c.unwrap().path().join(p).exists())
            || repo().join("crates/rampart-panel/src/web").join(p).exists()
            || repo()
                .join("crates/rampart-panel/src/auth")
                .join(p)
                .exists()
            || repo()
                .join("crates/rampart-panel/src/web/middleware")
                .join(p)
                .exists()
            || repo().join("crates/rampart/src/commands").join(p).exists()
            || repo().join("crates/rampart-core/src").join(p).exists();
        if !found {
            missing.push(p.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names missing paths: {missing:?}"
    );
}

#[test]
fn readme_names_the_commands_ci_runs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(readme.contains("cargo run --release -- up"));
    assert!(readme.contains("cargo test --workspace"));
    assert!(
        ci.contains("cargo test --workspace"),
        ".ci/run runs the README's test command"
    );
}
