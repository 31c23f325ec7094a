//! Sizes, layer breakdown, wasted bytes (dive's terms) and thresholds.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::Engine;
use crate::report::{mb, Outcome};

#[derive(Debug, Clone, Serialize)]
pub struct LayerSize {
    pub created_by: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub variant: String,
    pub tag: String,
    pub size: u64,
    pub compressed: u64,
    pub layers: Vec<LayerSize>,
    pub wasted: u64,
    pub efficiency: f64,
    pub base: String,
}

/// `RUN /bin/sh -c apt-get …` -> `RUN apt-get …`, shortened to `max` chars.
pub fn shorten(created_by: &str, max: usize) -> String {
    let mut s = created_by.trim();
    // classic builder: `|2 ARG=a ARG=b /bin/sh -c cmd` for RUN with build args
    if s.starts_with('|') {
        if let Some(i) = s.find("/bin/sh -c ") {
            s = &s[i..];
        }
    }
    let s = s
        .strip_prefix("/bin/sh -c #(nop) ")
        .map(str::trim)
        .map(str::to_string)
        .unwrap_or_else(|| {
            s.strip_prefix("/bin/sh -c ")
                .map(|r| format!("RUN {}", r.trim()))
                .unwrap_or_else(|| s.to_string())
        });
    let s = s
        .split_whitespace()
        .map(short_digest)
        .collect::<Vec<_>>()
        .join(" ");
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    } else {
        s
    }
}

/// `dir:<64 hex digits>` (how the classic builder names a COPY source) -> `dir:<12>`.
fn short_digest(word: &str) -> &str {
    match word.split_once(':') {
        Some(("file" | "dir" | "multi", hex))
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            &word[..word.len() - 52]
        }
        _ => word,
    }
}

/// Largest `n` layers, biggest first.
pub fn largest(layers: &[LayerSize], n: usize) -> Vec<LayerSize> {
    let mut v = layers.to_vec();
    v.sort_by_key(|l| std::cmp::Reverse(l.size));
    v.truncate(n);
    v
}

/// Per layer (bottom to top): the (path, size) of each file it holds.
/// Wasted bytes: every copy of a path except the top-most one. Efficiency as
/// dive defines it: 1 - wasted / all bytes across layers.
pub fn wasted(layers: &[LayerFiles]) -> (u64, f64) {
    let mut seen: HashMap<&str, Vec<u64>> = HashMap::new();
    let mut total = 0u64;
    for layer in layers {
        for (p, s) in layer {
            seen.entry(p.as_str()).or_default().push(*s);
            total += s;
        }
    }
    let wasted: u64 = seen
        .values()
        .filter(|copies| copies.len() > 1)
        .map(|copies| copies[..copies.len() - 1].iter().sum::<u64>())
        .sum();
    let eff = if total == 0 {
        1.0
    } else {
        1.0 - wasted as f64 / total as f64
    };
    (wasted, eff)
}

struct Counter(u64);
impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reader that also feeds everything it reads into a gzip encoder.
struct Tee<'a, R> {
    inner: R,
    gz: &'a mut flate2::write::GzEncoder<Counter>,
}
impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.gz.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Read a `docker save` archive: per layer file list and gzip'd size.
/// Files (path, size) of one layer.
pub type LayerFiles = Vec<(String, u64)>;

