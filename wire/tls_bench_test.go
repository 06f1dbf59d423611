package wire

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetchFile measures 1 MiB Fetch responses whose records come from
// a file: sendfile(2) over plaintext against encrypting copies over TLS
// (the cost of TLS on the consume path; compare MB/s).
func BenchmarkFetchFile(b *testing.B) {
	content := make([]byte, 1<<20)
	for i := range content {
		content[i] = byte(i)
	}
	path := filepath.Join(b.TempDir(), "seg.log")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		b.Fatal(err)
	}
	f := newTLSFixture(b)
	for _, mode := range []string{"plaintext", "tls"} {
		b.Run(mode, func(b *testing.B) {
			cfg := Config{Handler: &spliceHandler{path: path, ranges: [][2]int64{{0, 1 << 20}}}, Versions: testVersions, Logger: slog.New(slog.DiscardHandler)}
			var dial DialFunc
			if mode == "tls" {
				cfg.TLS = f.serverTLS(tls.NoClientCert)
				dial = TLSDial(nil, func() *tls.Config { return &tls.Config{RootCAs: f.ca.Pool()} })
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := NewServer(cfg)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				srv.Close()
				<-served
			}()
			cl, err := DialWith(context.Background(), dial, ln.Addr().String(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			req := kmsg.NewPtrFetchRequest()
			req.Version = 12
			b.SetBytes(1 << 20)
			for b.Loop() {
				if _, err := cl.Request(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
