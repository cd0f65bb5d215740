//! The launcher's one system call that std lacks: asking a child to close with SIGTERM (std
//! only offers SIGKILL, which would leave the Writer's segment behind).
#![allow(unsafe_code)]

/// Sends SIGTERM to the process `pid` (a child of ours, so the pid cannot have been reused
/// while we have not waited for it).
pub fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 0 {
        // 0 and negative pids address process groups.
        return;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe { libc::kill(pid, libc::SIGTERM) };
}
