//! Each scenario on the echo ceiling (when it runs), then on the gateway,
//! as rows of the report with the target the issue sets.

use std::sync::Arc;

use super::province::Province;
use super::report::{Row, judge, submit_case};
use super::spawn::Target;
use super::stats::Summary;
use super::{BenchArgs, Scenario, memory, push, query, replay, submit};

type Pair = (Summary, Option<Summary>);

/// Runs `measure` on the echo (when there is one), then on the gateway,
/// each with the CPU time its process spent and what it wrote to storage,
/// per success; the gateway's also with its database server's.
async fn pair<'a, F, Fut>(
    gateway: &'a Target,
    echo: Option<&'a Target>,
    measure: F,
) -> anyhow::Result<Pair>
where
    F: Fn(&'a Target) -> Fut,
    Fut: Future<Output = anyhow::Result<Summary>>,
{
    let echoed = match echo {
        Some(echo) => Some(with_usage(echo, measure(echo)).await?),
        None => None,
    };
    Ok((with_usage(gateway, measure(gateway)).await?, echoed))
}

async fn with_usage(
    target: &Target,
    measurement: impl Future<Output = anyhow::Result<Summary>>,
) -> anyhow::Result<Summary> {
    let (cpu, disk) = (target.cpu_seconds(), target.disk_bytes());
    let server = target.server_usage();
    let mut summary = measurement.await?;
    let per_success = |spent: f64| spent / summary.count.max(1) as f64;
    if let (Some(before), Some(after)) = (cpu, target.cpu_seconds())
        && summary.count > 0
    {
        summary.cpu_us = Some(per_success((after - before) * 1e6));
    }
    if let (Some(before), Some(after)) = (disk, target.disk_bytes())
        && summary.count > 0
    {
        summary.disk_kb = Some(per_success(after.saturating_sub(before) as f64 / 1024.0));
    }
    if let (Some(before), Some(after)) = (server, target.server_usage())
        && summary.count > 0
    {
        // Never below zero, should a reading still have missed a child.
        let spent = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        summary.server_cpu_us = Some(per_success(spent * 1e6));
        if let (Some(before), Some(after)) = (before.disk_bytes, after.disk_bytes) {
            summary.server_disk_kb =
                Some(per_success(after.saturating_sub(before) as f64 / 1024.0));
        }
    }
    Ok(summary)
}

fn row(scenario: &'static str, case: String, unit: &'static str, (gateway, echo): Pair) -> Row {
    Row {
        scenario: scenario.into(),
        target: judge(scenario, &case, &gateway),
        case,
        unit: unit.into(),
        gateway,
        echo,
        note: String::new(),
    }
}

/// Every selected scenario. Memory comes first, on processes that have
/// served nothing yet: the allocator keeps what a later scenario's load
/// made it take, which would be counted against the subscriptions.
pub async fn run(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    if args.has(Scenario::Memory) {
        rows.push(subscriptions(args, province, gateway, echo).await?);
    }
    if args.has(Scenario::Submit) {
        for &concurrency in &args.concurrency {
            rows.push(submissions(args, province, gateway, echo, concurrency).await?);
        }
    }
    if args.has(Scenario::Push) {
        rows.push(pushes(args, province, gateway, echo).await?);
    }
    if args.has(Scenario::Replay) {
        rows.push(replays(args, province, gateway, echo).await?);
    }
    if args.has(Scenario::Query) {
        for &concurrency in &args.query_concurrency {
            rows.push(queries(args, province, gateway, echo, concurrency).await?);
        }
    }
    Ok(rows)
}

async fn submissions(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
    concurrency: usize,
) -> anyhow::Result<Row> {
    eprintln!("submit at concurrency {concurrency} ...");
    let limit = args.limit();
    let figures = pair(gateway, echo, |t| {
        submit::run(t, province, concurrency, limit)
    })
    .await?;
    Ok(row("submit", submit_case(concurrency), "calls/s", figures))
}

async fn pushes(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
) -> anyhow::Result<Row> {
    eprintln!("push at {}/s ...", args.push_rate);
    let limit = args.limit();
    let figures = pair(gateway, echo, |t| {
        push::run(t, province, args.push_rate, limit)
    })
    .await?;
    Ok(row(
        "push",
        format!("{}/s open loop", args.push_rate),
        "messages/s",
        figures,
    ))
}

async fn replays(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
) -> anyhow::Result<Row> {
    eprintln!("replay of {} messages ...", args.backlog);
    let figures = pair(gateway, echo, |t| replay::run(t, province, args.backlog)).await?;
    let mut row = row(
        "replay",
        format!("{} backlog", args.backlog),
        "messages/s",
        figures,
    );
    row.note = "latency columns: the wait for the first message".into();
    Ok(row)
}

async fn queries(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
    concurrency: usize,
) -> anyhow::Result<Row> {
    eprintln!("query at concurrency {concurrency} ...");
    let limit = args.limit();
    let figures = pair(gateway, echo, |t| {
        query::run(t, province, concurrency, limit)
    })
    .await?;
    let case = format!(
        "concurrency {concurrency}, {} seeded",
        province.seeded_count()
    );
    Ok(row("query", case, "calls/s", figures))
}

async fn subscriptions(
    args: &BenchArgs,
    province: &Arc<Province>,
    gateway: &Target,
    echo: Option<&Target>,
) -> anyhow::Result<Row> {
    eprintln!("memory with {} subscriptions ...", args.subscriptions);
    let echoed = match echo {
        Some(echo) => Some(memory::run(echo, province, args.subscriptions).await?),
        None => None,
    };
    let figures = memory::run(gateway, province, args.subscriptions).await?;
    let echo_before = echoed.as_ref().map_or(String::new(), |e| {
        format!("; echo before {:.1} MB", e.before_mb)
    });
    let note = format!(
        "gateway RSS before opening {:.1} MB, peak so far {:.1} MB{echo_before}",
        figures.before_mb, figures.peak_mb
    );
    let case = format!("{} subscriptions", args.subscriptions);
    let mut row = row(
        "memory",
        case,
        "open",
        (figures.summary, echoed.map(|e| e.summary)),
    );
    row.note = note;
    Ok(row)
}
