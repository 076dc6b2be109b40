use thiserror::Error;

#[derive(Debug, Error)]
pub enum NbdError {
    #[error("nbd: {0}")]
    Io(#[from] std::io::Error),
    #[error("nbd handshake: {0}")]
    Handshake(String),
    #[error("nbd {command} at {offset} failed with error {code}")]
    Command {
        command: &'static str,
        offset: u64,
        code: u32,
    },
    #[error("nbd reply out of step (cookie {got}, expected {expected})")]
    Reply { got: u64, expected: u64 },
    #[error("{0}")]
    Tool(String),
}

pub type Result<T> = std::result::Result<T, NbdError>;

impl From<NbdError> for std::io::Error {
    fn from(e: NbdError) -> Self {
        match e {
            NbdError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        }
    }
}
