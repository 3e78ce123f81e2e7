//! The data inventory: every column that holds personal data, declared once.
//!
//! Storage encrypts exactly the columns listed here, access checks ask the
//! policy ([`crate::policy`]) about each field's class, the export and the
//! erasure walk the same list, and the published documents (processor register, privacy statement) are rendered from it.
//! A test compares the live database schema with this file: a column that is
//! neither declared here nor listed in [`NON_PERSONAL`] fails the build.

use std::collections::HashMap;

use serde::Serialize;

use crate::Lang;

pub use crate::policy::Role;
use crate::policy::{Action, FieldClass, Principal, Resource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Identity,
    ContactDetails,
    Address,
    Financial,
    Preference,
    RegistryContact,
    ServiceDescription,
    Technical,
    /// Passwords and second-factor secrets: readable by nobody, only verified.
    Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Delivering the services the customer pays for (M1).
    ServiceDelivery,
    /// Invoicing and the financial administration (A6).
    Invoicing,
    /// Registering domains at registries (M10, M11).
    DomainRegistration,
    /// Talking to the customer (A9).
    Communication,
    /// Proving who touched what (audit trail, M17).
    Accountability,
    /// Answering the requests of the people whose data is held (Art. 12–21).
    SubjectRights,
}

/// GDPR art. 6(1) grounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// 6(1)(b): needed to perform the contract.
    Contract,
    /// 6(1)(c): required by law (tax law for invoices).
    LegalObligation,
    /// 6(1)(f): the company's legitimate interest (security of its systems).
    LegitimateInterest,
    /// 6(1)(a): the person agreed (e-mail communication, A9).
    Consent,
}

/// When a field is deleted. The schedules themselves run in the retention job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Until the first working day of January after the relationship ended (one
    /// year after the last invoice), or sooner when the customer asks (M9).
    CustomerRelationship,
    /// While a domain uses the handle; unused handles go on the first working day
    /// of January, or sooner when the customer deletes them (M12).
    HandleInUse,
    /// Seven years after the end of the invoice's calendar year (A6).
    InvoiceSevenYears,
    /// With the audit trail; a customer's own entries become unreadable when the
    /// customer is erased (their key is destroyed).
    AuditTrail,
    /// While the account exists: a customer's account goes with the customer,
    /// a staff account when it is removed.
    Account,
    /// Until the message is sent, given up or cancelled; then wiped (the
    /// outbox keeps only non-personal status).
    UntilSent,
    /// A request of a data subject: one year after it was closed, to show how
    /// it was handled; then the requester's data goes (its key is destroyed).
    RequestHandled,
}

/// Who else receives a field (A7: nobody but these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The domain registry or registrar partner (M10, A8).
    Registry,
    /// The external bookkeeper (M6, processor).
    Bookkeeper,
    /// The backup storage provider, which only ever receives ciphertext (M7).
    BackupStorage,
    /// The SMTP relay that delivers custodian's e-mail (processor).
    MailProvider,
    /// The SMS provider (CM.com or the configured webhook; processor).
    SmsGateway,
}

/// Whose data key encrypts a field (and so whose erasure destroys it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOwner {
    Customer,
    Invoice,
    /// The customer's key for customer actors, the system key otherwise.
    Actor,
    /// The system key: data that belongs to no single customer record.
    System,
    /// The request's own key, destroyed when its retention ends.
    Request,
}

/// One personal-data column.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub table: &'static str,
    pub column: &'static str,
    pub label_nl: &'static str,
    pub label_en: &'static str,
    pub category: Category,
    pub purpose: Purpose,
    pub basis: LegalBasis,
    /// Who may read and write it: see the policy's rules for this class.
    pub class: FieldClass,
    pub retention: Retention,
    pub recipients: &'static [Recipient],
    pub key: KeyOwner,
    /// The column of the keyed blind index for exact-match lookups, if any.
    pub blind_index: Option<&'static str>,
}

impl Field {
    pub fn label(&self, lang: Lang) -> &'static str {
        lang.pick(self.label_nl, self.label_en)
    }

    /// Whether a person signed in with `role` may read this field.
    pub fn may_read(&self, role: Role) -> bool {
        self.allows(Principal::person(role), Action::Read)
    }

    /// Whether `who` may read (or write) this field, by the policy.
    pub fn allows(&self, who: Principal, action: Action) -> bool {
        crate::policy::allows(who, Resource::Fields(self.class), action)
    }

    /// The people's roles that may read this field (for documents).
    pub fn readers(&self) -> Vec<Role> {
        crate::policy::roles(Resource::Fields(self.class), Action::Read).collect()
    }
}

