package outbound

import (
	"fmt"
	"net/netip"
)

// Names of the blocked ranges, as errors give them.
const (
	unspecified = "unspecified"
	loopback    = "loopback"
	linkLocal   = "link-local"
	multicast   = "multicast"
	private     = "private"
	reserved    = "reserved"
	metadata    = "cloud metadata"
)

// blockedRange is a range the operator does not connect to unless allowed, and the word an
// error uses for it.
type blockedRange struct {
	prefix netip.Prefix
	name   string
}

// blockedRanges are the addresses a tenant-chosen URL must not reach: the operator's own host,
// the cloud metadata service, and anything inside the cluster or the company network. Public
// identity providers never live there; an in-house one is allowed with --allow-outbound-cidrs.
var blockedRanges = []blockedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), unspecified},
	{netip.MustParsePrefix("::/128"), unspecified},
	{netip.MustParsePrefix("127.0.0.0/8"), loopback},
	{netip.MustParsePrefix("::1/128"), loopback},
	// 169.254.169.254 is the metadata service of AWS, GCP and Azure: it hands out credentials.
	{netip.MustParsePrefix("169.254.0.0/16"), linkLocal},
	{netip.MustParsePrefix("fe80::/10"), linkLocal},
	{netip.MustParsePrefix("224.0.0.0/4"), multicast},
	{netip.MustParsePrefix("ff00::/8"), multicast},
	// Pod and Service CIDRs are carved from these, so are most company networks.
	{netip.MustParsePrefix("10.0.0.0/8"), private},
	{netip.MustParsePrefix("172.16.0.0/12"), private},
	{netip.MustParsePrefix("192.168.0.0/16"), private},
	{netip.MustParsePrefix("100.64.0.0/10"), private}, // shared address space; some clusters use it for pods
	{netip.MustParsePrefix("fc00::/7"), private},
	{netip.MustParsePrefix("fec0::/10"), private}, // deprecated site-local, still routed in places
	{netip.MustParsePrefix("240.0.0.0/4"), reserved},
}

// metadataAddrs are cloud metadata services that live inside ranges an installation may allow
// (the private ranges webhooks reach, an --allow-outbound-cidrs entry): they hand out the node's
// credentials, so no allowance reaches them, not even one of link-local addresses (NodeLocal
// DNSCache listens at 169.254.20.10).
var metadataAddrs = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, Oracle
	netip.MustParsePrefix("fd00:ec2::23/128"),   // the EKS Pod Identity agent (inside fc00::/7)
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS, IPv6 (inside fc00::/7)
	netip.MustParsePrefix("fd20:ce::254/128"),   // GCP, IPv6 (inside fc00::/7)
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud (inside 100.64.0.0/10)
}

func isMetadata(addr netip.Addr) bool {
	for _, p := range metadataAddrs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d through the
// cluster's NAT64 gateway, so the embedded address is what gets checked.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// effective is the IPv4 address behind IPv4-mapped (::ffff:a.b.c.d) and NAT64 forms, else addr
// without its zone.
func effective(addr netip.Addr) netip.Addr {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return addr
}

// rangeOf names the blocked range holding addr, or "" when addr is public.
func rangeOf(addr netip.Addr) string {
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			return r.name
		}
	}
	return ""
}

// BlockedError is a dial refused because the resolved address is in a blocked range. It names
// the address and the range, never anything the server sent.
type BlockedError struct {
	// Addr is the address that was about to be dialed.
	Addr netip.Addr
	// Range is the kind of range: loopback, link-local, private, …
	Range string
}

func (e *BlockedError) Error() string {
	if e.Range == metadata {
		return fmt.Sprintf("address %s is a cloud metadata service, which is never reached", e.Addr)
	}
	return fmt.Sprintf("address %s is in a blocked range (%s); allow it with --allow-outbound-cidrs", e.Addr, e.Range)
}
