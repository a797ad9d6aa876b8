//! inet and cidr ↔ [`std::net::IpAddr`] and [`IpNetwork`]; macaddr ↔ [`MacAddr`]; macaddr8 ↔
//! [`MacAddr8`].
//!
//! inet / cidr travel as `inet_send` writes them: family (2 for IPv4, 3 for IPv6), prefix
//! bits, an is-cidr flag, the address length (4 or 16), the address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

fn is_inet(ty: &Type) -> bool {
    *ty == Type::INET || *ty == Type::CIDR
}

fn max_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// An IP address with a prefix length: an `inet` (a host in its network, `192.168.0.7/24`) or
/// a `cidr` (a network, `192.168.0.0/24`).
///
/// ```
/// use pgtusk::types::IpNetwork;
/// let net: IpNetwork = "10.1.0.0/16".parse().unwrap();
/// assert_eq!(net.prefix(), 16);
/// assert!(IpNetwork::new("10.0.0.1".parse().unwrap(), 33).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// An address with a prefix of at most 32 (IPv4) or 128 (IPv6) bits.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNetwork, BoxError> {
        if prefix > max_prefix(&addr) {
            return Err(format!(
                "prefix /{prefix} is too long for {addr} (at most /{})",
                max_prefix(&addr)
            )
            .into());
        }
        Ok(IpNetwork { addr, prefix })
    }

    /// The address as given (for an inet, the host).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network: the address with every bit right of the prefix cleared (what `cidr` holds).
    pub fn network(&self) -> IpNetwork {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        IpNetwork {
            addr,
            prefix: self.prefix,
        }
    }
}

impl From<IpAddr> for IpNetwork {
    /// A single host: the full prefix.
    fn from(addr: IpAddr) -> Self {
        IpNetwork {
            prefix: max_prefix(&addr),
            addr,
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNetwork {
    type Err = BoxError;

    /// `addr/prefix`, or a bare address for a single host.
    fn from_str(s: &str) -> Result<Self, BoxError> {
        match s.split_once('/') {
            Some((addr, prefix)) => IpNetwork::new(addr.parse()?, prefix.parse()?),
            None => Ok(IpNetwork::from(s.parse::<IpAddr>()?)),
        }
    }
}

fn put_inet(net: &IpNetwork, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
    let is_cidr = *ty == Type::CIDR;
    if is_cidr && net.network() != *net {
        return Err(format!(
            "{net} has bits set right of its /{} prefix, which cidr does not allow (network: {}); send it as inet or use IpNetwork::network()",
            net.prefix,
            net.network()
        )
        .into());
    }
    match net.addr {
        IpAddr::V4(a) => {
            buf.put_slice(&[PGSQL_AF_INET, net.prefix, u8::from(is_cidr), 4]);
            buf.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            buf.put_slice(&[PGSQL_AF_INET6, net.prefix, u8::from(is_cidr), 16]);
            buf.put_slice(&a.octets());
        }
    }
    Ok(IsNull::No)
}

fn read_inet(ty: &Type, raw: &[u8]) -> Result<IpNetwork, BoxError> {
    let Some((&[family, bits, _is_cidr, len], addr)) = raw.split_first_chunk::<4>() else {
        return Err(format!("invalid {ty} value: {} bytes", raw.len()).into());
    };
    let addr = match (family, len) {
        (PGSQL_AF_INET, 4) => {
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(addr).map_err(|_| {
                format!("invalid {ty} value: {} address bytes for IPv4", addr.len())
            })?))
        }
        (PGSQL_AF_INET6, 16) => {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(addr).map_err(
                |_| format!("invalid {ty} value: {} address bytes for IPv6", addr.len()),
            )?))
        }
        _ => {
            return Err(
                format!("invalid {ty} value: family {family} with address length {len}").into(),
            );
        }
    };
    IpNetwork::new(addr, bits).map_err(|e| format!("invalid {ty} value: {e}").into())
}

impl Encode for IpNetwork {
    fn accepts(ty: &Type) -> bool {
        is_inet(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_inet(self, ty, buf)
    }
}

impl Decode<'_> for IpNetwork {
    fn accepts(ty: &Type) -> bool {
        is_inet(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        read_inet(ty, raw)
    }
}

/// A single host: sent with the full prefix (/32 or /128).
impl Encode for IpAddr {
    fn accepts(ty: &Type) -> bool {
        is_inet(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_inet(&IpNetwork::from(*self), ty, buf)
    }
}

/// Only a value with the full prefix (/32 or /128) is a single address; any other is an error
/// that points to [`IpNetwork`].
impl Decode<'_> for IpAddr {
    fn accepts(ty: &Type) -> bool {
        is_inet(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let net = read_inet(ty, raw)?;
        if net.prefix != max_prefix(&net.addr) {
            return Err(format!(
                "{ty} {net} is a network, not a single address; decode it into pgtusk::types::IpNetwork"
            )
            .into());
        }
        Ok(net.addr)
    }
}

macro_rules! mac {
    ($(#[$doc:meta])* $name:ident, $n:literal, $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $n]);

        impl fmt::Display for $name {
            /// Lower-case hex pairs separated by colons, as PostgreSQL prints them.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for (i, b) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl Encode for $name {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::$ty
            }

            fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                buf.put_slice(&self.0);
                Ok(IsNull::No)
            }
        }

        impl Decode<'_> for $name {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::$ty
            }

            fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
                Ok($name(fixed(ty, raw)?))
            }
        }
    };
}

mac!(
    /// A `macaddr`: a 6-byte MAC address.
    ///
    /// ```
    /// use pgtusk::types::MacAddr;
    /// assert_eq!(MacAddr([8, 0, 0x2b, 1, 2, 3]).to_string(), "08:00:2b:01:02:03");
    /// ```
    MacAddr, 6, MACADDR
);
mac!(
    /// A `macaddr8`: an 8-byte (EUI-64) MAC address.
    ///
    /// ```
    /// use pgtusk::types::MacAddr8;
    /// assert_eq!(MacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]).to_string(), "08:00:2b:01:02:03:04:05");
    /// ```
    MacAddr8, 8, MACADDR8
);
