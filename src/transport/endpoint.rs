//! Transport URLs: `udp://HOST:PORT`, `tcp://HOST:PORT`, `serial://PATH?baud=N`.

use std::{fmt, str::FromStr};

/// Default serial baud rate.
pub const DEFAULT_BAUD: u32 = 115_200;

/// A parsed transport address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `udp://HOST:PORT`: one frame per datagram.
    Udp(String),
    /// `tcp://HOST:PORT`: a byte stream of frames.
    Tcp(String),
    /// `serial:///dev/ttyX?baud=N`: 8N1, no flow control.
    Serial {
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
    },
}

/// A transport URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error(
        "`{url}` is not a transport URL ({reason}); expected udp://HOST:PORT, tcp://HOST:PORT or serial:///dev/PATH?baud=N"
    )]
    Syntax {
        /// The input.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// A scheme other than udp, tcp, serial.
    #[error("unsupported transport scheme `{scheme}` in `{url}`; use udp, tcp or serial")]
    Scheme {
        /// The input.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// udp/tcp without host or port.
    #[error("`{url}` needs a host and a port, e.g. {scheme}://127.0.0.1:7878")]
    HostPort {
        /// The input.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// serial without a device path or with a bad query.
    #[error("bad serial URL `{url}`: {reason}")]
    Serial {
        /// The input.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = url::Url::parse(s).map_err(|e| EndpointError::Syntax {
            url: s.into(),
            reason: e.to_string(),
        })?;
        let scheme = parsed.scheme().to_string();
        match scheme.as_str() {
            "udp" | "tcp" => {
                let (Some(host), Some(port)) = (parsed.host_str(), parsed.port()) else {
                    return Err(EndpointError::HostPort {
                        url: s.into(),
                        scheme,
                    });
                };
                // IPv6 hosts keep their brackets from host_str() only via Url::host.
                let host = match parsed.host() {
                    Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
                    _ => host.to_string(),
                };
                let addr = format!("{host}:{port}");
                Ok(if scheme == "udp" {
                    Self::Udp(addr)
                } else {
                    Self::Tcp(addr)
                })
            }
            "serial" => {
                let path = parsed.path();
                if path.is_empty() || path == "/" {
                    return Err(EndpointError::Serial {
                        url: s.into(),
                        reason: "no device path (write serial:///dev/ttyUSB0)".into(),
                    });
                }
                let mut baud = DEFAULT_BAUD;
                for (k, v) in parsed.query_pairs() {
                    match k.as_ref() {
                        "baud" => {
                            baud = v.parse().ok().filter(|b| *b > 0).ok_or_else(|| {
                                EndpointError::Serial {
                                    url: s.into(),
                                    reason: format!("baud `{v}` is not a positive integer"),
                                }
                            })?
                        }
                        other => {
                            return Err(EndpointError::Serial {
                                url: s.into(),
                                reason: format!("unknown parameter `{other}` (only `baud`)"),
                            });
                        }
                    }
                }
                Ok(Self::Serial {
                    path: path.to_string(),
                    baud,
                })
            }
            _ => Err(EndpointError::Scheme {
                url: s.into(),
                scheme,
            }),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(a) => write!(f, "udp://{a}"),
            Self::Tcp(a) => write!(f, "tcp://{a}"),
            Self::Serial { path, baud } => write!(f, "serial://{path}?baud={baud}"),
        }
    }
}

impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            "udp://127.0.0.1:7878".parse(),
            Ok(Endpoint::Udp("127.0.0.1:7878".into()))
        );
        assert_eq!(
            "tcp://collector.local:9000".parse(),
            Ok(Endpoint::Tcp("collector.local:9000".into()))
        );
        assert_eq!(
            "udp://[::1]:7878".parse(),
            Ok(Endpoint::Udp("[::1]:7878".into()))
        );
        assert_eq!(
            "serial:///dev/ttyTHS1?baud=921600".parse(),
            Ok(Endpoint::Serial {
                path: "/dev/ttyTHS1".into(),
                baud: 921_600
            })
        );
        assert_eq!(
            "serial:///dev/ttyUSB0".parse(),
            Ok(Endpoint::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: DEFAULT_BAUD
            })
        );
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "udp://127.0.0.1:1",
            "tcp://[::1]:2",
            "serial:///dev/ttyS0?baud=9600",
        ] {
            let e: Endpoint = s.parse().unwrap();
            assert_eq!(e.to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        let err = |s: &str| s.parse::<Endpoint>().unwrap_err().to_string();
        assert!(err("127.0.0.1:7878").contains("not a transport URL"));
        assert!(err("http://x:1").contains("unsupported transport scheme `http`"));
        assert!(err("udp://127.0.0.1").contains("needs a host and a port"));
        assert!(err("serial:///dev/ttyS0?baud=fast").contains("baud `fast`"));
        assert!(err("serial:///dev/ttyS0?parity=even").contains("unknown parameter `parity`"));
    }
}