fn analyse_saved(path: &Path) -> Result<(Vec<LayerFiles>, u64)> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut a = tar::Archive::new(io::BufReader::new(f));
    let mut per_layer: HashMap<String, LayerFiles> = HashMap::new();
    let mut compressed = 0u64;
    let mut manifest = String::new();
    for e in a.entries().context("reading the saved image")? {
        let mut e = e.context("reading the saved image")?;
        let name = e
            .path()
            .context("entry path")?
            .to_string_lossy()
            .into_owned();
        if name == "manifest.json" {
            e.read_to_string(&mut manifest)
                .context("reading manifest.json")?;
        } else if name.ends_with("layer.tar") {
            let mut gz = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::fast());
            let mut files = Vec::new();
            {
                let mut tee = Tee {
                    inner: &mut e,
                    gz: &mut gz,
                };
                {
                    let mut inner = tar::Archive::new(&mut tee);
                    for f in inner.entries().context("reading a layer")? {
                        let f = f.context("reading a layer")?;
                        let p = f
                            .path()
                            .context("layer entry path")?
                            .to_string_lossy()
                            .into_owned();
                        if f.header().entry_type().is_file() {
                            files.push((p, f.size()));
                        }
                    }
                }
                io::copy(&mut tee, &mut io::sink()).context("reading a layer")?;
            }
            compressed += gz.finish().context("compressing a layer")?.0;
            per_layer.insert(name, files);
        }
    }
    let m: serde_json::Value =
        serde_json::from_str(&manifest).context("parsing manifest.json of the saved image")?;
    let order: Vec<String> = m[0]["Layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let layers = order
        .iter()
        .map(|l| per_layer.remove(l).unwrap_or_default())
        .collect();
    Ok((layers, compressed))
}

pub fn measure(engine: &Engine, variant: &str, tag: &str) -> Result<Measured> {
    let info = engine.require(tag)?;
    let history = engine.history(tag)?;
    let layers: Vec<LayerSize> = history
        .iter()
        .rev()
        .filter(|l| l.size > 0)
        .map(|l| LayerSize {
            created_by: shorten(&l.created_by, 200),
            size: l.size,
        })
        .collect();
    std::fs::create_dir_all("target/xtask").context("creating target/xtask")?;
    let saved = Path::new("target/xtask").join(format!("save-{variant}.tar"));
    {
        let f = std::fs::File::create(&saved)
            .with_context(|| format!("creating {}", saved.display()))?;
        let mut w = io::BufWriter::new(f);
        engine.save(tag, &mut w)?;
        w.flush().context("writing the saved image")?;
    }
    let analysed = analyse_saved(&saved);
    let _ = std::fs::remove_file(&saved);
    let (files, compressed) = analysed?;
    let (wasted, efficiency) = wasted(&files);
    let base = match (
        info.labels.get("io.musicdl.base"),
        info.labels.get("io.musicdl.base.kind"),
    ) {
        (Some(b), Some(k)) => {
            let py = info
                .labels
                .get("io.musicdl.base.python")
                .map(|p| format!(", Python {p}"))
                .unwrap_or_default();
            format!(
                "{b} ({}{py})",
                if k == "official" {
                    "official"
                } else {
                    "stand-in"
                }
            )
        }
        _ => "unknown".into(),
    };
    Ok(Measured {
        variant: variant.into(),
        tag: tag.into(),
        size: info.size,
        compressed,
        layers,
        wasted,
        efficiency,
        base,
    })
}

pub fn ratio(slim: u64, full: u64) -> f64 {
    if full == 0 {
        0.0
    } else {
        slim as f64 / full as f64
    }
}

fn threshold(name: &str, variant: &str, passed: bool, detail: String) -> Outcome {
    Outcome {
        group: "size".into(),
        name: name.into(),
        variant: variant.into(),
        passed,
        detail,
        seconds: 0.0,
        log: None,
    }
}

/// Absolute size per variant, and slim/full when both were measured in this run.
pub fn thresholds(
    measured: &[Measured],
    max_mb: &HashMap<String, f64>,
    max_ratio: Option<f64>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for m in measured {
        if let Some(max) = max_mb.get(&m.variant) {
            let size = mb(m.size);
            out.push(threshold(
                "max size",
                &m.variant,
                size <= *max,
                format!("{size:.1} MB (limit {max} MB)"),
            ));
        }
    }
    let get = |v: &str| measured.iter().find(|m| m.variant == v);
    if let (Some(limit), Some(s), Some(f)) = (max_ratio, get("slim"), get("full")) {
        let r = ratio(s.size, f.size);
        out.push(threshold(
            "slim/full ratio",
            "slim",
            r <= limit,
            format!(
                "{r:.3} ({:.1} / {:.1} MB, limit {limit})",
                mb(s.size),
                mb(f.size)
            ),
        ));
    }
    out
}

