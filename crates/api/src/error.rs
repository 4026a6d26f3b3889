//! Error classes shared by every layer. Libraries return an [`Error`] with a
//! [`ErrorKind`]; only the HTTP edge maps kinds to status codes, as
//! containerd's errdefs do.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request itself is wrong.
    InvalidArgument,
    /// 404: the object does not exist.
    NotFound,
    /// 409: the object is in a state that forbids the operation.
    Conflict,
    /// 304: the operation has nothing to do (start of a running container).
    NotModified,
    /// 401: missing or wrong credentials.
    Unauthorized,
    /// 403: the operation is refused.
    Forbidden,
    /// 503: the service the request needs is not there in this state
    /// (dockerd's errdefs.Unavailable: swarm calls on a node not in one).
    Unavailable,
    /// 500: anything else.
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// An error with its class and a message a user can act on
/// (lower-case, no trailing period, naming the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }
    pub fn not_modified() -> Error {
        Error::new(ErrorKind::NotModified, "")
    }
    pub fn unavailable(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
