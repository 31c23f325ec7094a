//! The build context as a tar stream, honouring .dockerignore with the rules of
//! moby's patternmatcher (Go filepath.Match syntax, `**`, `!` exceptions, path
//! cleaning; a path is excluded when it or one of its parents matches).

use std::path::Path;

use anyhow::{Context, Result};
use regex::Regex;

#[derive(Debug)]
struct Pattern {
    text: String,
    exclusion: bool,
    re: Regex,
}

#[derive(Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// Lexical path cleaning as Go's `filepath.Clean` does it.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn compile(pattern: &str) -> Result<Regex> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    re.push_str(".*");
                } else {
                    re.push_str("(.*/)?");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => match chars.get(i) {
                Some(next) => {
                    re.push_str(&regex::escape(&next.to_string()));
                    i += 1;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => re.push(ch),
            '^' if re.ends_with('[') => re.push('^'),
            '-' => re.push('-'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).with_context(|| format!("bad .dockerignore pattern '{pattern}'"))
}

impl Matcher {
    /// Parse .dockerignore text (as moby's ignorefile.ReadAll does).
    pub fn parse(text: &str) -> Result<Matcher> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let mut p = line.trim();
            if p.is_empty() || p.starts_with('#') {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
            }
            if p.is_empty() {
                continue;
            }
            let mut cleaned = clean(p);
            if cleaned.starts_with('/') {
                cleaned = cleaned.trim_start_matches('/').to_string();
                if cleaned.is_empty() {
                    cleaned = ".".into();
                }
            }
            let re = compile(&cleaned)?;
            patterns.push(Pattern {
                text: cleaned,
                exclusion,
                re,
            });
        }
        Ok(Matcher { patterns })
    }

    pub fn add_exception(&mut self, path: &str) -> Result<()> {
        let cleaned = clean(path);
        let re = compile(&cleaned)?;
        self.patterns.push(Pattern {
            text: cleaned,
            exclusion: true,
            re,
        });
        Ok(())
    }

    /// `MatchesOrParentMatches`: true when `path` (slash-separated, relative) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let parent = match path.rfind('/') {
            Some(i) => &path[..i],
            None => ".",
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.re.is_match(path);
            if !m && parent != "." {
                for i in 0..parent_dirs.len() {
                    if p.re.is_match(&parent_dirs[..=i].join("/")) {
                        m = true;
                        break;
                    }
                }
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// An excluded directory is still walked when an exception could match inside it.
    fn must_descend(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }
}

/// Files under `root` that reach the engine (relative, slash-separated, dirs included).
pub fn list(root: &Path, m: &Matcher) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(root, "", m, &mut |rel, _| {
        out.push(rel.to_string());
        Ok(())
    })?;
    Ok(out)
}

fn walk(
    root: &Path,
    rel: &str,
    m: &Matcher,
    f: &mut dyn FnMut(&str, &std::fs::Metadata) -> Result<()>,
) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = e.metadata().with_context(|| format!("stat {path}"))?;
        if m.excluded(&path) {
            if meta.is_dir() && m.must_descend(&path) {
                walk(root, &path, m, f)?;
            }
            continue;
        }
        f(&path, &meta)?;
        if meta.is_dir() {
            walk(root, &path, m, f)?;
        }
    }
    Ok(())
}

fn matcher_for(root: &Path, dockerfile: Option<&str>) -> Result<Matcher> {
    let ignore = root.join(".dockerignore");
    let mut m = match std::fs::read_to_string(&ignore) {
        Ok(t) => Matcher::parse(&t).with_context(|| format!("parsing {}", ignore.display()))?,
        Err(_) => Matcher::default(),
    };
    if let Some(df) = dockerfile {
        m.add_exception(df)?;
        m.add_exception(".dockerignore")?;
    }
    Ok(m)
}

