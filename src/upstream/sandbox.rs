//! The sandbox platform-hosted servers run in: bubblewrap (`bwrap`, from
//! Debian's `bubblewrap`) for what a child can see, resource limits for
//! what it can use. ARCHITECTURE.md says why bubblewrap rather than
//! Landlock.
//!
//! **What a child sees.** The whole file system read-only, except: the
//! platform's data directory (keys, the SQLite database), the database's
//! own directory, the directory of every child's home and `/run` (host
//! sockets) are hidden behind empty tmpfs mounts; `/tmp` and the platform
//! user's home are too, but for what the program, its script's interpreter
//! and its arguments need from them (bound back read-only); its own home
//! and working directory are bound back read-write; `/proc` is its own pid
//! namespace's (the platform's processes, their environments included, are
//! not there). It shares the host's network
//! (servers call APIs). It has no capabilities, even when the platform
//! runs as root, and cannot create user namespaces.
//!
//! **What a child may use.** Memory, processes (threads count), CPU time
//! and open files are limited. Where the platform can create cgroup v1
//! memory and pids groups (as root on a cgroup v1 host), each child gets
//! its own: the kernel stops a child at its memory limit (an OOM kill, read
//! back from the group's counter) and refuses forks past the task limit.
//! Otherwise the limits are rlimits set inside the sandbox (by `omnimcp
//! contain`, so the task count is the sandbox's own user namespace's), and a
//! watchdog stops a child whose resident memory passes the limit. Either
//! way only that child is stopped; its calls get a clear error and the
//! others go on.

use std::{
    ffi::CString,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use super::UpstreamError;

/// How children are confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    /// bubblewrap and resource limits (the default).
    Bubblewrap,
    /// No sandbox: the child runs as the platform does, with only a cleared
    /// environment. For machines without bubblewrap, in development.
    Off,
}

/// What one child may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpu_secs: u64,
    /// Processes and threads.
    pub tasks: u64,
    pub open_files: u64,
}

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub mode: SandboxMode,
    /// Directories no child may see: the data directory, the database's.
    pub hidden: Vec<PathBuf>,
    /// The directory of every child's home and working directory.
    pub process_dir: PathBuf,
    pub limits: Limits,
    /// The `omnimcp` binary, whose `contain` command sets the limits inside.
    pub self_exe: PathBuf,
    /// Use cgroups where the platform may create them.
    pub cgroups: bool,
}

/// Why the sandbox stopped a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Memory { limit_bytes: u64 },
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Memory { limit_bytes } => {
                write!(f, "it used more than its memory limit of {} MiB", limit_bytes / (1024 * 1024))
            }
        }
    }
}

/// A child's home and working directory.
pub struct Dirs {
    pub home: PathBuf,
    pub work: PathBuf,
}

/// The cgroup v1 hierarchies the platform may create groups in.
#[derive(Debug, Default)]
struct Cgroups {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
}

/// One child's confinement, between building its command and watching it.
pub struct Confinement {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
}

