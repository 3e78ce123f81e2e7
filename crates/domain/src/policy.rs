//! Who may do what: the one access policy.
//!
//! Every decision about access is a lookup in [`RULES`] (which principal may
//! take which action on which resource) and [`PURPOSES`] (which reasons a
//! principal may give). The store checks every operation against it, field by
//! field for reads and for writes; the web routes and API scopes ask it for
//! their role sets; the inventory names a [`FieldClass`] per column instead of
//! a reader list. To answer "who may change an IBAN?", read the rule for
//! `Fields(Finance)` / `Write` below.
//!
//! The golden tables in the store's and the web crate's tests are written by
//! hand from the requirements, not from this file: changing a rule here fails
//! them until the table is changed too, in the same commit.

use serde::Serialize;

use crate::Lang;

/// The roles people have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The owner of the company, also its data protection officer (M16).
    Owner,
    /// Staff with system access, under confidentiality (A14). Not invoices (A4).
    Staff,
    /// The bookkeeper under a DPA (M6): invoices and billing identity only (A4).
    Bookkeeper,
    /// The customer, for their own record.
    Subject,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Staff, Role::Bookkeeper, Role::Subject];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
            Role::Bookkeeper => "bookkeeper",
            Role::Subject => "subject",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Role::Owner => lang.pick("eigenaar", "owner"),
            Role::Staff => lang.pick("medewerker", "staff member"),
            Role::Bookkeeper => lang.pick("boekhouder", "bookkeeper"),
            Role::Subject => lang.pick("klant", "customer"),
        }
    }
}

/// Who acts, as the policy sees it: a person in a role, an API token acting in
/// a role (never more than that role, and never managing accounts or tokens),
/// the command line on the server, or a scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    Owner,
    Staff,
    Bookkeeper,
    /// The customer, on their own record only (the store checks whose record).
    Subject,
    OwnerToken,
    StaffToken,
    BookkeeperToken,
    /// Someone at the server's command line: holds the master key, so has the
    /// owner's access to data (audited like everyone), and manages the server.
    Operator,
    /// A scheduled job (retention, outbox, registry queue, journal replay).
    Job,
}

impl Principal {
    pub const ALL: [Principal; 9] = [
        Principal::Owner,
        Principal::Staff,
        Principal::Bookkeeper,
        Principal::Subject,
        Principal::OwnerToken,
        Principal::StaffToken,
        Principal::BookkeeperToken,
        Principal::Operator,
        Principal::Job,
    ];

    /// A person signed in with `role`.
    pub fn person(role: Role) -> Principal {
        match role {
            Role::Owner => Principal::Owner,
            Role::Staff => Principal::Staff,
            Role::Bookkeeper => Principal::Bookkeeper,
            Role::Subject => Principal::Subject,
        }
    }

    /// An API token acting in `role` (customers have no tokens).
    pub fn token(role: Role) -> Option<Principal> {
        match role {
            Role::Owner => Some(Principal::OwnerToken),
            Role::Staff => Some(Principal::StaffToken),
            Role::Bookkeeper => Some(Principal::BookkeeperToken),
            Role::Subject => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Principal::Owner => "owner",
            Principal::Staff => "staff",
            Principal::Bookkeeper => "bookkeeper",
            Principal::Subject => "subject",
            Principal::OwnerToken => "owner_token",
            Principal::StaffToken => "staff_token",
            Principal::BookkeeperToken => "bookkeeper_token",
            Principal::Operator => "operator",
            Principal::Job => "job",
        }
    }
}

/// Personal-data columns grouped by who may see them; every inventory field
/// belongs to one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    /// Contact details and preferences used to help the customer.
    Profile,
    /// Name, addresses, VAT and KVK numbers: what an invoice is addressed to.
    BillingIdentity,
    /// Bank details and invoices (A4).
    Finance,
    /// Registry contacts (handles) and what goes to a registry (M10, M11).
    RegistryContact,
    /// Source addresses in the audit trail (M17).
    Security,
    /// Login names and display names of accounts.
    Account,
    /// Passwords and second-factor secrets: verified, never read.
    Credential,
    /// Queued messages and registry payloads, until they are sent.
    Message,
    /// Who asked what in a data subject's request, and the answer prepared.
    Request,
}

