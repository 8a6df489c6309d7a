//! The server process on this machine: found from its listening socket (`/proc/net/tcp{,6}`
//! gives the socket inode, `/proc/*/fd` the process holding it), and its RSS and CPU time.
use crate::board::{read_small, MAX_FILE_BYTES};
use std::path::Path;

/// The most bytes of `/proc/net/tcp{,6}` read: 150 bytes a socket, so 100 000 sockets.
const NET_TABLE_BYTES: u64 = 16 << 20;

/// A procfs file as text: a regular file of at most `max` bytes ([`read_small`]).
fn proc_text(path: &Path, max: u64) -> Option<String> {
    read_small(path, max)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, 100 on every Linux ABI rkbench
/// targets (it is fixed by the kernel ABI, not by CONFIG_HZ).
const USER_HZ: i64 = 100;

/// Inodes of the sockets listening on `port` in one `/proc/net/tcp`-format table.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = f.get(1)?;
            let st = f.get(3)?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (p == port && *st == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// The process listening on `port`, if this machine has it and we may see it.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for t in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Some(s) = proc_text(Path::new(t), NET_TABLE_BYTES) {
            inodes.extend(listening_inodes(&s, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .any(|l| wanted.iter().any(|w| Path::new(w) == l))
        })
    })
}

/// User + system CPU time of a process, ms.
pub fn cpu_ms(pid: u32) -> Option<i64> {
    let s = proc_text(Path::new(&format!("/proc/{pid}/stat")), MAX_FILE_BYTES)?;
    // Fields after the command name (which may contain spaces), counted from field 3.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: i64 = f.get(11)?.parse().ok()?;
    let stime: i64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 1000 / USER_HZ)
}

/// Fields of a `/proc/<pid>/stat` after the command name (which may hold spaces), from field 3.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat[stat.rfind(')')? + 2..].split_whitespace().collect())
}

/// CPU time of a process and all its descendants, ms: each one's user + system time plus that
/// of its children already reaped (`cutime`, `cstime`), so a worker exiting does not make the
/// sum drop. Servers do their work in child processes (rkllama runs each model in a worker
/// process; the listening one only relays), so the listener's own time says little. rkbench
/// itself is never counted, should it run below the server.
pub fn tree_cpu_ms(pid: u32) -> Option<i64> {
    tree_cpu_ms_in(Path::new("/proc"), pid, std::process::id())
}

fn tree_cpu_ms_in(proc_root: &Path, pid: u32, me: u32) -> Option<i64> {
    // (pid, ppid, ticks) of every process we may read.
    let mut all: Vec<(u32, u32, i64)> = Vec::new();
    for e in std::fs::read_dir(proc_root).ok()?.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Some(stat) = proc_text(&e.path().join("stat"), MAX_FILE_BYTES) else {
            continue;
        };
        let Some(f) = stat_fields(&stat) else {
            continue;
        };
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
        if let (Some(ppid), Some(u), Some(s), Some(cu), Some(cs)) =
            (num(1), num(11), num(12), num(13), num(14))
        {
            all.push((p, ppid as u32, u + s + cu + cs));
        }
    }
    all.iter().find(|x| x.0 == pid)?;
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            all.iter()
                .filter(|x| x.1 == parent && x.0 != parent && x.0 != me)
                .map(|x| x.0),
        );
        i += 1;
    }
    let ticks: i64 = all
        .iter()
        .filter(|x| tree.contains(&x.0))
        .map(|x| x.2)
        .sum();
    Some(ticks * 1000 / USER_HZ)
}

/// Resident set size of a process, kB.
pub fn rss_kb(pid: u32) -> Option<i64> {
    let s = proc_text(Path::new(&format!("/proc/{pid}/status")), MAX_FILE_BYTES)?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The process's command name, for the header.
pub fn comm(pid: u32) -> Option<String> {
    proc_text(Path::new(&format!("/proc/{pid}/comm")), MAX_FILE_BYTES).map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_socket_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8080), vec![4242]);
        assert!(listening_inodes(table, 8081).is_empty());
    }

    #[test]
    fn tree_cpu_time_adds_descendants_and_reaped_children() {
        let dir = std::env::temp_dir().join(format!("rkbench-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // pid ppid utime stime cutime cstime: 10 is the server, 11 its worker, 12 the worker's
        // child, 20 unrelated. Ticks of 10 ms.
        for (pid, ppid, u, s, cu, cs) in [
            (10, 1, 5, 1, 3, 1),
            (11, 10, 200, 20, 0, 0),
            (12, 11, 7, 3, 0, 0),
            (20, 1, 999, 999, 0, 0),
        ] {
            let d = dir.join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("stat"),
                format!("{pid} (py thon) S {ppid} 1 1 0 -1 0 0 0 0 0 {u} {s} {cu} {cs} 20 0 1 0"),
            )
            .unwrap();
        }
        std::fs::create_dir_all(dir.join("self")).unwrap();
        assert_eq!(tree_cpu_ms_in(&dir, 10, 1), Some((10 + 220 + 10) * 10));
        assert_eq!(tree_cpu_ms_in(&dir, 11, 1), Some(230 * 10));
        assert_eq!(tree_cpu_ms_in(&dir, 99, 1), None);
        // rkbench (here: 11) below the server is not the server's work, nor is its child.
        assert_eq!(tree_cpu_ms_in(&dir, 10, 11), Some(10 * 10));
        let _ = std::fs::remove_dir_all(&dir);
        let own = cpu_ms(std::process::id()).unwrap();
        assert!(tree_cpu_ms(std::process::id()).unwrap() >= own);
    }

    #[test]
    fn this_process_is_found_by_its_listener_and_has_cpu_and_rss() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(pid_listening_on(port), Some(std::process::id()));
        assert!(cpu_ms(std::process::id()).is_some());
        assert!(rss_kb(std::process::id()).unwrap() > 0);
    }
}