pub struct Sandbox {
    config: SandboxConfig,
    cgroups: Cgroups,
    /// Whether `bwrap` was found (checked once, at start).
    bwrap_found: bool,
    next: AtomicU64,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        let cgroups = match (config.mode, config.cgroups) {
            (SandboxMode::Bubblewrap, true) => Cgroups::detect(),
            _ => Cgroups::default(),
        };
        let bwrap_found = config.mode == SandboxMode::Off || on_path("bwrap");
        if !bwrap_found {
            tracing::error!(
                "bubblewrap (bwrap) is not installed: platform-hosted servers cannot start; \
                 install the bubblewrap package (or, in development only, start with --sandbox off)"
            );
        }
        tracing::info!(
            mode = ?config.mode,
            memory_cgroup = cgroups.memory.is_some(),
            pids_cgroup = cgroups.pids.is_some(),
            "sandbox for platform-hosted servers"
        );
        Self { config, cgroups, bwrap_found, next: AtomicU64::new(0) }
    }

    pub fn limits(&self) -> Limits {
        self.config.limits
    }

    /// Whether children get memory cgroups (else the watchdog stops them).
    pub fn uses_cgroups(&self) -> bool {
        self.cgroups.memory.is_some()
    }

    /// Creates a tenant's home and working directory (owner-only).
    pub fn prepare(&self, tenant: &str) -> Result<Dirs, UpstreamError> {
        if !self.bwrap_found {
            return Err(UpstreamError::Unavailable(
                "the platform cannot run this server: its sandbox (bubblewrap) is not installed".into(),
            ));
        }
        let dir = self.config.process_dir.join(tenant);
        let dirs = Dirs { home: dir.join("home"), work: dir.join("work") };
        for d in [&dirs.home, &dirs.work] {
            std::fs::create_dir_all(d)
                .map_err(|e| UpstreamError::Unavailable(format!("cannot prepare the process directory: {e}")))?;
        }
        restrict(&self.config.process_dir);
        restrict(&dir);
        Ok(dirs)
    }

    /// The command that runs `program` confined, with exactly `env` as its
    /// environment.
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        dirs: &Dirs,
        env: &[(String, String)],
    ) -> (tokio::process::Command, Confinement) {
        let mut confinement = Confinement { memory: None, pids: None };
        let mut cmd = match self.config.mode {
            SandboxMode::Off => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(args);
                cmd
            }
            SandboxMode::Bubblewrap => {
                let mut cmd = tokio::process::Command::new("bwrap");
                cmd.args(self.bwrap_args(program, args, dirs));
                confinement = self.cgroups.create(self.next.fetch_add(1, Ordering::Relaxed), self.config.limits);
                join_cgroups(&mut cmd, &confinement);
                cmd
            }
        };
        cmd.current_dir(&dirs.work).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        (cmd, confinement)
    }

    /// bubblewrap's arguments (see the module docs); mounts apply in order.
    fn bwrap_args(&self, program: &Path, args: &[String], dirs: &Dirs) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-all",
            "--share-net",
            "--unshare-user",
            "--disable-userns",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut push = |flag: &str, paths: &[&Path]| {
            a.push(flag.to_string());
            a.extend(paths.iter().map(|p| p.display().to_string()));
        };
        // `/tmp` (private and small) and the platform user's home are
        // hidden, but for what the program, its script's interpreter and
        // its arguments live in (a checkout under /tmp, a Python under
        // ~/.pyenv): the directory right below the hidden one that holds
        // each is bound back read-only.
        push("--size", &[Path::new("67108864")]);
        push("--tmpfs", &[Path::new("/tmp")]);
        let masked: Vec<PathBuf> = std::iter::once(PathBuf::from("/tmp")).chain(platform_home()).collect();
        for home in masked.iter().skip(1) {
            push("--tmpfs", &[home]);
        }
        let program = resolve(program);
        let wanted = [program.clone(), self.config.self_exe.clone()]
            .into_iter()
            .chain(interpreter(&program))
            .chain(args.iter().map(PathBuf::from).filter(|p| p.is_absolute()));
        let mut exposed: Vec<PathBuf> = Vec::new();
        for path in wanted {
            let Some(top) = masked.iter().find_map(|root| top_under(root, &path)) else { continue };
            if !exposed.iter().any(|e| top.starts_with(e)) {
                push("--ro-bind", &[&top, &top]);
                exposed.push(top);
            }
        }
        for hidden in self.config.hidden.iter().chain(std::iter::once(&self.config.process_dir)) {
            push("--tmpfs", &[hidden]);
        }
        push("--bind", &[&dirs.home, &dirs.home]);
        push("--bind", &[&dirs.work, &dirs.work]);
        push("--chdir", &[&dirs.work]);
        // Inside, `omnimcp contain` sets the limits and becomes the program.
        let l = self.config.limits;
        a.push("--".into());
        a.push(self.config.self_exe.display().to_string());
        a.push("contain".into());
        for (flag, value) in [
            // A backstop above the limit the cgroup or the watchdog enforces:
            // allocations past it fail outright.
            ("--memory-bytes", l.memory_bytes * if self.cgroups.memory.is_some() { 4 } else { 2 }),
            ("--cpu-secs", l.cpu_secs),
            ("--tasks", l.tasks),
            ("--open-files", l.open_files),
        ] {
            a.push(flag.into());
            a.push(value.to_string());
        }
        a.push("--".into());
        a.push(program.display().to_string());
        a.extend(args.iter().cloned());
        a
    }

    /// Watches a started child: stops it when its resident memory passes
    /// the limit where no memory cgroup does that, and removes its groups
    /// once it is gone. The [`Watch`] says why the sandbox stopped it.
    pub fn watch(&self, confinement: Confinement, pid: u32) -> Arc<Watch> {
        let limit = self.config.limits.memory_bytes;
        let watch = Arc::new(Watch { limit, confinement, verdict: Mutex::new(None) });
        let enforce = self.config.mode == SandboxMode::Bubblewrap && watch.confinement.memory.is_none();
        let watching = watch.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while alive(pid) {
                if enforce && resident_bytes(pid) > limit {
                    *watching.verdict.lock().expect("verdict lock") = Some(Verdict::Memory { limit_bytes: limit });
                    kill(pid);
                }
                if watching.oom_killed() {
                    // The kernel killed the largest task; stop the rest.
                    kill(pid);
                }
                tick.tick().await;
            }
            // The group's counter goes with the group: read it first.
            if watching.oom_killed() {
                *watching.verdict.lock().expect("verdict lock") = Some(Verdict::Memory { limit_bytes: limit });
            }
            // Empty groups can be removed once their last task is reaped.
            for group in watching.confinement.memory.iter().chain(watching.confinement.pids.iter()) {
                for _ in 0..50 {
                    if std::fs::remove_dir(group).is_ok() || !group.exists() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        watch
    }
}

/// What the sandbox knows of one child.
pub struct Watch {
    limit: u64,
    confinement: Confinement,
    /// Set by the watchdog when it stopped the child.
    verdict: Mutex<Option<Verdict>>,
}

impl Watch {
    /// Why the sandbox stopped the child, if it did (asked when the child's
    /// connection broke: the kernel's counter is read there and then).
    pub fn verdict(&self) -> Option<Verdict> {
        if self.oom_killed() {
            return Some(Verdict::Memory { limit_bytes: self.limit });
        }
        self.verdict.lock().expect("verdict lock").clone()
    }

    fn oom_killed(&self) -> bool {
        self.confinement.memory.as_deref().is_some_and(|group| oom_kills(group) > 0)
    }
}

impl Cgroups {
    /// The cgroup v1 memory and pids groups this process is in, if it may
    /// create groups below them (tried with a probe).
    fn detect() -> Self {
        let Ok(table) = std::fs::read_to_string("/proc/self/cgroup") else { return Self::default() };
        let find = |controller: &str| {
            table.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| PathBuf::from(format!("/sys/fs/cgroup/{controller}{}", path.trim_end_matches('/'))))
            })
        };
        let usable = |dir: Option<PathBuf>| {
            let dir = dir?;
            // Unique per call: several platforms in one process (tests)
            // probe at once, and a shared name made one of them fail.
            static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let probe = dir.join(format!("omnimcp-probe-{}-{n}", std::process::id()));
            let ok = std::fs::create_dir(&probe).is_ok() && std::fs::remove_dir(&probe).is_ok();
            ok.then_some(dir)
        };
        Self { memory: usable(find("memory")), pids: usable(find("pids")) }
    }

    /// Groups for one child, with its limits written.
    fn create(&self, n: u64, limits: Limits) -> Confinement {
        let name = format!("omnimcp-{}-{n}", std::process::id());
        let make = |parent: &Option<PathBuf>, file: &str, value: u64| {
            let dir = parent.as_ref()?.join(&name);
            std::fs::create_dir(&dir).ok()?;
            match std::fs::write(dir.join(file), value.to_string()) {
                Ok(()) => Some(dir),
                Err(e) => {
                    tracing::warn!(error = %e, group = %dir.display(), "could not set a cgroup limit");
                    let _ = std::fs::remove_dir(&dir);
                    None
                }
            }
        };
        let memory = make(&self.memory, "memory.limit_in_bytes", limits.memory_bytes);
        if let Some(dir) = &memory {
            // Swap would let a child exceed the limit unnoticed.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limits.memory_bytes.to_string());
        }
        Confinement { memory, pids: make(&self.pids, "pids.max", limits.tasks) }
    }
}

