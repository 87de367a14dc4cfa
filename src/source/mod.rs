//! Where CloudTrail records come from. Every source hands whole inputs to a
//! [`Collector`](crate::collect::Collector) through the one shared decoder
//! ([`decode`]), so all sources produce the same event stream. Only remote
//! sources are async; local files are read synchronously.

pub mod aws;
pub mod decode;
pub mod fast;
pub mod files;
pub mod gunzip;
pub mod items;
pub mod kms;
pub mod lookup;
pub mod remote;
pub mod s3;
pub mod scan;
pub mod table_file;
