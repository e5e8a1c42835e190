//! The check of an evaluation (a feedback round's answer): the case lies where the projection
//! recorded its grid, and was reported by the resident it names. Evaluation keeps no copy of the
//! case itself, so the facts come from its case projection.

use crate::projection;
use async_trait::async_trait;
use gridloop_domain::access::{self, CaseFacts};
use gridloop_domain::decider::Decider;
use gridloop_domain::feedback::Feedback;
use gridloop_domain::jurisdiction::AreaCode;
use gridloop_eventstore::{EventStore, StoreError};
use gridloop_kit::authorize::{as_reporter, check, Named};
use gridloop_kit::{Authorize, Caller, Denied, Infrastructure, ReporterIndex, Target, Unauthorized};
use std::sync::Arc;

/// Reads the case's grid and reporter from the projection in `store`.
pub(crate) struct FeedbackPolicy {
    pub store: EventStore,
    /// Recognises a resident as the reporter of a case whose contact is sealed.
    pub reporters: Option<Arc<dyn ReporterIndex>>,
}

#[async_trait]
impl Authorize<Feedback> for FeedbackPolicy {
    async fn authorize(
        &self,
        caller: &Caller,
        target: Target<'_, Feedback>,
        command: &<Feedback as Decider>::Command,
    ) -> Result<(), Unauthorized> {
        let Some(principal) = &caller.principal else { return Ok(()) };
        let rpc = access::feedback_rpc(command).ok_or_else(|| Denied::new("feedback rounds are the service's own"))?;
        let case_id = target.id.to_string();
        let facts = self.facts(&case_id).await?;
        let named = Named { case_id: Some(&case_id), mediation_id: None };
        let principal = as_reporter(principal, self.reporters.as_deref());
        Ok(check(&principal, rpc, facts.as_ref(), named)?)
    }
}

impl FeedbackPolicy {
    async fn facts(&self, case_id: &str) -> Result<Option<CaseFacts>, Infrastructure> {
        let reported = projection::reported(self.store.pool(), case_id)
            .await
            .map_err(|error| Infrastructure::Store(StoreError::from(error)))?;
        Ok(reported.and_then(|(grid, reporter)| {
            let area = AreaCode::new(grid).ok()?;
            Some(CaseFacts { reporter, ..CaseFacts::at(area) })
        }))
    }
}
