//! The benchmark's province: eleven cities with a detox center, city police
//! and an anti-drug office each, a county project and county police in every
//! county, and a provincial office and police. Codes follow GB/T 2260's
//! shape under Shanxi (14); people get valid identity numbers.

use std::sync::atomic::{AtomicU64, Ordering};

use time::{Date, Duration, OffsetDateTime};

use crate::api::pb;
use crate::domain::agency::{AgencyId, AgencyKind, AgencyRef};
use crate::domain::id_number::with_check_character;
use crate::domain::region::RegionCode;

const CITIES: u32 = 11;
const PROVINCE: u32 = 140_000;

/// The agencies and people of one run.
pub struct Province {
    counties: Vec<RegionCode>,
    cities: Vec<RegionCode>,
    /// People `0..seeded` are stored before the gateway starts; scenarios
    /// take fresh numbers from here on, so no two discharges share a person,
    /// a decision number or a request id.
    next: AtomicU64,
    /// How many seeded people went to the replay county (the first ones).
    backlog: u64,
    /// People stored before the gateway started.
    seeded: u64,
}

impl Province {
    /// A province of `counties` counties (at least two: the first holds the
    /// replay backlog, the others take every other discharge).
    pub fn new(counties: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            (2..=CITIES as usize * 99).contains(&counties),
            "--counties must be 2 to {}",
            CITIES * 99
        );
        let code = |value: u32| RegionCode::parse(&format!("{value:06}"));
        let cities = (1..=CITIES)
            .map(|city| code(PROVINCE + city * 100))
            .collect::<Result<Vec<_>, _>>()?;
        // Round robin over the cities, so every city has counties.
        let counties = (0..counties as u32)
            .map(|i| code(PROVINCE + (i % CITIES + 1) * 100 + i / CITIES + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            counties,
            cities,
            next: AtomicU64::new(0),
            backlog: 0,
            seeded: 0,
        })
    }

    /// Every agency with its display name.
    pub fn agencies(&self) -> anyhow::Result<Vec<(AgencyRef, String)>> {
        let mut all = Vec::new();
        let mut add = |kind: AgencyKind, region: RegionCode, id: String, name: String| {
            AgencyRef::new(kind, region, AgencyId::parse(&id)?).map(|a| all.push((a, name)))
        };
        let province = RegionCode::parse(&PROVINCE.to_string())?;
        add(
            AgencyKind::Oversight,
            province,
            office(province),
            "省禁毒办".into(),
        )?;
        add(
            AgencyKind::Police,
            province,
            police(province),
            "省公安厅禁毒总队".into(),
        )?;
        for &city in &self.cities {
            add(
                AgencyKind::DetoxCenter,
                city,
                detox(city),
                format!("{city} 强制隔离戒毒所"),
            )?;
            add(
                AgencyKind::Police,
                city,
                police(city),
                format!("{city} 公安局禁毒支队"),
            )?;
            add(
                AgencyKind::Oversight,
                city,
                office(city),
                format!("{city} 禁毒办"),
            )?;
        }
        for &county in &self.counties {
            add(
                AgencyKind::CountyProject,
                county,
                project(county),
                format!("{county} 禁毒社工项目部"),
            )?;
            add(
                AgencyKind::Police,
                county,
                police(county),
                format!("{county} 公安分局禁毒大队"),
            )?;
        }
        Ok(all)
    }

    pub fn counties(&self) -> &[RegionCode] {
        &self.counties
    }

    /// The county whose police inbox holds the replay backlog.
    pub fn replay_county(&self) -> RegionCode {
        self.counties[0]
    }

    /// The counties every other discharge goes to.
    pub fn spread_counties(&self) -> &[RegionCode] {
        &self.counties[1..]
    }

    /// Records that `total` people were seeded, the first `backlog` of them
    /// in the replay county.
    pub fn seeded(&mut self, total: u64, backlog: u64) {
        self.next = AtomicU64::new(total);
        self.backlog = backlog;
        self.seeded = total;
    }

    /// People stored before the gateway started; the scenarios' own
    /// discharges are not counted (the echo never stored them).
    pub fn seeded_count(&self) -> u64 {
        self.seeded
    }

    /// The county of person `n`: the replay county for the backlog, round
    /// robin over the others after it.
    pub fn county_of(&self, n: u64) -> RegionCode {
        if n < self.backlog {
            return self.replay_county();
        }
        let spread = self.spread_counties();
        spread[(n % spread.len() as u64) as usize]
    }

    /// A fresh person number for a scenario's discharge.
    pub fn fresh(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// A discharge of person `n`: released an hour ago from the detox
    /// center of the person's city, household in the person's county.
    pub fn discharge(&self, n: u64, now: OffsetDateTime) -> (String, pb::SubmitDischargeRequest) {
        let county = self.county_of(n);
        let request = pb::SubmitDischargeRequest {
            request_id: format!("bench-{n}"),
            decision_number: decision_number(n),
            person: Some(pb::Person {
                id_number: id_number(county, n),
                name: NAMES[(n % NAMES.len() as u64) as usize].into(),
                sex: pb::Sex::Unspecified.into(),
                household_region: county.to_string(),
                residence_region: String::new(),
                residence_consent: false,
            }),
            released_at: Some(crate::api::timestamp(now - Duration::hours(1))),
            term_months: 36,
        };
        (detox_of(county), request)
    }

    /// The identity number of person `n`, as stored.
    pub fn id_number_of(&self, n: u64) -> String {
        id_number(self.county_of(n), n)
    }
}

const NAMES: [&str; 6] = ["王五", "李四", "张三", "赵六", "刘七", "陈八"];

pub fn decision_number(n: u64) -> String {
    format!("晋戒康决字[2026]第{n}号")
}

/// Unique for every `n` below 14 million: the birth date walks forward a
/// day every thousand people, from 1960-01-01, and the sequence is `n`
/// modulo 1000.
fn id_number(county: RegionCode, n: u64) -> String {
    let birth = Date::from_calendar_date(1960, time::Month::January, 1).unwrap_or(Date::MIN)
        + Duration::days((n / 1000) as i64);
    let first17 = format!(
        "{county}{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    with_check_character(&first17).unwrap_or_default()
}

pub fn detox_of(county: RegionCode) -> String {
    detox(county.parent().unwrap_or(county))
}

pub fn project(county: RegionCode) -> String {
    format!("project-{county}")
}

pub fn police(region: RegionCode) -> String {
    format!("police-{region}")
}

fn detox(city: RegionCode) -> String {
    format!("detox-{city}")
}

fn office(region: RegionCode) -> String {
    format!("office-{region}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::id_number::IdNumber;

    #[test]
    fn a_province_of_105_counties_has_245_agencies_with_valid_ids() {
        let province = Province::new(105).unwrap();
        assert_eq!(province.agencies().unwrap().len(), 2 + 11 * 3 + 105 * 2);
        let today = time::macros::date!(2026 - 11 - 28);
        for n in [0, 999, 1000, 13_999_999] {
            IdNumber::parse(&province.id_number_of(n), today).unwrap();
        }
        assert_ne!(province.id_number_of(1), province.id_number_of(1001));
    }
}