/// Top-level names that reach the engine (for `git log -- <names>`).
pub fn top_level(root: &Path, dockerfile: Option<&str>) -> Result<Vec<String>> {
    let m = matcher_for(root, dockerfile)?;
    let mut names = std::collections::BTreeSet::new();
    walk(root, "", &m, &mut |rel, _| {
        names.insert(rel.split('/').next().unwrap_or(rel).to_string());
        Ok(())
    })?;
    Ok(names.into_iter().collect())
}

pub struct Extra {
    pub path: String,
    pub data: Vec<u8>,
}

/// Tar of `root` honouring its .dockerignore (the Dockerfile and .dockerignore
/// always go, as the docker CLI does), plus synthesized entries never written to disk.
pub fn tar(root: &Path, dockerfile: Option<&str>, extras: &[Extra]) -> Result<Vec<u8>> {
    let m = matcher_for(root, dockerfile)?;
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    walk(root, "", &m, &mut |rel, meta| {
        let full = root.join(rel);
        let kind = meta.file_type();
        if !(kind.is_dir() || kind.is_file() || kind.is_symlink()) {
            // as the docker CLI does with sockets: a FIFO or device is no build input
            eprintln!("context: leaving out {rel} (not a file, folder or symlink)");
            return Ok(());
        }
        if meta.is_dir() {
            b.append_dir(rel, &full)
                .with_context(|| format!("adding {rel} to the context"))
        } else {
            b.append_path_with_name(&full, rel)
                .with_context(|| format!("adding {rel} to the context"))
        }
    })?;
    let mut dirs_added = std::collections::BTreeSet::new();
    for x in extras {
        if let Some((dir, _)) = x.path.rsplit_once('/') {
            if dirs_added.insert(dir.to_string()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, dir, std::io::empty())
                    .context("adding a synthesized dir")?;
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(x.data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, &x.path, x.data.as_slice())
            .with_context(|| format!("adding {} to the context", x.path))?;
    }
    b.into_inner().context("finishing the context tar")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(patterns: &str, path: &str) -> bool {
        Matcher::parse(patterns).unwrap().excluded(path)
    }

    #[test]
    fn clean_like_go() {
        assert_eq!(clean("a/./b/../c/"), "a/c");
        assert_eq!(clean("/a//b"), "/a/b");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("../x"), "../x");
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(ex("*.pyc", "a.pyc"));
        assert!(!ex("*.pyc", "core/a.pyc"));
        assert!(ex("*/*.pyc", "core/a.pyc"));
    }

    #[test]
    fn double_star() {
        assert!(ex("**/*.pyc", "a.pyc"));
        assert!(ex("**/*.pyc", "core/x/a.pyc"));
        assert!(ex("**/__pycache__", "core/__pycache__/a.pyc"));
        assert!(ex("**/__pycache__", "__pycache__"));
        assert!(ex("docs/**", "docs/a/b"));
        assert!(ex("a/**/b", "a/b"));
        assert!(ex("a/**/b", "a/x/y/b"));
        assert!(!ex("a/**/b", "a/x/y/bc"));
    }

    #[test]
    fn parent_match_excludes_children() {
        assert!(ex("target", "target/debug/x"));
        assert!(ex("target/", "target/debug/x"));
        assert!(!ex("target", "xtask/target"));
    }

    #[test]
    fn leading_slash_and_cleaning() {
        assert!(ex("/target", "target/x"));
        assert!(ex("./notes/../target", "target"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let p = "*.md\n!README.md\n";
        assert!(ex(p, "CHANGES.md"));
        assert!(!ex(p, "README.md"));
        let p = "!README.md\n*.md\n";
        assert!(ex(p, "README.md"));
    }

    #[test]
    fn exception_inside_excluded_dir() {
        let m = Matcher::parse("tests\n!tests/fixtures\n").unwrap();
        assert!(m.excluded("tests/unit/test_a.py"));
        assert!(!m.excluded("tests/fixtures/a.wav"));
        assert!(m.excluded("tests"));
        assert!(m.must_descend("tests"));
    }

    #[test]
    fn comments_blank_and_question_mark() {
        let p = "# comment\n\n  a?c  \n";
        assert!(ex(p, "abc"));
        assert!(!ex(p, "a/c"));
        assert!(!ex(p, "# comment"));
    }

    #[test]
    fn char_classes() {
        assert!(ex("[ab].txt", "a.txt"));
        assert!(!ex("[ab].txt", "c.txt"));
        assert!(ex("[^ab].txt", "c.txt"));
    }

    fn names_in(bytes: &[u8]) -> std::collections::BTreeSet<String> {
        let mut a = ::tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let p = e.path().unwrap().to_string_lossy().into_owned();
                p.trim_end_matches('/').to_string()
            })
            .collect()
    }

    #[test]
    fn the_repos_dockerignore_sends_sources_and_nothing_that_lands_beside_them() {
        let dir = std::env::temp_dir().join(format!("xtask-repo-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = [
            "download.py",
            "config.yaml",
            "requirements.txt",
            "test-requirements.txt",
            "pytest.ini",
            "musicdl.Dockerfile",
            "docker/ffmpeg-build.sh",
            "docker/musicdl-entrypoint",
            "core/config.py",
            "core/sub/deep.py",
            "tests/unit/test_a.py",
            "tests/fixtures/audio.py",
            // what a working tree also holds, none of which may reach an image
            "README.md",
            "Cargo.toml",
            "target/debug/xtask",
            ".venv/lib/python3.11/site-packages/x.py",
            "docker/notes.orig",
            "core/notes.orig",
            "core/.venv/lib/python3.11/site-packages/y.py",
            "core/target/debug/blob",
            "core/.git/HEAD",
            "core/__pycache__/config.cpython-311.pyc",
            "tests/big.bin",
            "tests/.env",
            "tests/out/song.mp3",
            "tests/node_modules/x/index.py",
            "tests/.pytest_cache/v/x",
        ];
        for f in files {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        std::fs::write(
            dir.join(".dockerignore"),
            include_str!("../../.dockerignore"),
        )
        .unwrap();
        std::os::unix::net::UnixListener::bind(dir.join("core/app.sock")).unwrap();

        let names = names_in(&tar(&dir, Some("musicdl.Dockerfile"), &[]).unwrap());
        let files: std::collections::BTreeSet<String> = names
            .iter()
            .filter(|n| dir.join(n).is_file())
            .cloned()
            .collect();
        let expected: std::collections::BTreeSet<String> = [
            ".dockerignore",
            "musicdl.Dockerfile",
            "download.py",
            "config.yaml",
            "requirements.txt",
            "test-requirements.txt",
            "pytest.ini",
            "docker/ffmpeg-build.sh",
            "docker/musicdl-entrypoint",
            "core/config.py",
            "core/sub/deep.py",
            "tests/unit/test_a.py",
            "tests/fixtures/audio.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(files, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tar_includes_synthesized_entry_and_honours_ignore() {
        let dir = std::env::temp_dir().join(format!("xtask-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("core/__pycache__")).unwrap();
        std::fs::write(dir.join(".dockerignore"), "**/__pycache__\nDockerfile\n").unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.join("core/a.py"), "x").unwrap();
        std::fs::write(dir.join("core/__pycache__/a.pyc"), "x").unwrap();
        let bytes = tar(
            &dir,
            Some("Dockerfile"),
            &[Extra {
                path: "build-ca/ca.pem".into(),
                data: b"pem".to_vec(),
            }],
        )
        .unwrap();
        let names = names_in(&bytes);
        assert!(names.contains("core/a.py"), "{names:?}");
        assert!(names.contains("Dockerfile"), "{names:?}");
        assert!(names.contains("build-ca/ca.pem"), "{names:?}");
        assert!(
            !names.iter().any(|n| n.contains("__pycache__")),
            "{names:?}"
        );
        assert!(!dir.join("build-ca").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