/// A column derived from personal data for lookups (keyed hashes). Not
/// reversible without the index key, but still personal data: erased with its source.
#[derive(Debug, Clone, Serialize)]
pub struct DerivedIndex {
    pub table: &'static str,
    pub column: &'static str,
    pub derived_from: &'static [&'static str],
}

use Category::*;
use KeyOwner as K;
use LegalBasis::*;
use Purpose::*;
use Recipient as To;
use Retention::*;

const PROFILE: FieldClass = FieldClass::Profile;
const BILLING_IDENTITY: FieldClass = FieldClass::BillingIdentity;
const FINANCE: FieldClass = FieldClass::Finance;
const REGISTRY_CONTACT: FieldClass = FieldClass::RegistryContact;
const SECURITY: FieldClass = FieldClass::Security;
const ACCOUNT: FieldClass = FieldClass::Account;
const NOBODY: FieldClass = FieldClass::Credential;
const MESSAGE: FieldClass = FieldClass::Message;
const REQUEST: FieldClass = FieldClass::Request;

macro_rules! fields {
    ($($table:literal . $column:literal, $nl:literal, $en:literal, $cat:expr, $purpose:expr, $basis:expr,
       $class:expr, $ret:expr, [$($rcpt:expr),*], $key:expr $(, index $idx:literal)?;)*) => {
        &[$(Field {
            table: $table,
            column: $column,
            label_nl: $nl,
            label_en: $en,
            category: $cat,
            purpose: $purpose,
            basis: $basis,
            class: $class,
            retention: $ret,
            recipients: &[$($rcpt),*],
            key: $key,
            blind_index: fields!(@idx $($idx)?),
        }),*]
    };
    (@idx $idx:literal) => { Some($idx) };
    (@idx) => { None };
}

