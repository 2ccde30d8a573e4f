//! Audit records written outside a web request (CLI, background tasks) and
//! retention.

use super::{AuditBody, AuditNote, EventType};

impl crate::Services {
    /// Appends a record for something done outside a web request (CLI,
    /// background tasks).
    pub async fn record_event(
        &self,
        actor: &str,
        note: AuditNote,
        result: &str,
    ) -> Result<i64, crate::store::StoreError> {
        self.record_event_from(actor, note, result, None).await
    }

    /// [`Services::record_event`] with the client's address.
    pub async fn record_event_from(
        &self,
        actor: &str,
        note: AuditNote,
        result: &str,
        ip: Option<&str>,
    ) -> Result<i64, crate::store::StoreError> {
        let body = AuditBody {
            at: self.clock.now().0,
            event_type: note.event_type.as_str().to_owned(),
            actor: note.actor.unwrap_or_else(|| actor.to_owned()),
            action: note.action.to_owned(),
            target: note.target,
            result: result.to_owned(),
            ip: ip.map(str::to_owned),
            user_agent: None,
            request_id: None,
            extra: note.extra.to_canonical(),
        };
        self.store.append_audit(&body).await
    }

    /// Prunes records older than the retention period and records the
    /// pruning itself (a checkpoint in the chain); returns how many went.
    pub async fn apply_audit_retention(&self) -> Result<u64, crate::store::StoreError> {
        let cutoff = self.clock.now().0 - self.settings.audit_retention_days * 86_400;
        let (n, through) = self.store.prune_audit(cutoff).await?;
        if let Some(last_id) = through {
            self.record_event(
                "system",
                AuditNote::new(EventType::Security, "audit.pruned")
                    .extra("records", &n)
                    .extra("through_id", &last_id)
                    .extra("retention_days", &self.settings.audit_retention_days),
                "success",
            )
            .await?;
        }
        Ok(n)
    }
}