impl FieldClass {
    pub const ALL: [FieldClass; 9] = [
        FieldClass::Profile,
        FieldClass::BillingIdentity,
        FieldClass::Finance,
        FieldClass::RegistryContact,
        FieldClass::Security,
        FieldClass::Account,
        FieldClass::Credential,
        FieldClass::Message,
        FieldClass::Request,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldClass::Profile => "profile",
            FieldClass::BillingIdentity => "billing_identity",
            FieldClass::Finance => "finance",
            FieldClass::RegistryContact => "registry_contact",
            FieldClass::Security => "security",
            FieldClass::Account => "account",
            FieldClass::Credential => "credential",
            FieldClass::Message => "message",
            FieldClass::Request => "request",
        }
    }
}

/// What is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// The personal-data fields of one class, wherever they are stored.
    Fields(FieldClass),
    /// Customer records as such: finding and listing them (no field values),
    /// creating one, erasing one, exporting one.
    Customers,
    /// Loading many customers at once from a file.
    Import,
    Invoices,
    Services,
    /// Handles (registry contacts) and domains.
    Handles,
    /// Operations queued for the registries: watching and retrying them.
    RegistryQueue,
    /// Statute/DPA acceptances recorded for a customer (A1).
    Statute,
    /// A customer's request to be erased (M9).
    ErasureRequests,
    /// The retention plan and its runs.
    Retention,
    /// Legal holds that stop a customer's erasure (M9).
    LegalHolds,
    /// The whole audit trail: verifying and browsing it.
    AuditTrail,
    /// One customer's "who looked at my data".
    AccessLog,
    /// Portal invitations of customers.
    Invitations,
    /// Staff and bookkeeper accounts.
    Accounts,
    /// An activation code read out by phone instead of sent.
    ActivationCode,
    ApiTokens,
    Backups,
    /// Messages in the outbox: queueing one (write), cancelling one (erase).
    Messages,
    /// The register of requests from data subjects (Art. 12–21), customers
    /// or not: recording, finding their records, answering.
    SubjectRequests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Write,
    Erase,
    Export,
    /// Showing a secret (an activation code) to someone other than its holder.
    DiscloseCredential,
}

/// Why personal data is accessed. Chosen from a short list, never free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPurpose {
    /// Helping the customer with a question or problem.
    Support,
    /// Invoicing and the financial administration.
    Billing,
    /// Domain registration and registry contacts.
    Registry,
    /// Carrying out a request of the person themselves (access, export, erasure).
    DataSubjectRequest,
    /// A legal obligation (tax authority, court order).
    LegalObligation,
    /// Investigating a security incident (M17).
    SecurityIncident,
    /// Keeping the administration correct (creating, correcting records).
    Administration,
    /// Scheduled retention work.
    Retention,
}

impl AccessPurpose {
    pub const ALL: [AccessPurpose; 8] = [
        AccessPurpose::Support,
        AccessPurpose::Billing,
        AccessPurpose::Registry,
        AccessPurpose::DataSubjectRequest,
        AccessPurpose::LegalObligation,
        AccessPurpose::SecurityIncident,
        AccessPurpose::Administration,
        AccessPurpose::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessPurpose::Support => "support",
            AccessPurpose::Billing => "billing",
            AccessPurpose::Registry => "registry",
            AccessPurpose::DataSubjectRequest => "data_subject_request",
            AccessPurpose::LegalObligation => "legal_obligation",
            AccessPurpose::SecurityIncident => "security_incident",
            AccessPurpose::Administration => "administration",
            AccessPurpose::Retention => "retention",
        }
    }

    pub fn parse(s: &str) -> Option<AccessPurpose> {
        AccessPurpose::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

/// One permission: these principals may take `action` on `resource`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub resource: Resource,
    pub action: Action,
    pub who: &'static [Principal],
}

