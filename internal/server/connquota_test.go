package server

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// connectFrom opens a connection to addr from local IP from and asks
// ApiVersions: ok when answered, false when the broker closed it; took is
// how long that took.
func connectFrom(t *testing.T, from, addr string) (ok bool, took time.Duration) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := wire.DialWith(ctx, d.DialContext, addr, "conn-rate")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if ctx.Err() != nil {
		t.Fatalf("connection from %s neither answered nor closed: %v", from, err)
	}
	return err == nil, time.Since(start)
}

// TestIPConnectionRateQuota: with connection_creation_rate 1 on
// 127.0.0.1 (KIP-612), real connections from that IP are served until
// the rate (over Kafka's padded 10 s window: about 10 at once) is
// exceeded; the next one is held (up to a second, depending on the clock's
// fraction of a second) and then closed without an answer,
// while connections from 127.0.0.2 are still served.
func TestIPConnectionRateQuota(t *testing.T) {
	_, addr := startTestServer(t)
	ctx := testCtx(t, 30*time.Second)
	adm := newAdmin(t, addr)
	ip, other := "127.0.0.1", "not-an-ip"
	user := "alice"
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: &ip}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: &other}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: &ip}, {Type: "user", Name: &user}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &user}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if want := i > 0; (r.Err != nil) != want || (want && !errors.Is(r.Err, kerr.InvalidRequest)) {
			t.Fatalf("entry %d (%v): %v, want INVALID_REQUEST only past the first", i, r.Entity, r.Err)
		}
	}
	desc, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: 2}})
	if err != nil || len(desc) != 1 || *desc[0].Entity[0].Name != ip || desc[0].Values[0].Key != "connection_creation_rate" {
		t.Fatalf("describe ip quotas: %v %+v", err, desc)
	}
	served := 0
	for {
		ok, took := connectFrom(t, ip, addr)
		if !ok {
			if served < 5 {
				t.Fatalf("refused after %d connections (closed after %v): want ~10 served first", served, took)
			}
			t.Logf("connection %d from %s refused, closed after %v", served+1, ip, took)
			break
		}
		if served++; served > 30 {
			t.Fatalf("%d connections at connection_creation_rate 1: none refused", served)
		}
	}
	if ok, _ := connectFrom(t, "127.0.0.2", addr); !ok {
		t.Fatal("a connection from 127.0.0.2, which has no quota, was refused")
	}
}

// TestMaxConnectionCreationRate: max.connection.creation.rate slows new
// connections down (each is served, after a wait) instead of refusing them.
func TestMaxConnectionCreationRate(t *testing.T) {
	_, addr := startTestServer(t, func(c *Config) { c.MaxConnectionCreationRate = 2 })
	start := time.Now()
	for i := range 24 {
		if ok, _ := connectFrom(t, "127.0.0.1", addr); !ok {
			t.Fatalf("connection %d refused: the broker-wide rate delays, never refuses", i+1)
		}
	}
	// 24 connections at 2/s over a window padded to 10 s: the last few
	// wait for the rate to come back under 2/s.
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("24 connections at max.connection.creation.rate 2 took %v: not slowed down", took)
	} else {
		t.Logf("24 connections at max.connection.creation.rate 2: %v", took)
	}
}
