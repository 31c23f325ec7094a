//! In-container checks from images.yaml: commands, imports, files, absence,
//! metadata, and the proxy-CA leak check (container-structure-test style).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use regex::Regex;

use crate::engine::{Engine, ImageInfo, RunSpec};
use crate::manifest::{applies, expand, Manifest};
use crate::report::Outcome;

pub const APP_UID: &str = "568";

pub struct Target<'a> {
    pub variant: &'a str,
    pub image: &'a str,
    pub info: &'a ImageInfo,
    /// The CA bundle that was handed to the builder stages.
    pub ca: &'a [u8],
}

impl Target<'_> {
    pub fn python_version(&self) -> String {
        self.info
            .labels
            .get("io.musicdl.base.python")
            .cloned()
            .or_else(|| self.info.env_var("PYTHON_VERSION").map(str::to_string))
            .unwrap_or_default()
    }
}

fn outcome(
    group: &str,
    name: &str,
    variant: &str,
    passed: bool,
    detail: String,
    started: Instant,
) -> Outcome {
    Outcome {
        group: group.into(),
        name: name.into(),
        variant: variant.into(),
        passed,
        detail,
        seconds: started.elapsed().as_secs_f64(),
        log: None,
    }
}

fn first_line(s: &str) -> String {
    let l = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    l.chars().take(100).collect()
}

/// Match expect/exclude regexes against the output; Err(reason) when a check fails.
pub fn judge(
    output: &str,
    exit_code: i64,
    want_code: i64,
    expect: &[String],
    exclude: &[String],
) -> Result<(), String> {
    let out = output.trim_end();
    if exit_code != want_code {
        return Err(format!(
            "exit code {exit_code}, want {want_code}: {}",
            first_line(out)
        ));
    }
    for e in expect {
        match Regex::new(e) {
            Ok(re) if re.is_match(out) => {}
            Ok(_) => return Err(format!("no match for /{e}/ in: {}", first_line(out))),
            Err(err) => return Err(format!("bad regex /{e}/: {err}")),
        }
    }
    for e in exclude {
        match Regex::new(e) {
            Ok(re) if re.is_match(out) => return Err(format!("excluded /{e}/ matched")),
            Ok(_) => {}
            Err(err) => return Err(format!("bad regex /{e}/: {err}")),
        }
    }
    Ok(())
}