/// Puts the child into its groups before it runs anything, so everything
/// it starts is counted from the first instruction.
fn join_cgroups(cmd: &mut tokio::process::Command, confinement: &Confinement) {
    let files: Vec<CString> = confinement
        .memory
        .iter()
        .chain(confinement.pids.iter())
        .filter_map(|dir| CString::new(dir.join("cgroup.procs").display().to_string()).ok())
        .collect();
    if files.is_empty() {
        return;
    }
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (open, write, close) on buffers prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for file in &files {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// How many times the kernel OOM-killed a task of this memory group.
fn oom_kills(group: &Path) -> u64 {
    std::fs::read_to_string(group.join("memory.oom_control"))
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("oom_kill ").and_then(|n| n.trim().parse().ok())))
        .unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) is not alive.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn kill(pid: u32) {
    // SAFETY: kill(2) with a pid we started; bwrap's death takes the whole
    // sandbox (its pid namespace) with it.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// The resident memory of a process and all its descendants.
fn resident_bytes(pid: u32) -> u64 {
    let mut total = 0;
    let mut pending = vec![pid];
    let mut seen = 0;
    while let Some(p) = pending.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            let kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            total += kb * 1024;
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                    pending.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
                }
            }
        }
    }
    total
}

/// The interpreter a script names on its `#!` line (`/usr/bin/env X`:
/// `X` as found on `PATH`).
fn interpreter(program: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program).and_then(|mut f| f.read(&mut head)).ok()?;
    let line = std::str::from_utf8(head[..n].strip_prefix(b"#!")?).ok()?.lines().next()?;
    let mut words = line.split_whitespace();
    let first = PathBuf::from(words.next()?);
    if first.file_name().is_some_and(|n| n == "env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        let paths = std::env::var_os("PATH")?;
        return std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file());
    }
    Some(first)
}

