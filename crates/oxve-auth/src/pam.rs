//! Password check against the host through Linux-PAM (`pam_start`, `pam_authenticate`,
//! `pam_acct_mgmt`, `pam_end`), for the `pam` realm.
//!
//! The maintained Rust PAM crates generate their bindings with bindgen (needing clang and
//! the PAM headers at build time), so this is a minimal hand-written binding instead. It
//! links the runtime library `libpam.so.0` by file name, so building needs no `-dev`
//! package: Debian's `libpam0g`, present on every Debian system, is enough. The calls block
//! (modules such as pam_unix sleep after a failure): run them on a blocking thread.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;

const PAM_SUCCESS: c_int = 0;
const PAM_BUF_ERR: c_int = 5;
const PAM_CONV_ERR: c_int = 19;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
const PAM_RHOST: c_int = 4;
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;

#[repr(C)]
struct PamHandle {
    _private: [u8; 0],
}

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: ConvFn,
    appdata_ptr: *mut c_void,
}

#[link(name = "libpam.so.0", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn pam_start(
        service_name: *const c_char,
        user: *const c_char,
        pam_conversation: *const PamConv,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_authenticate(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_end(pamh: *mut PamHandle, pam_status: c_int) -> c_int;
    fn pam_strerror(pamh: *mut PamHandle, errnum: c_int) -> *const c_char;
}

/// Why a PAM check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PamError {
    /// An argument contained a NUL byte.
    #[error("invalid PAM argument (contains NUL)")]
    Nul,
    /// `pam_start` failed (e.g. a broken PAM configuration).
    #[error("PAM start failed: {0}")]
    Start(String),
    /// Wrong password, unknown user, or the account is not allowed to log in.
    #[error("PAM authentication failed: {0}")]
    Denied(String),
}

/// What the conversation answers: the user name and the password.
struct Credentials {
    user: CString,
    password: CString,
}

/// Answer PAM's prompts: the password to hidden prompts, the user name to visible ones;
/// informational messages get no answer.
///
/// # Safety
/// Called by libpam with `msg` pointing to `num_msg` message pointers (Linux-PAM layout),
/// `resp` a valid out-pointer and `appdata_ptr` the `Credentials` given to `pam_start`.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int {
    if num_msg <= 0 || msg.is_null() || resp.is_null() || appdata_ptr.is_null() {
        return PAM_CONV_ERR;
    }
    let n = num_msg as usize;
    // SAFETY: appdata_ptr is the &Credentials passed to pam_start, alive for the whole
    // transaction (authenticate() keeps it on its stack until pam_end).
    let creds = unsafe { &*(appdata_ptr as *const Credentials) };
    // SAFETY: calloc with a non-zero count; PAM takes ownership and frees it with free().
    let replies =
        unsafe { libc::calloc(n, std::mem::size_of::<PamResponse>()) } as *mut PamResponse;
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..n {
        // SAFETY: msg holds num_msg valid message pointers for the duration of the call.
        let m = unsafe { *msg.add(i) };
        if m.is_null() {
            // SAFETY: frees the strings duplicated so far and the array, all from malloc.
            unsafe { free_replies(replies, i) };
            return PAM_CONV_ERR;
        }
        // SAFETY: m is a valid pam_message.
        let style = unsafe { (*m).msg_style };
        let answer = match style {
            PAM_PROMPT_ECHO_OFF => Some(&creds.password),
            PAM_PROMPT_ECHO_ON => Some(&creds.user),
            PAM_ERROR_MSG | PAM_TEXT_INFO => None,
            _ => {
                // SAFETY: as above.
                unsafe { free_replies(replies, i) };
                return PAM_CONV_ERR;
            }
        };
        if let Some(text) = answer {
            // SAFETY: text is a valid NUL-terminated string; strdup allocates with malloc.
            let dup = unsafe { libc::strdup(text.as_ptr()) };
            if dup.is_null() {
                // SAFETY: as above.
                unsafe { free_replies(replies, i) };
                return PAM_BUF_ERR;
            }
            // SAFETY: i < n, inside the calloc'ed array.
            unsafe { (*replies.add(i)).resp = dup };
        }
    }
    // SAFETY: resp is a valid out-pointer given by libpam.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

