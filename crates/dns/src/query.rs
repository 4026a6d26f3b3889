//! One query in, one answer out: local names, or the upstreams.
//!
//! Follows moby's `libnetwork/resolver.go`: A/AAAA/PTR for the containers
//! the asker can see, answered with TTL 600, RA set and AA clear; anything
//! else forwarded verbatim from inside the container's namespace, trying the
//! upstreams in order and skipping ones that fail, time out, or answer
//! SERVFAIL/REFUSED; SERVFAIL when none answers or forwarding is off.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use socket2::{Domain, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, Instant};

use crate::names::{parse_ptr_name, Family, Found};
use crate::server::Attachment;

/// How the query came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// The UDP payload size we advertise in our own EDNS answers (the DNS flag
/// day's value).
const OUR_UDP_PAYLOAD: u16 = 1232;
/// A UDP answer without EDNS in the query fits in this (RFC 1035).
const MIN_UDP: usize = 512;

/// The answer to `packet`, or `None` when it gets no answer at all (too short
/// to carry an ID, or not a query).
pub(crate) async fn answer(
    att: &Arc<Attachment>,
    packet: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let query = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(_) => return Some(formerr_from_header(packet)),
    };
    if query.metadata.op_code != OpCode::Query {
        return encode(
            &error_reply(&query, ResponseCode::NotImp),
            &query,
            transport,
        );
    }
    if query.queries.len() != 1 {
        return encode(
            &error_reply(&query, ResponseCode::FormErr),
            &query,
            transport,
        );
    }
    if let Some(local) = local_answer(att, &query) {
        return encode(&local, &query, transport);
    }
    let dns = att.dns();
    let q = &query.queries[0];
    if matches!(q.query_type(), RecordType::A | RecordType::AAAA)
        && crate::resolv::ndots_set(&dns.options)
        && q.name().num_labels() <= 1
    {
        // Docker: with an explicit ndots > 0, a single-label name is not
        // sent out; the empty answer sends the client on to its search list.
        return encode(&reply_to(&query), &query, transport);
    }
    if dns.internal || dns.upstreams.is_empty() {
        return encode(
            &error_reply(&query, ResponseCode::ServFail),
            &query,
            transport,
        );
    }
    match forward(att, &dns.upstreams, packet, transport).await {
        Some(bytes) => fit(bytes, &query, transport),
        None => encode(
            &error_reply(&query, ResponseCode::ServFail),
            &query,
            transport,
        ),
    }
}

fn local_answer(att: &Attachment, query: &Message) -> Option<Message> {
    let q = &query.queries[0];
    if q.query_class() != DNSClass::IN {
        return None;
    }
    let qname = q.name().to_ascii();
    let ttl = att.server.config.ttl;
    match q.query_type() {
        t @ (RecordType::A | RecordType::AAAA) => {
            let family = if t == RecordType::A {
                Family::V4
            } else {
                Family::V6
            };
            let found = att.server.table().lookup(&att.key, &qname, family);
            let Found::Addrs(mut addrs) = found else {
                return None;
            };
            if addrs.len() > 1 {
                let n = att.server.round_robin.fetch_add(1, Ordering::Relaxed) % addrs.len();
                addrs.rotate_left(n);
            }
            let mut resp = reply_to(query);
            for ip in addrs {
                let rdata = match ip {
                    IpAddr::V4(v4) => RData::A(A(v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                };
                resp.answers
                    .push(Record::from_rdata(q.name().clone(), ttl, rdata));
            }
            Some(resp)
        }
        // A container name has no MX: an empty NOERROR, so mail clients
        // fall back to its address ("implicit MX", RFC 5321 5.1), as Docker.
        RecordType::MX => {
            let table = att.server.table();
            let known = |f| matches!(table.lookup(&att.key, &qname, f), Found::Addrs(_));
            (known(Family::V4) || known(Family::V6)).then(|| reply_to(query))
        }
        RecordType::PTR => {
            let ip = parse_ptr_name(&qname)?;
            let host = att.server.table().reverse(&att.key, ip)?;
            let target = Name::from_ascii(format!("{host}.")).ok()?;
            let mut resp = reply_to(query);
            resp.answers.push(Record::from_rdata(
                q.name().clone(),
                ttl,
                RData::PTR(PTR(target)),
            ));
            Some(resp)
        }
        _ => None,
    }
}

/// A response to `query` with its ID, opcode, RD/CD and question; RA set,
/// AA clear; an OPT record when the query had one.
fn reply_to(query: &Message) -> Message {
    let mut resp = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    resp.metadata = Metadata::response_from_request(&query.metadata);
    resp.metadata.recursion_available = true;
    resp.queries = query.queries.clone();
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(OUR_UDP_PAYLOAD);
        resp.edns = Some(edns);
    }
    resp
}

fn error_reply(query: &Message, code: ResponseCode) -> Message {
    let mut resp = reply_to(query);
    resp.metadata.response_code = code;
    resp
}

/// FORMERR for a packet whose header is readable but whose body is not:
/// the header's ID, opcode and RD, no sections.
pub(crate) fn formerr_from_header(packet: &[u8]) -> Vec<u8> {
    let opcode_rd = packet[2] & 0x79; // opcode bits and RD
    vec![
        packet[0],
        packet[1],
        0x80 | opcode_rd,
        0x80 | 0x01, // RA, FORMERR
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]
}

/// The largest answer the client takes over `transport`.
fn limit(query: &Message, transport: Transport) -> usize {
    match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => query
            .edns
            .as_ref()
            .map(|e| usize::from(e.max_payload()))
            .unwrap_or(MIN_UDP)
            .max(MIN_UDP),
    }
}

