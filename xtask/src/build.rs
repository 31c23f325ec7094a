//! `cargo xtask docker-build`

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::base::{self, Mode, Resolved};
use crate::context::{self, Extra};
use crate::engine::{BuildRequest, Engine};
use crate::manifest::{Manifest, Variant};
use crate::report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Runtime,
    Test,
    Both,
}

/// Which images, from which base, built how: shared by docker-build and docker-test.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// slim, full or all
    #[arg(long, default_value = "slim")]
    pub variant: String,
    /// repository name of the tags (NAME:slim, NAME:slim-test)
    #[arg(long)]
    pub tag: Option<String>,
    /// where the base image comes from: present or pulled (auto), pulled only, or a stand-in
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub base: Mode,
    /// CA bundle for pip in builder stages: a file, or `none`; also what the leak check looks for
    #[arg(long)]
    pub ca_cert: Option<String>,
    /// build without the engine's layer cache (the test target then reuses what this run built)
    #[arg(long)]
    pub no_cache: bool,
    /// rebuild the stand-in base even when its tag exists
    #[arg(long)]
    pub rebuild_base: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// which Dockerfile targets to build
    #[arg(long, value_enum, default_value_t = Target::Both)]
    pub target: Target,
}

pub struct Built {
    pub variant: String,
    pub tag: String,
    pub test_tag: String,
    pub base: Resolved,
    pub durations: Vec<(String, Duration)>,
}

pub fn tags(repo: &str, variant: &str) -> (String, String) {
    (
        format!("{repo}:{variant}"),
        format!("{repo}:{variant}-test"),
    )
}

/// The repository part of the tags (`NAME` of `NAME:slim`): `--tag`, else images.yaml's.
pub fn repository(tag: Option<&str>, m: &Manifest) -> Result<String> {
    let Some(name) = tag else {
        return Ok(m.image.clone());
    };
    let component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let grammar = format!("^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{component}(?:/{component})*$");
    let valid = regex::Regex::new(&grammar).context("compiling the tag grammar")?;
    if !valid.is_match(name) {
        bail!("--tag '{name}': not an image repository name\n  hint: lowercase letters, digits, . _ - and /, without a :tag (the tool adds :slim, :slim-test, …)");
    }
    Ok(name.to_string())
}

/// The CA bundle handed to builder stages, and where it came from.
pub fn ca_bundle(arg: Option<&str>) -> Result<(Vec<u8>, String)> {
    match arg {
        Some("none") => Ok((Vec::new(), "none (empty, --ca-cert none)".into())),
        Some(f) if f.trim().is_empty() => {
            bail!("--ca-cert needs a file\n  hint: a PEM bundle, or --ca-cert none")
        }
        Some(f) => {
            let data = std::fs::read(f).with_context(|| {
                format!("reading --ca-cert {f}\nhint: a PEM bundle, or --ca-cert none")
            })?;
            Ok((data, f.to_string()))
        }
        None => {
            let env = ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (v, format!("${k}"))));
            let fixed = std::iter::once((
                "/etc/ssl/certs/ca-certificates.crt".to_string(),
                "host bundle".to_string(),
            ));
            for (path, why) in env.chain(fixed) {
                if Path::new(&path).is_file() {
                    let data = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
                    return Ok((data, format!("{path} ({why})")));
                }
            }
            Ok((Vec::new(), "none found (empty)".into()))
        }
    }
}

pub struct GitInfo {
    pub revision: String,
    pub source: String,
    pub version: String,
}

