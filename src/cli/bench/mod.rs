//! `handover-gateway bench`: drives a real gateway process over real mutual
//! TLS with the certificates of a whole province's agencies, and the same
//! load against a bare tonic echo on the same TLS setup, the ceiling every
//! figure is compared with. See BENCHMARKS.md for how to read it.
//!
//! The run makes its own workspace (CA, agency certificates, config with
//! limits out of the way, SQLite file or a fresh PostgreSQL database),
//! seeds the cases the replay and query scenarios need in process, then
//! starts the gateway and the echo as child processes of this binary.

mod closed_loop;
mod database_server;
mod echo;
mod medians;
mod memory;
mod procfs;
mod province;
mod push;
mod query;
mod replay;
mod report;
mod scenarios;
mod seed;
mod spawn;
mod stats;
mod submit;
mod workspace;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use province::Province;
use report::Report;
use workspace::Workspace;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Submit,
    Push,
    Replay,
    Query,
    Memory,
    /// The bare tonic echo ceiling, run next to every other scenario.
    Echo,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "submit,push,replay,query,memory,echo"
    )]
    scenario: Vec<Scenario>,
    /// Tiny counts, a few seconds in all: checks that the tool still works.
    #[arg(long)]
    smoke: bool,
    /// A PostgreSQL server URL (any database on it); the run creates a
    /// database `hg_bench_<uuid>` there and drops it after [default: SQLite].
    #[arg(long)]
    database: Option<String>,
    /// Concurrent submitters, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    concurrency: Vec<usize>,
    /// How long each closed-loop measurement and the push run last.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Submissions per second while push latency is measured.
    #[arg(long, default_value_t = 1000)]
    push_rate: u32,
    /// Unacknowledged messages in the police inbox that is replayed.
    #[arg(long, default_value_t = 100_000)]
    backlog: u64,
    /// Cases stored before the status queries (the backlog's included);
    /// only the query scenario stores them [default: 1000000].
    #[arg(long)]
    cases: Option<u64>,
    /// Concurrent status queries, one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    query_concurrency: Vec<usize>,
    /// Open inbox subscriptions while resident memory is read.
    #[arg(long, default_value_t = 2000)]
    subscriptions: usize,
    /// Counties of the province, each with a project and police.
    #[arg(long, default_value_t = 105)]
    counties: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Folder for the run's workspace [default: the system temp folder].
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Keep the workspace (and PostgreSQL database) after the run.
    #[arg(long)]
    keep: bool,
    /// Runs nothing: prints the medians of reports that `--json` wrote
    /// (whole runs of one backend), each target judged on its median;
    /// each row notes every run's figures in the order given.
    #[arg(long, num_args = 1.., value_name = "REPORT")]
    medians: Vec<PathBuf>,
    /// Internal: serve the echo ceiling with the TLS files of this folder.
    #[arg(long, hide = true)]
    echo_server: Option<PathBuf>,
    /// Internal: the echo's inbox backlog.
    #[arg(long, hide = true, default_value_t = 0)]
    echo_backlog: u64,
}

/// How long a stopped process gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// How long or how many: a measurement stops at whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub duration: Duration,
    pub calls: Option<u64>,
}

impl BenchArgs {
    fn has(&self, scenario: Scenario) -> bool {
        self.scenario.contains(&scenario)
    }

    /// `--smoke` replaces the counts with tiny ones.
    fn shrink_for_smoke(&mut self) {
        if self.smoke {
            self.concurrency = vec![1, 4];
            self.query_concurrency = vec![1, 4];
            self.duration = Duration::from_secs(2);
            self.push_rate = 50;
            self.backlog = 100;
            self.cases = Some(200);
            self.subscriptions = 40;
            self.counties = 12;
        }
    }

    /// The cases the query scenario stores.
    fn cases(&self) -> u64 {
        self.cases.unwrap_or(1_000_000)
    }

