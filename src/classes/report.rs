//! Usage reports per user and per group: hours running, CPU-hours, memory-hours and
//! services launched (from the lab's metering), bytes stored in personal buckets, and how
//! many services ran at once over time. A user's row adds up the services they own launched
//! since the report's start; a group's row adds up its members'.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::identity::realm::User;
use crate::services::metering::{Meter, ServiceUsage};
use crate::store::StoreError;

/// One row of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub name: String,
    /// A user's groups; a group's members.
    pub groups: Vec<String>,
    pub running_hours: f64,
    pub cpu_hours: f64,
    pub memory_gib_hours: f64,
    pub services_launched: u64,
    pub s3_bytes: u64,
}

impl UsageRow {
    fn add(&mut self, other: &UsageRow) {
        self.running_hours += other.running_hours;
        self.cpu_hours += other.cpu_hours;
        self.memory_gib_hours += other.memory_gib_hours;
        self.services_launched += other.services_launched;
        self.s3_bytes += other.s3_bytes;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// The report covers services launched at or after this time (epoch ms).
    pub since: u64,
    pub users: Vec<UsageRow>,
    pub groups: Vec<UsageRow>,
    /// (time in epoch ms, services running) at each look at the services.
    pub concurrency: Vec<(u64, u64)>,
}

/// The report over `users` (the realm's), the `services` launched since `since`, and the
/// bytes of each user's personal bucket.
pub fn build(
    since: u64,
    users: &[std::sync::Arc<User>],
    services: &[ServiceUsage],
    concurrency: Vec<(u64, u64)>,
    personal_bytes: impl Fn(&str) -> u64,
) -> UsageReport {
    let mut rows: BTreeMap<String, UsageRow> = BTreeMap::new();
    for user in users {
        rows.insert(
            user.username.clone(),
            UsageRow {
                name: user.username.clone(),
                groups: user.groups.clone(),
                s3_bytes: personal_bytes(&user.username),
                ..Default::default()
            },
        );
    }
    for s in services {
        // An owner the realm does not know (an external issuer's user) still gets a row.
        let row = rows.entry(s.owner.clone()).or_insert_with(|| UsageRow {
            name: s.owner.clone(),
            ..Default::default()
        });
        row.running_hours += s.running_hours;
        row.cpu_hours += s.cpu_hours;
        row.memory_gib_hours += s.memory_gib_hours;
        row.services_launched += 1;
    }
    let mut groups: BTreeMap<String, UsageRow> = BTreeMap::new();
    for row in rows.values() {
        for group in &row.groups {
            let g = groups.entry(group.clone()).or_insert_with(|| UsageRow {
                name: group.clone(),
                ..Default::default()
            });
            g.add(row);
            g.groups.push(row.name.clone());
        }
    }
    UsageReport {
        since,
        users: rows.into_values().collect(),
        groups: groups.into_values().collect(),
        concurrency,
    }
}

/// The report of the services `meter` recorded as launched since `since`.
pub fn gather(
    meter: &Meter,
    since: u64,
    users: &[std::sync::Arc<User>],
    personal_bytes: impl Fn(&str) -> u64,
) -> Result<UsageReport, StoreError> {
    let services = meter.services_since(since)?;
    let concurrency = meter.concurrency_since(since)?;
    Ok(build(since, users, &services, concurrency, personal_bytes))
}

/// The report as CSV: one line per user, then per group (`kind` tells which).
pub fn to_csv(report: &UsageReport) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record([
        "kind",
        "name",
        "groups",
        "running_hours",
        "cpu_hours",
        "memory_gib_hours",
        "services_launched",
        "s3_bytes",
    ]);
    let lines = report
        .users
        .iter()
        .map(|r| ("user", r))
        .chain(report.groups.iter().map(|r| ("group", r)));
    for (kind, r) in lines {
        let _ = out.write_record([
            kind.to_owned(),
            r.name.clone(),
            r.groups.join(";"),
            format!("{:.2}", r.running_hours),
            format!("{:.2}", r.cpu_hours),
            format!("{:.2}", r.memory_gib_hours),
            r.services_launched.to_string(),
            r.s3_bytes.to_string(),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A report's start: `YYYY-MM-DD` (midnight UTC), an RFC 3339 time, or `<N>d` (N days
/// before `now_ms`).
pub fn parse_since(text: &str, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    if let Some(days) = text.strip_suffix('d')
        && let Ok(days) = days.parse::<u64>()
    {
        return Ok(now_ms.saturating_sub(days.saturating_mul(86_400_000)));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let at = match time::Date::parse(text, date_format) {
        Ok(date) => date.midnight().assume_utc(),
        Err(_) => time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                format!("`{text}` is not a date (2026-09-01), a time (RFC 3339) or a number of days (30d)")
            })?,
    };
    Ok(u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> std::sync::Arc<User> {
        std::sync::Arc::new(User {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            enabled: true,
            ..Default::default()
        })
    }

    #[test]
    fn users_and_groups_add_up() {
        let users = [user("ana", &["stats"]), user("bo", &["stats", "ml"])];
        let service = |owner: &str, hours: f64| ServiceUsage {
            owner: owner.into(),
            running_hours: hours,
            cpu_hours: hours / 2.0,
            memory_gib_hours: hours * 2.0,
            ..Default::default()
        };
        let services = [
            service("ana", 1.0),
            service("ana", 2.0),
            service("bo", 4.0),
            service("ext", 1.0),
        ];
        let report = build(0, &users, &services, vec![(5, 2)], |u| {
            if u == "ana" { 100 } else { 0 }
        });
        let ana = &report.users[0];
        assert_eq!(
            (
                ana.name.as_str(),
                ana.running_hours,
                ana.services_launched,
                ana.s3_bytes
            ),
            ("ana", 3.0, 2, 100)
        );
        assert_eq!(
            report.users[2].name, "ext",
            "an owner outside the realm keeps a row"
        );
        let stats = report.groups.iter().find(|g| g.name == "stats").unwrap();
        assert_eq!(
            (
                stats.running_hours,
                stats.cpu_hours,
                stats.services_launched
            ),
            (7.0, 3.5, 3)
        );
        assert_eq!(stats.groups, ["ana", "bo"], "its members");
        let csv = to_csv(&report);
        assert!(csv.starts_with("kind,name,groups,running_hours"), "{csv}");
        assert!(csv.contains("user,bo,stats;ml,4.00,2.00,8.00,1,0"), "{csv}");
        assert!(csv.contains("group,ml,bo,4.00"), "{csv}");
    }

    #[test]
    fn a_start_is_a_date_a_time_or_days_ago() {
        assert_eq!(parse_since("2026-01-02", 0).unwrap(), 1_767_312_000_000);
        assert_eq!(
            parse_since("2026-01-02T01:00:00Z", 0).unwrap(),
            1_767_315_600_000
        );
        assert_eq!(parse_since("7d", 8 * 86_400_000).unwrap(), 86_400_000);
        assert!(
            parse_since("last week", 0)
                .unwrap_err()
                .contains("not a date")
        );
    }
}
