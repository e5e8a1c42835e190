//! The reporter's contact in `GetCase`: opened (through the [`ContactOpener`] the process wires
//! in — intake's vault) only for a caller entitled to see some of it, disclosed in full or
//! masked by the caller's role and the case's place ([`gridloop_domain::personal`]), every
//! decryption written to the audit log. Descriptions are shown with phone and ID-card numbers
//! masked to a caller not entitled to the contact in full.

use async_trait::async_trait;
use gridloop_auth::audit::{Audit, Subject};
use gridloop_auth::Principal;
use gridloop_domain::case::{CaseDetails, CaseEvent, Reporter};
use gridloop_domain::personal::{mask_free_text, Contact, ContactAccess, Disclosure, SealedContact};
use tonic::Status;

/// Opens sealed contacts: `None` when the reporter's data key was erased. Its failures are the
/// status `GetCase` answers with (UNAVAILABLE while the key store is out of reach).
#[async_trait]
pub trait ContactOpener: Send + Sync {
    async fn open(&self, sealed: &SealedContact) -> Result<Option<Contact>, Status>;
}

/// One caller's view of the personal data in one case.
pub(crate) struct ContactView<'a> {
    pub opener: Option<&'a dyn ContactOpener>,
    pub viewer: Option<&'a Principal>,
    pub access: ContactAccess,
    pub case_id: String,
}

impl ContactView<'_> {
    /// What this caller sees of `reporter`.
    pub async fn disclose(&self, reporter: &Reporter) -> Result<Disclosure, Status> {
        let contact = match (&reporter.sealed, self.access) {
            // Events recorded before contacts were sealed carry them in the clear.
            (None, _) => Some(reporter.contact()),
            (Some(_), ContactAccess::Withheld) => return Ok(Disclosure::Withheld),
            (Some(sealed), _) => match self.opener {
                Some(opener) => opener.open(sealed).await?,
                None => return Ok(Disclosure::Withheld),
            },
        };
        let disclosure = Disclosure::of(contact, self.access);
        if let (Some(viewer), Disclosure::Full(_) | Disclosure::Masked(_)) = (self.viewer, &disclosure) {
            let about = Subject { rpc: "GetCase", case_id: Some(&self.case_id), mediation_id: None };
            Audit.granted(viewer, &about, &format!("reporter contact decrypted, shown {}", disclosure.as_str()));
        }
        Ok(disclosure)
    }

    /// `details` as this caller sees them: the reporter disclosed, nothing sealed, the
    /// description masked unless the caller may see the contact in full.
    pub async fn details(&self, details: &CaseDetails) -> Result<(CaseDetails, Disclosure), Status> {
        let disclosure = self.disclose(&details.reporter).await?;
        let contact = disclosure.contact();
        let mut shown = details.clone();
        shown.reporter = Reporter {
            kind: details.reporter.kind,
            id: contact.id,
            name: contact.name,
            phone: contact.phone,
            sealed: None,
        };
        shown.description = self.text(&details.description);
        Ok((shown, disclosure))
    }

    /// Free text as this caller sees it.
    pub fn text(&self, text: &str) -> String {
        if self.access.sees_free_text() {
            text.to_string()
        } else {
            mask_free_text(text)
        }
    }

    /// `event` as this caller sees it; `None` when it carries no personal data.
    pub async fn event(&self, event: &CaseEvent) -> Result<Option<CaseEvent>, Status> {
        Ok(match event {
            CaseEvent::Opened { case_id, details } => {
                Some(CaseEvent::Opened { case_id: *case_id, details: self.details(details).await?.0 })
            }
            CaseEvent::ReportLinked { report } => {
                let mut report = report.clone();
                report.details = self.details(&report.details).await?.0;
                Some(CaseEvent::ReportLinked { report })
            }
            _ => None,
        })
    }
}