fn encode(resp: &Message, query: &Message, transport: Transport) -> Option<Vec<u8>> {
    match resp.to_vec() {
        Ok(bytes) if bytes.len() <= limit(query, transport) => Some(bytes),
        Ok(_) => resp.truncate().to_vec().ok(),
        Err(e) => {
            tracing::debug!(error = %e, "berth-dns: cannot encode an answer");
            error_reply(query, ResponseCode::ServFail).to_vec().ok()
        }
    }
}

/// An upstream's answer as the client may receive it: verbatim when it
/// fits, else truncated (TC set, sections dropped) so the client retries
/// over TCP.
pub(crate) fn fit(bytes: Vec<u8>, query: &Message, transport: Transport) -> Option<Vec<u8>> {
    if bytes.len() <= limit(query, transport) {
        return Some(bytes);
    }
    match Message::from_vec(&bytes) {
        Ok(m) => m.truncate().to_vec().ok(),
        Err(_) => encode(
            &error_reply(query, ResponseCode::ServFail),
            query,
            transport,
        ),
    }
}

const RCODE_SERVFAIL: u8 = 2;
const MAX_UPSTREAMS: usize = 3;
const RCODE_REFUSED: u8 = 5;

/// Ask the upstreams in order; the first usable answer, verbatim.
async fn forward(
    att: &Arc<Attachment>,
    upstreams: &[SocketAddr],
    packet: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let wait = att.server.config.forward_timeout;
    let Ok(Ok(_permit)) = timeout(wait, att.forwards.acquire()).await else {
        // As Docker: too many queries in flight for this container.
        let mut refused = packet[..12].to_vec();
        refused[2] = 0x80 | (packet[2] & 0x79);
        refused[3] = 0x80 | RCODE_REFUSED;
        refused[4..12].fill(0);
        return Some(refused);
    };
    let id = [packet[0], packet[1]];
    // Docker tries at most three upstreams (resolv.conf's MAXNS).
    for up in upstreams.iter().take(MAX_UPSTREAMS) {
        let got = match transport {
            Transport::Tcp => tcp_exchange(att, *up, packet, id, wait).await,
            Transport::Udp => match udp_exchange(att, *up, packet, id, wait).await {
                // Truncated: ask again over TCP; keep the truncated answer
                // (the client then retries over TCP) if that fails.
                Ok(r) if r[2] & 0x02 != 0 => {
                    Ok(tcp_exchange(att, *up, packet, id, wait).await.unwrap_or(r))
                }
                other => other,
            },
        };
        match got {
            Ok(r) if matches!(r[3] & 0x0f, RCODE_SERVFAIL | RCODE_REFUSED) => {
                tracing::debug!(upstream = %up, "berth-dns: upstream failed the query, trying the next");
            }
            Ok(mut r) => {
                // Relayed, not ours: never authoritative.
                r[2] &= !0x04;
                return Some(r);
            }
            Err(e) => {
                tracing::debug!(upstream = %up, error = %e, key = %att.key, "berth-dns: upstream did not answer");
            }
        }
    }
    None
}

