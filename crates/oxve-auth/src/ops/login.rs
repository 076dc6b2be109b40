//! Authentication: password logins (pve and pam realms), tickets, CSRF tokens, API tokens.

use std::net::IpAddr;
use tracing::{info, warn};

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::blocking;
use crate::ops::realms::realm_type;
use crate::pam;
use crate::password::{hash_password, parse_shadow, verify_password};
use crate::store_io::SHADOW_CFG;
use crate::ticket::{assemble_csrf_token, verify_csrf_token};
use crate::tokens::{digests_equal, hash_secret, parse_token_header};
use crate::userid::{Authid, Userid};

/// Prefix of half-authenticated two-factor tickets, never accepted as a login.
const TFA_PREFIX: &str = "!tfa!";

impl AccessControl {
    /// Check a login as `POST /access/ticket` does. `username` may carry `@realm`, or
    /// `realm` is appended. `password` may also be a still-valid ticket of the same user (or
    /// of `root@pam`), which renews it. The user must exist in user.cfg (root@pam always
    /// does), be enabled and not expired; `pve` users are checked against their stored
    /// argon2 hash, `pam` users through the host's PAM.
    ///
    /// Every failure is logged with the user and `client`, and counted per client: see
    /// [`crate::ratelimit`] for the limits. Errors tell nothing beyond
    /// "authentication failure" (store failures excepted).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
        realm: Option<&str>,
        client: IpAddr,
    ) -> Result<Userid> {
        let now = self.now();
        let full = match realm {
            Some(r) if !r.is_empty() => format!("{username}@{r}"),
            _ => username.to_string(),
        };
        if let Err(retry_after) = self.inner.limiter.check(client, now) {
            warn!(user = %full, client = %client, "authentication refused: too many failed attempts");
            return Err(AuthError::TooManyFailures { retry_after });
        }
        match self.login(&full, password, client).await {
            Ok(userid) => {
                info!(user = %userid, client = %client, "successful authentication");
                Ok(userid)
            }
            Err(e @ (AuthError::Store(_) | AuthError::Internal(_))) => {
                warn!(user = %full, client = %client, "authentication error: {e}");
                Err(e)
            }
            Err(e) => {
                self.inner.limiter.record_failure(client, now);
                warn!(user = %full, client = %client, reason = %e, "authentication failure");
                Err(AuthError::AuthenticationFailed)
            }
        }
    }

    /// The actual checks; errors carry the reason for the log.
    async fn login(&self, full: &str, password: &str, client: IpAddr) -> Result<Userid> {
        let userid: Userid = full
            .parse()
            .map_err(|e: crate::userid::IdError| AuthError::Refused(e.to_string()))?;
        let snap = self.snapshot().await?;
        let Some(user) = snap.config().users.get(&userid) else {
            return Err(AuthError::Refused(format!("no such user ('{userid}')")));
        };
        if !user.is_active(self.now()) {
            return Err(AuthError::Refused(format!(
                "user '{userid}' is disabled or expired"
            )));
        }
        if password.starts_with("PVE:") {
            if let Ok(ticket_user) = self.verify_ticket(password).await {
                if ticket_user == userid || ticket_user.is_root() {
                    return Ok(userid);
                }
            }
        }
        if password.is_empty() {
            return Err(AuthError::Refused("empty password".into()));
        }
        match realm_type(userid.realm()) {
            Some("pve") => {
                let shadow = self.store().get(SHADOW_CFG).await?;
                let hash = shadow.and_then(|e| parse_shadow(&e.text).remove(userid.as_str()));
                let known = hash.is_some();
                let pw = password.to_string();
                let inner = self.inner.clone();
                let ok = blocking(move || {
                    // Users without a hash are checked against a dummy one, so they take as
                    // long as users with one.
                    let hash = hash.unwrap_or_else(|| {
                        let cost = inner.opts.hash_params;
                        inner
                            .dummy_hash
                            .get_or_init(|| hash_password("timing", cost).unwrap_or_default())
                            .clone()
                    });
                    verify_password(&hash, &pw)
                })
                .await?;
                if ok && known {
                    Ok(userid)
                } else {
                    Err(AuthError::Refused("invalid password".into()))
                }
            }
            Some("pam") => {
                let service = self.inner.opts.pam_service.clone();
                let (name, pw) = (userid.name().to_string(), password.to_string());
                let rhost = client.to_string();
                blocking(move || pam::authenticate(&service, &name, &pw, Some(&rhost)))
                    .await?
                    .map_err(|e| AuthError::Refused(e.to_string()))?;
                Ok(userid)
            }
            _ => Err(AuthError::Refused(format!(
                "auth domain '{}' does not exist",
                userid.realm()
            ))),
        }
    }

    /// A new ticket and CSRF prevention token for `userid` (after a successful
    /// [`AccessControl::authenticate`]). Rotates the signing key when it is a day old.
    pub async fn create_ticket(&self, userid: &Userid) -> Result<(String, String)> {
        let ring = self.signing_keys().await?;
        let ticket = ring.sign(userid.as_str(), self.now());
        let csrf = self.csrf_token(userid).await?;
        Ok((ticket, csrf))
    }

    /// The user of a valid ticket: correctly signed, less than 2 h old (5 min of clock skew
    /// allowed for tickets from the future), and the user still exists, enabled and not
    /// expired.
    pub async fn verify_ticket(&self, ticket: &str) -> Result<Userid> {
        let snap = self.snapshot().await?;
        let ring = snap.authkeys.as_ref().ok_or(AuthError::InvalidTicket)?;
        let now = self.now();
        let data = ring.verify(ticket, now).ok_or(AuthError::InvalidTicket)?;
        if data.starts_with(TFA_PREFIX) {
            return Err(AuthError::InvalidTicket);
        }
        let userid: Userid = data.parse().map_err(|_| AuthError::InvalidTicket)?;
        if !snap.is_active(&Authid::from(userid.clone()), now) {
            return Err(AuthError::InvalidTicket);
        }
        Ok(userid)
    }

    /// A CSRF prevention token for `userid`.
    pub async fn csrf_token(&self, userid: &Userid) -> Result<String> {
        let key = self.csrf_key().await?;
        Ok(assemble_csrf_token(&key, userid.as_str(), self.now()))
    }

    /// Check the `CSRFPreventionToken` header of a ticket-authenticated write request.
    pub async fn verify_csrf(&self, userid: &Userid, token: &str) -> Result<()> {
        let snap = self.snapshot().await?;
        let key = snap.csrf_key.as_ref().ok_or(AuthError::InvalidCsrfToken)?;
        if verify_csrf_token(key, userid.as_str(), token, self.now()) {
            Ok(())
        } else {
            Err(AuthError::InvalidCsrfToken)
        }
    }

    /// Check an `Authorization: PVEAPIToken=<user>@<realm>!<token>=<secret>` header value:
    /// the token exists and has not expired, its user is enabled and not expired, and the
    /// secret matches (constant-time comparison of SHA-256 digests).
    pub async fn verify_api_token(&self, header: &str) -> Result<Authid> {
        let bad = |m: String| AuthError::InvalidApiToken(m);
        let (authid, secret) = parse_token_header(header).map_err(|e| bad(e.to_string()))?;
        let snap = self.snapshot().await?;
        let now = self.now();
        let userid = authid.user();
        let name = authid.token().expect("token id");
        let user = snap
            .config()
            .users
            .get(userid)
            .ok_or_else(|| bad(format!("no such user ('{userid}')")))?;
        if !user.enable {
            return Err(bad(format!("user '{userid}' is disabled")));
        }
        if user.expire != 0 && user.expire < now {
            return Err(bad(format!("user '{userid}' access expired")));
        }
        let token = user
            .tokens
            .get(name)
            .ok_or_else(|| bad(format!("no such token '{name}' for user '{userid}'")))?;
        if token.expire != 0 && token.expire < now {
            return Err(bad(format!("token '{name}' access expired")));
        }
        let stored = snap
            .token_digests
            .get(&authid.to_string())
            .ok_or_else(|| bad("invalid token value!".into()))?;
        if !digests_equal(stored, &hash_secret(&secret)) {
            return Err(bad("invalid token value!".into()));
        }
        Ok(authid)
    }
}