    /// A warning when `--cases` was given to a run that stores no cases
    /// for it: such a run's tables hold only the replay backlog, whatever
    /// the command line says.
    fn unused_cases(&self, asked: Option<u64>) -> Option<String> {
        let asked = asked.filter(|_| !self.has(Scenario::Query))?;
        let stored = match self.stored() {
            (0, _) => "none".into(),
            (backlog, _) => format!("{backlog} (the replay backlog)"),
        };
        Some(format!(
            "warning: --cases {asked} stores cases only for the query scenario; \
             this run stores {stored}"
        ))
    }

    /// The cases the run stores before it measures: the replay county's
    /// backlog, and all of them.
    fn stored(&self) -> (u64, u64) {
        let backlog = if self.has(Scenario::Replay) {
            self.backlog
        } else {
            0
        };
        let total = if self.has(Scenario::Query) {
            self.cases().max(backlog).max(1)
        } else {
            backlog
        };
        (backlog, total)
    }

    fn limit(&self) -> Limit {
        Limit {
            duration: self.duration,
            calls: self.smoke.then_some(24),
        }
    }
}

/// # Errors
/// When the workspace, the seeding, a process or a scenario fails.
pub async fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    if let Some(certs) = &args.echo_server {
        return echo::serve(certs, args.echo_backlog).await;
    }
    if !args.medians.is_empty() {
        return medians::of(&args.medians)?.print(args.json);
    }
    let asked = args.cases;
    args.shrink_for_smoke();
    if let Some(warning) = args.unused_cases(asked) {
        eprintln!("{warning}");
    }
    let workspace =
        Workspace::create(args.workdir.as_deref(), args.database.as_deref(), args.keep).await?;
    // Ctrl-C still removes the workspace and the database; the servers
    // are killed when `measure` is dropped.
    let report = tokio::select! {
        report = measure(&args, &workspace) => report,
        () = crate::server::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    workspace.remove().await;
    report?.print(args.json)
}

async fn measure(args: &BenchArgs, workspace: &Workspace) -> anyhow::Result<Report> {
    let mut province = Province::new(args.counties)?;
    let agencies = workspace.register(&province).await?;
    // Asked before anything is measured: a failure here costs the run
    // only this note.
    let (connection, server) = match workspace.reach().await {
        Ok(Some(reach)) => (Some(reach.how), reach.server),
        Ok(None) => (None, None),
        Err(error) => {
            eprintln!("warning: could not tell how the gateway reaches PostgreSQL: {error:#}");
            (None, None)
        }
    };
    let (backlog, total) = args.stored();
    province.seeded(total, backlog);
    let seed_seconds = if total > 0 {
        eprintln!("seeding {total} cases ({backlog} in the replay county) ...");
        let seconds = seed::seed(workspace, &province, total).await?.as_secs_f64();
        workspace.checkpoint().await;
        Some(seconds)
    } else {
        None
    };
    workspace.write_config()?;
    let province = Arc::new(province);
    let mut gateway = spawn::gateway(workspace)?;
    if let Some(server) = server {
        eprintln!(
            "counting the work of the PostgreSQL server's processes (postmaster pid {})",
            server.postmaster()
        );
        gateway.count_server_work(server);
    }
    let echo = if args.has(Scenario::Echo) {
        match spawn::echo(workspace, backlog) {
            Ok(echo) => Some(echo),
            Err(error) => {
                gateway.stop(STOP_GRACE).await;
                return Err(error);
            }
        }
    } else {
        None
    };
    eprintln!(
        "gateway pid {}{}",
        gateway.pid(),
        echo.as_ref()
            .map_or(String::new(), |e| format!(", echo pid {}", e.pid()))
    );
    let rows = scenarios::run(args, &province, &gateway, echo.as_ref()).await;
    let gateway_peak_mb = gateway.memory().ok().map(|m| m.peak_mb);
    gateway.stop(STOP_GRACE).await;
    if let Some(echo) = echo {
        echo.stop(STOP_GRACE).await;
    }
    Ok(Report {
        backend: workspace.backend_name().into(),
        connection,
        runs: 1,
        agencies,
        cases_stored: total,
        seed_seconds,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        gateway_peak_mb,
        rows: rows?,
    })
}