/// `git ARGS… [-- PATHS…]` in UTC, trimmed; None when git fails or prints nothing
/// (no git, not a checkout): labels then say "unknown" rather than failing a build.
fn git(args: &[&str], paths: &[String]) -> Option<String> {
    let sh = Shell::new().ok()?;
    let separator = (!paths.is_empty()).then_some("--");
    let out = cmd!(sh, "git {args...} {separator...} {paths...}")
        .env("TZ", "UTC")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()?;
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

pub fn git_info() -> GitInfo {
    let q = |args: &[&str]| git(args, &[]);
    let mut revision = q(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    if q(&["status", "--porcelain"]).is_some() {
        revision.push_str("-dirty");
    }
    let source = q(&["remote", "get-url", "origin"]).unwrap_or_else(|| "local".into());
    GitInfo {
        revision,
        source,
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The last commit that changed what reaches the engine, and its time (UTC).
/// Labels made from it stay the same across rebuilds of the same sources, so
/// release-docs measures the same image until an input changes.
pub struct SourceRevision {
    pub revision: String,
    pub created: String,
}

pub fn source_revision(root: &Path, dockerfile: &str) -> SourceRevision {
    let names = context::top_level(root, Some(dockerfile)).unwrap_or_default();
    let q = |args: &[&str]| git(args, &names);
    let log = q(&[
        "log",
        "-1",
        "--format=%H %cd",
        "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
    ]);
    let (mut revision, created) = match log.as_deref().and_then(|l| l.split_once(' ')) {
        Some((r, c)) => (r.to_string(), c.to_string()),
        None => ("unknown".to_string(), report::now_rfc3339()),
    };
    if q(&["status", "--porcelain"]).is_some() {
        revision.push_str("-dirty");
    }
    SourceRevision { revision, created }
}

/// The classic builder colours a step's stderr with ANSI escapes; logs want plain text.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn plain() -> bool {
    std::env::var_os("CI").is_some() || !std::io::stdout().is_terminal()
}

/// Build one target, streaming step lines; full log under target/xtask/logs.
#[allow(clippy::too_many_arguments)]
fn build_target(
    engine: &Engine,
    ctx: Vec<u8>,
    v: &Variant,
    name: &str,
    tag: &str,
    target: &str,
    build_args: &HashMap<String, String>,
    labels: &HashMap<String, String>,
    no_cache: bool,
) -> Result<Duration> {
    let log_path = PathBuf::from(format!("target/xtask/logs/build-{name}-{target}.log"));
    std::fs::create_dir_all("target/xtask/logs").context("creating target/xtask/logs")?;
    let mut log = Vec::<String>::new();
    let mut step_start = 0usize;
    let mut current_step = String::new();
    let plain = plain();
    let mut tick = 0usize;
    let started = Instant::now();
    println!("build {name} ({target}) -> {tag}");
    let result = {
        let mut on_line = |line: &str| {
            let line = strip_ansi(line);
            let line = line.as_str();
            log.push(line.to_string());
            if line.starts_with("Step ") {
                step_start = log.len() - 1;
                current_step = line.to_string();
                if !plain {
                    print!("\r\x1b[K");
                }
                println!("  {line}");
            } else if !plain && !line.trim().is_empty() {
                let short: String = line.trim().chars().take(100).collect();
                tick += 1;
                let frame = ['|', '/', '-', '\\'][tick % 4];
                print!("\r\x1b[K  {frame} {short}");
                let _ = std::io::stdout().flush();
            }
        };
        engine.build(
            BuildRequest {
                context: ctx,
                dockerfile: &v.dockerfile,
                tag,
                target: Some(target),
                build_args: build_args.clone(),
                labels: labels.clone(),
                no_cache,
            },
            &mut on_line,
        )
    };
    if !plain {
        print!("\r\x1b[K");
    }
    std::fs::write(&log_path, log.join("\n") + "\n")
        .with_context(|| format!("writing {}", log_path.display()))?;
    match result {
        Ok(_) => Ok(started.elapsed()),
        Err(e) => {
            let step_lines = &log[step_start.min(log.len())..];
            let tail = &step_lines[step_lines.len().saturating_sub(30)..];
            if !current_step.is_empty() {
                eprintln!("failing step: {current_step}");
            }
            for l in tail {
                eprintln!("  | {l}");
            }
            Err(e).with_context(|| {
                format!(
                    "building {name} ({target}) failed; full log: {}",
                    log_path.display()
                )
            })
        }
    }
}

pub fn build_variant(
    engine: &Engine,
    m: &Manifest,
    root: &Path,
    name: &str,
    v: &Variant,
    args: &BuildArgs,
) -> Result<Built> {
    let repo = repository(args.image.tag.as_deref(), m)?;
    let (tag, test_tag) = tags(&repo, name);
    if !root.join(&v.dockerfile).is_file() {
        bail!(
            "{}: variants.{name}.dockerfile: {} is not a file at the repo root",
            crate::manifest::FILE,
            v.dockerfile
        );
    }
    let (ca, ca_from) = ca_bundle(args.image.ca_cert.as_deref())?;
    let base = base::resolve(engine, m, name, v, args.image.base, args.image.rebuild_base)?;
    println!(
        "ca {name}: build-ca/ca.pem <- {ca_from} ({} bytes, builder stages only)",
        ca.len()
    );
    let git = git_info();
    let src = source_revision(root, &v.dockerfile);
    let build_args = HashMap::from([("BASE_IMAGE".to_string(), base.reference.clone())]);
    let labels = HashMap::from([
        (
            "org.opencontainers.image.source".to_string(),
            git.source.clone(),
        ),
        (
            "org.opencontainers.image.revision".to_string(),
            git.revision.clone(),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            src.created.clone(),
        ),
        (
            "io.musicdl.source.revision".to_string(),
            src.revision.clone(),
        ),
        (
            "org.opencontainers.image.version".to_string(),
            git.version.clone(),
        ),
        (
            "org.opencontainers.image.title".to_string(),
            format!("{} ({name})", m.image),
        ),
        ("io.musicdl.variant".to_string(), name.to_string()),
        ("io.musicdl.base".to_string(), base.reference.clone()),
        (
            "io.musicdl.base.kind".to_string(),
            base.kind.as_str().to_string(),
        ),
        ("io.musicdl.base.python".to_string(), base.python.clone()),
    ]);
    let extras = [Extra {
        path: "build-ca/ca.pem".into(),
        data: ca,
    }];
    let ctx = context::tar(root, Some(&v.dockerfile), &extras)?;
    println!("context {name}: {:.1} MB", ctx.len() as f64 / 1e6);
    let mut durations = Vec::new();
    let targets: &[(&str, &str)] = match args.target {
        Target::Runtime => &[("runtime", &tag)],
        Target::Test => &[("test", &test_tag)],
        Target::Both => &[("runtime", &tag), ("test", &test_tag)],
    };
    for (i, (target, t)) in targets.iter().enumerate() {
        // --no-cache applies to the first target only: the test target shares the stages
        // just built, and rebuilding them again (ffmpeg included) would prove nothing new
        let no_cache = args.image.no_cache && i == 0;
        let d = build_target(
            engine,
            ctx.clone(),
            v,
            name,
            t,
            target,
            &build_args,
            &labels,
            no_cache,
        )?;
        println!("built {t} in {}", report::secs(d));
        durations.push((target.to_string(), d));
    }
    Ok(Built {
        variant: name.to_string(),
        tag,
        test_tag,
        base,
        durations,
    })
}

pub fn run(root: &Path, args: BuildArgs) -> Result<()> {
    let m = Manifest::load(root)?;
    let engine = Engine::connect()?;
    let mut rows = Vec::new();
    for (name, v) in m.select(&args.image.variant)? {
        let b = build_variant(&engine, &m, root, name, v, &args)?;
        let shown = if args.target == Target::Test {
            &b.test_tag
        } else {
            &b.tag
        };
        let size = engine.require(shown)?.size;
        let time: Vec<String> = b
            .durations
            .iter()
            .map(|(t, d)| format!("{t} {}", report::secs(*d)))
            .collect();
        rows.push(vec![
            b.variant.clone(),
            shown.clone(),
            format!("{:.1} MB", report::mb(size)),
            b.base.describe(),
            time.join(", "),
        ]);
    }
    println!();
    print!(
        "{}",
        report::table(&["variant", "tag", "size", "base", "build time"], &rows)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_commit(revision: &str) -> bool {
        let hash = revision.trim_end_matches("-dirty");
        hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())
    }

    #[test]
    fn labels_name_a_commit_of_this_checkout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert!(is_commit(&git_info().revision), "{}", git_info().revision);
        let source = source_revision(root, "musicdl.Dockerfile");
        assert!(is_commit(&source.revision), "{}", source.revision);
        assert!(source.created.ends_with('Z'), "{}", source.created);
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\x1b[91mline2"), "line2");
        assert_eq!(strip_ansi("\x1b[0mRemoving"), "Removing");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn ca_none_is_empty() {
        let (data, from) = ca_bundle(Some("none")).unwrap();
        assert!(data.is_empty());
        assert!(from.starts_with("none"));
        assert!(ca_bundle(Some("/nonexistent/ca.pem")).is_err());
    }

    #[test]
    fn tag_repositories_follow_the_engines_grammar() {
        let m = Manifest::parse(include_str!("../../images.yaml")).unwrap();
        assert_eq!(repository(None, &m).unwrap(), "musicdl");
        for good in ["xb", "my-app", "registry.lan:5000/team/musicdl", "a_b.c"] {
            assert_eq!(repository(Some(good), &m).unwrap(), good);
        }
        for bad in ["Bad Tag", "", "xb:foo", "UPPER", "-x", "a//b"] {
            let e = repository(Some(bad), &m).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--tag '{bad}': ")), "{e}");
        }
    }

    #[test]
    fn tag_names() {
        assert_eq!(
            tags("musicdl", "slim"),
            ("musicdl:slim".to_string(), "musicdl:slim-test".to_string())
        );
    }
}
