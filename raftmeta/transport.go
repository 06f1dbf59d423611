package raftmeta

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is raft's StreamLayer over plain TCP. Unlike raft's own
// TCPStreamLayer it accepts a host name as advertise address (Kubernetes
// service names) and fills in the bound port when port 0 was asked for.
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// advertiseAddr is a net.Addr that is just a host:port string, unresolved.
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

// listenRaft binds bind and works out the address peers should dial.
func listenRaft(bind, advertise string) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raftmeta: listen on %q: %w", bind, err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	var adv string
	if advertise == "" {
		if bound.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("%w: RaftBind %q is a wildcard address; set RaftAdvertise", ErrInvalidConfig, bind)
		}
		adv = bound.String()
	} else {
		host, port, err := net.SplitHostPort(advertise)
		if err != nil || host == "" {
			ln.Close()
			return nil, fmt.Errorf("%w: RaftAdvertise %q: want host:port", ErrInvalidConfig, advertise)
		}
		if port == "" || port == "0" {
			port = strconv.Itoa(bound.Port)
		}
		adv = net.JoinHostPort(host, port)
	}
	return &tcpStream{ln: ln, advertise: advertiseAddr(adv)}, nil
}

func (s *tcpStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *tcpStream) Close() error              { return s.ln.Close() }
func (s *tcpStream) Addr() net.Addr            { return s.advertise }

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}