/// Every personal-data column custodian has.
pub static FIELDS: &[Field] = fields![
    "customers"."company_name", "Bedrijfsnaam", "Company name", Identity, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."contact_name", "Naam contactpersoon", "Contact name", Identity, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."gender", "Geslacht", "Gender", Identity, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."department", "Afdeling", "Department", Identity, ServiceDelivery, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."visit_street", "Bezoekadres", "Visiting address", Address, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."visit_postcode", "Postcode", "Postal code", Address, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."visit_city", "Plaats", "City", Address, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."visit_country", "Land", "Country", Address, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."corr_street", "Correspondentieadres", "Correspondence address", Address, Invoicing, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."corr_postcode", "Postcode correspondentieadres", "Correspondence postal code", Address, Invoicing, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."corr_city", "Plaats correspondentieadres", "Correspondence city", Address, Invoicing, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."corr_country", "Land correspondentieadres", "Correspondence country", Address, Invoicing, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."phone", "Telefoon", "Phone", ContactDetails, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."phone2", "Tweede telefoon", "Second phone", ContactDetails, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."email", "E-mailadres", "E-mail address", ContactDetails, Communication, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer, index "email_bidx";
    "customers"."email2", "Tweede e-mailadres", "Second e-mail address", ContactDetails, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."second_contact", "Tweede contactpersoon", "Second contact", Identity, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."own_reference", "Eigen referentie", "Own reference", ServiceDescription, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."btw", "Btw-nummer", "VAT number", Financial, Invoicing, LegalObligation, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."kvk", "KVK-nummer", "Chamber of Commerce number", Financial, Invoicing, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer, index "kvk_bidx";
    "customers"."iban", "IBAN", "IBAN", Financial, Invoicing, Contract, FINANCE, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."iban_holder", "Tenaamstelling IBAN", "IBAN holder", Financial, Invoicing, Contract, FINANCE, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;
    "customers"."language", "Voorkeurstaal", "Preferred language", Preference, Communication, Contract, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;
    "customers"."email_consent", "Toestemming e-mail", "Consent to e-mail", Preference, Communication, Consent, PROFILE, CustomerRelationship, [To::BackupStorage], K::Customer;

    "contacts"."handle", "Handle", "Handle", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer, index "handle_bidx";
    "contacts"."name", "Naam", "Name", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."organisation", "Organisatie", "Organisation", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."addr_street", "Adres", "Address", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."addr_postcode", "Postcode", "Postal code", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."addr_city", "Plaats", "City", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."addr_country", "Land", "Country", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."foreign_street", "Vestigingsadres buitenland", "Foreign establishment address", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."foreign_postcode", "Postcode vestiging buitenland", "Foreign establishment postal code", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."foreign_city", "Plaats vestiging buitenland", "Foreign establishment city", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."foreign_country", "Land vestiging buitenland", "Foreign establishment country", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."phone", "Telefoon", "Phone", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."email", "E-mailadres", "E-mail address", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."legal_form", "Rechtsvorm", "Legal form", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;
    "contacts"."kvk", "KVK-nummer", "Chamber of Commerce number", RegistryContact, DomainRegistration, Contract, REGISTRY_CONTACT, HandleInUse, [To::Registry, To::BackupStorage], K::Customer;

    "services"."description", "Omschrijving dienst", "Service description", ServiceDescription, ServiceDelivery, Contract, BILLING_IDENTITY, CustomerRelationship, [To::Bookkeeper, To::BackupStorage], K::Customer;

    "invoices"."billing_name", "Naam op factuur", "Billing name", Identity, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_contact", "Contactpersoon op factuur", "Billing contact", Identity, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_street", "Factuuradres", "Billing address", Address, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_postcode", "Postcode factuuradres", "Billing postal code", Address, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_city", "Plaats factuuradres", "Billing city", Address, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_country", "Land factuuradres", "Billing country", Address, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_btw", "Btw-nummer op factuur", "Billing VAT number", Financial, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_kvk", "KVK-nummer op factuur", "Billing Chamber of Commerce number", Financial, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoices"."billing_email", "Factuur-e-mailadres", "Billing e-mail address", ContactDetails, Invoicing, Contract, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;
    "invoice_lines"."description", "Omschrijving factuurregel", "Invoice line description", ServiceDescription, Invoicing, LegalObligation, FINANCE, InvoiceSevenYears, [To::Bookkeeper, To::BackupStorage], K::Invoice;

    "audit_log"."source", "Herkomstadres (IP)", "Source address (IP)", Technical, Accountability, LegitimateInterest, SECURITY, AuditTrail, [To::BackupStorage], K::Actor;

    "users"."login", "Inlognaam (e-mailadres)", "Login name (e-mail address)", ContactDetails, Accountability, Contract, ACCOUNT, Account, [To::BackupStorage], K::System, index "login_bidx";
    "users"."display_name", "Naam medewerker", "Staff member's name", Identity, Accountability, Contract, ACCOUNT, Account, [To::BackupStorage], K::System;
    "users"."password_hash", "Wachtwoord (argon2id-hash)", "Password (argon2id hash)", Credential, Accountability, LegitimateInterest, NOBODY, Account, [To::BackupStorage], K::System;
    "users"."totp_secret", "Geheim tweede factor", "Second-factor secret", Credential, Accountability, LegitimateInterest, NOBODY, Account, [To::BackupStorage], K::System;
    "users"."phone", "Mobiel nummer medewerker (voor de activeringscode)", "Staff member's mobile number (for the activation code)", ContactDetails, Accountability, Contract, ACCOUNT, Account, [To::SmsGateway, To::BackupStorage], K::System;
    "users"."dpa_reference", "Kenmerk verwerkersovereenkomst boekhouder", "Bookkeeper's DPA reference", Identity, Accountability, LegalObligation, ACCOUNT, Account, [To::BackupStorage], K::System;
    "sessions"."totp_pending", "Geheim tweede factor in aanmaak", "Second-factor secret being set up", Credential, Accountability, LegitimateInterest, NOBODY, Account, [To::BackupStorage], K::System;

    "outbox"."recipient", "Ontvanger bericht (e-mailadres of telefoonnummer)", "Message recipient (e-mail address or phone number)", ContactDetails, Communication, Contract, MESSAGE, UntilSent, [To::MailProvider, To::SmsGateway, To::BackupStorage], K::System;
    "outbox"."subject", "Onderwerp bericht", "Message subject", Identity, Communication, Contract, MESSAGE, UntilSent, [To::MailProvider, To::BackupStorage], K::System;
    "outbox"."body", "Berichttekst (naam, inlognaam of activeringscode)", "Message text (name, login name or activation code)", Identity, Communication, Contract, MESSAGE, UntilSent, [To::MailProvider, To::SmsGateway, To::BackupStorage], K::System;
    "outbox"."attachment", "Bijlage bericht (factuur of creditnota als PDF, alleen aan zakelijke klanten)", "Message attachment (an invoice or credit note as PDF, to business customers only)", Financial, Invoicing, Contract, MESSAGE, UntilSent, [To::MailProvider, To::BackupStorage], K::System;
    "subject_requests"."name", "Naam verzoeker", "Requester's name", Identity, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;
    "subject_requests"."email", "E-mailadres verzoeker", "Requester's e-mail address", ContactDetails, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::MailProvider, To::BackupStorage], K::Request;
    "subject_requests"."phone", "Telefoon verzoeker", "Requester's phone", ContactDetails, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;
    "subject_requests"."address", "Postadres verzoeker", "Requester's postal address", Address, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;
    "subject_requests"."handle", "Handle genoemd door verzoeker", "Handle the requester named", RegistryContact, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;
    "subject_requests"."summary", "Wat de verzoeker vraagt", "What the requester asks", Identity, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;
    "subject_requests"."answer", "Antwoord voor de downloadlink (de gevonden gegevens)", "Answer behind the download link (the data found)", Identity, SubjectRights, LegalObligation, REQUEST, RequestHandled, [To::BackupStorage], K::Request;

    "registry_ops"."payload", "Gegevens voor de registry (handlegegevens of handle-ID)", "Data for the registry (handle data or handle ID)", RegistryContact, DomainRegistration, Contract, MESSAGE, UntilSent, [To::Registry, To::BackupStorage], K::System;
];

