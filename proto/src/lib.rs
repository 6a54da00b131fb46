//! The help desk's contracts as Rust types: gRPC clients and servers for identity, tickets, kb and mail,
//! and the event / inbound-message payloads that ride on NATS. Generated at build time from
//! `proto/helpdesk/**`; nothing here is written by hand except the module tree.

#![allow(clippy::all, clippy::pedantic)]

/// Encoded `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/helpdesk_descriptor.bin"));

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("helpdesk.identity.v1");
    }
}

pub mod tickets {
    pub mod v1 {
        tonic::include_proto!("helpdesk.tickets.v1");
    }
}

pub mod kb {
    pub mod v1 {
        tonic::include_proto!("helpdesk.kb.v1");
    }
}

pub mod mail {
    pub mod v1 {
        tonic::include_proto!("helpdesk.mail.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("helpdesk.events.v1");
    }
}
