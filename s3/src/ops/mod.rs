//! The S3 operations, as methods of [`Client`](crate::Client), one file per resource.

pub(crate) mod bucket;
pub(crate) mod list;
pub(crate) mod multipart;
pub(crate) mod object;