/// A program as a path: a bare name is looked up on `PATH`.
fn resolve(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file()));
    found.unwrap_or_else(|| program.to_path_buf())
}

/// Whether a program of this name is on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// The platform user's home directory, when it is one worth hiding.
fn platform_home() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let home = home.canonicalize().ok()?;
    (home.is_absolute() && home.parent().is_some() && home != Path::new("/")).then_some(home)
}

/// The entry directly under `home` that holds `path` (after resolving
/// symlinks), if `path` is inside `home`.
fn top_under(home: &Path, path: &Path) -> Option<PathBuf> {
    let resolved = path.canonicalize().ok()?;
    let rest = resolved.strip_prefix(home).ok()?;
    let first = rest.components().next()?;
    Some(home.join(first))
}

/// Owner-only permissions on a directory of children's files.
fn restrict(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

/// `omnimcp contain`: runs inside the sandbox, sets the limits on itself
/// and becomes the program (the limits then hold for it and everything it
/// starts). The task limit counts within the sandbox's own user namespace
/// here, not the platform user's other processes.
pub fn contain(limits: Limits, program: &str, args: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let set = |resource, soft: u64, hard: u64| -> anyhow::Result<()> {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: setrlimit on our own process with a valid struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            anyhow::bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
        Ok(())
    };
    set(libc::RLIMIT_DATA, limits.memory_bytes, limits.memory_bytes)?;
    // SIGXCPU at the limit, SIGKILL a little later if it is ignored.
    set(libc::RLIMIT_CPU, limits.cpu_secs, limits.cpu_secs + 5)?;
    set(libc::RLIMIT_NPROC, limits.tasks, limits.tasks)?;
    set(libc::RLIMIT_NOFILE, limits.open_files, limits.open_files)?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    // bubblewrap exports PWD; the environment stays the platform's choice.
    let error = std::process::Command::new(program).args(args).env_remove("PWD").exec();
    anyhow::bail!("cannot start {program}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_in_the_home_is_exposed_by_its_top_directory() {
        let home = std::env::temp_dir().canonicalize().unwrap().join(format!("sbx-home-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".tool/bin")).unwrap();
        std::fs::write(home.join(".tool/bin/prog"), "").unwrap();
        assert_eq!(top_under(&home, &home.join(".tool/bin/prog")), Some(home.join(".tool")));
        assert_eq!(top_under(&home, Path::new("/usr/bin/env")), None);
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn what_a_server_needs_under_tmp_is_bound_back_and_the_secrets_stay_hidden() {
        let checkout =
            std::env::temp_dir().canonicalize().unwrap().join(format!("sbx-checkout-{}", std::process::id()));
        std::fs::create_dir_all(checkout.join("bin")).unwrap();
        let program = checkout.join("bin/server");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        let data = checkout.join("data");
        let sandbox = Sandbox::new(SandboxConfig {
            mode: SandboxMode::Bubblewrap,
            hidden: vec![data.clone()],
            process_dir: checkout.join("processes"),
            limits: Limits { memory_bytes: 1 << 26, cpu_secs: 60, tasks: 64, open_files: 64 },
            self_exe: PathBuf::from("/usr/bin/omnimcp"),
            cgroups: false,
        });
        let dirs = Dirs { home: checkout.join("processes/t/home"), work: checkout.join("processes/t/work") };
        let args = sandbox.bwrap_args(&program, &[], &dirs);
        let at =
            |flag: &str, path: &Path| args.windows(2).position(|w| w[0] == flag && w[1] == path.display().to_string());
        let tmp = at("--tmpfs", Path::new("/tmp")).expect("a private /tmp");
        let bound = args.windows(3).position(|w| w[0] == "--ro-bind" && w[1] == checkout.display().to_string());
        let hidden = at("--tmpfs", &data).expect("the data directory hidden");
        assert!(bound.is_some_and(|b| tmp < b && b < hidden), "the checkout comes back, then the data goes: {args:?}");
        assert!(at("--bind", &dirs.home).is_some_and(|b| b > hidden));
        std::fs::remove_dir_all(&checkout).unwrap();
    }

    #[test]
    fn scripts_name_their_interpreter() {
        let dir = std::env::temp_dir().join(format!("sbx-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("server");
        std::fs::write(&script, "#!/opt/python/bin/python3 -u\nprint(1)\n").unwrap();
        assert_eq!(interpreter(&script), Some(PathBuf::from("/opt/python/bin/python3")));
        std::fs::write(&script, "#!/usr/bin/env -S sh -e\n").unwrap();
        assert_eq!(interpreter(&script).and_then(|p| p.file_name().map(|n| n.to_owned())), Some("sh".into()));
        std::fs::write(&script, "\x7fELF").unwrap();
        assert_eq!(interpreter(&script), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn verdicts_read_as_sentences() {
        let v = Verdict::Memory { limit_bytes: 256 * 1024 * 1024 };
        assert_eq!(v.to_string(), "it used more than its memory limit of 256 MiB");
    }
}
