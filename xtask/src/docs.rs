//! `cargo xtask release-docs [--check]`: write measured sizes into the marked
//! blocks of the docs. The block is a pure function of the images (their
//! Created date and revision label), so a second run changes nothing.
//!
//! `--check` rebuilds what is stale and measures again, on whatever machine it
//! runs: Debian may have shipped a fix since the docs were written, which moves
//! sizes by a few kilobytes. So sizes and ratios count as equal within
//! [`SIZE_TOLERANCE`]; every other cell must match exactly.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::build::{self, BuildArgs, ImageArgs, Target};
use crate::engine::Engine;
use crate::manifest::Manifest;
use crate::report::{mb, write_atomic};
use crate::size::{self, Measured};

pub const START: &str = "<!-- release-docs:sizes:start -->";
pub const END: &str = "<!-- release-docs:sizes:end -->";
pub const FILES: [&str; 2] = ["README.md", "truenas-scale-deployment.md"];
/// Relative difference under which a documented size still describes the image.
pub const SIZE_TOLERANCE: f64 = 0.01;

#[derive(Debug, Clone, clap::Args)]
pub struct DocsArgs {
    /// write nothing; fail when the docs differ from the measured images
    #[arg(long)]
    pub check: bool,
}

pub struct Row {
    pub variant: String,
    pub size: u64,
    pub compressed: u64,
    pub base: String,
    pub created: String,
    pub revision: String,
}

pub fn short_revision(rev: &str) -> String {
    let dirty = rev.ends_with("-dirty");
    let hash: String = rev.trim_end_matches("-dirty").chars().take(12).collect();
    if dirty {
        format!("{hash}-dirty")
    } else {
        hash
    }
}

pub fn render(rows: &[Row]) -> String {
    let full = rows.iter().find(|r| r.variant == "full").map(|r| r.size);
    let mut s = String::from(
        "| variant | image size | compressed size | slim/full ratio | base used | measured | revision |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let ratio = match full {
            Some(f) if r.variant != "full" => format!("{:.3}", size::ratio(r.size, f)),
            Some(_) => "1 (reference)".into(),
            None => "n/a".into(),
        };
        s.push_str(&format!(
            "| {} | {:.1} MB | {:.1} MB | {ratio} | {} | {} | {} |\n",
            r.variant,
            mb(r.size),
            mb(r.compressed),
            r.base,
            r.created,
            r.revision
        ));
    }
    s
}

/// Where the block lies: from just after the start marker to the end marker.
fn block_span(file: &str, text: &str) -> Result<(usize, usize)> {
    let start = text
        .find(START)
        .with_context(|| format!("{file}: marker {START} not found"))?;
    let after = start + START.len();
    let end = text[after..]
        .find(END)
        .map(|i| after + i)
        .with_context(|| format!("{file}: marker {END} not found after {START}"))?;
    Ok((after, end))
}

/// Replace what lies between the markers; everything else stays byte for byte.
pub fn replace_block(file: &str, text: &str, block: &str) -> Result<String> {
    let (after, end) = block_span(file, text)?;
    Ok(format!("{}\n{}{}", &text[..after], block, &text[end..]))
}

/// The text between the markers, as `replace_block` writes it.
fn current_block<'a>(file: &str, text: &'a str) -> Result<&'a str> {
    let (after, end) = block_span(file, text)?;
    Ok(text[after..end].trim_start_matches('\n'))
}

/// A table cell as a number, when it is a size (`193.5 MB`) or a ratio (`0.12`).
fn numeric_cell(cell: &str) -> Option<f64> {
    cell.trim().trim_end_matches(" MB").parse().ok()
}

fn cells_agree(documented: &str, measured: &str) -> bool {
    let (slack, relative) = if measured.trim().ends_with(" MB") {
        (0.05, SIZE_TOLERANCE) // half of the last digit shown (0.1 MB)
    } else {
        (0.0005, 2.0 * SIZE_TOLERANCE) // a ratio of two sizes drifts up to twice as much
    };
    match (numeric_cell(documented), numeric_cell(measured)) {
        (Some(d), Some(m)) => (d - m).abs() <= relative * d.abs().max(m.abs()) + slack,
        _ => documented.trim() == measured.trim(),
    }
}

