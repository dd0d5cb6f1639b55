package egress

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassifyEveryAddressClass(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		// public: allowed by default
		"93.184.215.14":        "",
		"8.8.8.8":              "",
		"2606:4700:4700::1111": "",
		"172.32.0.1":           "", // just outside 172.16/12
		"100.128.0.1":          "", // just outside 100.64/10
		// loopback
		"127.0.0.1":        ClassLoopback,
		"127.255.255.254":  ClassLoopback,
		"::1":              ClassLoopback,
		"::ffff:127.0.0.1": ClassLoopback, // IPv4-mapped
		// private: RFC 1918 and unique-local
		"10.0.0.1":       ClassPrivate,
		"172.16.5.4":     ClassPrivate,
		"172.31.255.255": ClassPrivate,
		"192.168.1.1":    ClassPrivate,
		"fc00::1":        ClassPrivate,
		"fd12:3456::1":   ClassPrivate,
		"fec0::1":        ClassPrivate, // site-local
		// link-local
		"169.254.1.1": ClassLinkLocal,
		"fe80::1":     ClassLinkLocal,
		// cloud metadata
		"169.254.169.254":        ClassMetadata,
		"169.254.170.2":          ClassMetadata,
		"100.100.100.200":        ClassMetadata,
		"fd00:ec2::254":          ClassMetadata,
		"::ffff:169.254.169.254": ClassMetadata,
		// unspecified
		"0.0.0.0": ClassUnspecified,
		"0.1.2.3": ClassUnspecified,
		"::":      ClassUnspecified,
		// multicast and broadcast
		"224.0.0.1":       ClassMulticast,
		"239.255.255.250": ClassMulticast,
		"ff02::1":         ClassMulticast,
		"ff05::2":         ClassMulticast,
		"255.255.255.255": ClassBroadcast,
		// shared and reserved
		"100.64.0.1":  ClassSharedCGNAT,
		"192.0.0.8":   ClassReserved,
		"192.0.2.1":   ClassReserved,
		"198.18.0.1":  ClassReserved,
		"240.0.0.1":   ClassReserved,
		"2001:db8::1": ClassReserved,
		"100::1":      ClassReserved,
		// IPv6 forms embedding a refused IPv4 address
		"64:ff9b::a9fe:a9fe":                   ClassMetadata, // NAT64 of 169.254.169.254
		"64:ff9b::7f00:1":                      ClassLoopback, // NAT64 of 127.0.0.1
		"64:ff9b::808:808":                     "",            // NAT64 of 8.8.8.8
		"2002:a00:1::1":                        ClassPrivate,  // 6to4 of 10.0.0.1
		"::a00:1":                              ClassPrivate,  // IPv4-compatible 10.0.0.1
		"2001:0:4136:e378:8000:63bf:80ff:fffe": ClassLoopback, // Teredo client 127.0.0.1
	}
	for s, want := range cases {
		require.Equal(t, want, Classify(netip.MustParseAddr(s)), s)
	}
}

func TestPolicyRefusesByDefaultAndOpensWhatIsListed(t *testing.T) {
	t.Parallel()
	var zero Policy
	err := zero.Check("example.com", netip.MustParseAddr("10.1.2.3"))
	r := Refused(err)
	require.NotNil(t, r)
	require.Equal(t, ClassPrivate, r.Class)
	require.Contains(t, err.Error(), "example.com (10.1.2.3)")
	require.Contains(t, err.Error(), "LEADFLOW_WEBHOOK_ALLOW")
	require.NoError(t, zero.Check("example.com", netip.MustParseAddr("93.184.215.14")))

	p, err := ParseAllow(" 10.1.0.0/16, 192.168.7.7 ,fd00::/8, crm.internal, *.corp.example,")
	require.NoError(t, err)
	require.NoError(t, p.Check("x", netip.MustParseAddr("10.1.200.3")))
	require.Error(t, p.Check("x", netip.MustParseAddr("10.2.0.1")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("192.168.7.7")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("::ffff:192.168.7.7")))
	require.Error(t, p.Check("x", netip.MustParseAddr("192.168.7.8")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("fd12::1")))
	// fd00::/8 covers fd00:ec2::254, but a metadata address needs to be named.
	require.Equal(t, ClassMetadata, Refused(p.Check("x", netip.MustParseAddr("fd00:ec2::254"))).Class)
	require.Error(t, p.Check("x", netip.MustParseAddr("127.0.0.1")))

	require.True(t, p.AllowsHost("crm.internal"))
	require.True(t, p.AllowsHost("CRM.Internal."))
	require.True(t, p.AllowsHost("a.b.corp.example"))
	require.False(t, p.AllowsHost("corp.example"))
	require.False(t, p.AllowsHost("evilcorp.example"))
	require.False(t, p.AllowsHost("crm.internal.evil.com"))

	meta := MustParseAllow("169.254.0.0/16")
	require.NoError(t, meta.Check("x", netip.MustParseAddr("169.254.10.10")))
	require.Error(t, meta.Check("x", netip.MustParseAddr("169.254.169.254")))
	require.NoError(t, MustParseAllow("169.254.169.254").Check("x", netip.MustParseAddr("169.254.169.254")))

	lo := MustParseAllow(Loopback)
	require.NoError(t, lo.Check("localhost", netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, lo.Check("localhost", netip.MustParseAddr("::1")))
	require.Error(t, lo.Check("x", netip.MustParseAddr("10.0.0.1")))
	require.Equal(t, "127.0.0.0/8,::1/128,10.0.0.0/8", lo.Merge(MustParseAllow("10.0.0.0/8")).String())
}

func TestParseAllowRefusesNonsense(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "http://crm.internal", "crm internal", "*.", "a..b", "300.1.1.1/8"} {
		_, err := ParseAllow(bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "allow-list entry")
	}
	p, err := ParseAllow("")
	require.NoError(t, err)
	require.Equal(t, "", p.String())
}
