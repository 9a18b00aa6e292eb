//! Shared helpers for the end-to-end tests in `e2e/` (fixtures live in `fixtures/`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `vodbridge` binary beside this test's executable (`target/<profile>/vodbridge`), built
/// first when the test runs on its own (`cargo test -p vodbridge-tests`): a dependency's binary
/// is not built for a dependent package's tests.
pub fn vodbridge_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let bin = profile_dir.join(format!("vodbridge{}", std::env::consts::EXE_SUFFIX));
        if let (Ok(cargo), Some(target)) = (std::env::var("CARGO"), profile_dir.parent()) {
            let mut build = Command::new(cargo);
            build
                .args([
                    "build",
                    "-q",
                    "-p",
                    "vodbridge",
                    "--bin",
                    "vodbridge",
                    "--target-dir",
                ])
                .arg(target);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p vodbridge failed");
        }
        assert!(
            bin.is_file(),
            "{} missing: build it with `cargo build -p vodbridge`",
            bin.display()
        );
        bin
    })
    .clone()
}