use AccessPurpose as Why;
use Action::*;
use FieldClass as F;
use Principal::*;
use Resource::*;

/// Every permission there is. Anything not listed is refused.
pub const RULES: &[Rule] = &[
    // Customer fields, by class. Staff never see or change bank details (A4);
    // the bookkeeper sees what an invoice needs and changes nothing (M6).
    rule(Fields(F::Profile), Read, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject, Job]),
    rule(Fields(F::Profile), Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    rule(
        Fields(F::BillingIdentity),
        Read,
        &[Owner, OwnerToken, Operator, Staff, StaffToken, Bookkeeper, BookkeeperToken, Subject, Job],
    ),
    rule(Fields(F::BillingIdentity), Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    rule(Fields(F::Finance), Read, &[Owner, OwnerToken, Operator, Bookkeeper, BookkeeperToken, Subject]),
    rule(Fields(F::Finance), Write, &[Owner, OwnerToken, Operator, Subject]),
    rule(Fields(F::RegistryContact), Read, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject, Job]),
    rule(Fields(F::RegistryContact), Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    // Source addresses: for the data protection officer investigating (M17).
    rule(Fields(F::Security), Read, &[Owner, Operator]),
    rule(Fields(F::Account), Read, &[Owner, Operator, Subject]),
    rule(Fields(F::Message), Read, &[Owner, Operator, Job]),
    // Requests of data subjects: the data protection officer (M16); the job
    // behind a one-time download link hands its holder the prepared answer.
    rule(Fields(F::Request), Read, &[Owner, Operator, Job]),
    rule(Fields(F::Request), Write, &[Owner, Operator]),
    // Credentials: no rule, so nobody reads or writes them through the policy;
    // only their holder sets them, through the login flows.

    // Customer records.
    rule(Customers, Read, &[Owner, OwnerToken, Operator, Staff, StaffToken, Bookkeeper, BookkeeperToken]),
    rule(Customers, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken]),
    rule(Customers, Export, &[Owner, OwnerToken, Operator, Staff, StaffToken, Bookkeeper, BookkeeperToken, Subject]),
    rule(Customers, Erase, &[Owner, Operator, Subject, Job]),
    rule(Import, Write, &[Owner, Operator]),
    // Invoices (A4, A6).
    rule(Invoices, Read, &[Owner, OwnerToken, Operator, Bookkeeper, BookkeeperToken, Subject]),
    rule(Invoices, Write, &[Owner, OwnerToken, Operator, Bookkeeper, BookkeeperToken]),
    // Delivering an invoice (its document to the outbox or the print queue,
    // A12): the delivery job reads the whole invoice it sends, nothing else.
    rule(Invoices, Export, &[Owner, OwnerToken, Operator, Bookkeeper, BookkeeperToken, Job]),
    // Services, handles and domains, statute acceptances, erasure requests.
    rule(Services, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken]),
    rule(Handles, Read, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject, Job]),
    rule(Handles, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    rule(RegistryQueue, Write, &[Owner, Operator, Staff, Job]),
    rule(Statute, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    rule(ErasureRequests, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Subject]),
    // Retention, legal holds and the trail: the data protection officer (M16).
    rule(Retention, Read, &[Owner, Operator]),
    rule(Retention, Write, &[Owner, Operator, Job]),
    rule(LegalHolds, Write, &[Owner, Operator]),
    rule(AuditTrail, Read, &[Owner, OwnerToken, Operator]),
    rule(AccessLog, Read, &[Owner, OwnerToken, Operator, Subject]),
    rule(SubjectRequests, Read, &[Owner, Operator]),
    rule(SubjectRequests, Write, &[Owner, Operator]),
    rule(SubjectRequests, Erase, &[Owner, Operator, Job]),
    // Accounts and secrets. Tokens never manage accounts or tokens.
    rule(Invitations, Write, &[Owner, Operator, Staff]),
    rule(ActivationCode, DiscloseCredential, &[Owner, Operator]),
    rule(Accounts, Read, &[Owner, Operator]),
    rule(Accounts, Write, &[Owner, Operator]),
    rule(ApiTokens, Read, &[Owner, Operator]),
    rule(ApiTokens, Write, &[Owner, Operator]),
    rule(Backups, Write, &[Operator, Job]),
    // Messages: anyone whose work sends one queues it (a customer only about
    // themselves); only the company cancels.
    rule(Messages, Write, &[Owner, OwnerToken, Operator, Staff, StaffToken, Bookkeeper, BookkeeperToken, Subject, Job]),
    rule(Messages, Erase, &[Owner, Operator, Staff, Job]),
];

