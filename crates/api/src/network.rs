//! The network answers as dockerd prints them: `GET /networks`,
//! `GET /networks/{id}`, a container's `NetworkSettings` (inspect) and its
//! `NetworkSettings.Networks` (`GET /containers/json`).
//!
//! Hand-kept beside the generated [`crate::model`] types of the same names
//! because the spec is wrong for output in three ways moby's Go types are
//! not, and clients see each:
//! - it has no `omitempty`: `Network.Peers` (overlay only), the unset
//!   members of `IPAM.Config[]` and of `EndpointSettings.IPAMConfig` are
//!   left out by dockerd, where the generated types print `null` or `""`;
//! - `EndpointSettings.IPAMConfig` is a pointer in Go (`null` when the user
//!   asked for no address), a plain struct in the spec;
//! - the member order of `IPAM`, `EndpointSettings` and `NetworkSettings`
//!   differs from the order dockerd prints (moby's struct order, which
//!   berth keeps so its answers match dockerd's byte for byte).
//!
//! Requests use the generated types (`model::EndpointSettings`,
//! `model::NetworkCreateRequest`): decoding does not depend on any of this.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::{Address, ConfigReference, NetworkContainer, PeerInfo};
use crate::types::PortMap;

/// `GET /networks/{id}` and each element of `GET /networks` (moby's
/// `network.Inspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Scope")]
    pub scope: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    #[serde(rename = "Internal")]
    pub internal: bool,
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    #[serde(rename = "ConfigFrom")]
    pub config_from: ConfigReference,
    #[serde(rename = "ConfigOnly")]
    pub config_only: bool,
    /// Running containers on the network, by id (empty in a list).
    #[serde(rename = "Containers")]
    pub containers: IndexMap<String, NetworkContainer>,
    #[serde(rename = "Options")]
    pub options: IndexMap<String, String>,
    #[serde(rename = "Labels")]
    pub labels: IndexMap<String, String>,
    /// Overlay networks only (`omitempty`).
    #[serde(rename = "Peers", skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<PeerInfo>>,
}

/// A network's `IPAM`, in dockerd's member order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ipam {
    #[serde(rename = "Driver")]
    pub driver: String,
    /// `null` on the predefined networks, `{}` on the others, as dockerd.
    #[serde(rename = "Options")]
    pub options: Option<IndexMap<String, String>>,
    #[serde(rename = "Config")]
    pub config: Vec<IpamConfig>,
}

/// One `IPAM.Config` entry: unset members are left out (`omitempty`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    #[serde(rename = "Subnet", skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(rename = "Gateway", skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(rename = "AuxiliaryAddresses", skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<IndexMap<String, String>>,
}

/// A container's endpoint on one network, in dockerd's member order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// `null` unless the user asked for an address (a Go pointer).
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<IndexMap<String, String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// `EndpointSettings.IPAMConfig`: unset members are left out (`omitempty`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Option::is_none")]
    pub link_local_ips: Option<Vec<String>>,
}

/// Container inspect's `NetworkSettings`, in dockerd's member order
/// (moby's `NetworkSettingsBase`, then `DefaultNetworkSettings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    #[serde(rename = "Bridge")]
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    #[serde(rename = "Ports")]
    pub ports: PortMap,
    #[serde(rename = "HairpinMode")]
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    #[serde(rename = "Networks")]
    pub networks: IndexMap<String, EndpointSettings>,
}

/// `NetworkSettings` of a `GET /containers/json` row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryNetworkSettings {
    #[serde(rename = "Networks")]
    pub networks: IndexMap<String, EndpointSettings>,
}