/// Keyed-hash columns derived from personal data, beyond the per-field blind
/// indexes declared on [`Field::blind_index`].
pub static DERIVED: &[DerivedIndex] = &[
    DerivedIndex {
        table: "customer_name_words",
        column: "word",
        derived_from: &["company_name", "contact_name", "second_contact"],
    },
    // A domain contact's name words, so a request from a person who is not
    // a customer finds the handles that name them (Art. 15).
    DerivedIndex { table: "contact_name_words", column: "word", derived_from: &["name", "organisation"] },
    DerivedIndex { table: "contacts", column: "email_bidx", derived_from: &["email"] },
    // A keyed hash of the login as typed (or the account) with the client
    // address; deleted by the scheduler a day after it stops counting.
    DerivedIndex { table: "auth_failures", column: "key_hash", derived_from: &["login"] },
];

/// Columns that hold no personal data, each with the reason.
pub static NON_PERSONAL: &[(&str, &str, &str)] = &[
    ("customers", "id", "customer number (pseudonymous key)"),
    ("customers", "kind", "business or private: decides which rules apply"),
    ("customers", "status", "active or erased"),
    ("customers", "key_id", "reference to the wrapped data key"),
    ("customers", "entered_by", "actor that created the record on the customer's behalf (M2)"),
    ("customers", "created_at", "timestamp"),
    ("customers", "updated_at", "timestamp"),
    ("customers", "erased_at", "timestamp"),
    ("customer_name_words", "customer_id", "pseudonymous key"),
    ("contacts", "last_used_at", "when a domain last used the handle (M12)"),
    ("contacts", "id", "pseudonymous key"),
    ("contacts", "customer_id", "pseudonymous key"),
    ("contacts", "registry", "which registry holds the handle"),
    ("contacts", "created_at", "timestamp"),
    ("contacts", "updated_at", "timestamp"),
    ("services", "id", "pseudonymous key"),
    ("services", "customer_id", "pseudonymous key"),
    ("services", "kind", "kind of service"),
    ("services", "status", "service status"),
    ("services", "started_on", "date"),
    ("services", "ended_on", "date"),
    ("services", "for_third_party", "whether the service is delivered for a third party (yes or no)"),
    ("invoices", "id", "pseudonymous key"),
    ("invoices", "customer_id", "pseudonymous key"),
    ("invoices", "key_id", "reference to the wrapped invoice key"),
    ("invoices", "number", "invoice number"),
    ("invoices", "issued_on", "date"),
    ("invoices", "due_on", "date"),
    ("invoices", "paid_on", "date"),
    ("invoices", "delivery", "post or e-mail"),
    ("invoices", "net_cents", "amount"),
    ("invoices", "vat_cents", "amount"),
    ("invoices", "total_cents", "amount"),
    ("invoices", "created_at", "timestamp"),
    ("invoices", "credit_for", "number of the invoice a credit note credits"),
    ("invoices", "paid_cents", "amount"),
    ("invoices", "credited_cents", "amount"),
    ("invoices", "posted_at", "timestamp"),
    ("invoices", "emailed_at", "timestamp"),
    ("invoice_payments", "id", "pseudonymous key"),
    ("invoice_payments", "invoice_id", "pseudonymous key"),
    ("invoice_payments", "paid_on", "date"),
    ("invoice_payments", "amount_cents", "amount"),
    ("invoice_payments", "created_at", "timestamp"),
    ("invoice_lines", "id", "pseudonymous key"),
    ("invoice_lines", "invoice_id", "pseudonymous key"),
    ("invoice_lines", "position", "line order"),
    ("invoice_lines", "quantity", "amount"),
    ("invoice_lines", "unit_price_cents", "amount"),
    ("invoice_lines", "vat_rate_bp", "VAT rate"),
    ("statute_acceptances", "id", "pseudonymous key"),
    ("statute_acceptances", "customer_id", "pseudonymous key"),
    ("statute_acceptances", "version", "statute/DPA version (A1)"),
    ("statute_acceptances", "accepted_at", "timestamp"),
    ("statute_acceptances", "recorded_by", "actor kind and pseudonymous ID"),
    ("data_keys", "id", "key reference"),
    ("data_keys", "wrapped", "data key encrypted under the master key"),
    ("data_keys", "created_at", "timestamp"),
    ("keyring", "name", "system key name"),
    ("keyring", "wrapped", "system key encrypted under the master key"),
    (
        "job_leases",
        "*",
        "scheduled jobs: the job's name, the instance holding it (host, process ID, random), lease and run times and counts",
    ),
    ("meta", "name", "setting name"),
    ("meta", "value", "setting value (master key fingerprint, schema facts)"),
    ("audit_log", "seq", "position in the chain"),
    ("audit_log", "at", "timestamp"),
    ("audit_log", "actor_kind", "staff, customer, job, api or operator"),
    ("audit_log", "actor_id", "pseudonymous actor ID"),
    ("audit_log", "action", "what was done"),
    ("audit_log", "subject_kind", "kind of record touched"),
    ("audit_log", "subject_id", "pseudonymous record ID"),
    ("audit_log", "fields", "names of the fields touched, never their values"),
    ("audit_log", "purpose", "why"),
    ("audit_log", "source_key", "which key encrypts the source address"),
    ("audit_log", "prev_hash", "hash chain"),
    ("audit_log", "hash", "hash chain"),
    ("audit_head", "id", "single row"),
    ("audit_head", "seq", "last position"),
    ("audit_head", "hash", "last hash"),
    ("users", "id", "pseudonymous account ID"),
    ("users", "role", "owner, staff, bookkeeper or customer"),
    ("users", "customer_id", "pseudonymous key"),
    ("users", "totp_last_step", "replay protection counter"),
    ("users", "failed_logins", "counter"),
    ("users", "locked_until", "timestamp"),
    ("users", "created_at", "timestamp"),
    ("users", "updated_at", "timestamp"),
    ("users", "disabled_at", "timestamp"),
    (
        "users",
        "confidentiality_signed_on",
        "date the confidentiality statement was signed (A14): the basis of a staff account",
    ),
    ("users", "dpa_signed_on", "date of the bookkeeper's DPA (M6): the basis of a bookkeeper account"),
    ("users", "last_login_at", "timestamp"),
    ("users", "removed_at", "timestamp; a removed account keeps only its ID and role"),
    ("sessions", "token_hash", "hash of a random session token"),
    ("sessions", "user_id", "pseudonymous account ID"),
    ("sessions", "csrf", "random anti-forgery token"),
    ("sessions", "second_factor", "whether the second factor was given"),
    ("sessions", "created_at", "timestamp"),
    ("sessions", "last_seen_at", "timestamp"),
    ("sessions", "expires_at", "timestamp"),
    ("sessions", "language", "the language chosen for the session: nl or en"),
    ("sessions", "notice", "a fixed code of a notice to show once, such as saved"),
    ("one_time_codes", "code_hash", "keyed hash of a random one-time code"),
    ("one_time_codes", "purpose", "setup, activation or reset"),
    ("one_time_codes", "user_id", "pseudonymous account ID"),
    ("one_time_codes", "created_at", "timestamp"),
    ("one_time_codes", "expires_at", "timestamp"),
    ("one_time_codes", "used_at", "timestamp"),
    ("recovery_codes", "code_hash", "keyed hash of a random recovery code"),
    ("recovery_codes", "user_id", "pseudonymous account ID"),
    ("recovery_codes", "created_at", "timestamp"),
    ("erasure_journal", "seq", "position"),
    ("erasure_journal", "subject_kind", "kind of record erased"),
    ("erasure_journal", "subject_id", "pseudonymous ID of what was erased"),
    ("erasure_journal", "erased_at", "timestamp"),
    ("erasure_journal", "reason", "reason code"),
    ("_sqlx_migrations", "*", "schema migration bookkeeping"),
    ("api_tokens", "id", "pseudonymous token ID"),
    ("api_tokens", "name", "technical label of an integration (lowercase letters, digits, - _ .)"),
    ("api_tokens", "role", "staff role the token acts with"),
    ("api_tokens", "scopes", "what the token may do"),
    ("api_tokens", "token_hash", "keyed hash of a random token"),
    ("api_tokens", "created_by", "actor kind and pseudonymous ID"),
    ("api_tokens", "created_at", "timestamp"),
    ("api_tokens", "expires_at", "timestamp"),
    ("api_tokens", "last_used_at", "timestamp"),
    ("api_tokens", "revoked_at", "timestamp"),
    ("outbox", "id", "message number (pseudonymous key)"),
    ("outbox", "channel", "e-mail or SMS"),
    ("outbox", "kind", "message kind code (which text), never the text"),
    ("outbox", "customer_id", "pseudonymous key"),
    ("outbox", "consent", "the consent basis claimed for an e-mail (A9): given, or a named exemption"),
    ("outbox", "purpose", "access purpose the message was queued for"),
    ("outbox", "status", "pending, sending, sent, failed or cancelled"),
    ("outbox", "attempts", "counter"),
    ("outbox", "retried_after_lease_expiry", "counter of possible duplicate sends"),
    ("outbox", "created_at", "timestamp"),
    ("outbox", "next_attempt_at", "timestamp"),
    ("outbox", "last_attempt_at", "timestamp"),
    ("outbox", "lease_until", "timestamp"),
    ("outbox", "claim_token", "random token of the worker's claim"),
    ("outbox", "finished_at", "timestamp"),
    ("outbox", "last_error", "provider's error text, scrubbed of addresses and numbers"),
    ("outbox", "attachment_name", "file name of the attachment: an invoice number"),
    ("erasure_requests", "customer_id", "pseudonymous key of a customer who asked for erasure"),
    ("erasure_requests", "requested_at", "timestamp"),
    ("erasure_requests", "requested_by", "actor kind and pseudonymous ID"),
    ("legal_holds", "customer_id", "pseudonymous key"),
    ("legal_holds", "reason", "reason code from a fixed list, never free text"),
    ("legal_holds", "placed_at", "timestamp"),
    ("legal_holds", "placed_by", "actor kind and pseudonymous ID"),
    ("retention_notices", "customer_id", "pseudonymous key"),
    ("retention_notices", "erasure_on", "date of the scheduled erasure the notice announced"),
    ("retention_notices", "queued_at", "timestamp"),
    ("contacts", "status", "where the handle stands at its registry: local, pending, active, deleting or failed"),
    ("contacts", "passthrough", "whether the holder data is kept at the registry only (A8)"),
    ("domains", "id", "pseudonymous key"),
    ("domains", "customer_id", "pseudonymous key"),
    ("domains", "service_id", "pseudonymous key"),
    (
        "domains",
        "name",
        "the domain name: public in DNS and at the registry, kept in the clear to route and to match registry messages",
    ),
    ("domains", "registry", "which registry holds the domain"),
    ("domains", "status", "pending, active, failed or gone"),
    ("domains", "registrant_id", "pseudonymous key of the registrant handle"),
    ("domains", "admin_id", "pseudonymous key of the admin handle"),
    ("domains", "tech_id", "pseudonymous key of the tech handle"),
    ("domains", "created_at", "timestamp"),
    ("domains", "updated_at", "timestamp"),
    ("registry_ops", "id", "operation number"),
    ("registry_ops", "registry", "which registry"),
    ("registry_ops", "kind", "operation code (contact_create, domain_create, ...)"),
    ("registry_ops", "customer_id", "pseudonymous key"),
    ("registry_ops", "contact_id", "pseudonymous key"),
    ("registry_ops", "domain_id", "pseudonymous key"),
    ("registry_ops", "status", "pending, sending, done or failed"),
    ("registry_ops", "attempts", "counter"),
    ("registry_ops", "created_at", "timestamp"),
    ("registry_ops", "next_attempt_at", "timestamp"),
    ("registry_ops", "lease_until", "timestamp"),
    ("registry_ops", "claim_token", "random token of the worker's claim"),
    ("registry_ops", "finished_at", "timestamp"),
    ("registry_ops", "cltrid", "client transaction ID sent with every attempt"),
    ("registry_ops", "result_code", "the registry's EPP result code"),
    ("registry_ops", "result_message", "the registry's result message"),
    ("registry_op_waits", "op_id", "operation number"),
    ("registry_op_waits", "waits_for", "operation number"),
    ("auth_failures", "failures", "counter"),
    ("auth_failures", "locked_until", "timestamp"),
    ("auth_failures", "updated_at", "timestamp"),
    ("contact_name_words", "contact_id", "pseudonymous key"),
    ("contact_name_words", "customer_id", "pseudonymous key"),
    ("subject_requests", "id", "request number"),
    ("subject_requests", "kind", "access, correction, erasure or objection"),
    ("subject_requests", "status", "open or closed"),
    ("subject_requests", "key_id", "reference to the request's wrapped data key"),
    ("subject_requests", "received_on", "date"),
    ("subject_requests", "due_on", "date"),
    ("subject_requests", "extended_to", "date"),
    ("subject_requests", "extension_reason", "one of the two reasons the law allows (code)"),
    ("subject_requests", "identity_check", "how identity was checked (code)"),
    ("subject_requests", "recorded_by", "pseudonymous actor"),
    ("subject_requests", "recorded_at", "timestamp"),
    ("subject_requests", "closed_on", "date"),
    ("subject_requests", "closed_by", "pseudonymous actor"),
    ("subject_requests", "outcome", "how the request ended (code)"),
    ("subject_requests", "answer_by", "post, link, e-mail or phone (code)"),
    ("subject_requests", "link_hash", "keyed hash of the download link's secret"),
    ("subject_requests", "link_expires_at", "timestamp"),
    ("subject_requests", "link_used_at", "timestamp"),
    ("subject_requests", "erased_at", "timestamp"),
    ("subject_request_records", "request_id", "request number"),
    ("subject_request_records", "record_kind", "customer or contact"),
    ("subject_request_records", "record_id", "pseudonymous key"),
    ("subject_request_records", "matched_on", "which lookup found it (code: email, name, handle, kvk)"),
];

