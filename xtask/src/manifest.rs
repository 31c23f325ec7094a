//! images.yaml -> typed model. Unknown keys and wrong types are rejected with
//! `images.yaml: dotted.key: reason`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub const FILE: &str = "images.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub image: String,
    pub variants: BTreeMap<String, Variant>,
    #[serde(default)]
    pub compare: Compare,
    pub standins: Standins,
    pub checks: Checks,
    #[serde(default)]
    pub suites: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub dockerfile: String,
    pub base: String,
    pub standin: String,
    #[serde(default)]
    pub max_size_mb: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    #[serde(default)]
    pub slim_vs_full_max_ratio: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standins {
    pub suite: String,
    pub mirror: String,
    /// More apt source lines (updates, security) for the stand-in's apt.
    #[serde(default)]
    pub extra_sources: Vec<String>,
    /// The stand-ins by name, as `variants.<v>.standin` refers to them.
    pub kinds: BTreeMap<String, Standin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standin {
    pub tag: String,
    pub packages: Vec<String>,
    #[serde(default)]
    pub trim_docs: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    #[serde(default)]
    pub commands: Vec<CommandCheck>,
    #[serde(default)]
    pub imports: Vec<String>,
    #[serde(default)]
    pub files: Vec<FileCheck>,
    #[serde(default)]
    pub absent: Vec<AbsentCheck>,
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub name: String,
    pub run: Vec<String>,
    #[serde(default)]
    pub expect: Option<OneOrMany>,
    #[serde(default)]
    pub exclude: Option<OneOrMany>,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub variants: Option<Vec<String>>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    pub path: String,
    #[serde(default)]
    pub dir: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub owner_uid: Option<u32>,
    #[serde(default)]
    pub writable_by: Option<String>,
    #[serde(default)]
    pub variants: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AbsentCheck {
    Path(String),
    Filtered(AbsentFiltered),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbsentFiltered {
    pub path: String,
    pub variants: Vec<String>,
}

impl AbsentCheck {
    pub fn path(&self) -> &str {
        match self {
            AbsentCheck::Path(p) => p,
            AbsentCheck::Filtered(f) => &f.path,
        }
    }
    pub fn applies_to(&self, variant: &str) -> bool {
        match self {
            AbsentCheck::Path(_) => true,
            AbsentCheck::Filtered(f) => f.variants.iter().any(|v| v == variant),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub env_prefix: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

pub fn applies(filter: &Option<Vec<String>>, variant: &str) -> bool {
    filter
        .as_ref()
        .is_none_or(|v| v.iter().any(|x| x == variant))
}

/// `{python_version}`, `{variant}`, `{app_uid}` substitution in check strings.
pub fn expand(s: &str, vars: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

impl Manifest {
    pub fn load(root: &Path) -> Result<Manifest> {
        let path = root.join(FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Manifest::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!(describe(&e)))?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        if self.variants.is_empty() {
            bail!("{FILE}: variants: define at least one variant (slim, full, …)");
        }
        for (name, v) in &self.variants {
            if !self.standins.kinds.contains_key(&v.standin) {
                bail!(
                    "{FILE}: variants.{name}.standin: '{}' is not one of standins.kinds: {}",
                    v.standin,
                    self.standins
                        .kinds
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        for (i, c) in self.checks.commands.iter().enumerate() {
            if c.run.is_empty() {
                bail!("{FILE}: checks.commands[{i}].run: must name a command");
            }
            for re in c
                .expect
                .iter()
                .chain(c.exclude.iter())
                .flat_map(|e| e.items())
            {
                let probe = expand(
                    &re,
                    &[("python_version", "3"), ("variant", "x"), ("app_uid", "1")],
                );
                regex::Regex::new(&probe).map_err(|e| {
                    anyhow::anyhow!(
                        "{FILE}: checks.commands[{i}] ({}): bad regex '{re}': {e}",
                        c.name
                    )
                })?;
            }
        }
        Ok(())
    }

    pub fn select(&self, which: &str) -> Result<Vec<(&String, &Variant)>> {
        if which == "all" {
            return Ok(self.variants.iter().collect());
        }
        match self.variants.get_key_value(which) {
            Some(kv) => Ok(vec![kv]),
            None => bail!(
                "unknown variant '{which}': {FILE} defines {}, or use all",
                self.variants.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// serde_yaml says `variants.slim.max_size_mb: invalid type: string "x", expected f64 at line 3 column 5`;
/// turn that into `images.yaml: variants.slim.max_size_mb: expected a number (found string "x") at line 3 column 5`.
fn describe(e: &serde_yaml::Error) -> String {
    let full = e.to_string();
    let location = e
        .location()
        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    let body = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full,
    };
    let (path, msg) = match body.split_once(": ") {
        Some((p, m)) if !p.contains(' ') => (p.to_string(), m.to_string()),
        _ => (String::new(), body.to_string()),
    };
    let reason = if let Some(kind) =
        msg.strip_prefix("data did not match any variant of untagged enum ")
    {
        match kind.trim() {
            "OneOrMany" => "expect/exclude: expected a regex or a list of regexes".to_string(),
            "AbsentCheck" => "expected a path, or {path: …, variants: [...]}".to_string(),
            other => format!("not a valid {other}"),
        }
    } else if let Some(rest) = msg.strip_prefix("invalid type: ") {
        match rest.split_once(", expected ") {
            Some((found, expected)) => format!("expected {} (found {found})", friendly(expected)),
            None => msg.clone(),
        }
    } else if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = tail.trim_start_matches(", expected ").replace('`', "");
        let key = if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return format!("{FILE}: {key}: unknown key (allowed: {allowed}){location}");
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let key = if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return format!("{FILE}: {key}: missing{location}");
    } else {
        msg.clone()
    };
    if path.is_empty() {
        format!("{FILE}: {reason}{location}")
    } else {
        format!("{FILE}: {path}: {reason}{location}")
    }
}

fn friendly(expected: &str) -> String {
    match expected {
        "f64" | "f32" | "u32" | "u64" | "i64" | "i32" | "u8" | "usize" => "a number".into(),
        "a boolean" | "a string" => expected.into(),
        "a sequence" => "a list".into(),
        e if e.starts_with("struct ") || e == "a map" => "a mapping".into(),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
image: musicdl
variants:
  slim: {dockerfile: musicdl.Dockerfile, base: "python:3.12-slim", standin: slim, max_size_mb: 250}
standins:
  suite: bookworm
  mirror: http://deb.debian.org/debian
  kinds:
    slim: {tag: "musicdl-standin:slim-bookworm", packages: [python3]}
checks:
  commands:
    - {name: py, run: [python, --version], expect: "^Python {python_version}"}
"#;

    #[test]
    fn the_shipped_images_yaml_is_valid() {
        let m = Manifest::parse(include_str!("../../images.yaml")).unwrap();
        assert!(m.variants.contains_key("slim") && m.variants.contains_key("full"));
    }

    fn err(text: &str) -> String {
        Manifest::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_minimal() {
        let m = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(m.variants["slim"].max_size_mb, Some(250.0));
        assert_eq!(m.standins.kinds["slim"].packages, vec!["python3"]);
    }

    #[test]
    fn parses_the_real_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Manifest::load(&root).unwrap();
    }

    #[test]
    fn wrong_type_names_key_and_reason() {
        let e = err(&MINIMAL.replace("max_size_mb: 250", "max_size_mb: big"));
        assert!(
            e.starts_with("images.yaml: variants.slim.max_size_mb: expected a number"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_rejected() {
        let e = err(&MINIMAL.replace("max_size_mb: 250", "max_size: 250"));
        assert!(
            e.starts_with("images.yaml: variants.slim.max_size: unknown key"),
            "{e}"
        );
    }

    #[test]
    fn missing_key_is_reported() {
        let e = err(&MINIMAL.replace("base: \"python:3.12-slim\", ", ""));
        assert!(
            e.starts_with("images.yaml: variants.slim.base: missing"),
            "{e}"
        );
    }

    #[test]
    fn list_expected() {
        let e = err(&MINIMAL.replace("run: [python, --version]", "run: 5"));
        assert!(e.contains("checks.commands[0].run: expected a list"), "{e}");
    }

    #[test]
    fn unknown_standin_kind() {
        let e = err(&MINIMAL.replace("standin: slim", "standin: tiny"));
        assert_eq!(
            e,
            "images.yaml: variants.slim.standin: 'tiny' is not one of standins.kinds: slim"
        );
    }

    #[test]
    fn standin_keys_are_named_with_their_whole_path() {
        let e = err(&MINIMAL.replace("packages: [python3]", "pakages: [python3]"));
        assert!(
            e.starts_with("images.yaml: standins.kinds.slim.pakages: unknown key"),
            "{e}"
        );
        let e = err(&MINIMAL.replace("suite: bookworm", "sute: bookworm"));
        assert!(
            e.starts_with("images.yaml: standins.sute: unknown key"),
            "{e}"
        );
    }

    #[test]
    fn an_expect_that_is_no_regex_says_what_it_should_be() {
        let e = err(&MINIMAL.replace("expect: \"^Python {python_version}\"", "expect: 5"));
        assert!(
            e.starts_with("images.yaml: checks.commands[0]: expect/exclude: expected a regex or a list of regexes"),
            "{e}"
        );
        assert!(!e.contains("untagged"), "{e}");
    }

    #[test]
    fn a_manifest_without_variants_is_an_error() {
        let text = MINIMAL.replace(
            "  slim: {dockerfile: musicdl.Dockerfile, base: \"python:3.12-slim\", standin: slim, max_size_mb: 250}\n",
            "",
        )
        .replace("variants:\n", "variants: {}\n");
        assert_eq!(
            err(&text),
            "images.yaml: variants: define at least one variant (slim, full, …)"
        );
    }

    #[test]
    fn bad_regex() {
        let e = err(&MINIMAL.replace("^Python {python_version}", "^Python ("));
        assert!(e.contains("bad regex"), "{e}");
    }

    #[test]
    fn template_expansion() {
        assert_eq!(
            expand("^Python {python_version}", &[("python_version", "3.11.2")]),
            "^Python 3.11.2"
        );
    }
}
