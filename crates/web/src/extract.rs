//! Who is asking: what the guard established about a request, taken by the
//! handlers as extractors. A leaf module: the guard fills these in, pages and
//! the API read them.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use custodian_domain::Lang;
use custodian_store::{Access, AccessPurpose, Session};

/// Who is asking, as established by the guard; handlers take it from the
/// request extensions.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub lang: Lang,
    /// The language was chosen in the URL: public pages keep it on their links.
    pub lang_in_url: bool,
    pub ip: IpAddr,
    /// Present on every route except public ones.
    pub session: Option<(Session, String)>,
    /// The path asked for: the menu marks its link as the current page.
    pub path: String,
}

impl Viewer {
    pub fn session(&self) -> &Session {
        &self.session.as_ref().expect("the guard puts a session on non-public routes").0
    }

    pub fn token(&self) -> &str {
        &self.session.as_ref().expect("the guard puts a session on non-public routes").1
    }

    pub fn csrf(&self) -> &str {
        self.session.as_ref().map(|(s, _)| s.csrf.as_str()).unwrap_or("")
    }

    /// Who the signed-in person is to the access policy.
    pub fn principal(&self) -> custodian_domain::policy::Principal {
        self.session().account.actor().principal()
    }
}

/// Who is calling the API, as established by the guard; API handlers take it
/// from the request extensions.
#[derive(Clone)]
pub(crate) struct Caller {
    pub lang: Lang,
    pub ip: IpAddr,
    pub token: custodian_store::ApiToken,
}

/// A handler that takes a [`Viewer`] or [`Caller`] on a route whose guard did
/// not make one is a wiring fault: answered as a server error, never served.
fn missing(what: &str) -> Response {
    crate::view::server_error(Lang::default(), &format!("no {what} on this route"))
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| missing("viewer"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| missing("API caller"))
    }
}

/// A signed-in customer on their own record. The portal's handlers take this
/// instead of a [`Viewer`], so none can run without knowing whose record it is;
/// anyone else is refused (the guard already refuses them: this is the second lock).
pub(crate) struct Customer {
    viewer: Viewer,
    id: i64,
}

impl Customer {
    /// The customer acting on their own record, and its number.
    pub fn own(&self) -> (Access, i64) {
        let access = Access::new(self.viewer.session().account.actor(), AccessPurpose::DataSubjectRequest);
        (access.from(self.viewer.ip), self.id)
    }
}

impl std::ops::Deref for Customer {
    type Target = Viewer;

    fn deref(&self) -> &Viewer {
        &self.viewer
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Customer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let id = viewer.session.as_ref().map(|(s, _)| &s.account).filter(|a| !a.is_staff()).and_then(|a| a.customer_id);
        match id {
            Some(id) => Ok(Customer { viewer, id }),
            None => Err(crate::refuse::page::forbidden(viewer.lang)),
        }
    }
}

/// A signed-in member of staff (owner, staff or bookkeeper). The back-office's
/// handlers take this; the policy decides the rest, per route and per store call.
pub(crate) struct Staff {
    viewer: Viewer,
}

impl Staff {
    /// This person acting for `purpose`, from the request's address.
    pub fn access(&self, purpose: AccessPurpose) -> Access {
        Access::new(self.viewer.session().account.actor(), purpose).from(self.viewer.ip)
    }
}

impl std::ops::Deref for Staff {
    type Target = Viewer;

    fn deref(&self) -> &Viewer {
        &self.viewer
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        match viewer.session.as_ref().is_some_and(|(s, _)| s.account.is_staff()) {
            true => Ok(Staff { viewer }),
            false => Err(crate::refuse::page::forbidden(viewer.lang)),
        }
    }
}