/// The personal fields of one table, in declaration order.
pub fn fields_of(table: &str) -> impl Iterator<Item = &'static Field> + '_ {
    FIELDS.iter().filter(move |f| f.table == table)
}

pub fn field(table: &str, column: &str) -> Option<&'static Field> {
    // Pages label every audited field by name: index them once rather than
    // scanning the whole inventory per label.
    type Index = HashMap<&'static str, HashMap<&'static str, &'static Field>>;
    static BY_NAME: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = BY_NAME.get_or_init(|| {
        let mut index = Index::new();
        for f in FIELDS {
            index.entry(f.table).or_default().insert(f.column, f);
        }
        index
    });
    index.get(table)?.get(column).copied()
}

/// Whether `column` of `table` is accounted for: personal, derived or declared
/// non-personal.
pub fn is_declared(table: &str, column: &str) -> bool {
    field(table, column).is_some()
        || FIELDS.iter().any(|f| f.table == table && f.blind_index == Some(column))
        || DERIVED.iter().any(|d| d.table == table && d.column == column)
        || NON_PERSONAL.iter().any(|(t, c, _)| *t == table && (*c == column || *c == "*"))
}

impl Purpose {
    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            Purpose::ServiceDelivery => lang.pick("levering van de diensten", "delivering the services"),
            Purpose::Invoicing => lang.pick("facturering en boekhouding", "invoicing and accounting"),
            Purpose::DomainRegistration => lang.pick("registratie van domeinnamen", "registering domain names"),
            Purpose::Communication => lang.pick("contact met de klant", "contact with the customer"),
            Purpose::Accountability => lang.pick("verantwoording en beveiliging", "accountability and security"),
            Purpose::SubjectRights => {
                lang.pick("afhandelen van verzoeken van betrokkenen", "handling the requests of data subjects")
            }
        }
    }
}

