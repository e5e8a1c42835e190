//! The audit log: who was refused (or allowed to see something sensitive), what they called,
//! which case, when. Written as `tracing` events on the target `gridloop::audit` (route it to its
//! own sink with a filter such as `RUST_LOG=info,gridloop::audit=info`), and denials counted in
//! `gridloop_auth_denied_total{rpc,role,reason}`.

use chrono::{SecondsFormat, Utc};
use gridloop_domain::access::Principal;

/// The `tracing` target of every audit record.
pub const TARGET: &str = "gridloop::audit";

/// What an audited call was about: the RPC, and the case or session when the request names one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject<'a> {
    pub rpc: &'a str,
    pub case_id: Option<&'a str>,
    pub mediation_id: Option<&'a str>,
}

/// Writes audit records. Cheap to copy; every record carries the time it was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Audit;

impl Audit {
    /// A call refused before anyone was identified (missing or bad credentials).
    pub fn unauthenticated(&self, about: &Subject<'_>, reason: &'static str, detail: &str) {
        count_denial(about, "none", reason);
        record("unauthenticated", None, about, reason, detail);
    }

    /// A call by `who` refused: by the policy, a scope rule or a limit.
    pub fn denied(&self, who: &Principal, about: &Subject<'_>, reason: &'static str, detail: &str) {
        count_denial(about, who.role.as_str(), reason);
        record("denied", Some(who), about, reason, detail);
    }

    /// Something sensitive `who` was given (e.g. `reporter contact decrypted`), for the record.
    pub fn granted(&self, who: &Principal, about: &Subject<'_>, what: &str) {
        record("granted", Some(who), about, "", what);
    }
}

fn count_denial(about: &Subject<'_>, role: &'static str, reason: &'static str) {
    metrics::counter!("gridloop_auth_denied_total", "rpc" => about.rpc.to_string(), "role" => role, "reason" => reason)
        .increment(1);
}

/// One audit record: who (when known), what and which case, the outcome, why, and when.
fn record(outcome: &'static str, who: Option<&Principal>, about: &Subject<'_>, reason: &str, detail: &str) {
    tracing::info!(
        target: TARGET,
        outcome,
        who = who.map_or("", |p| p.subject.as_str()),
        role = who.map_or("", |p| p.role.as_str()),
        area = who.and_then(|p| p.area.as_ref()).map_or("", |a| a.as_str()),
        rpc = about.rpc,
        case = about.case_id.unwrap_or(""),
        mediation = about.mediation_id.unwrap_or(""),
        reason,
        detail,
        at = %Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "audit"
    );
}
