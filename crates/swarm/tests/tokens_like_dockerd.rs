//! Our join token digest against one dockerd made: `fixtures/
//! dockerd-swarm-root-ca.crt` is the root of a `docker swarm init` by
//! dockerd 20.10, whose manager token began with the digest below. It
//! shows the digest is taken over the PEM text (not the DER).

use berth_swarm::ca::{JoinToken, RootCa};

const DOCKERD_ROOT: &str = include_str!("fixtures/dockerd-swarm-root-ca.crt");
const DOCKERD_TOKEN_DIGEST: &str = "60qahvu5wioojxz5idkmmtxwysu04tfoqwbqdzxbx9b00gwy7t";

#[test]
fn token_digest_matches_dockerds_for_the_same_root() {
    let ca = RootCa::from_pem(DOCKERD_ROOT, None).expect("dockerd's root loads");
    let token = JoinToken::generate(ca.digest()).to_string();
    assert_eq!(
        &token["SWMTKN-1-".len().."SWMTKN-1-".len() + 50],
        DOCKERD_TOKEN_DIGEST
    );
    // And a token in dockerd's shape parses back to that root's digest.
    let theirs = format!("SWMTKN-1-{DOCKERD_TOKEN_DIGEST}-bpjev2d4f1cwuv77rc1r0eoje");
    assert_eq!(JoinToken::parse(&theirs).unwrap().ca_digest, ca.digest());
}
