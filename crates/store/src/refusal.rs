//! Refusals a user can act on: each has a stable code (for the API and tests)
//! and a message in Dutch and English that names no personal value.
//!
//! Everything else that goes wrong in the store is internal (a database that
//! cannot be reached, stored data that does not decode): it is logged and
//! answered as a server error, never shown as if the user's input were wrong.

use custodian_domain::Lang;

/// Why the store would not do what was asked, although the request was valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another account already has this login.
    LoginTaken,
    /// Customers get their portal account through an invitation, not as staff.
    CustomerAccountByInvitation,
    /// The company's protocol has no staff with access (`staff_accounts = false`, M6).
    NoStaffAccounts,
    /// A handle that is being deleted at its registry cannot change.
    HandleBeingDeleted,
    /// A handle still named by domains cannot be deleted.
    HandleInUse { domains: usize },
    /// The handle has not been created at its registry yet.
    HandleNotRegistered { handle: i64 },
    /// The handle is held at another registry than the domain's.
    HandleAtOtherRegistry { handle: i64, registry: String },
    /// The handle is not pending or active.
    HandleUnusable { handle: i64, status: String },
    /// A domain can only name its own customer's handles.
    ForeignHandle,
    /// The domain is already in this administration.
    DomainTaken,
    /// The domain is not pending or active.
    DomainLocked { status: String },
    /// Only failed registry operations are retried.
    OnlyFailedRetried { status: String },
    /// Invoice numbers are unique.
    InvoiceNumberTaken,
    /// A credit note is not paid.
    CreditNoteNotPayable,
    /// The invoice is paid or credited: nothing is due.
    NothingDue,
    /// A payment larger than what is still due.
    MoreThanDue { due_cents: i64 },
    /// A credit note credits an invoice, not another credit note.
    CreditOfCreditNote,
    /// A credit note for more than the invoice less earlier credit notes.
    CreditExceedsInvoice { creditable_cents: i64 },
    /// Only invoices sent by post are marked posted.
    NotByPost,
    /// The invoice was marked posted before (on that day).
    AlreadyPosted { on: String },
    /// The customer still has running services.
    RunningServices { count: u32 },
    /// A legal hold stops the customer's erasure.
    LegalHold,
    /// The customer was erased or is being erased meanwhile.
    NoLongerActive,
    /// The database is a restore that did not finish.
    UnfinishedRestore,
    /// The last enabled owner cannot be disabled or removed.
    LastOwner,
    /// The owner account is made once, at setup; invitations are for staff and the bookkeeper.
    OwnerByInvitation,
    /// A staff account needs the day its holder signed the confidentiality statement (A14).
    ConfidentialityRequired,
    /// The bookkeeper's account needs the reference and date of the DPA (M6).
    DpaRequired,
    /// The account has a password: it is never invited again (a password reset is the holder's).
    AccountActivated,
    /// A disabled account is enabled before it is invited again.
    AccountDisabled,
    /// A removed account keeps only its ID and role; nothing can be done with it.
    AccountRemoved,
    /// A customer's portal account is managed with the customer, not as staff.
    CustomerAccount,
    /// The account's second factor is set up already.
    SecondFactorOn,
    /// This session is setting up no second-factor key (it was never shown,
    /// or the session was renewed).
    NoPendingSecondFactor,
    /// The request was closed; it changes no more.
    RequestClosed,
    /// An access request is answered with data only once the answer is prepared.
    RequestAnswerMissing,
    /// Answering through a download link needs the link made first.
    RequestLinkMissing,
    /// Only an open access request with its answer prepared gets a download link.
    RequestNotDownloadable,
    /// No e-mail address was recorded to send the link to.
    RequestNoEmail,
    /// The download link is unknown, used or expired.
    RequestLinkInvalid,
    /// The record chosen is not among those found about the person.
    RequestNotAMatch,
}