/// The differences between a documented and a measured block, one line each;
/// empty when they agree (sizes and ratios within [`SIZE_TOLERANCE`]).
pub fn differences(documented: &str, measured: &str) -> Vec<String> {
    let doc: Vec<&str> = documented.lines().collect();
    let new: Vec<&str> = measured.lines().collect();
    if doc.len() != new.len() {
        return vec![format!(
            "the docs list {} lines, the measurement {}",
            doc.len(),
            new.len()
        )];
    }
    doc.iter()
        .zip(&new)
        .filter(|(d, n)| {
            let dc: Vec<&str> = d.split('|').collect();
            let nc: Vec<&str> = n.split('|').collect();
            dc.len() != nc.len() || dc.iter().zip(&nc).any(|(a, b)| !cells_agree(a, b))
        })
        .map(|(d, n)| format!("documented: {d}\n    measured: {n}"))
        .collect()
}

/// Rewrite (or, with `check`, compare) one file. Returns true when it changed.
pub fn update(path: &Path, block: &str, check: bool) -> Result<bool> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let new = replace_block(&name, &text, block)?;
    if new == text {
        return Ok(false);
    }
    if check {
        let stale = differences(current_block(&name, &text)?, block);
        if stale.is_empty() {
            return Ok(false);
        }
        bail!(
            "{name}: the sizes block is stale\n  {}\n  hint: run cargo xtask release-docs",
            stale.join("\n  ")
        );
    }
    write_atomic(path, &new)?;
    Ok(true)
}

fn row_from(m: &Measured, info: &crate::engine::ImageInfo) -> Row {
    let label = |k: &str| info.labels.get(k).filter(|v| !v.is_empty());
    let rev = label("io.musicdl.source.revision")
        .or_else(|| label("org.opencontainers.image.revision"))
        .map(|r| short_revision(r))
        .unwrap_or_else(|| "unknown".into());
    Row {
        variant: m.variant.clone(),
        size: m.size,
        compressed: m.compressed,
        base: m.base.clone(),
        created: label("org.opencontainers.image.created")
            .unwrap_or(&info.created)
            .chars()
            .take(10)
            .collect(),
        revision: rev,
    }
}