impl LegalBasis {
    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            LegalBasis::Contract => lang.pick("uitvoering van de overeenkomst", "performance of the contract"),
            LegalBasis::LegalObligation => lang.pick("wettelijke plicht", "legal obligation"),
            LegalBasis::LegitimateInterest => lang.pick("gerechtvaardigd belang", "legitimate interest"),
            LegalBasis::Consent => lang.pick("toestemming", "consent"),
        }
    }
}

impl Recipient {
    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            Recipient::Registry => {
                lang.pick("domeinregistratie (registry of registrar)", "domain registry or registrar")
            }
            Recipient::Bookkeeper => lang.pick("boekhouder (verwerker)", "bookkeeper (processor)"),
            Recipient::BackupStorage => {
                lang.pick("back-upopslag (alleen versleuteld)", "backup storage (encrypted only)")
            }
            Recipient::MailProvider => lang.pick("e-mailprovider (verwerker)", "e-mail provider (processor)"),
            Recipient::SmsGateway => lang.pick("sms-provider (verwerker)", "SMS provider (processor)"),
        }
    }
}

impl Field {
    /// The recipients, described, joined for display.
    pub fn recipients_described(&self, lang: Lang) -> String {
        self.recipients.iter().map(|r| r.describe(lang)).collect::<Vec<_>>().join(", ")
    }
}

