package testenv

import (
	"net"
	"strconv"
	"testing"
)

// FreeTCPPort returns a loopback port that nothing listened on a moment
// ago, for a server that takes a port or an address rather than a listener.
func FreeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePort is FreeTCPPort, failing t when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreeAddr returns the loopback address ("127.0.0.1:port") of a
// FreeTCPPort.
func FreeAddr() (string, error) {
	p, err := FreeTCPPort()
	return loopback(p), err
}

// MustFreeAddr is FreeAddr, failing t when there is none.
func MustFreeAddr(t testing.TB) string {
	t.Helper()
	return loopback(FreePort(t))
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
