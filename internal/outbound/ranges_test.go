package outbound

import (
	"context"
	"net/netip"
	"testing"
)

// The guard's decision for addresses the tests must not dial: public ones, and the IPv6 forms
// that embed an internal IPv4 address.
func TestGuardDecision(t *testing.T) {
	allowTen := &guard{allow: normalize([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})}
	none := &guard{}
	allowPrivate := &guard{allow: normalize(Private())} // what event delivery allows
	allowLinkLocal := &guard{allow: normalize([]netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")})}
	cases := []struct {
		name, addr string
		g          *guard
		wantRange  string
	}{
		{"a public IPv4 address", "8.8.8.8", none, ""},
		{"a public IPv6 address", "2001:4860:4860::8888", none, ""},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", none, "loopback"},
		{"the metadata service, IPv4-mapped", "::ffff:169.254.169.254", none, "link-local"},
		{"the metadata service behind NAT64", "64:ff9b::a9fe:a9fe", none, "link-local"},
		{"a public address behind NAT64", "64:ff9b::808:808", none, ""},
		{"link-local IPv6 with a zone", "fe80::1%eth0", none, "link-local"},
		{"unique local IPv6", "fd00::2", none, "private"},
		{"the unspecified address", "0.0.0.0", none, "unspecified"},
		{"IPv6 unspecified", "::", none, "unspecified"},
		{"multicast", "239.1.2.3", none, "multicast"},
		{"broadcast", "255.255.255.255", none, "reserved"},
		{"shared address space", "100.64.0.1", none, "private"},
		{"172.16/12", "172.31.255.255", none, "private"},
		{"just outside 172.16/12", "172.32.0.1", none, ""},
		{"192.168/16", "192.168.1.1", none, "private"},
		{"an allowed private address", "10.0.0.1", allowTen, ""},
		{"an allowed address in its IPv4-mapped form", "::ffff:10.0.0.1", allowTen, ""},
		{"allowing one range leaves the others blocked", "169.254.169.254", allowTen, "link-local"},
		{"AWS's IPv6 metadata service, though the private ranges are allowed", "fd00:ec2::254", allowPrivate, "cloud metadata"},
		{"GCP's IPv6 metadata service, though the private ranges are allowed", "fd20:ce::254", allowPrivate, "cloud metadata"},
		{"Alibaba's metadata service, though the private ranges are allowed", "100.100.100.200", allowPrivate, "cloud metadata"},
		{"a metadata address behind NAT64", "64:ff9b::6464:64c8", allowPrivate, "cloud metadata"},
		{"its neighbour in the private ranges, allowed", "fd00:ec2::253", allowPrivate, ""},
		{"the EKS Pod Identity agent, though the private ranges are allowed", "fd00:ec2::23", allowPrivate, "cloud metadata"},
		{"the metadata service, though link-local is allowed", "169.254.169.254", allowLinkLocal, "cloud metadata"},
		{"NodeLocal DNSCache, link-local allowed", "169.254.20.10", allowLinkLocal, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.g.check(netip.MustParseAddr(c.addr))
			if c.wantRange == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			b, ok := err.(*BlockedError)
			if !ok || b.Range != c.wantRange {
				t.Fatalf("got %v, want a refusal as %s", err, c.wantRange)
			}
		})
	}
}

// The dialer hands Control "ip:port"; anything else is refused rather than let through.
func TestControlFailsClosed(t *testing.T) {
	if err := (&guard{}).control(context.Background(), "tcp", "not-an-address", nil); err == nil {
		t.Fatal("an unparsable address was let through")
	}
	if err := (&guard{}).control(context.Background(), "tcp6", "[fe80::1%eth0]:443", nil); err == nil {
		t.Fatal("a zoned link-local address was let through")
	}
}

// Webhook receivers may live in the cluster: Private opens exactly the private ranges, and the
// metadata service, loopback and the rest stay refused.
func TestPrivateOpensOnlyPrivateRanges(t *testing.T) {
	g := &guard{allow: normalize(Private())}
	for addr, want := range map[string]string{
		"10.96.0.10": "", "172.20.0.5": "", "192.168.3.4": "", "100.64.1.1": "", "fd12::1": "",
		"169.254.169.254": "link-local", "127.0.0.1": "loopback", "::1": "loopback", "0.0.0.0": "unspecified",
		"::ffff:169.254.169.254": "link-local",
	} {
		err := g.check(netip.MustParseAddr(addr))
		if want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", addr, err)
			}
			continue
		}
		if b, ok := err.(*BlockedError); !ok || b.Range != want {
			t.Errorf("%s: got %v, want a refusal as %s", addr, err, want)
		}
	}
}