impl Retention {
    pub fn describe(self, lang: Lang) -> &'static str {
        match self {
            Retention::CustomerRelationship => lang.pick(
                "tot de eerste werkdag van januari na het einde van de klantrelatie (een jaar na de laatste factuur), of eerder op verzoek",
                "until the first working day of January after the customer relationship ended (one year after the last invoice), or sooner on request",
            ),
            Retention::HandleInUse => lang.pick(
                "zolang een domeinnaam de handle gebruikt; ongebruikte handles op de eerste werkdag van januari of eerder door de klant",
                "while a domain uses the handle; unused handles on the first working day of January, or sooner by the customer",
            ),
            Retention::InvoiceSevenYears => lang.pick(
                "zeven jaar na het einde van het jaar van de factuur (fiscale bewaarplicht)",
                "seven years after the end of the invoice's year (tax law)",
            ),
            Retention::AuditTrail => lang.pick(
                "zolang het auditlog; onleesbaar zodra de klant gewist is",
                "as long as the audit trail; unreadable once the customer is erased",
            ),
            Retention::Account => lang.pick(
                "zolang het account bestaat; het account van een klant verdwijnt met de klant",
                "while the account exists; a customer's account goes with the customer",
            ),
            Retention::UntilSent => lang.pick(
                "tot het bericht verzonden is of opgegeven wordt, daarna gewist",
                "until the message is sent or given up, then wiped",
            ),
            Retention::RequestHandled => lang.pick(
                "een jaar nadat het verzoek is afgehandeld, om te kunnen laten zien hoe; daarna gewist",
                "one year after the request was closed, to show how it was handled; then erased",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BILLING_FIELDS, CONTACT_FIELDS, CUSTOMER_FIELDS};

    /// The model's field names and the inventory must be the same set, table by table.
    #[test]
    fn model_fields_are_exactly_the_inventory() {
        let check = |table: &str, model: &[&str]| {
            let mut inv: Vec<_> = fields_of(table).map(|f| f.column).collect();
            let mut model = model.to_vec();
            inv.sort();
            model.sort();
            assert_eq!(inv, model, "table {table}");
        };
        check("customers", CUSTOMER_FIELDS);
        check("contacts", CONTACT_FIELDS);
        check("invoices", BILLING_FIELDS);
    }

    #[test]
    fn bookkeeper_sees_billing_identity_only_and_staff_no_invoices() {
        for f in FIELDS {
            if f.table == "invoices" || f.table == "invoice_lines" {
                assert!(!f.may_read(Role::Staff), "{}.{}", f.table, f.column);
                assert!(f.may_read(Role::Bookkeeper));
            }
            if f.table == "contacts" {
                assert!(!f.may_read(Role::Bookkeeper), "{}.{}", f.table, f.column);
            }
            if f.category == Category::Credential {
                assert!(f.readers().is_empty(), "credentials are verified, never read");
            } else {
                assert!(f.may_read(Role::Owner));
            }
        }
        assert!(!field("customers", "phone").unwrap().may_read(Role::Bookkeeper));
        assert!(field("customers", "iban").unwrap().may_read(Role::Bookkeeper));
    }

    #[test]
    fn no_column_is_declared_twice() {
        let mut all: Vec<(&str, &str)> = FIELDS.iter().map(|f| (f.table, f.column)).collect();
        all.extend(FIELDS.iter().filter_map(|f| f.blind_index.map(|i| (f.table, i))));
        all.extend(NON_PERSONAL.iter().map(|(t, c, _)| (*t, *c)));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