/// Free the first `filled` answers and the array.
///
/// # Safety
/// `replies` must come from `calloc` with at least `filled` entries whose `resp` pointers
/// are null or from `strdup`.
unsafe fn free_replies(replies: *mut PamResponse, filled: usize) {
    for i in 0..filled {
        // SAFETY: guaranteed by the caller.
        let r = unsafe { (*replies.add(i)).resp };
        if !r.is_null() {
            // Best effort scrubbing of the copied password before freeing it.
            // SAFETY: r is a NUL-terminated malloc'ed string we own.
            unsafe {
                let len = libc::strlen(r);
                ptr::write_bytes(r, 0, len);
                libc::free(r as *mut c_void);
            }
        }
    }
    // SAFETY: replies came from calloc.
    unsafe { libc::free(replies as *mut c_void) };
}

fn describe(pamh: *mut PamHandle, code: c_int) -> String {
    // SAFETY: pam_strerror accepts any handle (even null) and returns a static string or null.
    let text = unsafe { pam_strerror(pamh, code) };
    if text.is_null() {
        format!("error {code}")
    } else {
        // SAFETY: non-null result of pam_strerror is a valid C string.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Check `password` of host user `user` with PAM service `service`, then the account
/// (expired, locked); `rhost` is handed to PAM modules for logging. Blocks.
pub fn authenticate(
    service: &str,
    user: &str,
    password: &str,
    rhost: Option<&str>,
) -> Result<(), PamError> {
    let service = CString::new(service).map_err(|_| PamError::Nul)?;
    let creds = Credentials {
        user: CString::new(user).map_err(|_| PamError::Nul)?,
        password: CString::new(password).map_err(|_| PamError::Nul)?,
    };
    let rhost = rhost
        .map(CString::new)
        .transpose()
        .map_err(|_| PamError::Nul)?;
    let conv = PamConv {
        conv: converse,
        appdata_ptr: &creds as *const Credentials as *mut c_void,
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: all pointers are valid NUL-terminated strings / structs that outlive the PAM
    // transaction, which ends with pam_end below before they are dropped.
    let rc = unsafe { pam_start(service.as_ptr(), creds.user.as_ptr(), &conv, &mut pamh) };
    if rc != PAM_SUCCESS || pamh.is_null() {
        return Err(PamError::Start(describe(pamh, rc)));
    }
    let mut rc = PAM_SUCCESS;
    if let Some(rhost) = &rhost {
        // SAFETY: pamh is a live handle; PAM copies the string.
        rc = unsafe { pam_set_item(pamh, PAM_RHOST, rhost.as_ptr() as *const c_void) };
    }
    if rc == PAM_SUCCESS {
        // SAFETY: pamh is a live handle.
        rc = unsafe { pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK) };
    }
    if rc == PAM_SUCCESS {
        // SAFETY: pamh is a live handle.
        rc = unsafe { pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK) };
    }
    let result = if rc == PAM_SUCCESS {
        Ok(())
    } else {
        Err(PamError::Denied(describe(pamh, rc)))
    };
    // SAFETY: pamh is live and not used afterwards.
    unsafe { pam_end(pamh, rc) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_is_denied() {
        let err = authenticate(
            "oxve-auth-test",
            "oxve-no-such-user-xyz",
            "wrong password",
            Some("127.0.0.1"),
        )
        .unwrap_err();
        assert!(
            matches!(err, PamError::Denied(_) | PamError::Start(_)),
            "{err}"
        );
    }

    #[test]
    fn nul_bytes_are_refused() {
        assert_eq!(authenticate("login", "a\0b", "x", None), Err(PamError::Nul));
    }

    /// A real login, run only when a test account is provided:
    /// `OXVE_PAM_TEST_USER=u OXVE_PAM_TEST_PASSWORD=p cargo test -p oxve-auth pam`.
    #[test]
    fn real_login_when_configured() {
        let (Ok(user), Ok(password)) = (
            std::env::var("OXVE_PAM_TEST_USER"),
            std::env::var("OXVE_PAM_TEST_PASSWORD"),
        ) else {
            return;
        };
        authenticate("login", &user, &password, None).expect("valid credentials");
        assert!(authenticate("login", &user, "definitely-wrong", None).is_err());
    }
}