impl Refusal {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::LoginTaken => "login_taken",
            Refusal::CustomerAccountByInvitation => "customer_account_by_invitation",
            Refusal::NoStaffAccounts => "no_staff_accounts",
            Refusal::HandleBeingDeleted => "handle_being_deleted",
            Refusal::HandleInUse { .. } => "handle_in_use",
            Refusal::HandleNotRegistered { .. } => "handle_not_registered",
            Refusal::HandleAtOtherRegistry { .. } => "handle_at_other_registry",
            Refusal::HandleUnusable { .. } => "handle_unusable",
            Refusal::ForeignHandle => "foreign_handle",
            Refusal::DomainTaken => "domain_taken",
            Refusal::DomainLocked { .. } => "domain_locked",
            Refusal::OnlyFailedRetried { .. } => "only_failed_retried",
            Refusal::InvoiceNumberTaken => "invoice_number_taken",
            Refusal::CreditNoteNotPayable => "credit_note_not_payable",
            Refusal::NothingDue => "nothing_due",
            Refusal::MoreThanDue { .. } => "more_than_due",
            Refusal::CreditOfCreditNote => "credit_of_credit_note",
            Refusal::CreditExceedsInvoice { .. } => "credit_exceeds_invoice",
            Refusal::NotByPost => "not_by_post",
            Refusal::AlreadyPosted { .. } => "already_posted",
            Refusal::RunningServices { .. } => "running_services",
            Refusal::LegalHold => "legal_hold",
            Refusal::NoLongerActive => "no_longer_active",
            Refusal::UnfinishedRestore => "unfinished_restore",
            Refusal::LastOwner => "last_owner",
            Refusal::OwnerByInvitation => "owner_by_invitation",
            Refusal::ConfidentialityRequired => "confidentiality_required",
            Refusal::DpaRequired => "dpa_required",
            Refusal::AccountActivated => "account_activated",
            Refusal::AccountDisabled => "account_disabled",
            Refusal::AccountRemoved => "account_removed",
            Refusal::CustomerAccount => "customer_account",
            Refusal::SecondFactorOn => "second_factor_on",
            Refusal::NoPendingSecondFactor => "no_pending_second_factor",
            Refusal::RequestClosed => "request_closed",
            Refusal::RequestAnswerMissing => "request_answer_missing",
            Refusal::RequestLinkMissing => "request_link_missing",
            Refusal::RequestNotDownloadable => "request_not_downloadable",
            Refusal::RequestNoEmail => "request_no_email",
            Refusal::RequestLinkInvalid => "request_link_invalid",
            Refusal::RequestNotAMatch => "request_not_a_match",
        }
    }

    /// The message for the user, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let nl = lang == Lang::Nl;
        let text = |d: &str, e: &str| if nl { d.to_string() } else { e.to_string() };
        match self {
            Refusal::LoginTaken => {
                text("Er is al een account met deze inlognaam.", "An account with this login exists already.")
            }
            Refusal::CustomerAccountByInvitation => text(
                "Klanten krijgen hun account via een uitnodiging.",
                "Customers get their account through an invitation.",
            ),
            Refusal::NoStaffAccounts => text(
                "Deze administratie heeft geen medewerkers (staff_accounts = false): alleen de eigenaar en de boekhouder.",
                "This administration has no staff accounts (staff_accounts = false): only the owner and the bookkeeper.",
            ),
            Refusal::HandleBeingDeleted => text("Deze handle wordt verwijderd.", "This handle is being deleted."),
            Refusal::HandleInUse { domains } => {
                if nl {
                    format!("Deze handle wordt nog door {domains} domein(en) gebruikt; wijzig die domeinen eerst.")
                } else {
                    format!("This handle is still used by {domains} domain(s); change those domains first.")
                }
            }
            Refusal::HandleNotRegistered { handle } => {
                if nl {
                    format!("Handle {handle} is nog niet bij het register aangemaakt.")
                } else {
                    format!("Handle {handle} has no registry ID yet.")
                }
            }
            Refusal::HandleAtOtherRegistry { handle, registry } => {
                if nl {
                    format!("Handle {handle} staat niet bij register {registry}.")
                } else {
                    format!("Handle {handle} is not held at registry {registry}.")
                }
            }
            Refusal::HandleUnusable { handle, status } => {
                if nl {
                    format!("Handle {handle} kan niet worden gebruikt ({status}).")
                } else {
                    format!("Handle {handle} cannot be used ({status}).")
                }
            }
            Refusal::ForeignHandle => text(
                "Een domein kan alleen handles van de eigen klant gebruiken.",
                "A domain can only use its own customer's handles.",
            ),
            Refusal::DomainTaken => {
                text("Dit domein is hier al geregistreerd.", "This domain is already registered here.")
            }
            Refusal::DomainLocked { status } => {
                if nl {
                    format!("Dit domein kan nu niet worden gewijzigd ({status}).")
                } else {
                    format!("This domain cannot be changed ({status}).")
                }
            }
            Refusal::OnlyFailedRetried { status } => {
                if nl {
                    format!("Deze opdracht is {status}; alleen mislukte opdrachten worden opnieuw geprobeerd.")
                } else {
                    format!("This operation is {status}; only failed operations are retried.")
                }
            }
            Refusal::InvoiceNumberTaken => {
                text("Dit factuurnummer is al gebruikt.", "This invoice number is already used.")
            }
            Refusal::RunningServices { count } => {
                let services = custodian_domain::retention::plural(
                    *count,
                    lang,
                    ("lopende dienst", "lopende diensten"),
                    ("running service", "running services"),
                );
                if nl {
                    format!("De klant heeft nog {services}; beëindig die eerst.")
                } else {
                    format!("The customer still has {services}; end them first.")
                }
            }
            Refusal::LegalHold => text(
                "Er ligt een wettelijke bewaarplicht op deze klant; hef die eerst op.",
                "The customer is under a legal hold; lift it first.",
            ),
            Refusal::NoLongerActive => {
                text("Deze klant is intussen gewist of wordt gewist.", "This customer is no longer active.")
            }
            Refusal::UnfinishedRestore => text(
                "Deze database is een onderbroken herstel en mag niet worden gebruikt: herstel opnieuw in een lege database.",
                "This database is an interrupted restore and must not be used: restore again into an empty database.",
            ),
            Refusal::LastOwner => text(
                "De laatste eigenaar kan niet worden uitgeschakeld of verwijderd.",
                "The last owner cannot be disabled or removed.",
            ),
            Refusal::OwnerByInvitation => text(
                "Het account van de eigenaar wordt eenmalig bij de installatie gemaakt; uitnodigen kan alleen medewerkers en de boekhouder.",
                "The owner's account is made once, at setup; only staff and the bookkeeper are invited.",
            ),
            Refusal::ConfidentialityRequired => text(
                "Een medewerker krijgt pas toegang als vastligt wanneer hij of zij de geheimhoudingsverklaring tekende (A14): vul die datum in.",
                "A staff member gets access only once the day they signed the confidentiality statement is recorded (A14): give that date.",
            ),
            Refusal::DpaRequired => text(
                "De boekhouder krijgt pas toegang als de verwerkersovereenkomst is vastgelegd (M6): vul het kenmerk en de datum in.",
                "The bookkeeper gets access only once the data processing agreement is recorded (M6): give its reference and date.",
            ),
            Refusal::AccountActivated => text(
                "Dit account is al in gebruik en wordt niet opnieuw uitgenodigd; de houder kan zelf een nieuw wachtwoord aanvragen via /reset.",
                "This account is already in use and is never invited again; its holder can ask for a new password at /reset.",
            ),
            Refusal::AccountDisabled => text(
                "Dit account is uitgeschakeld; schakel het eerst weer in.",
                "This account is disabled; enable it first.",
            ),
            Refusal::AccountRemoved => text(
                "Dit account is verwijderd; alleen het nummer en de rol zijn bewaard, voor het auditlog.",
                "This account was removed; only its number and role are kept, for the audit trail.",
            ),
            Refusal::CustomerAccount => text(
                "Dit is het portaalaccount van een klant; dat beheert u bij de klant.",
                "This is a customer's portal account; it is managed with the customer.",
            ),
            Refusal::SecondFactorOn => text(
                "De tweede factor van dit account is al ingesteld.",
                "The second factor of this account is set up already.",
            ),
            Refusal::NoPendingSecondFactor => text(
                "Er wordt in deze sessie geen sleutel ingesteld. Open de pagina opnieuw en scan de sleutel die dan verschijnt.",
                "No key is being set up in this session. Open the page again and scan the key it shows.",
            ),
            Refusal::RequestClosed => text(
                "Dit verzoek is afgehandeld en verandert niet meer.",
                "This request is closed and changes no more.",
            ),
            Refusal::RequestAnswerMissing => text(
                "Stel eerst het antwoord samen: de gegevens die bij dit verzoek gevonden zijn.",
                "Prepare the answer first: the data found for this request.",
            ),
            Refusal::RequestLinkMissing => text(
                "Maak eerst de downloadlink en geef die aan de persoon.",
                "Make the download link first and give it to the person.",
            ),
            Refusal::RequestNotDownloadable => text(
                "Alleen een open inzageverzoek met een samengesteld antwoord krijgt een downloadlink.",
                "Only an open access request with its answer prepared gets a download link.",
            ),
            Refusal::RequestNoEmail => text(
                "Bij dit verzoek is geen e-mailadres vastgelegd; geef de link op een andere manier door.",
                "No e-mail address was recorded with this request; pass the link on another way.",
            ),
            Refusal::RequestLinkInvalid => text(
                "Deze downloadlink is onbekend, al gebruikt of verlopen. Vraag ons om een nieuwe.",
                "This download link is unknown, used or expired. Ask us for a new one.",
            ),
            Refusal::RequestNotAMatch => text(
                "Dit gegeven hoort niet bij de gevonden resultaten voor deze persoon.",
                "This record is not among those found for this person.",
            ),
            Refusal::CreditNoteNotPayable => text("Een creditnota wordt niet betaald.", "A credit note is not paid."),
            Refusal::NothingDue => text(
                "Op deze factuur staat niets meer open: ze is betaald of gecrediteerd.",
                "Nothing is due on this invoice: it is paid or credited.",
            ),
            Refusal::MoreThanDue { due_cents } => {
                let due = custodian_domain::model::format_cents(*due_cents);
                if nl {
                    format!("De betaling is hoger dan wat nog openstaat ({due} euro).")
                } else {
                    format!("The payment is more than is still due ({due} euro).")
                }
            }
            Refusal::CreditOfCreditNote => text(
                "Een creditnota crediteert een factuur, geen andere creditnota.",
                "A credit note credits an invoice, not another credit note.",
            ),
            Refusal::NotByPost => text(
                "Deze factuur gaat niet per post; alleen facturen per post worden als verstuurd gemarkeerd.",
                "This invoice is not sent by post; only invoices sent by post are marked as posted.",
            ),
            Refusal::AlreadyPosted { on } => match nl {
                true => format!("Deze factuur is al op {on} als verstuurd gemarkeerd."),
                false => format!("This invoice was marked as posted on {on} already."),
            },
            Refusal::CreditExceedsInvoice { creditable_cents } => {
                let left = custodian_domain::model::format_cents(*creditable_cents);
                if nl {
                    format!("De creditnota is hoger dan wat van de factuur nog te crediteren is ({left} euro).")
                } else {
                    format!("The credit note is more than can still be credited on the invoice ({left} euro).")
                }
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_messages_differ_by_language() {
        let all = [
            Refusal::LoginTaken,
            Refusal::HandleInUse { domains: 2 },
            Refusal::RunningServices { count: 1 },
            Refusal::LastOwner,
            Refusal::OwnerByInvitation,
            Refusal::ConfidentialityRequired,
            Refusal::DpaRequired,
            Refusal::AccountActivated,
            Refusal::AccountDisabled,
            Refusal::AccountRemoved,
            Refusal::CustomerAccount,
            Refusal::CreditNoteNotPayable,
            Refusal::NothingDue,
            Refusal::MoreThanDue { due_cents: 1210 },
            Refusal::CreditOfCreditNote,
            Refusal::CreditExceedsInvoice { creditable_cents: 0 },
            Refusal::RequestClosed,
            Refusal::RequestAnswerMissing,
            Refusal::RequestLinkMissing,
            Refusal::RequestNotDownloadable,
            Refusal::RequestNoEmail,
            Refusal::RequestLinkInvalid,
            Refusal::RequestNotAMatch,
        ];
        for r in all {
            assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", r.code());
            assert_ne!(r.message(Lang::Nl), r.message(Lang::En), "{}", r.code());
        }
        assert_eq!(
            Refusal::HandleInUse { domains: 2 }.to_string(),
            "This handle is still used by 2 domain(s); change those domains first."
        );
        assert_eq!(
            Refusal::MoreThanDue { due_cents: 1205 }.to_string(),
            "The payment is more than is still due (12.05 euro)."
        );
    }
}