const fn rule(resource: Resource, action: Action, who: &'static [Principal]) -> Rule {
    Rule { resource, action, who }
}

/// The reasons each principal may give. The bookkeeper works for invoicing
/// only (A4); only the scheduled jobs do retention work.
pub static PURPOSES: &[(Principal, &[AccessPurpose])] = &[
    (Owner, OWNER_PURPOSES),
    (OwnerToken, OWNER_PURPOSES),
    (Operator, &AccessPurpose::ALL),
    (Staff, STAFF_PURPOSES),
    (StaffToken, STAFF_PURPOSES),
    (Bookkeeper, &[Why::Billing]),
    (BookkeeperToken, &[Why::Billing]),
    (Subject, &[Why::DataSubjectRequest, Why::Support, Why::Administration, Why::Registry]),
    (Job, &AccessPurpose::ALL),
];

const OWNER_PURPOSES: &[AccessPurpose] = &[
    Why::Support,
    Why::Administration,
    Why::Registry,
    Why::DataSubjectRequest,
    Why::SecurityIncident,
    Why::LegalObligation,
    Why::Billing,
];
const STAFF_PURPOSES: &[AccessPurpose] = &[
    Why::Support,
    Why::Administration,
    Why::Registry,
    Why::DataSubjectRequest,
    Why::SecurityIncident,
    Why::LegalObligation,
];

/// Whether `who` may take `action` on `resource`.
pub fn allows(who: Principal, resource: Resource, action: Action) -> bool {
    TABLE[resource.slot()][action as usize] & (1 << who as u16) != 0
}

/// [`RULES`] as a lookup table, made by the compiler: per resource and action,
/// one bit per principal. Every read checks each field against the policy,
/// so a decision must cost a load, not a search.
static TABLE: [[u16; ACTIONS]; RESOURCES] = table(RULES);

const ACTIONS: usize = 5;
const RESOURCES: usize = FieldClass::ALL.len() + 19;

const fn table(rules: &[Rule]) -> [[u16; ACTIONS]; RESOURCES] {
    let mut t = [[0u16; ACTIONS]; RESOURCES];
    let mut i = 0;
    while i < rules.len() {
        let r = &rules[i];
        let mut j = 0;
        while j < r.who.len() {
            t[r.resource.slot()][r.action as usize] |= 1 << r.who[j] as u16;
            j += 1;
        }
        i += 1;
    }
    t
}

impl Resource {
    /// Every resource, each field class as one.
    pub fn all() -> Vec<Resource> {
        let classes = FieldClass::ALL.into_iter().map(Fields);
        let others = [
            Customers,
            Import,
            Invoices,
            Services,
            Handles,
            RegistryQueue,
            Statute,
            ErasureRequests,
            Retention,
            LegalHolds,
            AuditTrail,
            AccessLog,
            Invitations,
            Accounts,
            ActivationCode,
            ApiTokens,
            Backups,
            Messages,
            SubjectRequests,
        ];
        classes.chain(others).collect()
    }