/// The text each regex matched, last word: `found libmp3lame, aac, …`.
fn matched(output: &str, expect: &[String]) -> String {
    expect
        .iter()
        .filter_map(|e| {
            Regex::new(e)
                .ok()?
                .find(output)
                .map(|m| m.as_str().trim().to_string())
        })
        .map(|m| m.split_whitespace().last().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn sh(
    engine: &Engine,
    image: &str,
    user: Option<&str>,
    script: &str,
    env: Vec<String>,
) -> Result<(i64, String)> {
    let r = engine.run(RunSpec {
        image,
        argv: vec!["sh".into(), "-c".into(), script.into()],
        user: user.map(str::to_string),
        env,
        timeout: Some(Duration::from_secs(300)),
        ..Default::default()
    })?;
    Ok((r.exit_code, r.output))
}

pub fn run_all(engine: &Engine, m: &Manifest, t: &Target) -> Vec<Outcome> {
    let mut out = Vec::new();
    let py = t.python_version();
    let vars = [
        ("python_version", py.as_str()),
        ("variant", t.variant),
        ("app_uid", APP_UID),
    ];
    let c = &m.checks;

    for cmd in c
        .commands
        .iter()
        .filter(|c| applies(&c.variants, t.variant))
    {
        let started = Instant::now();
        let argv: Vec<String> = cmd.run.iter().map(|a| expand(a, &vars)).collect();
        let expect: Vec<String> = cmd
            .expect
            .iter()
            .flat_map(|e| e.items())
            .map(|e| expand(&e, &vars))
            .collect();
        let exclude: Vec<String> = cmd
            .exclude
            .iter()
            .flat_map(|e| e.items())
            .map(|e| expand(&e, &vars))
            .collect();
        let env = cmd.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = engine.run(RunSpec {
            image: t.image,
            argv,
            user: cmd.user.clone(),
            env,
            timeout: Some(Duration::from_secs(300)),
            ..Default::default()
        });
        let (passed, detail) = match r {
            Err(e) => (false, format!("{e:#}")),
            Ok(r) => match judge(&r.output, r.exit_code, cmd.exit_code, &expect, &exclude) {
                Ok(()) if expect.len() > 1 => {
                    (true, format!("found {}", matched(&r.output, &expect)))
                }
                Ok(()) => (true, first_line(&r.output)),
                Err(why) => (false, why),
            },
        };
        out.push(outcome(
            "command", &cmd.name, t.variant, passed, detail, started,
        ));
    }

    if !c.imports.is_empty() {
        let started = Instant::now();
        let mods = c
            .imports
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let script = format!(
            "import importlib, sys\nsys.path.insert(0, '/app')\nfor m in [{mods}]:\n    try:\n        importlib.import_module(m)\n        print('ok', m)\n    except BaseException as e:\n        print('fail', m, type(e).__name__, str(e).splitlines()[0] if str(e) else '')\n"
        );
        let r = engine.run(RunSpec {
            image: t.image,
            argv: vec!["python".into(), "-c".into(), script],
            timeout: Some(Duration::from_secs(300)),
            ..Default::default()
        });
        for module in &c.imports {
            let (passed, detail) = match &r {
                Err(e) => (false, format!("{e:#}")),
                Ok(r) => {
                    let ok = format!("ok {module}");
                    let fail = format!("fail {module} ");
                    if r.output.lines().any(|l| l.trim_end() == ok) {
                        (true, "imported".to_string())
                    } else if let Some(l) = r.output.lines().find(|l| l.starts_with(&fail)) {
                        (false, l[fail.len()..].to_string())
                    } else {
                        (false, format!("no result: {}", first_line(&r.output)))
                    }
                }
            };
            out.push(outcome(
                "import", module, t.variant, passed, detail, started,
            ));
        }
    }

    for f in c.files.iter().filter(|f| applies(&f.variants, t.variant)) {
        let started = Instant::now();
        let mut script = String::from("p=\"$1\"; [ -e \"$p\" ] || { echo missing; exit 1; }\n");
        if f.dir {
            script.push_str("[ -d \"$p\" ] || { echo 'not a directory'; exit 1; }\n");
        }
        if f.executable {
            script.push_str(
                "[ -f \"$p\" ] && [ -x \"$p\" ] || { echo 'not an executable file'; exit 1; }\n",
            );
        }
        if let Some(uid) = f.owner_uid {
            script.push_str(&format!(
                "u=$(stat -c %u \"$p\"); [ \"$u\" = {uid} ] || {{ echo \"owner uid $u, want {uid}\"; exit 1; }}\n"
            ));
        }
        script.push_str("echo \"ok $(stat -c '%U:%G %A' \"$p\")\"\n");
        let argv = vec![
            "sh".into(),
            "-c".into(),
            script,
            "sh".into(),
            f.path.clone(),
        ];
        let mut r = engine
            .run(RunSpec {
                image: t.image,
                argv,
                user: Some("0".into()),
                ..Default::default()
            })
            .map(|r| (r.exit_code, r.output));
        if let (Ok((0, _)), Some(user)) = (&r, &f.writable_by) {
            let w = "t=\"$1/.xtask-write-test\"; if [ -d \"$1\" ]; then touch \"$t\" && rm \"$t\" && echo \"ok writable by $(id -un)\"; else [ -w \"$1\" ] && echo \"ok writable by $(id -un)\"; fi || { echo \"not writable by $(id -un)\"; exit 1; }";
            r = engine
                .run(RunSpec {
                    image: t.image,
                    argv: vec![
                        "sh".into(),
                        "-c".into(),
                        w.into(),
                        "sh".into(),
                        f.path.clone(),
                    ],
                    user: Some(user.clone()),
                    ..Default::default()
                })
                .map(|r| (r.exit_code, r.output));
        }
        let (passed, detail) = match r {
            Err(e) => (false, format!("{e:#}")),
            Ok((code, o)) => (code == 0, first_line(&o)),
        };
        out.push(outcome("file", &f.path, t.variant, passed, detail, started));
    }

    let absent: Vec<&str> = c
        .absent
        .iter()
        .filter(|a| a.applies_to(t.variant))
        .map(|a| a.path())
        .collect();
    if !absent.is_empty() {
        let started = Instant::now();
        let script = "for p in \"$@\"; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then echo \"present $p\"; else echo \"absent $p\"; fi; done";
        let mut argv = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
        argv.extend(absent.iter().map(|s| s.to_string()));
        let r = engine.run(RunSpec {
            image: t.image,
            argv,
            user: Some("0".into()),
            ..Default::default()
        });
        for p in absent {
            let (passed, detail) = match &r {
                Err(e) => (false, format!("{e:#}")),
                Ok(r) if r.output.lines().any(|l| l == format!("absent {p}")) => {
                    (true, "absent".into())
                }
                Ok(r) if r.output.lines().any(|l| l == format!("present {p}")) => {
                    (false, "present".into())
                }
                Ok(r) => (false, format!("no result: {}", first_line(&r.output))),
            };
            out.push(outcome("absent", p, t.variant, passed, detail, started));
        }
    }

    out.extend(metadata(m, t));
    out.push(ca_leak(engine, t));
    out
}

fn metadata(m: &Manifest, t: &Target) -> Vec<Outcome> {
    let md = &m.checks.metadata;
    let started = Instant::now();
    let mut out = Vec::new();
    let mut push = |name: String, passed: bool, detail: String| {
        out.push(outcome(
            "metadata", &name, t.variant, passed, detail, started,
        ));
    };
    if let Some(ep) = &md.entrypoint {
        push(
            "entrypoint".into(),
            &t.info.entrypoint == ep,
            format!("{:?}", t.info.entrypoint),
        );
    }
    if let Some(w) = &md.workdir {
        push(
            "workdir".into(),
            &t.info.workdir == w,
            t.info.workdir.clone(),
        );
    }
    if let Some(u) = &md.user {
        let got = &t.info.user;
        let ok = got == u || got.split(':').next() == Some(u.as_str());
        push(
            "user".into(),
            ok,
            if got.is_empty() {
                "(root)".into()
            } else {
                got.clone()
            },
        );
    }
    for (k, v) in &md.env {
        let got = t.info.env_var(k);
        push(
            format!("env {k}"),
            got == Some(v.as_str()),
            got.unwrap_or("(unset)").to_string(),
        );
    }
    for (k, v) in &md.env_prefix {
        let got = t.info.env_var(k);
        let ok = got.is_some_and(|g| g.starts_with(v.as_str()));
        push(
            format!("env {k} starts with {v}"),
            ok,
            got.unwrap_or("(unset)").to_string(),
        );
    }
    for l in &md.labels {
        let got = t.info.labels.get(l).filter(|v| !v.is_empty());
        push(
            format!("label {l}"),
            got.is_some(),
            got.cloned().unwrap_or_else(|| "(missing)".into()),
        );
    }
    out
}

/// One distinctive base64 line from each certificate of a PEM bundle.
pub fn cert_marks(pem: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem);
    let mut marks = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            if let Some(l) = body.get(body.len() / 2).filter(|l| l.len() >= 40) {
                marks.push(l.to_string());
            }
        } else if inside {
            body.push(line);
        }
    }
    marks
}

