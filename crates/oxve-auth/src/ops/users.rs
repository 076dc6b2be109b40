//! User operations: list, get, create, update, delete, password change.

use std::collections::BTreeMap;

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::realms::{realm_type, require_realm};
use crate::ops::{blocking, email_field, expire_field, keys_field, text_field};
use crate::password::{check_new_password, hash_password, parse_shadow, write_shadow};
use crate::store_io::{modify, modify_user_cfg, SHADOW_CFG, TOKEN_CFG};
use crate::tokens::{parse_token_cfg, write_token_cfg};
use crate::types::{TokenInfo, TokenListEntry, UserCreate, UserInfo, UserListEntry, UserUpdate};
use crate::user_cfg::{UserConfig, UserEntry};
use crate::userid::Userid;

pub(crate) fn no_such_user(userid: &Userid) -> AuthError {
    AuthError::NotFound(format!("no such user ('{userid}')"))
}

fn check_groups_exist(cfg: &UserConfig, groups: &[String]) -> Result<()> {
    match groups.iter().find(|g| !cfg.groups.contains_key(g.as_str())) {
        Some(g) => Err(AuthError::NotFound(format!("no such group '{g}'"))),
        None => Ok(()),
    }
}

const NAME_MAX: usize = 1024;
const COMMENT_MAX: usize = 2048;

impl AccessControl {
    /// `GET /access/users`: every user, optionally only enabled or disabled ones; with `full`
    /// also groups and tokens. Filtering by the caller's privileges is the API layer's job.
    pub async fn list_users(
        &self,
        full: bool,
        enabled: Option<bool>,
    ) -> Result<Vec<UserListEntry>> {
        let snap = self.snapshot().await?;
        let cfg = snap.config();
        Ok(cfg
            .users
            .iter()
            .filter(|(_, u)| enabled.is_none_or(|e| e == u.enable))
            .map(|(id, u)| {
                let groups: Vec<&str> = snap.user_groups(id).iter().map(String::as_str).collect();
                UserListEntry {
                    userid: id.clone(),
                    enable: u8::from(u.enable),
                    expire: u.expire,
                    firstname: u.firstname.clone(),
                    lastname: u.lastname.clone(),
                    email: u.email.clone(),
                    comment: u.comment.clone(),
                    keys: u.keys.clone(),
                    groups: full.then(|| groups.join(",")),
                    tokens: (full && !u.tokens.is_empty()).then(|| {
                        u.tokens
                            .iter()
                            .map(|(name, t)| TokenListEntry {
                                tokenid: name.to_string(),
                                info: TokenInfo::from(t),
                            })
                            .collect()
                    }),
                    realm_type: realm_type(id.realm()).map(str::to_string),
                }
            })
            .collect())
    }

    /// `GET /access/users/{userid}`.
    pub async fn get_user(&self, userid: &Userid) -> Result<UserInfo> {
        let snap = self.snapshot().await?;
        let u = snap
            .config()
            .users
            .get(userid)
            .ok_or_else(|| no_such_user(userid))?;
        Ok(UserInfo {
            enable: u8::from(u.enable),
            expire: u.expire,
            firstname: u.firstname.clone(),
            lastname: u.lastname.clone(),
            email: u.email.clone(),
            comment: u.comment.clone(),
            keys: u.keys.clone(),
            groups: snap.user_groups(userid).iter().cloned().collect(),
            tokens: (!u.tokens.is_empty()).then(|| {
                u.tokens
                    .iter()
                    .map(|(name, t)| (name.to_string(), TokenInfo::from(t)))
                    .collect::<BTreeMap<_, _>>()
            }),
        })
    }

    /// `POST /access/users`. A password is stored for `pve` users only; for `pam` users the
    /// host account's password applies.
    pub async fn create_user(&self, params: UserCreate) -> Result<()> {
        let userid = params.userid.clone();
        let realm = require_realm("userid", &userid)?;
        let entry = UserEntry {
            enable: params.enable.unwrap_or(true),
            expire: expire_field(params.expire)?.unwrap_or(0),
            firstname: text_field("firstname", params.firstname.as_deref(), NAME_MAX)?,
            lastname: text_field("lastname", params.lastname.as_deref(), NAME_MAX)?,
            email: email_field(params.email.as_deref())?,
            comment: text_field("comment", params.comment.as_deref(), COMMENT_MAX)?,
            keys: keys_field(params.keys.as_deref())?,
            tokens: BTreeMap::new(),
        };
        let hash = match &params.password {
            Some(_) if realm == "pam" => {
                return Err(AuthError::Refused(
                    "cannot set the password of a 'pam' realm user: PAM passwords are \
                     changed on the host (e.g. with passwd)"
                        .into(),
                ))
            }
            Some(pw) => {
                check_new_password(pw)?;
                let (pw, cost) = (pw.clone(), self.inner.opts.hash_params);
                Some(blocking(move || hash_password(&pw, cost)).await??)
            }
            None => None,
        };
        modify_user_cfg(self.store(), |cfg| {
            if cfg.users.contains_key(&userid) {
                return Err(AuthError::AlreadyExists(format!(
                    "user '{userid}' already exists"
                )));
            }
            check_groups_exist(cfg, &params.groups)?;
            cfg.users.insert(userid.clone(), entry.clone());
            for g in &params.groups {
                if let Some(group) = cfg.groups.get_mut(g) {
                    group.members.insert(userid.clone());
                }
            }
            Ok(())
        })
        .await?;
        // The user exists before it has a password (logins fail meanwhile); undo the
        // creation if the password cannot be stored.
        if let Some(hash) = hash {
            if let Err(e) = self.set_shadow(&userid, Some(hash)).await {
                let undo = modify_user_cfg(self.store(), |cfg| {
                    cfg.users.remove(&userid);
                    for g in cfg.groups.values_mut() {
                        g.members.remove(&userid);
                    }
                    Ok(())
                })
                .await;
                if let Err(u) = undo {
                    tracing::error!("could not undo creation of user '{userid}': {u}");
                }
                return Err(e);
            }
        }
        tracing::info!("created user '{userid}'");
        Ok(())
    }

