//! API token operations. The token's settings live in user.cfg, the SHA-256 of its secret in
//! `priv/token.cfg`; user.cfg is written first on create and delete, so a token never works
//! with a half-written state (a token without secret, or a secret without token, is refused).

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::users::no_such_user;
use crate::ops::{expire_field, text_field};
use crate::store_io::{modify, modify_user_cfg, TOKEN_CFG};
use crate::tokens::{generate_secret, hash_secret, parse_token_cfg, write_token_cfg};
use crate::types::{TokenCreated, TokenInfo, TokenListEntry, TokenOptions, TokenUpdate};
use crate::user_cfg::{TokenEntry, UserConfig};
use crate::userid::{Authid, TokenName, Userid};

pub(crate) fn no_such_token(userid: &Userid, name: &TokenName) -> AuthError {
    AuthError::NotFound(format!("no such token '{name}' for user '{userid}'"))
}

fn token_mut<'a>(
    cfg: &'a mut UserConfig,
    userid: &Userid,
    name: &TokenName,
) -> Result<&'a mut TokenEntry> {
    cfg.users
        .get_mut(userid)
        .ok_or_else(|| no_such_user(userid))?
        .tokens
        .get_mut(name)
        .ok_or_else(|| no_such_token(userid, name))
}

impl AccessControl {
    /// `GET /access/users/{userid}/token`.
    pub async fn list_tokens(&self, userid: &Userid) -> Result<Vec<TokenListEntry>> {
        let snap = self.snapshot().await?;
        let user = snap
            .config()
            .users
            .get(userid)
            .ok_or_else(|| no_such_user(userid))?;
        Ok(user
            .tokens
            .iter()
            .map(|(name, t)| TokenListEntry {
                tokenid: name.to_string(),
                info: TokenInfo::from(t),
            })
            .collect())
    }

    /// `GET /access/users/{userid}/token/{tokenid}`.
    pub async fn get_token(&self, userid: &Userid, name: &TokenName) -> Result<TokenInfo> {
        let snap = self.snapshot().await?;
        let user = snap
            .config()
            .users
            .get(userid)
            .ok_or_else(|| no_such_user(userid))?;
        user.tokens
            .get(name)
            .map(TokenInfo::from)
            .ok_or_else(|| no_such_token(userid, name))
    }

    /// `POST /access/users/{userid}/token/{tokenid}`: returns the secret, which is not
    /// stored and cannot be shown again.
    pub async fn create_token(
        &self,
        userid: &Userid,
        name: &TokenName,
        opts: TokenOptions,
    ) -> Result<TokenCreated> {
        let entry = TokenEntry {
            expire: expire_field(opts.expire)?.unwrap_or(0),
            privsep: opts.privsep.unwrap_or(true),
            comment: text_field("comment", opts.comment.as_deref(), 2048)?,
        };
        let authid = Authid::from_token(userid.clone(), name.clone());
        modify_user_cfg(self.store(), |cfg| {
            let user = cfg
                .users
                .get_mut(userid)
                .ok_or_else(|| no_such_user(userid))?;
            if user.tokens.contains_key(name) {
                return Err(AuthError::param("tokenid", "Token already exists."));
            }
            user.tokens.insert(name.clone(), entry.clone());
            Ok(())
        })
        .await?;
        let secret = generate_secret();
        let digest = hash_secret(&secret);
        let full = authid.to_string();
        let stored = modify(self.store(), TOKEN_CFG, |text| {
            let mut tokens = text.map(parse_token_cfg).unwrap_or_default();
            tokens.insert(full.clone(), digest);
            Ok((Some(write_token_cfg(&tokens)), ()))
        })
        .await;
        if let Err(e) = stored {
            let undo = modify_user_cfg(self.store(), |cfg| {
                if let Some(u) = cfg.users.get_mut(userid) {
                    u.tokens.remove(name);
                }
                Ok(())
            })
            .await;
            if let Err(u) = undo {
                tracing::error!("could not undo creation of token '{full}': {u}");
            }
            return Err(e);
        }
        tracing::info!("created API token '{full}'");
        Ok(TokenCreated {
            full_tokenid: full,
            value: secret,
            info: TokenInfo::from(&entry),
        })
    }

    /// `PUT /access/users/{userid}/token/{tokenid}`: returns the updated settings.
    pub async fn update_token(
        &self,
        userid: &Userid,
        name: &TokenName,
        params: TokenUpdate,
    ) -> Result<TokenInfo> {
        let expire = expire_field(params.expire)?;
        let comment = text_field("comment", params.comment.as_deref(), 2048)?;
        for d in &params.delete {
            if !matches!(d.as_str(), "comment" | "expire" | "privsep") {
                return Err(AuthError::param("delete", format!("unknown setting '{d}'")));
            }
        }
        modify_user_cfg(self.store(), |cfg| {
            let t = token_mut(cfg, userid, name)?;
            for d in &params.delete {
                match d.as_str() {
                    "comment" => t.comment = None,
                    "expire" => t.expire = 0,
                    _ => t.privsep = true,
                }
            }
            if let Some(p) = params.privsep {
                t.privsep = p;
            }
            if let Some(e) = expire {
                t.expire = e;
            }
            if comment.is_some() {
                t.comment = comment.clone();
            }
            Ok(TokenInfo::from(&*t))
        })
        .await
    }

    /// `DELETE /access/users/{userid}/token/{tokenid}`: also removes its ACL entries and
    /// secret.
    pub async fn delete_token(&self, userid: &Userid, name: &TokenName) -> Result<()> {
        let authid = Authid::from_token(userid.clone(), name.clone());
        modify_user_cfg(self.store(), |cfg| {
            token_mut(cfg, userid, name)?;
            if let Some(u) = cfg.users.get_mut(userid) {
                u.tokens.remove(name);
            }
            cfg.acl.remove_token(&authid);
            Ok(())
        })
        .await?;
        let full = authid.to_string();
        modify(self.store(), TOKEN_CFG, |text| {
            let mut tokens = text.map(parse_token_cfg).unwrap_or_default();
            let removed = tokens.remove(&full).is_some();
            Ok((removed.then(|| write_token_cfg(&tokens)), ()))
        })
        .await?;
        tracing::info!("deleted API token '{full}'");
        Ok(())
    }
}
