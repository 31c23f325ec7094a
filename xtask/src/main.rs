//! `cargo xtask`: build, test, measure and document the musicdl images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use xtask::{build, docker_test, docs};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, test, measure and document the musicdl images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the images (runtime and test targets)
    DockerBuild(build::BuildArgs),
    /// Build, then run the checks, the pytest suites and the size thresholds
    DockerTest(docker_test::TestArgs),
    /// Write the measured sizes into README.md and truenas-scale-deployment.md
    ReleaseDocs(docs::DocsArgs),
}

fn workspace_root() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

fn run(cli: Cli) -> Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("moving to {}", root.display()))?;
    match cli.command {
        Command::DockerBuild(a) => build::run(&root, a),
        Command::DockerTest(a) => docker_test::run(&root, a),
        Command::ReleaseDocs(a) => docs::run(&root, a),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<xtask::report::AlreadyReported>().is_some() => ExitCode::FAILURE,
        Err(e) => {
            let mut hints = Vec::new();
            for (i, msg) in e.chain().enumerate() {
                let text = msg.to_string();
                for (j, line) in text.lines().enumerate() {
                    if let Some(h) = line.trim().strip_prefix("hint:") {
                        hints.push(h.trim().to_string());
                    } else if i == 0 && j == 0 {
                        eprintln!("error: {line}");
                    } else if j == 0 {
                        eprintln!("  cause: {line}");
                    } else {
                        eprintln!("  {line}");
                    }
                }
            }
            for h in hints {
                eprintln!("  hint: {h}");
            }
            ExitCode::FAILURE
        }
    }
}
