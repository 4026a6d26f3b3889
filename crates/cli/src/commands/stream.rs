//! Hijacked streams: relaying a container's stdio to ours (stdcopy frames
//! or raw TTY bytes), raw mode for the local terminal, window size
//! updates on SIGWINCH, signal proxying and detach keys.

use std::io::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{Client, Demux};

/// The window size of our stdout's terminal: `(rows, cols)`.
pub fn term_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize struct that lives for the call.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Puts the local terminal in raw mode until dropped.
pub struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    pub fn enable() -> RawTerminal {
        let stdin = std::io::stdin();
        match nix::sys::termios::tcgetattr(&stdin) {
            Ok(orig) => {
                let mut raw = orig.clone();
                nix::sys::termios::cfmakeraw(&mut raw);
                let _ =
                    nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
                RawTerminal(Some(orig))
            }
            Err(_) => RawTerminal(None),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}

/// Sends our window size now and on every SIGWINCH, to
/// `/containers/{id}/resize` or `/exec/{id}/resize` (`what`).
pub fn watch_size(c: &Client, what: String) -> tokio::task::JoinHandle<()> {
    let c = c.clone();
    tokio::spawn(async move {
        let send = |c: Client, what: String| async move {
            if let Some((h, w)) = term_size() {
                let _ = c.call("POST", &format!("{what}/resize?h={h}&w={w}")).await;
            }
        };
        send(c.clone(), what.clone()).await;
        let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while sig.recv().await.is_some() {
            send(c.clone(), what.clone()).await;
        }
    })
}

/// Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the
/// container (`--sig-proxy`).
pub fn proxy_signals(c: &Client, id: String) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let c = c.clone();
    tokio::spawn(async move {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        for (k, name) in kinds {
            let Ok(mut s) = signal(k) else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(name).is_err() {
                        return;
                    }
                }
            });
        }
        while let Some(name) = rx.recv().await {
            let _ = c
                .call("POST", &format!("/containers/{id}/kill?signal={name}"))
                .await;
        }
    })
}

pub use berth_api::detach::parse_detach_keys;

/// Relays an attach stream until the output ends. Returns true when the
/// user detached with the escape keys.
pub async fn relay(
    upgraded: hyper::upgrade::Upgraded,
    multiplexed: bool,
    send_stdin: bool,
    detach_keys: Vec<u8>,
) -> bool {
    let io = hyper_util::rt::TokioIo::new(upgraded);
    let (mut rd, mut wr) = tokio::io::split(io);
    let (detach_tx, mut detach_rx) = tokio::sync::mpsc::channel::<()>(1);
    if send_stdin {
        tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 8192];
            let mut matched = 0usize;
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        // Half-close: the container sees EOF on its stdin.
                        let _ = wr.shutdown().await;
                        return;
                    }
                    Ok(n) => {
                        for &b in &buf[..n] {
                            if !detach_keys.is_empty() && b == detach_keys[matched] {
                                matched += 1;
                                if matched == detach_keys.len() {
                                    let _ = wr.write_all(&buf[..n]).await;
                                    let _ = detach_tx.try_send(());
                                    return;
                                }
                            } else {
                                matched =
                                    usize::from(!detach_keys.is_empty() && b == detach_keys[0]);
                            }
                        }
                        if wr.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut buf = vec![0u8; 32 * 1024];
    let mut demux = Demux::default();
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                if !multiplexed {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                    continue;
                }
                for (stream, data) in demux.push(&buf[..n]) {
                    if stream == 2 {
                        let _ = stderr.write_all(&data);
                        let _ = stderr.flush();
                    } else {
                        let _ = stdout.write_all(&data);
                        let _ = stdout.flush();
                    }
                }
            }
            Some(()) = detach_rx.recv() => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }
}
