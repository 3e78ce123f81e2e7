//! API tokens for automation (`/api/v1`). A token is a random secret shown once
//! and stored only as a keyed hash; it acts as an actor of kind `api` with one
//! staff role, so the store applies the same role rules and audit as for a
//! person in that role, and the web layer limits it further to its scopes.

use custodian_domain::inventory::Role;
use custodian_domain::model::FieldErrors;
use custodian_domain::validate::Invalid;
use rand::RngCore;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::audit::{Access, Actor, ActorKind, Event};
use crate::{Store, StoreError, now_micros};
use custodian_domain::policy::{Action, Resource};

/// What a token may do, on top of what its role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    #[serde(rename = "customers:read")]
    CustomersRead,
    #[serde(rename = "customers:write")]
    CustomersWrite,
    #[serde(rename = "invoices:read")]
    InvoicesRead,
    #[serde(rename = "invoices:write")]
    InvoicesWrite,
    #[serde(rename = "services:write")]
    ServicesWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::CustomersRead,
        Scope::CustomersWrite,
        Scope::InvoicesRead,
        Scope::InvoicesWrite,
        Scope::ServicesWrite,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CustomersRead => "customers:read",
            Scope::CustomersWrite => "customers:write",
            Scope::InvoicesRead => "invoices:read",
            Scope::InvoicesWrite => "invoices:write",
            Scope::ServicesWrite => "services:write",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }
}

/// A token as listed: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    /// The actor this token acts as in the store and the audit trail.
    pub fn actor(&self) -> Actor {
        Actor { kind: ActorKind::Api, id: format!("token-{}", self.id), role: self.role }
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Usable now: not revoked and not expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Every token starts with this, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "cst_";
/// `last_used_at` is refreshed at most this often (µs), so a busy integration
/// does not turn every API read into a write.
const TOUCH_EVERY: i64 = 60 * 1_000_000;

const COLUMNS: &str = "id, name, role, scopes, created_by, created_at, expires_at, last_used_at, revoked_at";

fn token(r: &AnyRow) -> Result<ApiToken, StoreError> {
    let role: String = r.try_get("role")?;
    let scopes: String = r.try_get("scopes")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown token role {role}")))?,
        scopes: scopes.split(' ').filter_map(Scope::parse).collect(),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// A token name is a technical label, never a person's name: 1–64 of a-z 0-9 - _ .
fn check_name(name: &str) -> Result<(), FieldErrors> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        return Ok(());
    }
    Err(FieldErrors::single(
        "name",
        Invalid::new(
            "token_name",
            "label",
            "Gebruik 1 tot 64 kleine letters, cijfers, '-', '_' of '.' (een technische naam, geen persoonsnaam).",
            "Use 1 to 64 lowercase letters, digits, '-', '_' or '.' (a technical label, not a person's name).",
        ),
    ))
}

fn only_owner(access: &Access) -> Result<(), StoreError> {
    crate::permit::require(access, Resource::ApiTokens, Action::Write)
}

impl Store {
    fn token_hash(&self, secret: &str) -> Vec<u8> {
        self.keys.index.blind_index("api-token", secret)
    }

    /// Creates a token acting with `role` (a staff role) within `scopes`; returns
    /// it with its secret, which is not kept and cannot be shown again.
    pub async fn create_api_token(
        &self,
        access: &Access,
        name: &str,
        role: Role,
        scopes: &[Scope],
        expires_at: Option<i64>,
    ) -> Result<(ApiToken, Zeroizing<String>), StoreError> {
        only_owner(access)?;
        if !self.settings.allows_role(role) {
            return Err(crate::permit::no_staff());
        }
        let mut errors = check_name(name).err().unwrap_or_default();
        if role == Role::Subject {
            errors.0.extend(
                FieldErrors::single(
                    "role",
                    Invalid::new(
                        "token_role",
                        "staff_role",
                        "Een token werkt met de rol eigenaar, medewerker of boekhouder.",
                        "A token acts as owner, staff or bookkeeper.",
                    ),
                )
                .0,
            );
        }
        if scopes.is_empty() {
            errors.0.extend(
                FieldErrors::single(
                    "scopes",
                    Invalid::new(
                        "token_scopes",
                        "at_least_one",
                        "Kies ten minste één bevoegdheid.",
                        "Choose at least one scope.",
                    ),
                )
                .0,
            );
        }
        let now = now_micros();
        if expires_at.is_some_and(|e| e <= now) {
            errors.0.extend(
                FieldErrors::single(
                    "expires_at",
                    Invalid::new(
                        "token_expiry",
                        "in_the_future",
                        "De vervaldatum moet in de toekomst liggen.",
                        "The expiry date must lie in the future.",
                    ),
                )
                .0,
            );
        }
        if !errors.0.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let mut secret_bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
        let secret = Zeroizing::new(format!("{TOKEN_PREFIX}{}", hex::encode(secret_bytes)));
        let scopes_text = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO api_tokens (name, role, scopes, token_hash, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(role.as_str())
        .bind(scopes_text)
        .bind(self.token_hash(&secret))
        .bind(access.actor.reference())
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let created = token(&row)?;
        let mut event = Event::new(access, "api_token.create", "api_token", created.id);
        self.keys.seal_source(&mut event, None);
        crate::audit::append(&mut tx, &[event]).await?;
        tx.commit().await?;
        Ok((created, secret))
    }

    /// Every token, newest first (without secrets).
    pub async fn api_tokens(&self, access: &Access) -> Result<Vec<ApiToken>, StoreError> {
        crate::permit::require(access, Resource::ApiTokens, Action::Read)?;
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id DESC")).fetch_all(&self.pool).await?;
        rows.iter().map(token).collect()
    }

    /// Revokes a token for good. Revoking a revoked token changes nothing.
    pub async fn revoke_api_token(&self, access: &Access, id: i64) -> Result<(), StoreError> {
        only_owner(access)?;
        let mut tx = crate::db::write_tx(&self.pool).await?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
        found.ok_or(StoreError::NotFound { kind: "API token", id: id.to_string() })?;
        let changed = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed > 0 {
            let mut event = Event::new(access, "api_token.revoke", "api_token", id);
            self.keys.seal_source(&mut event, None);
            crate::audit::append(&mut tx, &[event]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The live token whose secret is `secret`, or `None` (unknown, revoked,
    /// expired, or not a token at all).
    pub async fn api_token(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() != TOKEN_PREFIX.len() + 64 {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(self.token_hash(secret))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let found = token(&row)?;
        let now = now_micros();
        if !found.is_live(now) {
            return Ok(None);
        }
        if found.last_used_at.is_none_or(|t| t < now - TOUCH_EVERY) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(found.id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(found))
    }
}