    /// `PUT /access/users/{userid}`.
    pub async fn update_user(&self, userid: &Userid, params: UserUpdate) -> Result<()> {
        let expire = expire_field(params.expire)?;
        let firstname = text_field("firstname", params.firstname.as_deref(), NAME_MAX)?;
        let lastname = text_field("lastname", params.lastname.as_deref(), NAME_MAX)?;
        let email = email_field(params.email.as_deref())?;
        let comment = text_field("comment", params.comment.as_deref(), COMMENT_MAX)?;
        let keys = keys_field(params.keys.as_deref())?;
        if params.append && params.groups.is_none() {
            return Err(AuthError::param(
                "append",
                "missing property 'groups', required by 'append'",
            ));
        }
        modify_user_cfg(self.store(), |cfg| {
            if !cfg.users.contains_key(userid) {
                return Err(no_such_user(userid));
            }
            if let Some(groups) = &params.groups {
                check_groups_exist(cfg, groups)?;
                if !params.append {
                    for g in cfg.groups.values_mut() {
                        g.members.remove(userid);
                    }
                }
                for g in groups {
                    if let Some(group) = cfg.groups.get_mut(g) {
                        group.members.insert(userid.clone());
                    }
                }
            }
            let u = cfg.users.get_mut(userid).expect("checked above");
            if let Some(e) = params.enable {
                u.enable = e;
            }
            if let Some(e) = expire {
                u.expire = e;
            }
            if params.firstname.is_some() {
                u.firstname = firstname.clone();
            }
            if params.lastname.is_some() {
                u.lastname = lastname.clone();
            }
            if params.email.is_some() {
                u.email = email.clone();
            }
            if params.comment.is_some() {
                u.comment = comment.clone();
            }
            if params.keys.is_some() {
                u.keys = keys.clone();
            }
            Ok(())
        })
        .await
    }

    /// `DELETE /access/users/{userid}`: also removes the user's group memberships, ACL
    /// entries, tokens (with their ACL entries and secrets) and stored password.
    pub async fn delete_user(&self, userid: &Userid) -> Result<()> {
        modify_user_cfg(self.store(), |cfg| {
            if cfg.users.remove(userid).is_none() {
                return Err(no_such_user(userid));
            }
            for g in cfg.groups.values_mut() {
                g.members.remove(userid);
            }
            cfg.acl.remove_user(userid);
            cfg.acl.remove_user_tokens(userid);
            Ok(())
        })
        .await?;
        self.set_shadow(userid, None).await?;
        let prefix = format!("{userid}!");
        modify(self.store(), TOKEN_CFG, |text| {
            let mut tokens = text.map(parse_token_cfg).unwrap_or_default();
            let before = tokens.len();
            tokens.retain(|id, _| !id.starts_with(&prefix));
            let changed = tokens.len() != before;
            Ok((changed.then(|| write_token_cfg(&tokens)), ()))
        })
        .await?;
        tracing::info!("deleted user '{userid}'");
        Ok(())
    }

    /// `PUT /access/password`: store a new password for a `pve` user. `pam` passwords are
    /// the host's and cannot be changed here.
    pub async fn change_password(&self, userid: &Userid, password: &str) -> Result<()> {
        let realm = require_realm("userid", userid)?;
        if !self.snapshot().await?.config().users.contains_key(userid) {
            return Err(no_such_user(userid));
        }
        if realm == "pam" {
            return Err(AuthError::Refused(
                "cannot change the password of a 'pam' realm user: PAM passwords are changed \
                 on the host (e.g. with passwd)"
                    .into(),
            ));
        }
        check_new_password(password)?;
        let (pw, cost) = (password.to_string(), self.inner.opts.hash_params);
        let hash = blocking(move || hash_password(&pw, cost)).await??;
        self.set_shadow(userid, Some(hash)).await?;
        tracing::info!("changed password for user '{userid}'");
        Ok(())
    }

    /// Set (or with `None` remove) the stored password hash of `userid`.
    pub(crate) async fn set_shadow(&self, userid: &Userid, hash: Option<String>) -> Result<()> {
        modify(self.store(), SHADOW_CFG, |text| {
            let mut entries = text.map(parse_shadow).unwrap_or_default();
            let changed = match &hash {
                Some(h) => entries.insert(userid.to_string(), h.clone()).as_ref() != Some(h),
                None => entries.remove(userid.as_str()).is_some(),
            };
            Ok((changed.then(|| write_shadow(&entries)), ()))
        })
        .await
    }
}