/// Where Debian's ca-certificates package keeps the public roots, one file each.
const PUBLIC_ROOTS: &str = "/usr/share/ca-certificates";

/// Marks of every certificate under `dir` (recursively): the public roots.
fn public_root_marks(dir: &Path) -> HashSet<String> {
    let mut marks = HashSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return marks;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            marks.extend(public_root_marks(&path));
        } else if let Ok(pem) = std::fs::read(&path) {
            marks.extend(cert_marks(&pem));
        }
    }
    marks
}

/// The certificates of the handed-over bundle that are not public roots: the
/// proxy's own CA. A host bundle also carries the public roots, and those are in
/// any image anyway (certifi inside pip, the CA package), so they prove nothing.
pub fn private_marks(bundle: &[u8], public: &HashSet<String>) -> Vec<String> {
    cert_marks(bundle)
        .into_iter()
        .filter(|m| !public.contains(m))
        .collect()
}

/// The CA handed to the builder must not reach the runtime image: every
/// certificate of it that is neither a public root of the host nor one of the
/// image's own CA package must appear nowhere under /etc/ssl/certs, /tmp, /opt
/// or /usr/local/share/ca-certificates.
fn ca_leak(engine: &Engine, t: &Target) -> Outcome {
    let started = Instant::now();
    let marks = private_marks(t.ca, &public_root_marks(Path::new(PUBLIC_ROOTS)));
    if marks.is_empty() {
        return outcome(
            "absent",
            "build CA not in image",
            t.variant,
            true,
            "no CA was passed, or only public roots".into(),
            started,
        );
    }
    let script = r#"printf '%s\n' "$XTASK_CA_MARKS" > /tmp/.xtask-marks
cat /usr/share/ca-certificates/*/*.crt 2>/dev/null > /tmp/.xtask-pkg
n=0
while read -r m; do
  [ -z "$m" ] && continue
  grep -qF -- "$m" /tmp/.xtask-pkg && continue
  n=$((n+1))
  grep -rlF -- "$m" /etc/ssl/certs /tmp /opt /usr/local/share/ca-certificates 2>/dev/null | grep -v '^/tmp/.xtask-' | sed 's/^/LEAK /'
done < /tmp/.xtask-marks
echo "extra=$n""#;
    let r = sh(
        engine,
        t.image,
        Some("0"),
        script,
        vec![format!("XTASK_CA_MARKS={}", marks.join("\n"))],
    );
    let (passed, detail) = match r {
        Err(e) => (false, format!("{e:#}")),
        Ok((_, o)) => {
            let leaks: Vec<&str> = o.lines().filter_map(|l| l.strip_prefix("LEAK ")).collect();
            let extra = o
                .lines()
                .find_map(|l| l.strip_prefix("extra="))
                .unwrap_or("?")
                .to_string();
            if !leaks.is_empty() {
                (false, format!("build CA found in {}", leaks.join(", ")))
            } else if extra == "?" {
                (false, format!("no result: {}", first_line(&o)))
            } else {
                (
                    true,
                    format!(
                        "{} private cert(s) passed, {extra} not in the image's CA package, none found",
                        marks.len()
                    ),
                )
            }
        }
    };
    outcome(
        "absent",
        "build CA not in image",
        t.variant,
        passed,
        detail,
        started,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_exit_code_and_regexes() {
        assert!(judge("Python 3.11.2\n", 0, 0, &["^Python 3.11".into()], &[]).is_ok());
        assert!(judge("none\n", 0, 0, &["^none$".into()], &[]).is_ok());
        assert!(judge("x", 1, 0, &[], &[])
            .unwrap_err()
            .starts_with("exit code 1"));
        assert!(judge("gcc", 0, 0, &[], &["gcc".into()]).is_err());
        assert!(judge("a", 0, 0, &["a".into(), "b".into()], &[]).is_err());
    }

    #[test]
    fn matched_names_what_each_pattern_found() {
        let out = " A..... aac  AAC\n A....D flac FLAC\n";
        assert_eq!(
            matched(
                out,
                &["(?m)^ A\\S* aac ".into(), "(?m)^ A\\S* flac ".into()]
            ),
            "aac, flac"
        );
    }

    #[test]
    fn marks_one_per_cert() {
        let line = "A".repeat(64);
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{line}\n{line}\nBBBB\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            "C".repeat(64)
        );
        assert_eq!(cert_marks(pem.as_bytes()), vec![line, "C".repeat(64)]);
    }

    #[test]
    fn only_non_public_certs_are_looked_for() {
        let cert = |c: char| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                c.to_string().repeat(64)
            )
        };
        let bundle = format!("{}{}{}", cert('P'), cert('X'), cert('Q'));
        let public: HashSet<String> = cert_marks(format!("{}{}", cert('P'), cert('Q')).as_bytes())
            .into_iter()
            .collect();
        assert_eq!(
            private_marks(bundle.as_bytes(), &public),
            vec!["X".repeat(64)]
        );
        assert_eq!(private_marks(bundle.as_bytes(), &HashSet::new()).len(), 3);
    }
}
