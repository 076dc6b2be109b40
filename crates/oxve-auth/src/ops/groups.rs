//! Group operations. Membership is changed through the users (`groups` of create/update).

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::text_field;
use crate::store_io::modify_user_cfg;
use crate::types::{GroupInfo, GroupListEntry};
use crate::user_cfg::GroupEntry;
use crate::userid::verify_group_id;

fn no_such_group(groupid: &str) -> AuthError {
    AuthError::NotFound(format!("group '{groupid}' does not exist"))
}

impl AccessControl {
    /// `GET /access/groups`.
    pub async fn list_groups(&self) -> Result<Vec<GroupListEntry>> {
        let snap = self.snapshot().await?;
        Ok(snap
            .config()
            .groups
            .iter()
            .map(|(id, g)| GroupListEntry {
                groupid: id.clone(),
                comment: g.comment.clone(),
                users: g
                    .members
                    .iter()
                    .map(|u| u.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            })
            .collect())
    }

    /// `GET /access/groups/{groupid}`.
    pub async fn get_group(&self, groupid: &str) -> Result<GroupInfo> {
        let snap = self.snapshot().await?;
        let g = snap
            .config()
            .groups
            .get(groupid)
            .ok_or_else(|| no_such_group(groupid))?;
        Ok(GroupInfo {
            comment: g.comment.clone(),
            members: g.members.iter().cloned().collect(),
        })
    }

    /// `POST /access/groups`.
    pub async fn create_group(&self, groupid: &str, comment: Option<&str>) -> Result<()> {
        verify_group_id(groupid).map_err(|e| AuthError::from_id("groupid", e))?;
        let comment = text_field("comment", comment, 2048)?;
        modify_user_cfg(self.store(), |cfg| {
            if cfg.groups.contains_key(groupid) {
                return Err(AuthError::AlreadyExists(format!(
                    "group '{groupid}' already exists"
                )));
            }
            cfg.groups.insert(
                groupid.to_string(),
                GroupEntry {
                    comment: comment.clone(),
                    ..Default::default()
                },
            );
            Ok(())
        })
        .await
    }

    /// `PUT /access/groups/{groupid}`: change the comment (`None` keeps it, empty clears it).
    pub async fn update_group(&self, groupid: &str, comment: Option<&str>) -> Result<()> {
        let new_comment = text_field("comment", comment, 2048)?;
        modify_user_cfg(self.store(), |cfg| {
            let g = cfg
                .groups
                .get_mut(groupid)
                .ok_or_else(|| no_such_group(groupid))?;
            if comment.is_some() {
                g.comment = new_comment.clone();
            }
            Ok(())
        })
        .await
    }

    /// `DELETE /access/groups/{groupid}`: also removes its ACL entries.
    pub async fn delete_group(&self, groupid: &str) -> Result<()> {
        modify_user_cfg(self.store(), |cfg| {
            cfg.groups
                .remove(groupid)
                .ok_or_else(|| no_such_group(groupid))?;
            cfg.acl.remove_group(groupid);
            Ok(())
        })
        .await
    }
}
