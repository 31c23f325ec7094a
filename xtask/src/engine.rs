//! The only module that talks to Docker (bollard). Async stays in here: one
//! tokio runtime, blocking functions outside.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::{body_full, Docker};
use futures_util::StreamExt;

/// Every container the tool creates carries this label, its value naming the run, so
/// that a run checks its own cleanup and not that of a run beside it.
pub const LABEL: &str = "io.musicdl.xtask";

/// This process's value of [`LABEL`].
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{nanos}", std::process::id())
    })
}

static TRACKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
    pub socket: String,
}

#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub created: String,
    pub labels: HashMap<String, String>,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub workdir: String,
    pub user: String,
}

impl ImageInfo {
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub created_by: String,
    pub size: u64,
}

pub struct BuildRequest<'a> {
    pub context: Vec<u8>,
    pub dockerfile: &'a str,
    pub tag: &'a str,
    pub target: Option<&'a str>,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub no_cache: bool,
}

#[derive(Default)]
pub struct RunSpec<'a> {
    pub image: &'a str,
    pub argv: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub env: Vec<String>,
    /// Copy this path out of the container after it exits (tar bytes).
    pub copy_out: Option<String>,
    pub timeout: Option<Duration>,
}

pub struct RunOutput {
    pub exit_code: i64,
    pub output: String,
    pub copied: Option<Vec<u8>>,
}

fn docker_host() -> Option<String> {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
}

