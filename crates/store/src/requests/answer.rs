//! The answer to an access request (Art. 15): every record confirmed to be
//! about the person, field by field, gathered once by the owner and kept
//! sealed under the request's key until the request closes. It goes out by
//! post (the owner prints it) or through a one-time download link: a random
//! secret whose keyed hash is all the database keeps, valid for fourteen
//! days and for one download. Never as an e-mail attachment (A10).

use custodian_domain::policy::{AccessPurpose, Action, Resource};
use custodian_domain::requests::RequestKind;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::matching::RecordKind;
use crate::audit::{Access, Actor, Event};
use crate::crypto::field_aad;
use crate::{Refusal, Store, StoreError, now_micros, permit};

/// How long a download link works.
pub const LINK_DAYS: i64 = 14;

/// What is held about the person, as stored and as shown. Labels, purposes,
/// legal bases, retention and recipients come from the inventory when it is
/// shown, in the reader's language; the document holds names and values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerDocument {
    pub request: i64,
    pub received_on: String,
    pub generated_at: i64,
    pub sections: Vec<AnswerSection>,
}

/// One record: a customer, a domain contact, a service or an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSection {
    /// The inventory table the rows come from.
    pub table: String,
    /// The record's number (an invoice's: its invoice number).
    pub reference: String,
    /// A domain contact a customer entered for the person (Art. 14): the
    /// source of the data, without naming that customer.
    pub entered_by_customer: bool,
    pub rows: Vec<AnswerRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRow {
    pub column: String,
    pub value: String,
}

fn section(
    table: &str,
    reference: impl ToString,
    third_party: bool,
    fields: &custodian_domain::model::Fields,
) -> AnswerSection {
    AnswerSection {
        table: table.to_string(),
        reference: reference.to_string(),
        entered_by_customer: third_party,
        rows: fields.iter().map(|(c, v)| AnswerRow { column: c.clone(), value: v.clone() }).collect(),
    }
}

fn link_hash(store: &Store, secret: &str) -> Vec<u8> {
    store.keys.index.blind_index("request_link", secret)
}

impl Store {
    /// Gathers the answer of access request `id` from the records confirmed
    /// for it, each read audited as usual, and keeps it sealed with the
    /// request. Preparing again replaces it (and ends an earlier link).
    pub async fn prepare_request_answer(&self, access: &Access, id: i64) -> Result<AnswerDocument, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let current = {
            let mut tx = crate::db::write_tx(&self.pool).await?;
            let current = self.open_request(&mut tx, id).await?;
            tx.commit().await?;
            current
        };
        if current.kind != RequestKind::Access {
            return Err(StoreError::Refused(Refusal::RequestNotDownloadable));
        }
        let reading = Access { purpose: AccessPurpose::DataSubjectRequest, ..access.clone() };
        let mut sections = Vec::new();
        let mut seen_contacts = Vec::new();
        for m in self.request_records(id).await? {
            let Some(customer_id) = m.customer_id else { continue };
            match m.kind {
                RecordKind::Customer => {
                    let export = self.export_customer(&reading, customer_id).await?;
                    sections.push(section("customers", customer_id, false, &export.customer.fields));
                    for c in &export.contacts {
                        seen_contacts.push(c.id);
                        sections.push(section("contacts", c.id, false, &c.fields));
                    }
                    for s in &export.services {
                        if let Some(d) = &s.description {
                            let fields = [("description".to_string(), d.clone())].into_iter().collect();
                            sections.push(section("services", s.id, false, &fields));
                        }
                    }
                    for invoice in export.invoices.iter().flatten() {
                        sections.push(section("invoices", &invoice.number, false, &invoice.billing));
                    }
                }
                RecordKind::Contact if !seen_contacts.contains(&m.id) => {
                    seen_contacts.push(m.id);
                    let fields = self.contact_fields(&reading, m.id).await?;
                    sections.push(section("contacts", m.id, true, &fields));
                }
                RecordKind::Contact => {}
            }
        }
        let document = AnswerDocument {
            request: id,
            received_on: custodian_domain::model::format_date(current.received_on),
            generated_at: now_micros(),
            sections,
        };
        let json = Zeroizing::new(serde_json::to_vec(&document).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let key_id = self.request_key(&mut tx, id).await?;
        let key = self.keys.data_key(&mut *tx, key_id).await?;
        let sealed = key.seal(&field_aad(super::TABLE, id, "answer"), &json);
        sqlx::query(
            "UPDATE subject_requests SET answer = $1, link_hash = NULL, link_expires_at = NULL, link_used_at = NULL
             WHERE id = $2 AND closed_on IS NULL",
        )
        .bind(sealed)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let tables: Vec<&str> = document.sections.iter().map(|s| s.table.as_str()).collect();
        let mut event = Event::new(access, "request.answer", "subject_request", id).fields(tables);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(document)
    }

