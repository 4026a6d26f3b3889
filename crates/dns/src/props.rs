//! Property-based tests of the embedded DNS server's parsers of outside
//! input (issue 21): packets from containers and answers from upstreams,
//! reverse-lookup names and resolv.conf. Never a panic, and what goes back
//! to a client fits its transport. Cases are bounded.

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use proptest::prelude::*;

use crate::names::parse_ptr_name;
use crate::query::{fit, formerr_from_header, Transport};
use crate::resolv::ResolvConf;

fn config() -> ProptestConfig {
    ProptestConfig {
        // cases: PROPTEST_CASES, 256 when unset (proptest's default)
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn packets_never_panic(packet in prop::collection::vec(any::<u8>(), 12..600)) {
        // What `answer` does with a packet it cannot decode.
        let r = formerr_from_header(&packet);
        prop_assert_eq!(&r[..2], &packet[..2]);
        if let Ok(m) = Message::from_vec(&packet) {
            let _ = m.to_vec();
        }
    }

    #[test]
    fn upstream_answers_fit(bytes in prop::collection::vec(any::<u8>(), 0..3000), tcp in any::<bool>()) {
        let mut q = Message::new(7, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(Name::from_ascii("a.test.").unwrap(), RecordType::A));
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        if let Some(out) = fit(bytes, &q, transport) {
            prop_assert!(tcp || out.len() <= 512, "{} bytes over UDP", out.len());
        }
    }

    #[test]
    fn ptr_names(name in "\\PC{0,40}|([0-9]{1,4}\\.){3,5}in-addr\\.arpa\\.?|([0-9a-fA-F]\\.){30,33}ip6\\.arpa", a in any::<[u8; 4]>()) {
        let _ = parse_ptr_name(&name);
        let v4 = format!("{}.{}.{}.{}.in-addr.arpa.", a[3], a[2], a[1], a[0]);
        prop_assert_eq!(parse_ptr_name(&v4), Some(std::net::IpAddr::from(a)));
    }

    #[test]
    fn resolv_conf(text in "((nameserver|search|domain|options|#|;)[ \t][a-z0-9.:%]{0,12}\n?|\\PC{0,10}\n){0,6}") {
        let rc = ResolvConf::parse(&text);
        prop_assert!(rc.upstreams().iter().all(|s| !s.ip().is_loopback() && s.port() == 53));
    }
}