    /// Its row in [`TABLE`].
    const fn slot(self) -> usize {
        const N: usize = FieldClass::ALL.len();
        match self {
            Fields(class) => class as usize,
            Customers => N,
            Import => N + 1,
            Invoices => N + 2,
            Services => N + 3,
            Handles => N + 4,
            RegistryQueue => N + 5,
            Statute => N + 6,
            ErasureRequests => N + 7,
            Retention => N + 8,
            LegalHolds => N + 9,
            AuditTrail => N + 10,
            AccessLog => N + 11,
            Invitations => N + 12,
            Accounts => N + 13,
            ActivationCode => N + 14,
            ApiTokens => N + 15,
            Backups => N + 16,
            Messages => N + 17,
            SubjectRequests => N + 18,
        }
    }
}

/// The reasons `who` may give for an access.
pub fn purposes(who: Principal) -> &'static [AccessPurpose] {
    PURPOSES.iter().find(|(p, _)| *p == who).map(|(_, list)| *list).unwrap_or(&[])
}

/// Whether `who` may act for `purpose`.
pub fn may_give(who: Principal, purpose: AccessPurpose) -> bool {
    purposes(who).contains(&purpose)
}

/// The people's roles that may take `action` on `resource` when signed in (for
/// the back-office menu and route table).
pub fn roles(resource: Resource, action: Action) -> impl Iterator<Item = Role> {
    Role::ALL.into_iter().filter(move |r| allows(Principal::person(*r), resource, action))
}

/// Settings of the policy that differ between the two source protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Whether the company has staff with access to personal data at all.
    /// Protocol M allows only the owner and the bookkeeper (M6); statute A has
    /// staff under confidentiality (A14).
    pub staff_accounts: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { staff_accounts: true }
    }
}

impl Settings {
    /// Whether an account of `role` may exist under these settings.
    pub fn allows_role(&self, role: Role) -> bool {
        role != Role::Staff || self.staff_accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_principal_has_purposes_and_credentials_have_no_rule() {
        for p in Principal::ALL {
            assert!(!purposes(p).is_empty(), "{p:?} can give no purpose");
        }
        assert!(RULES.iter().all(|r| r.resource != Fields(F::Credential)));
    }

    /// The table answers what a plain reading of the rules answers, for every
    /// principal, resource and action.
    #[test]
    fn the_table_says_what_the_rules_say() {
        let resources = Resource::all();
        let slots: std::collections::BTreeSet<usize> = resources.iter().map(|r| r.slot()).collect();
        assert_eq!((resources.len(), slots.len()), (RESOURCES, RESOURCES), "every resource has a row of its own");
        for resource in resources {
            for action in [Read, Write, Erase, Export, DiscloseCredential] {
                for who in Principal::ALL {
                    let declared =
                        RULES.iter().any(|r| r.resource == resource && r.action == action && r.who.contains(&who));
                    assert_eq!(allows(who, resource, action), declared, "{who:?} {action:?} {resource:?}");
                }
            }
        }
    }

    #[test]
    fn no_rule_is_declared_twice() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert!(!(a.resource == b.resource && a.action == b.action), "{:?} {:?} twice", a.resource, a.action);
            }
        }
    }

    #[test]
    fn tokens_never_exceed_their_role() {
        for rule in RULES {
            for role in [Role::Owner, Role::Staff, Role::Bookkeeper] {
                let token = Principal::token(role).unwrap();
                if rule.who.contains(&token) {
                    assert!(
                        rule.who.contains(&Principal::person(role)),
                        "{token:?} may {:?} {:?}",
                        rule.action,
                        rule.resource
                    );
                }
            }
        }
        for p in PURPOSES.iter().map(|(p, _)| *p) {
            if let Some(role) =
                [Role::Owner, Role::Staff, Role::Bookkeeper].into_iter().find(|r| Principal::token(*r) == Some(p))
            {
                assert!(purposes(p).iter().all(|why| may_give(Principal::person(role), *why)));
            }
        }
    }

    #[test]
    fn without_staff_accounts_only_staff_is_refused() {
        let m = Settings { staff_accounts: false };
        assert!(!m.allows_role(Role::Staff));
        assert!(m.allows_role(Role::Bookkeeper) && m.allows_role(Role::Owner));
    }
}