fn socket_name() -> String {
    docker_host().unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

impl Engine {
    pub fn connect() -> Result<Engine> {
        let socket = socket_name();
        let unreachable = || {
            format!("cannot reach the Docker engine at {socket}\nhint: start it (dockerd &) or set DOCKER_HOST")
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        let docker = if docker_host().is_some() {
            Docker::connect_with_defaults()
        } else {
            Docker::connect_with_local_defaults()
        }
        .with_context(unreachable)?;
        let docker = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version()).await
            })
            .map_err(|_| anyhow!("no answer within 10 s"))
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(unreachable)?;
        install_ctrlc_cleanup(docker.clone());
        Ok(Engine { docker, rt, socket })
    }

    pub fn inspect(&self, image: &str) -> Result<Option<ImageInfo>> {
        match self.rt.block_on(self.docker.inspect_image(image)) {
            Ok(i) => {
                let cfg = i.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    size: i.size.unwrap_or(0).max(0) as u64,
                    created: i.created.map(|c| c.to_string()).unwrap_or_default(),
                    labels: cfg.labels.unwrap_or_default(),
                    env: cfg.env.unwrap_or_default(),
                    entrypoint: cfg.entrypoint.unwrap_or_default(),
                    cmd: cfg.cmd.unwrap_or_default(),
                    workdir: cfg.working_dir.unwrap_or_default(),
                    user: cfg.user.unwrap_or_default(),
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("inspecting image {image}")),
        }
    }

    pub fn require(&self, image: &str) -> Result<ImageInfo> {
        self.inspect(image)?
            .ok_or_else(|| anyhow!("image {image} is not present"))
    }

    pub fn pull(&self, image: &str, timeout: Duration) -> Result<()> {
        let (name, tag) = match image.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t),
            _ => (image, "latest"),
        };
        let opts = CreateImageOptionsBuilder::default()
            .from_image(name)
            .tag(tag)
            .build();
        let fut = async {
            let mut s = self.docker.create_image(Some(opts), None, None);
            while let Some(item) = s.next().await {
                item?;
            }
            Ok::<_, bollard::errors::Error>(())
        };
        self.rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
            .map_err(|_| anyhow!("no answer within {} s", timeout.as_secs()))?
            .with_context(|| format!("pulling {image}"))
    }

    /// Build and stream each output line to `on_line`. Returns the image id.
    pub fn build(&self, req: BuildRequest, on_line: &mut dyn FnMut(&str)) -> Result<String> {
        let mut b = BuildImageOptionsBuilder::default()
            .dockerfile(req.dockerfile)
            .t(req.tag)
            .rm(true)
            .forcerm(true)
            .nocache(req.no_cache)
            .buildargs(&req.build_args)
            .labels(&req.labels);
        if let Some(t) = req.target {
            b = b.target(t);
        }
        let opts = b.build();
        let body = body_full(req.context.into());
        self.rt.block_on(async {
            let mut stream = self.docker.build_image(opts, None, Some(body));
            let mut id = None;
            let mut pending = String::new();
            while let Some(item) = stream.next().await {
                let info = item.context("build stream from the engine")?;
                if let Some(s) = info.stream {
                    pending.push_str(&s);
                    while let Some(i) = pending.find('\n') {
                        let line: String = pending.drain(..=i).collect();
                        let line = line.trim_end();
                        if let Some(rest) = line.strip_prefix("Successfully built ") {
                            id = Some(rest.trim().to_string());
                        }
                        on_line(line);
                    }
                }
                if let Some(status) = info.status {
                    on_line(status.trim_end());
                }
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    if !pending.is_empty() {
                        on_line(pending.trim_end());
                    }
                    bail!("{}", err.trim_end());
                }
                if let Some(aux) = info.aux.and_then(|a| a.id) {
                    id = Some(aux);
                }
            }
            if !pending.is_empty() {
                on_line(pending.trim_end());
            }
            id.ok_or_else(|| anyhow!("the engine finished the build without an image id"))
        })
    }

    pub fn history(&self, image: &str) -> Result<Vec<Layer>> {
        let h = self
            .rt
            .block_on(self.docker.image_history(image))
            .with_context(|| format!("reading the history of {image}"))?;
        Ok(h.into_iter()
            .map(|l| Layer {
                created_by: l.created_by,
                size: l.size.max(0) as u64,
            })
            .collect())
    }

    /// `docker save` as a stream of chunks.
    pub fn save(&self, image: &str, sink: &mut dyn std::io::Write) -> Result<()> {
        self.rt.block_on(async {
            let mut s = self.docker.export_image(image);
            while let Some(chunk) = s.next().await {
                let chunk = chunk.with_context(|| format!("saving {image}"))?;
                sink.write_all(&chunk).context("writing the saved image")?;
            }
            Ok(())
        })
    }

    pub fn tag_exists(&self, image: &str) -> Result<bool> {
        Ok(self.inspect(image)?.is_some())
    }

    /// Run a throwaway container: entrypoint = argv[0], cmd = the rest. The
    /// container is removed on every path out.
    pub fn run(&self, spec: RunSpec) -> Result<RunOutput> {
        let (first, rest) = spec
            .argv
            .split_first()
            .ok_or_else(|| anyhow!("empty command"))?;
        let body = ContainerCreateBody {
            image: Some(spec.image.to_string()),
            entrypoint: Some(vec![first.clone()]),
            cmd: Some(rest.to_vec()),
            user: spec.user.clone(),
            working_dir: spec.workdir.clone(),
            env: if spec.env.is_empty() {
                None
            } else {
                Some(spec.env.clone())
            },
            labels: Some(HashMap::from([(LABEL.to_string(), run_id().to_string())])),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(interrupted());
        }
        let created = self
            .rt
            .block_on(
                self.docker
                    .create_container(Some(CreateContainerOptionsBuilder::default().build()), body),
            )
            .with_context(|| format!("creating a container from {}", spec.image))?;
        let guard = ContainerGuard::new(self, created.id.clone());
        let id = guard.id.clone();
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(interrupted());
        }
        let timeout = spec.timeout.unwrap_or(Duration::from_secs(600));
        let result = self.rt.block_on(async {
            self.docker
                .start_container(&id, None)
                .await
                .with_context(|| format!("starting `{}` in {}", spec.argv.join(" "), spec.image))?;
            let mut wait = self.docker.wait_container(&id, None);
            let code = match tokio::time::timeout(timeout, wait.next()).await {
                Err(_) => bail!(
                    "`{}` did not finish within {} s",
                    spec.argv.join(" "),
                    timeout.as_secs()
                ),
                Ok(None) => bail!("the engine closed the wait stream"),
                Ok(Some(Ok(r))) => r.status_code,
                Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError {
                    code, ..
                }))) => code,
                Ok(Some(Err(e))) => return Err(e).context("waiting for the container"),
            };
            let opts = LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build();
            let mut logs = self.docker.logs(&id, Some(opts));
            let mut output = String::new();
            while let Some(l) = logs.next().await {
                output.push_str(&l.context("reading container logs")?.to_string());
            }
            let copied = match &spec.copy_out {
                None => None,
                Some(path) => {
                    let opts = DownloadFromContainerOptionsBuilder::default()
                        .path(path)
                        .build();
                    let mut s = self.docker.download_from_container(&id, Some(opts));
                    let mut buf = Vec::new();
                    let mut ok = true;
                    while let Some(c) = s.next().await {
                        match c {
                            Ok(c) => buf.extend_from_slice(&c),
                            Err(_) => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    ok.then_some(buf)
                }
            };
            Ok(RunOutput {
                exit_code: code,
                output,
                copied,
            })
        });
        drop(guard);
        if result.is_err() && INTERRUPTED.load(Ordering::SeqCst) {
            return Err(interrupted()); // the engine's answer to the cleanup, not a finding
        }
        result
    }

    fn remove(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = self
            .rt
            .block_on(self.docker.remove_container(id, Some(opts)));
        untrack(id);
    }

    /// Remove an image by tag (its untagged parents go with it); a missing one is fine.
    pub fn remove_image(&self, image: &str) -> Result<()> {
        let opts = RemoveImageOptionsBuilder::default().force(true).build();
        match self
            .rt
            .block_on(self.docker.remove_image(image, Some(opts), None))
        {
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing image {image}")),
        }
    }

    /// Containers this run started that still exist (for cleanup verification).
    pub fn labelled_containers(&self) -> Result<Vec<String>> {
        self.containers_labelled(&format!("{LABEL}={}", run_id()))
    }

    /// Containers any run of the tool started that still exist, e.g. after a `kill -9`.
    pub fn containers_of_any_run(&self) -> Result<Vec<String>> {
        self.containers_labelled(LABEL)
    }

    fn containers_labelled(&self, label: &str) -> Result<Vec<String>> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .rt
            .block_on(self.docker.list_containers(Some(opts)))
            .context("listing containers")?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }
}