fn is_answer(r: &[u8], id: [u8; 2]) -> bool {
    r.len() >= 12 && r[..2] == id && r[2] & 0x80 != 0
}

async fn udp_exchange(
    att: &Attachment,
    up: SocketAddr,
    packet: &[u8],
    id: [u8; 2],
    wait: Duration,
) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let socket = att
        .server
        .maker
        .socket(&att.netns, Domain::for_address(up), Type::DGRAM)
        .await?;
    let socket = tokio::net::UdpSocket::from_std(socket.into())?;
    socket.connect(up).await?;
    socket.send(packet).await?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
        // Ignore strays (wrong ID): only the answer to this query counts.
        if is_answer(&buf[..n], id) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp_exchange(
    att: &Attachment,
    up: SocketAddr,
    packet: &[u8],
    id: [u8; 2],
    wait: Duration,
) -> std::io::Result<Vec<u8>> {
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
    let len = u16::try_from(packet.len()).map_err(|_| std::io::Error::other("query too long"))?;
    let socket = att
        .server
        .maker
        .socket(&att.netns, Domain::for_address(up), Type::STREAM)
        .await?;
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let work = async {
        let mut stream = socket.connect(up).await?;
        let mut out = Vec::with_capacity(packet.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(packet);
        stream.write_all(&out).await?;
        loop {
            let n = stream.read_u16().await?;
            let mut resp = vec![0u8; usize::from(n)];
            stream.read_exact(&mut resp).await?;
            if is_answer(&resp, id) {
                return Ok(resp);
            }
        }
    };
    timeout(wait, work).await.map_err(|_| timed_out())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::TXT;

    fn query(edns: Option<u16>) -> Message {
        let mut q = Message::new(0x1234, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(
            Name::from_ascii("big.test.").expect("name"),
            RecordType::TXT,
        ));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            q.edns = Some(e);
        }
        q
    }

    #[test]
    fn formerr_keeps_id_opcode_and_rd() {
        let r = formerr_from_header(&[0xab, 0xcd, 0x11, 0x20, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&r[..2], &[0xab, 0xcd]);
        assert_eq!(r[2], 0x80 | 0x10 | 0x01, "QR, opcode 2, RD");
        assert_eq!(r[3] & 0x0f, 1);
        assert_eq!(&r[4..], &[0; 8]);
    }

    #[test]
    fn oversized_upstream_answers_are_truncated_for_udp_clients() {
        let q = query(None);
        let mut resp = reply_to(&q);
        for i in 0..8 {
            resp.answers.push(Record::from_rdata(
                q.queries[0].name().clone(),
                60,
                RData::TXT(TXT::new(vec![format!("{i}{}", "x".repeat(200))])),
            ));
        }
        let bytes = resp.to_vec().expect("encode");
        assert!(bytes.len() > 1600);
        // No EDNS: 512 bytes at most, TC set, same ID, question kept.
        let cut = fit(bytes.clone(), &q, Transport::Udp).expect("fits");
        assert!(cut.len() <= 512);
        let m = Message::from_vec(&cut).expect("decode");
        assert!(m.metadata.truncation);
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.queries, q.queries);
        assert!(m.answers.is_empty());
        // EDNS 4096 and TCP: verbatim.
        assert_eq!(
            fit(bytes.clone(), &query(Some(4096)), Transport::Udp),
            Some(bytes.clone())
        );
        assert_eq!(fit(bytes.clone(), &q, Transport::Tcp), Some(bytes));
    }

    #[test]
    fn local_answers_set_ra_clear_aa_and_echo_edns() {
        let q = query(Some(1400));
        let r = reply_to(&q);
        assert!(r.metadata.recursion_available);
        assert!(!r.metadata.authoritative);
        assert!(r.metadata.recursion_desired);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert!(r.edns.is_some());
        assert!(reply_to(&query(None)).edns.is_none());
    }
}
