//! Compression through an external tool, as Proxmox's vzdump does: `lzop` for
//! `compress=lzo`, `pigz` for `compress=gzip` with `pigz=N`.
//!
//! The tool runs as a child with both ends piped. Its input and output are pumped from the
//! calling thread with `poll`, so the stream we read from or write to need not be `'static`
//! or `Send`, and neither side can deadlock on a full pipe.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::compression::FinishWrite;

/// The first bytes of an lzop file.
pub const LZOP_MAGIC: [u8; 9] = [0x89, b'L', b'Z', b'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a];

const CHUNK: usize = 1 << 20;

/// A running filter tool with non-blocking pipes.
struct Filter {
    program: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a pipe descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `poll` found ready.
struct Ready {
    input: bool,
    output: bool,
}

impl Filter {
    fn spawn(program: &'static str, args: &[String]) -> io::Result<Filter> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("running {program}: {e}")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        set_nonblocking(stdin.as_raw_fd())?;
        set_nonblocking(stdout.as_raw_fd())?;
        Ok(Filter {
            program,
            child,
            stdin: Some(stdin),
            stdout,
        })
    }

    /// Waits until the tool can take input (if `want_input` and its stdin is open) or has output.
    fn poll(&self, want_input: bool) -> io::Result<Ready> {
        let mut fds = vec![libc::pollfd {
            fd: self.stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let (true, Some(stdin)) = (want_input, &self.stdin) {
            fds.push(libc::pollfd {
                fd: stdin.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
        }
        loop {
            // SAFETY: `fds` is a valid array of pollfd for its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n >= 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(Ready {
            output: fds[0].revents != 0,
            input: fds.get(1).is_some_and(|f| f.revents != 0),
        })
    }

    /// Writes what the tool takes of `buf` now (0 when its pipe is full).
    fn feed(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stdin = self.stdin.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
        match stdin.write(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(self.failure("input closed")),
            Err(e) => Err(e),
        }
    }

    /// Reads what the tool has written; `None` when nothing is there yet, `Some(0)` at its end.
    fn drain(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.stdout.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tool exited: an error unless it exited cleanly.
    fn wait(&mut self) -> io::Result<()> {
        self.stdin = None;
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = self.child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{} failed ({status}): {}",
                self.program,
                stderr.trim()
            )))
        }
    }

    fn failure(&mut self, what: &str) -> io::Error {
        let _ = self.child.kill();
        match self.wait() {
            Err(e) => e,
            Ok(()) => io::Error::other(format!("{}: {what}", self.program)),
        }
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        // Only a stream abandoned half way still has a live child.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Passes what is written through the tool (compressing it) into `out`.
pub struct FilterWriter<W: Write> {
    tool: Filter,
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> FilterWriter<W> {
    /// `program args` reading stdin and writing stdout.
    pub fn new(out: W, program: &'static str, args: &[String]) -> io::Result<Self> {
        Ok(FilterWriter {
            tool: Filter::spawn(program, args)?,
            out,
            buf: vec![0; CHUNK],
        })
    }

    /// Moves the tool's pending output to `out`; true when it has ended.
    fn pump_out(&mut self) -> io::Result<bool> {
        while let Some(n) = self.tool.drain(&mut self.buf)? {
            if n == 0 {
                return Ok(true);
            }
            self.out.write_all(&self.buf[..n])?;
        }
        Ok(false)
    }
}

impl<W: Write> Write for FilterWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < data.len() {
            let ready = self.tool.poll(true)?;
            if ready.output && self.pump_out()? {
                return Err(self.tool.failure("ended early"));
            }
            if ready.input {
                done += self.tool.feed(&data[done..])?;
            }
        }
        Ok(done)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> FinishWrite for FilterWriter<W> {
    fn finish_stream(mut self: Box<Self>) -> io::Result<()> {
        self.tool.stdin = None; // end of input: the tool writes its trailer and exits
        loop {
            self.tool.poll(false)?;
            if self.pump_out()? {
                break;
            }
        }
        self.tool.wait()?;
        self.out.flush()
    }
}

/// Reads `input` through the tool (decompressing it).
pub struct FilterReader<R: Read> {
    tool: Filter,
    input: R,
    /// Input read but not yet taken by the tool: `pending[start..]`.
    pending: Vec<u8>,
    start: usize,
    done: bool,
}

impl<R: Read> FilterReader<R> {
    /// `program args` reading stdin and writing stdout.
    pub fn new(input: R, program: &'static str, args: &[String]) -> io::Result<Self> {
        Ok(FilterReader {
            tool: Filter::spawn(program, args)?,
            input,
            pending: Vec::with_capacity(CHUNK),
            start: 0,
            done: false,
        })
    }

    /// Gives the tool more input; closes its stdin at the end of ours.
    fn pump_in(&mut self) -> io::Result<()> {
        if self.start == self.pending.len() {
            self.pending.resize(CHUNK, 0);
            let n = self.input.read(&mut self.pending)?;
            self.pending.truncate(n);
            self.start = 0;
            if n == 0 {
                self.tool.stdin = None;
                return Ok(());
            }
        }
        let n = self.tool.feed(&self.pending[self.start..])?;
        self.start += n;
        Ok(())
    }
}

impl<R: Read> Read for FilterReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            let ready = self.tool.poll(true)?;
            if ready.output {
                match self.tool.drain(buf)? {
                    Some(0) => {
                        self.done = true;
                        self.tool.wait()?;
                        return Ok(0);
                    }
                    Some(n) => return Ok(n),
                    None => {}
                }
            }
            if ready.input {
                self.pump_in()?;
            }
        }
    }
}
