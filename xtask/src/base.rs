//! Base images: present, pulled, or a stand-in bootstrapped from Debian packages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::context::{self, Extra};
use crate::engine::{BuildRequest, Engine};
use crate::manifest::{Manifest, Standin, Variant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Auto,
    Pull,
    Standin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Official,
    Standin,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Official => "official",
            Kind::Standin => "standin",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub reference: String,
    pub kind: Kind,
    pub python: String,
}

impl Resolved {
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            Kind::Official => "official",
            Kind::Standin => "stand-in",
        };
        format!("{} ({kind}, Python {})", self.reference, self.python)
    }
}

const PULL_TIMEOUT: Duration = Duration::from_secs(20);

pub fn resolve(
    engine: &Engine,
    m: &Manifest,
    name: &str,
    v: &Variant,
    mode: Mode,
    rebuild: bool,
) -> Result<Resolved> {
    let official = |why: &str| -> Result<Resolved> {
        let info = engine.require(&v.base)?;
        let python = info
            .env_var("PYTHON_VERSION")
            .unwrap_or("unknown")
            .to_string();
        println!("base {name}: {} (official, {why})", v.base);
        Ok(Resolved {
            reference: v.base.clone(),
            kind: Kind::Official,
            python,
        })
    };
    let mut why = String::from("; --base standin");
    if mode != Mode::Standin {
        if engine.tag_exists(&v.base)? {
            return official("present locally");
        }
        match engine.pull(&v.base, PULL_TIMEOUT) {
            Ok(()) => return official("pulled"),
            Err(e) if mode == Mode::Pull => {
                return Err(e).context(format!("--base pull: cannot get {}", v.base))
            }
            Err(e) => {
                let cause = e.root_cause().to_string();
                let cause = cause.rsplit(": ").next().unwrap_or(&cause).to_string();
                why = format!("; {} not present, pull failed: {cause}", v.base);
            }
        }
    }
    let spec = &m.standins.kinds[&v.standin];
    if !rebuild {
        if let Some(info) = engine.inspect(&spec.tag)? {
            let python = info
                .labels
                .get("io.musicdl.standin.python")
                .cloned()
                .unwrap_or_default();
            println!(
                "base {name}: {} (stand-in for {}, reused{why})",
                spec.tag, v.base
            );
            return Ok(Resolved {
                reference: spec.tag.clone(),
                kind: Kind::Standin,
                python,
            });
        }
    }
    let python = build_standin(engine, m, &v.standin, spec, &v.base)?;
    println!(
        "base {name}: {} (stand-in for {}, built from Debian {}{why})",
        spec.tag, v.base, m.standins.suite
    );
    Ok(Resolved {
        reference: spec.tag.clone(),
        kind: Kind::Standin,
        python,
    })
}

fn run_streaming(mut cmd: Command, what: &str) -> Result<()> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to spawn {what}"))?;
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            println!("  {what}| {line}");
            tail.push(line);
            if tail.len() > 30 {
                tail.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status}); last lines:\n{}", tail.join("\n"));
    }
    Ok(())
}

/// Bootstrap a Debian root filesystem and import it as the stand-in image.
fn build_standin(
    engine: &Engine,
    m: &Manifest,
    kind: &str,
    spec: &Standin,
    official: &str,
) -> Result<String> {
    let dir: PathBuf = Path::new("target/xtask/standin").join(kind);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .context("resolving the stand-in work dir")?;
    let rootfs = dir.join("rootfs.tar");
    let version_file = dir.join("python-version");
    let _ = std::fs::remove_file(&rootfs);
    println!(
        "building stand-in {} for {official} ({} packages, Debian {})",
        spec.tag,
        spec.packages.len(),
        m.standins.suite
    );
    if let Ok(mm) = which::which("mmdebstrap") {
        let mut c = Command::new(mm);
        c.arg("--variant=minbase")
            .arg(format!("--include={}", spec.packages.join(",")))
            .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr")
            .arg("--aptopt=APT::Install-Recommends \"false\"");
        if spec.trim_docs {
            for o in [
                "path-exclude=/usr/share/man/*",
                "path-exclude=/usr/share/doc/*",
                "path-include=/usr/share/doc/*/copyright",
                "path-exclude=/usr/share/locale/*",
                "path-exclude=/usr/share/info/*",
            ] {
                c.arg(format!("--dpkgopt={o}"));
            }
            c.arg(r#"--customize-hook=printf "%s\n" "APT::Keep-Downloaded-Packages \"false\";" > "$1/etc/apt/apt.conf.d/docker-clean""#);
        }
        c.arg(format!(
            r#"--customize-hook=chroot "$1" python3 -c "import platform; print(platform.python_version())" > {}"#,
            version_file.display()
        ))
        .arg(r#"--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin"#)
        .arg(&m.standins.suite)
        .arg(&rootfs)
        .arg(&m.standins.mirror)
        .args(&m.standins.extra_sources);
        run_streaming(c, "mmdebstrap")?;
    } else if let Ok(db) = which::which("debootstrap") {
        let root = dir.join("rootfs");
        let _ = std::fs::remove_dir_all(&root);
        let mut c = Command::new(db);
        c.arg("--variant=minbase")
            .arg(format!("--include={}", spec.packages.join(",")))
            .arg(&m.standins.suite)
            .arg(&root)
            .arg(&m.standins.mirror);
        run_streaming(c, "debootstrap")?;
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            r#"chroot "$1" python3 -c "import platform; print(platform.python_version())" > {v} && rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin && tar -C "$1" -cf {t} ."#,
            v = version_file.display(),
            t = rootfs.display()
        ))
        .arg("sh")
        .arg(&root);
        run_streaming(c, "debootstrap-pack")?;
        let _ = std::fs::remove_dir_all(&root);
    } else {
        bail!("cannot build a stand-in base: neither mmdebstrap nor debootstrap is installed\n  hint: apt-get install mmdebstrap");
    }
    let python = std::fs::read_to_string(&version_file)
        .with_context(|| format!("reading {}", version_file.display()))?
        .trim()
        .to_string();
    let dockerfile = format!(
        "FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nLABEL io.musicdl.standin=true io.musicdl.standin.for={official} io.musicdl.standin.debian={} io.musicdl.standin.python={python}\nCMD [\"python3\"]\n",
        m.standins.suite
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile)
        .context("writing the stand-in Dockerfile")?;
    let ctx = context::tar(&dir, Some("Dockerfile"), &[] as &[Extra])?;
    let _ = std::fs::remove_file(&rootfs);
    let mut on_line = |l: &str| {
        if l.starts_with("Step ") {
            println!("  {l}");
        }
    };
    engine
        .build(
            BuildRequest {
                context: ctx,
                dockerfile: "Dockerfile",
                tag: &spec.tag,
                target: None,
                build_args: HashMap::new(),
                labels: HashMap::new(),
                no_cache: false,
            },
            &mut on_line,
        )
        .with_context(|| format!("building the stand-in image {}", spec.tag))?;
    Ok(python)
}
