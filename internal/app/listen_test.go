package app

import (
	"net"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/config"
)

// An address another program holds (8080 is often taken) is refused with
// the way to choose another one, not only the system's "address already in
// use".
func TestListenAddressInUseSaysHowToChooseAnother(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := &App{Config: config.Config{Addr: ln.Addr().String()}}
	err = a.Listen()
	if err == nil {
		a.listener.Close()
		t.Fatal("listening twice on one address succeeded")
	}
	if !strings.Contains(err.Error(), "OPENPSP_ADDR") || !strings.Contains(err.Error(), "-addr") {
		t.Fatalf("error %q does not say how to choose another address", err)
	}
}
