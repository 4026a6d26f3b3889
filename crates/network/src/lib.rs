//! The kernel side of container networking, with no knowledge of the
//! engine's objects: subnet and address allocation, bridges, veth pairs and
//! macvlans over rtnetlink, host-port allocation, and the daemon's nftables
//! table. The engine (`berth-engine`'s `networks` module) decides what to
//! build; this crate builds it.

pub mod driver;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod ports;
pub mod shared;

pub use driver::{NetSpec, NetworkDriver, Plug, Unplug};
pub use firewall::{BridgeRules, Firewall, PortRule, Proto};
pub use ipam::AddressPool;
pub use link::Netlink;
pub use ports::PortAllocator;
