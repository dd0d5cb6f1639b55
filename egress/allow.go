package egress

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy says which destinations deliveries may reach beyond the public
// internet: the CIDRs and host names an operator allows
// (LEADFLOW_WEBHOOK_ALLOW). The zero Policy allows public addresses only.
type Policy struct {
	nets  []netip.Prefix
	hosts []string // lower case; "*.example.com" matches every subdomain
}

// ParseAllow parses a comma-separated allow-list of CIDRs ("10.1.0.0/16"),
// single addresses ("192.168.1.20", "::1") and host names ("crm.internal",
// "*.corp.example"). Spaces around entries are ignored; an empty string is
// the zero Policy.
func ParseAllow(s string) (Policy, error) {
	var p Policy
	for _, raw := range strings.Split(s, ",") {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			pfx, err := netip.ParsePrefix(e)
			if err != nil {
				return Policy{}, fmt.Errorf("allow-list entry %q is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8): %w", e, err)
			}
			p.nets = append(p.nets, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			a = a.Unmap()
			p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(e, "."))
		if !validHostPattern(h) {
			return Policy{}, fmt.Errorf("allow-list entry %q is neither a CIDR, an IP address nor a host name (e.g. crm.internal or *.corp.example)", e)
		}
		p.hosts = append(p.hosts, h)
	}
	return p, nil
}

// MustParseAllow is ParseAllow for constants; it panics on a bad entry.
func MustParseAllow(s string) Policy {
	p, err := ParseAllow(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Loopback is the allow-list `leadflow dev` adds so that local tries work.
const Loopback = "127.0.0.0/8,::1/128"

// Merge returns a policy allowing what p or q allows.
func (p Policy) Merge(q Policy) Policy {
	return Policy{
		nets:  append(append([]netip.Prefix(nil), p.nets...), q.nets...),
		hosts: append(append([]string(nil), p.hosts...), q.hosts...),
	}
}

// String lists the policy's entries as ParseAllow reads them.
func (p Policy) String() string {
	var parts []string
	for _, n := range p.nets {
		parts = append(parts, n.String())
	}
	parts = append(parts, p.hosts...)
	return strings.Join(parts, ",")
}

func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// AllowsHost reports whether the operator listed host by name: every
// address it resolves to may then be dialled.
func (p Policy) AllowsHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range p.hosts {
		if suffix, ok := strings.CutPrefix(a, "*"); ok {
			if strings.HasSuffix(h, suffix) {
				return true
			}
		} else if h == a {
			return true
		}
	}
	return false
}

// Check returns nil when a delivery for host may connect to addr, else a
// *RefusedError naming the address class. Public addresses are allowed;
// others only when an allow-list CIDR covers them — and a cloud-metadata
// address only when the allow-list names that very address, not a range
// that happens to include it.
func (p Policy) Check(host string, addr netip.Addr) error {
	addr = addr.Unmap()
	class := Classify(addr)
	if class == "" {
		return nil
	}
	for _, n := range p.nets {
		if !n.Contains(addr) {
			continue
		}
		if class == ClassMetadata && n.Bits() != addr.BitLen() {
			continue
		}
		return nil
	}
	return &RefusedError{Host: host, Addr: addr, Class: class}
}

// Address classes a delivery may not reach by default.
const (
	ClassLoopback    = "loopback"
	ClassPrivate     = "private"
	ClassLinkLocal   = "link-local"
	ClassMetadata    = "cloud-metadata"
	ClassUnspecified = "unspecified"
	ClassMulticast   = "multicast"
	ClassBroadcast   = "broadcast"
	ClassSharedCGNAT = "shared (carrier-grade NAT)"
	ClassReserved    = "reserved"
)

// metadataAddrs are the cloud providers' instance-metadata endpoints.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle…
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.169.123"), // AWS time sync
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS DNS (IPv6)
}

