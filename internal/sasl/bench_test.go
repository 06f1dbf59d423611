package sasl

import "testing"

// The per-connection cost of authenticating (once per connection, and per
// KIP-152 re-authentication); records cost nothing extra afterwards.

func BenchmarkScramSHA512Exchange(b *testing.B) {
	a := newTestAuth(b)
	for b.Loop() {
		if _, err := runScram(b, a, ScramSHA512, "alice", "alice-secret"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlainJAASUser(b *testing.B) {
	a := newTestAuth(b)
	for b.Loop() {
		ex, _ := a.Start(Plain)
		if _, _, err := ex.Step([]byte("\x00admin\x00admin-secret")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlainAgainstScramCredential(b *testing.B) {
	a := newTestAuth(b)
	for b.Loop() {
		ex, _ := a.Start(Plain)
		if _, _, err := ex.Step([]byte("\x00alice\x00alice-secret")); err != nil {
			b.Fatal(err)
		}
	}
}