struct ContainerGuard<'a> {
    engine: &'a Engine,
    id: String,
}

impl<'a> ContainerGuard<'a> {
    fn new(engine: &'a Engine, id: String) -> Self {
        if let Ok(mut t) = TRACKED.lock() {
            t.push(id.clone());
        }
        ContainerGuard { engine, id }
    }
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        self.engine.remove(&self.id);
    }
}

/// After a signal the cleanup thread ends the process within a second or two; until
/// then the main thread starts nothing and reports nothing (no "FAIL: …" for checks
/// cut short). Bounded, in case the cleanup itself hangs.
fn interrupted() -> anyhow::Error {
    for _ in 0..300 {
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow!("interrupted")
}

fn untrack(id: &str) {
    if let Ok(mut t) = TRACKED.lock() {
        t.retain(|x| x != id);
    }
}

/// Ctrl-C, SIGTERM (CI cancelling, `timeout`) or SIGHUP (a closed terminal): remove
/// every tracked container, then exit 128 + the signal's number. Runs on its own thread
/// so it fires even while the main thread blocks on a host tool.
fn install_ctrlc_cleanup(docker: Docker) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                let (_, which, _) = futures_util::future::select_all([
                    Box::pin(int.recv()),
                    Box::pin(term.recv()),
                    Box::pin(hup.recv()),
                ])
                .await;
                let (name, code) = [("Ctrl-C", 130), ("SIGTERM", 143), ("SIGHUP", 129)][which];
                INTERRUPTED.store(true, Ordering::SeqCst);
                eprintln!("\n{name}: removing the containers this run started");
                // a second pass catches a container whose create was in flight
                for pass in 0..2 {
                    if pass == 1 {
                        tokio::time::sleep(Duration::from_millis(700)).await;
                    }
                    let ids: Vec<String> = TRACKED.lock().map(|t| t.clone()).unwrap_or_default();
                    for id in ids {
                        let opts = RemoveContainerOptionsBuilder::default()
                            .force(true)
                            .v(true)
                            .build();
                        let _ = docker.remove_container(&id, Some(opts)).await;
                        untrack(&id);
                    }
                }
                std::process::exit(code);
            });
        });
    });
}