// metadataHosts are names that reach instance metadata whatever they
// resolve to; refused unless the allow-list names them.
var metadataHosts = []string{
	"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
	"instance-data.ec2.internal", "metadata.azure.internal", "metadata.tencentyun.com",
	"metadata.platformequinix.com", "metadata.packet.net",
}

// IsMetadataHost reports whether host names a cloud-metadata service.
func IsMetadataHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range metadataHosts {
		if h == m {
			return true
		}
	}
	return false
}

var reservedNets = []struct {
	pfx   netip.Prefix
	class string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), ClassUnspecified}, // "this network"
	{netip.MustParsePrefix("100.64.0.0/10"), ClassSharedCGNAT},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassReserved},    // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), ClassReserved},    // documentation
	{netip.MustParsePrefix("198.18.0.0/15"), ClassReserved},   // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), ClassReserved}, // documentation
	{netip.MustParsePrefix("203.0.113.0/24"), ClassReserved},  // documentation
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved},     // future use (and broadcast)
	{netip.MustParsePrefix("100::/64"), ClassReserved},        // discard-only
	{netip.MustParsePrefix("2001:db8::/32"), ClassReserved},   // documentation
	{netip.MustParsePrefix("fec0::/10"), ClassPrivate},        // deprecated site-local
}

// Translation prefixes that embed an IPv4 address in an IPv6 one: the
// embedded address is classified too, so 64:ff9b::a9fe:a9fe cannot reach
// 169.254.169.254 through a NAT64 gateway.
var (
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local   = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	teredo       = netip.MustParsePrefix("2001::/32")
	v4Compatible = netip.MustParsePrefix("::/96")
)

// Classify names the class of a non-public address, or returns "" for an
// address a delivery may reach by default.
func Classify(addr netip.Addr) string {
	a := addr.Unmap()
	if !a.IsValid() {
		return ClassUnspecified
	}
	for _, m := range metadataAddrs {
		if a == m {
			return ClassMetadata
		}
	}
	switch {
	case a.IsUnspecified():
		return ClassUnspecified
	case a.IsLoopback():
		return ClassLoopback
	case a.IsLinkLocalUnicast():
		return ClassLinkLocal
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return ClassMulticast
	case a.IsPrivate():
		return ClassPrivate
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return ClassBroadcast
	}
	for _, r := range reservedNets {
		if r.pfx.Contains(a) {
			return r.class
		}
	}
	if a.Is6() {
		b := a.As16()
		var v4 [4]byte
		switch {
		case nat64.Contains(a):
			copy(v4[:], b[12:16])
		case nat64Local.Contains(a):
			return ClassPrivate
		case sixToFour.Contains(a):
			copy(v4[:], b[2:6])
		case teredo.Contains(a):
			// The client's address is stored inverted in the last 32 bits.
			for i := range v4 {
				v4[i] = ^b[12+i]
			}
		case v4Compatible.Contains(a):
			// IPv4-compatible ::a.b.c.d (deprecated): the IPv4 address.
			copy(v4[:], b[12:16])
		default:
			return ""
		}
		if c := Classify(netip.AddrFrom4(v4)); c != "" {
			return c
		}
	}
	return ""
}

// RefusedError is a connection the fence refused: the address a host
// resolved to (or the host itself) is not one deliveries may reach.
type RefusedError struct {
	Host  string
	Addr  netip.Addr // invalid when the host name itself was refused
	Class string
}

func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("refused to connect to %s: it is a %s host; deliveries do not go there unless LEADFLOW_WEBHOOK_ALLOW names it", e.Host, e.Class)
	}
	what := e.Addr.String()
	if e.Host != "" && e.Host != what {
		what = fmt.Sprintf("%s (%s)", e.Host, e.Addr)
	}
	return fmt.Sprintf("refused to connect to %s: %s is a %s address; deliveries do not go to %s addresses unless LEADFLOW_WEBHOOK_ALLOW lists them (a CIDR such as %s, or the host name)",
		what, e.Addr, e.Class, e.Class, netip.PrefixFrom(e.Addr, e.Addr.BitLen()))
}