    /// The prepared answer of request `id`, for the owner to print (audited).
    pub async fn request_answer(&self, access: &Access, id: i64) -> Result<Option<AnswerDocument>, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Read)?;
        let document = self.open_answer(id).await?;
        if document.is_some() {
            let mut event = Event::new(access, "request.answer_read", "subject_request", id).fields(["answer"]);
            self.keys.seal_source(&mut event, None);
            self.record(event).await?;
        }
        Ok(document)
    }

    /// Makes the one-time download link's secret for request `id`: shown
    /// once, kept only as a keyed hash. A new link ends the earlier one.
    pub async fn make_request_link(&self, access: &Access, id: i64) -> Result<Zeroizing<String>, StoreError> {
        permit::require(access, Resource::SubjectRequests, Action::Write)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let current = self.open_request(&mut tx, id).await?;
        let ready: Option<i64> =
            sqlx::query_scalar("SELECT id FROM subject_requests WHERE id = $1 AND answer IS NOT NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if current.kind != RequestKind::Access || ready.is_none() {
            return Err(StoreError::Refused(Refusal::RequestNotDownloadable));
        }
        let secret = crate::auth::random_token();
        let expires = now_micros() + LINK_DAYS * 86_400 * 1_000_000;
        sqlx::query(
            "UPDATE subject_requests SET link_hash = $1, link_expires_at = $2, link_used_at = NULL WHERE id = $3",
        )
        .bind(link_hash(self, &secret))
        .bind(expires)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut event = Event::new(access, "request.link", "subject_request", id);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Whether `secret` is a download link that still works (for the page
    /// that offers the download; changes nothing).
    pub async fn request_link_works(&self, secret: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM subject_requests WHERE link_hash = $1 AND link_used_at IS NULL AND link_expires_at > $2
             AND answer IS NOT NULL AND closed_on IS NULL",
        )
        .bind(link_hash(self, secret))
        .bind(now_micros())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Hands the answer to whoever holds the link's secret, once: the link is
    /// marked used in the same transaction that reads it, so two downloads at
    /// once cannot both succeed. Audited as the link's download.
    pub async fn redeem_request_link(&self, secret: &str) -> Result<AnswerDocument, StoreError> {
        let now = now_micros();
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE subject_requests SET link_used_at = $1 WHERE link_hash = $2 AND link_used_at IS NULL
             AND link_expires_at > $1 AND answer IS NOT NULL AND closed_on IS NULL RETURNING id",
        )
        .bind(now)
        .bind(link_hash(self, secret))
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::Refused(Refusal::RequestLinkInvalid))?;
        let access = Access::new(Actor::job("request_link"), AccessPurpose::DataSubjectRequest);
        permit::require(&access, Resource::Fields(custodian_domain::policy::FieldClass::Request), Action::Read)?;
        let document =
            self.open_answer_in(&mut tx, id).await?.ok_or(StoreError::Refused(Refusal::RequestLinkInvalid))?;
        let event = Event::new(&access, "request.download", "subject_request", id).fields(["answer"]);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok(document)
    }

    async fn open_answer(&self, id: i64) -> Result<Option<AnswerDocument>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let document = self.open_answer_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(document)
    }

    async fn open_answer_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
    ) -> Result<Option<AnswerDocument>, StoreError> {
        let row: Option<(Option<i64>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT key_id, answer FROM subject_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((Some(key_id), Some(sealed))) = row else { return Ok(None) };
        let key = self.keys.data_key(&mut **tx, key_id).await?;
        let plain = key.open(&field_aad(super::TABLE, id, "answer"), &sealed)?;
        serde_json::from_slice(&plain).map(Some).map_err(|e| StoreError::Corrupt(format!("request answer: {e}")))
    }

    async fn request_key(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: i64) -> Result<i64, StoreError> {
        let key: Option<i64> = sqlx::query_scalar("SELECT key_id FROM subject_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        key.ok_or_else(|| super::corrupt("no key"))
    }
}