pub fn run(root: &Path, args: DocsArgs) -> Result<()> {
    let m = Manifest::load(root)?;
    let engine = Engine::connect()?;
    let mut rows = Vec::new();
    for (name, v) in m.select("all")? {
        let (tag, _) = build::tags(&m.image, name);
        let want = build::source_revision(root, &v.dockerfile).revision;
        let have = engine
            .inspect(&tag)?
            .and_then(|i| i.labels.get("io.musicdl.source.revision").cloned());
        if have.as_deref() != Some(want.as_str()) {
            match have {
                None => println!("{tag} is missing or unlabelled; building it"),
                Some(h) => {
                    println!("{tag} was built from {h}, the sources are at {want}; rebuilding it")
                }
            }
            let b = BuildArgs {
                image: ImageArgs {
                    variant: name.clone(),
                    tag: None,
                    base: crate::base::Mode::Auto,
                    ca_cert: None,
                    no_cache: false,
                    rebuild_base: false,
                },
                target: Target::Runtime,
            };
            build::build_variant(&engine, &m, root, name, v, &b)?;
        }
        println!("measuring {tag}");
        let measured = size::measure(&engine, name, &tag)?;
        let info = engine.require(&tag)?;
        rows.push(row_from(&measured, &info));
    }
    rows.sort_by_key(|r| r.size);
    let block = render(&rows);
    print!("{block}");
    // every file's markers first: one missing must not leave the others rewritten
    for f in FILES {
        if let Ok(text) = std::fs::read_to_string(root.join(f)) {
            block_span(f, &text)?;
        }
    }
    for f in FILES {
        let path = root.join(f);
        if !path.exists() {
            if args.check {
                bail!("{f} does not exist\n  hint: run cargo xtask release-docs");
            }
            let placeholder = format!("# {}\n\n{START}\n{END}\n", f.trim_end_matches(".md"));
            write_atomic(&path, &placeholder)?;
            println!("created {f} with the size markers");
        }
        let changed = update(&path, &block, args.check)?;
        println!("{f}: {}", if changed { "updated" } else { "up to date" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        let r = |v: &str, size| Row {
            variant: v.into(),
            size,
            compressed: size / 2,
            base: "musicdl-standin:slim-bookworm (stand-in, Python 3.11.2)".into(),
            created: "2026-12-03".into(),
            revision: "93297f195c3f".into(),
        };
        vec![r("full", 1_000_000_000), r("slim", 193_500_000)]
    }

    const DOC: &str = "# Title\n\nintro\n<!-- release-docs:sizes:start -->\nold\n<!-- release-docs:sizes:end -->\ntail\n";

    #[test]
    fn renders_ratio_against_full() {
        let t = render(&rows());
        assert!(t.contains("| slim | 193.5 MB | 96.8 MB | 0.194 |"), "{t}");
        assert!(
            t.contains("| full | 1000.0 MB | 500.0 MB | 1 (reference) |"),
            "{t}"
        );
    }

    #[test]
    fn replace_keeps_outside_text_and_is_idempotent() {
        let block = render(&rows());
        let once = replace_block("README.md", DOC, &block).unwrap();
        assert!(once.starts_with("# Title\n\nintro\n<!-- release-docs:sizes:start -->\n| variant"));
        assert!(once.ends_with("<!-- release-docs:sizes:end -->\ntail\n"));
        assert_eq!(replace_block("README.md", &once, &block).unwrap(), once);
    }

    #[test]
    fn missing_marker_names_the_file() {
        let e = replace_block("truenas-scale-deployment.md", "no markers", "x").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("truenas-scale-deployment.md: marker"),
            "{e}"
        );
        let e = replace_block("README.md", START, "x").unwrap_err();
        assert!(e.to_string().contains(END), "{e}");
    }

    #[test]
    fn check_mode_fails_when_stale_and_passes_after_write() {
        let dir = std::env::temp_dir().join(format!("xtask-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("README.md");
        std::fs::write(&p, DOC).unwrap();
        let block = render(&rows());
        let e = update(&p, &block, true).unwrap_err();
        assert!(
            e.to_string().contains("hint: run cargo xtask release-docs"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            DOC,
            "check mode writes nothing"
        );
        assert!(update(&p, &block, false).unwrap());
        assert!(!update(&p, &block, true).unwrap());
        assert!(!update(&p, &block, false).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_tolerates_a_size_drift_within_one_percent_only() {
        let documented = render(&rows());
        let mut drifted = rows();
        drifted[1].size += drifted[1].size / 200;
        assert!(differences(&documented, &render(&drifted)).is_empty());
        drifted[1].size += drifted[1].size / 20;
        let stale = differences(&documented, &render(&drifted));
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(stale[0].contains("documented: | slim"), "{stale:?}");
    }

    #[test]
    fn check_catches_a_ratio_off_by_more_than_the_drift() {
        let documented = render(&rows()).replace("| 0.194 |", "| 0.204 |");
        assert_eq!(differences(&documented, &render(&rows())).len(), 1);
        let rounded = render(&rows()).replace("| 0.194 |", "| 0.196 |");
        assert!(differences(&rounded, &render(&rows())).is_empty());
    }

    #[test]
    fn check_wants_base_and_revision_exactly() {
        let documented = render(&rows());
        let mut other = rows();
        other[1].base = "python:3.12-bookworm (official, Python 3.12.8)".into();
        assert_eq!(differences(&documented, &render(&other)).len(), 1);
        let mut other = rows();
        other[0].revision = "0123456789ab".into();
        assert_eq!(differences(&documented, &render(&other)).len(), 1);
    }

    #[test]
    fn short_revision_keeps_dirty() {
        assert_eq!(
            short_revision("93297f195c3f29e8f95bfc22c1162e685d735f98-dirty"),
            "93297f195c3f-dirty"
        );
        assert_eq!(short_revision("abc"), "abc");
    }
}
