//! The invariant under random use: one county responsible at every
//! moment, its police told of every step, each escalation exactly once,
//! whatever commands, callers and waits come.

use proptest::prelude::*;
use time::Duration;

use super::*;
use crate::domain::lifecycle::CommandDraft;
use crate::domain::testing::shanxi;
use world::World;

mod access;
mod release;
mod world;

/// Short limits against time steps of seconds to weeks, so that deadlines
/// are met and missed alike.
fn short_policy() -> DeadlinePolicy {
    DeadlinePolicy {
        pickup: Duration::DAY,
        report: Duration::days(6),
        transfer_reply: Duration::days(3),
        arrival: Duration::days(5),
        ..DeadlinePolicy::default()
    }
}

/// Field values, valid and not: the registry's counties (140108 has no
/// project), a city, a county outside the province, garbage.
const REGIONS: [&str; 8] = [
    "140105", "140106", "140107", "140202", "140108", "140100", "110105", "1401",
];
/// Free text; one past the end is too long.
const TEXTS: [&str; 4] = ["reason", "", " ", "a\u{7}b"];
const DATES: [(&str, &str); 4] = [
    ("2026-12-01", "2026-12-09"),
    ("2026-12-01", "2026-12-01"),
    ("2026-12-09", "2026-12-01"),
    ("2026-12-01", "2028-01-01"),
];
const CLOSURES: [&str; 4] = ["completed", "other", "imprisoned", "retired"];

/// Indexes into the field values above.
#[derive(Clone, Copy, Debug)]
struct Fields {
    region: usize,
    text: usize,
    dates: usize,
    closure: usize,
}

fn draft(command: usize, fields: Fields) -> CommandDraft {
    let text = TEXTS
        .get(fields.text)
        .map_or_else(|| "x".repeat(501), |text| (*text).to_owned());
    let region = REGIONS[fields.region].to_owned();
    let (from, until) = DATES[fields.dates];
    match command {
        0 => CommandDraft::ConfirmPickup,
        1 => CommandDraft::ConfirmReport,
        2 => CommandDraft::RequestTransfer {
            to_region: region,
            reason: text,
        },
        3 => CommandDraft::AcceptTransfer,
        4 => CommandDraft::RejectTransfer { reason: text },
        5 => CommandDraft::WithdrawTransfer { reason: text },
        6 => CommandDraft::ConfirmArrival,
        7 => CommandDraft::NotifyAbsence {
            host_region: region,
            from: from.to_owned(),
            until: until.to_owned(),
            reason: text,
        },
        8 => CommandDraft::ReportLostContact { note: text },
        9 => CommandDraft::RestoreContact { note: text },
        10 => CommandDraft::Suspend { reason: text },
        11 => CommandDraft::Resume,
        12 => CommandDraft::Close {
            reason: CLOSURES[fields.closure].to_owned(),
            note: text,
        },
        // By an oversight office: a case no project may act on.
        13 => CommandDraft::Assign {
            to_region: region,
            reason: text,
        },
        // Never accepted after the discharge, by anyone.
        _ => CommandDraft::WithdrawAnnouncement { reason: text },
    }
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop::sample::select(vec![0, 0, 1, 1, 2, 3, 3, 4, 5, 6, 7]),
        prop_oneof![3 => Just(0), 1 => 0..=TEXTS.len()],
        0..DATES.len(),
        0..CLOSURES.len(),
    )
        .prop_map(|(region, text, dates, closure)| Fields {
            region,
            text,
            dates,
            closure,
        })
}

fn command(commands: Vec<usize>) -> impl Strategy<Value = CommandDraft> {
    (prop::sample::select(commands), fields()).prop_map(|(c, fields)| draft(c, fields))
}

#[derive(Clone, Debug)]
enum Step {
    /// From any agency of the registry, by its index.
    Any(usize, CommandDraft),
    /// From the project that would give it: the receiving one for the
    /// answers to a transfer, the responsible one otherwise.
    Proper(CommandDraft),
    /// One of the commands the proper project may give now (with these
    /// fields), picked by the number; closing excepted.
    Next(usize, Fields),
    /// Time passes (seconds); the escalation scan runs if anything is due.
    Wait(i64),
    /// The responsible project is disabled in the registry (its cases are
    /// then for an office to assign).
    Disable,
}

/// Command numbers for `Proper`, by how often a project gives them, so that
/// cases travel; closing (12) comes rarely, so that they live long.
const PROPER: [usize; 25] = [
    0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 5, 6, 6, 6, 7, 8, 9, 9, 10, 11,
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..shanxi().len(), command((0..15).collect()))
            .prop_map(|(agency, draft)| Step::Any(agency, draft)),
        1 => Just(Step::Disable),
        2 => prop_oneof![30 => command(PROPER.to_vec()), 1 => command(vec![12])]
            .prop_map(Step::Proper),
        4 => (any::<usize>(), fields()).prop_map(|(pick, fields)| Step::Next(pick, fields)),
        1 => (1i64..3_600).prop_map(Step::Wait),
        3 => (3_600i64..3 * 86_400).prop_map(Step::Wait),
        2 => (86_400i64..40 * 86_400).prop_map(Step::Wait),
    ]
}

#[derive(Clone, Debug)]
struct Release {
    household: usize,
    residence: Option<usize>,
    consent: bool,
    late: bool,
    /// How long before the discharge is filed the person left.
    ago: i64,
    term: u32,
    /// A pre-release notice first, for a person of this household county
    /// (the discharge may correct it).
    announced: Option<usize>,
    /// The notice sent again, for a person of this household county.
    revised: Option<usize>,
    /// How many days before the discharge the notices planned it, no
    /// earlier than the first notice: from two days on the discharge
    /// deadline has passed.
    overdue: i64,
    /// The detox center withdraws the notice instead of the discharge:
    /// the case closes before anyone is responsible.
    withdrawn: bool,
    /// An earlier open case of the person, in this county.
    earlier: Option<usize>,
}

fn release() -> impl Strategy<Value = Release> {
    (
        0..5usize,
        prop::option::of(0..5usize),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0i64), 0i64..3 * 86_400],
        prop_oneof![1u32..=2, 1u32..=36],
        (
            prop::option::of(0..7usize),
            prop::option::of(0..7usize),
            prop::option::of(0..7usize),
            prop_oneof![3 => Just(0i64), 1 => 1i64..=4],
            prop::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |(
                household,
                residence,
                consent,
                late,
                ago,
                term,
                (announced, revised, earlier, overdue, withdrawn),
            )| {
                Release {
                    household,
                    residence,
                    consent,
                    late,
                    ago,
                    term,
                    announced,
                    revised,
                    earlier,
                    overdue,
                    withdrawn,
                }
            },
        )
}

fn run(release: &Release, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut world = World::discharge(release);
    world.check()?;
    for step in steps {
        match step {
            Step::Any(agency, draft) => {
                let caller = world.agencies[*agency].agency.clone();
                world.command(&caller, draft)?;
            }
            Step::Proper(draft) => world.proper(draft)?,
            Step::Next(pick, fields) => world.next(*pick, *fields)?,
            Step::Wait(seconds) => world.wait(*seconds)?,
            Step::Disable => world.disable_responsible(),
        }
        world.check()?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn one_county_is_responsible_its_police_hear_everything_and_escalations_happen_once(
        release in release(),
        steps in prop::collection::vec(step(), 1..60),
    ) {
        run(&release, &steps)?;
    }
}
