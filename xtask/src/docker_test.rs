//! `cargo xtask docker-test`: build, check, run the suites, measure, report.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::build::{self, BuildArgs, ImageArgs, Target};
use crate::check;
use crate::engine::Engine;
use crate::manifest::Manifest;
use crate::report::{self, Outcome};
use crate::{pytest, size};

const REPORT_JSON: &str = "target/xtask/report.json";
const REPORT_JUNIT: &str = "target/xtask/junit.xml";

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// unit, integration, e2e or all
    #[arg(long, default_value = "all")]
    pub suite: String,
    /// use the images already present (fails when they are missing)
    #[arg(long)]
    pub skip_build: bool,
}

impl TestArgs {
    fn build_args(&self) -> BuildArgs {
        BuildArgs {
            image: self.image.clone(),
            target: Target::Both,
        }
    }
}

pub fn run(root: &Path, args: TestArgs) -> Result<()> {
    let m = Manifest::load(root)?;
    let suites: Vec<String> = if args.suite == "all" {
        m.suites.clone()
    } else if m.suites.contains(&args.suite) {
        vec![args.suite.clone()]
    } else {
        bail!(
            "unknown suite '{}': images.yaml lists {}, or use all",
            args.suite,
            m.suites.join(", ")
        );
    };
    let variants = m.select(&args.image.variant)?;
    let repo = build::repository(args.image.tag.as_deref(), &m)?;
    let (ca, ca_from) = build::ca_bundle(args.image.ca_cert.as_deref())?;
    // a report from an earlier run must not pass for this one's if it stops early
    for stale in [REPORT_JSON, REPORT_JUNIT] {
        let _ = std::fs::remove_file(stale);
    }
    let engine = Engine::connect()?;
    if args.skip_build {
        let tag_flag = match &args.image.tag {
            Some(t) => format!(" --tag {t}"),
            None => String::new(),
        };
        for (name, _) in &variants {
            let (tag, test_tag) = build::tags(&repo, name);
            for t in [&tag, &test_tag] {
                if engine.inspect(t)?.is_none() {
                    bail!("--skip-build: image {t} is missing\n  hint: run cargo xtask docker-build --variant {name}{tag_flag}");
                }
            }
        }
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut measured = Vec::new();
    let mut builds = serde_json::Map::new();
    for (name, v) in &variants {
        let (tag, test_tag) = build::tags(&repo, name);
        if !args.skip_build {
            let built = build::build_variant(&engine, &m, root, name, v, &args.build_args())?;
            let times: serde_json::Map<String, serde_json::Value> = built
                .durations
                .iter()
                .map(|(t, d)| (t.clone(), serde_json::json!(d.as_secs_f64())))
                .collect();
            builds.insert(name.to_string(), serde_json::Value::Object(times));
        }
        let info = engine.require(&tag)?;
        println!("checks {name} on {tag} (build CA checked: {ca_from})");
        let t = check::Target {
            variant: name,
            image: &tag,
            info: &info,
            ca: &ca,
        };
        let results = check::run_all(&engine, &m, &t);
        for r in &results {
            println!(
                "  {} {}/{}: {}",
                if r.passed { "pass" } else { "FAIL" },
                r.group,
                r.name,
                r.detail
            );
        }
        outcomes.extend(results);
        for suite in &suites {
            let o = pytest::run_suite(&engine, name, &test_tag, suite);
            println!(
                "  {} pytest/{}: {}",
                if o.passed { "pass" } else { "FAIL" },
                suite,
                o.detail
            );
            outcomes.push(o);
        }
        println!("measuring {tag}");
        match size::measure(&engine, name, &tag) {
            Ok(s) => measured.push(s),
            Err(e) => outcomes.push(Outcome {
                group: "size".into(),
                name: "measure".into(),
                variant: name.to_string(),
                passed: false,
                detail: format!("{e:#}"),
                seconds: 0.0,
                log: None,
            }),
        }
    }
    let max: HashMap<String, f64> = variants
        .iter()
        .filter_map(|(n, v)| v.max_size_mb.map(|x| (n.to_string(), x)))
        .collect();
    outcomes.extend(size::thresholds(
        &measured,
        &max,
        m.compare.slim_vs_full_max_ratio,
    ));

    if outcomes.is_empty() {
        outcomes.push(Outcome {
            group: "manifest".into(),
            name: "something to test".into(),
            variant: "-".into(),
            passed: false,
            detail: format!(
                "{} lists no check and no suite for these variants",
                crate::manifest::FILE
            ),
            seconds: 0.0,
            log: None,
        });
    }
    let leftover = engine.labelled_containers()?;
    if !leftover.is_empty() {
        outcomes.push(Outcome {
            group: "cleanup".into(),
            name: "no containers left".into(),
            variant: "-".into(),
            passed: false,
            detail: format!(
                "{} container(s) with label {} remain",
                leftover.len(),
                crate::engine::LABEL
            ),
            seconds: 0.0,
            log: None,
        });
    }

    println!();
    print!("{}", report::summary_table(&outcomes));
    println!();
    print!("{}", size::table(&measured));
    let json = serde_json::json!({
        "revision": build::git_info().revision,
        "outcomes": outcomes,
        "sizes": measured,
        "build_seconds": builds,
        "passed": outcomes.iter().filter(|o| o.passed).count(),
        "failed": outcomes.iter().filter(|o| !o.passed).count(),
    });
    report::write_atomic(
        Path::new(REPORT_JSON),
        &serde_json::to_string_pretty(&json).context("serializing the report")?,
    )?;
    report::write_atomic(
        Path::new(REPORT_JUNIT),
        &report::junit("docker-test", &outcomes),
    )?;
    println!("\nreport: {REPORT_JSON}, {REPORT_JUNIT}");
    let others = engine.containers_of_any_run()?.len();
    if others > 0 {
        println!(
            "note: {others} container(s) of other or killed xtask runs exist; remove them with\n  docker rm -f $(docker ps -aq --filter label={})",
            crate::engine::LABEL
        );
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if failed > 0 {
        eprintln!("error: {failed} check(s) failed; see the table above and target/xtask/logs/");
    }
    println!("{}", report::closing_line("docker-test", &outcomes));
    if failed > 0 {
        return Err(report::AlreadyReported.into());
    }
    Ok(())
}