pub fn table(measured: &[Measured]) -> String {
    let rows: Vec<Vec<String>> = measured
        .iter()
        .map(|m| {
            vec![
                m.variant.clone(),
                format!("{:.1} MB", mb(m.size)),
                format!("{:.1} MB", mb(m.compressed)),
                format!("{:.1} MB ({:.1}%)", mb(m.wasted), m.efficiency * 100.0),
                m.base.clone(),
                m.layers.len().to_string(),
            ]
        })
        .collect();
    let mut out = crate::report::table(
        &[
            "variant",
            "size",
            "compressed",
            "wasted (efficiency)",
            "base",
            "layers",
        ],
        &rows,
    );
    let layer_rows: Vec<Vec<String>> = measured
        .iter()
        .flat_map(|m| {
            largest(&m.layers, 5).into_iter().enumerate().map(|(i, l)| {
                vec![
                    m.variant.clone(),
                    (i + 1).to_string(),
                    format!("{:.1} MB", mb(l.size)),
                    shorten(&l.created_by, 80),
                ]
            })
        })
        .collect();
    out.push('\n');
    out.push_str(&crate::report::table(
        &["variant", "#", "layer size", "five largest layers"],
        &layer_rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(files: &[(&str, u64)]) -> Vec<(String, u64)> {
        files.iter().map(|(p, s)| (p.to_string(), *s)).collect()
    }

    #[test]
    fn wasted_counts_all_but_top_copy() {
        let layers = vec![
            l(&[("a", 100), ("b", 10)]),
            l(&[("a", 40)]),
            l(&[("a", 5), ("c", 45)]),
        ];
        let (w, eff) = wasted(&layers);
        assert_eq!(w, 140);
        assert!((eff - (1.0 - 140.0 / 200.0)).abs() < 1e-9);
        assert_eq!(wasted(&[]), (0, 1.0));
    }

    #[test]
    fn ratio_and_thresholds() {
        let m = |v: &str, size| Measured {
            variant: v.into(),
            tag: String::new(),
            size,
            compressed: 0,
            layers: vec![],
            wasted: 0,
            efficiency: 1.0,
            base: String::new(),
        };
        let ms = vec![m("slim", 250_000_000), m("full", 1_000_000_000)];
        let max = HashMap::from([("slim".to_string(), 250.0)]);
        let t = thresholds(&ms, &max, Some(0.2));
        assert!(t[0].passed, "250 MB is within 250 MB");
        assert!(!t[1].passed, "0.25 > 0.20");
        assert_eq!(ratio(1, 4), 0.25);
    }

    #[test]
    fn shortens_history_lines() {
        assert_eq!(shorten("/bin/sh -c #(nop)  ENV A=b", 70), "ENV A=b");
        assert_eq!(
            shorten("/bin/sh -c apt-get   install x", 70),
            "RUN apt-get install x"
        );
        assert_eq!(shorten("RUN abcdef", 5), "RUN …");
        assert_eq!(
            shorten("|2 A=1 B=2 /bin/sh -c apt-get x", 70),
            "RUN apt-get x"
        );
        let digest = "308e9f77afb8".to_string() + &"0".repeat(52);
        assert_eq!(
            shorten(
                &format!("/bin/sh -c #(nop) COPY dir:{digest} in /opt/venv "),
                70
            ),
            "COPY dir:308e9f77afb8 in /opt/venv"
        );
        assert_eq!(shorten("COPY dir:abc in /x", 70), "COPY dir:abc in /x");
    }

    #[test]
    fn largest_first() {
        let ls = vec![
            LayerSize {
                created_by: "a".into(),
                size: 1,
            },
            LayerSize {
                created_by: "b".into(),
                size: 3,
            },
        ];
        assert_eq!(largest(&ls, 1)[0].created_by, "b");
    }
}
