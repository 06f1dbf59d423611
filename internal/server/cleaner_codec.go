package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compressBatch compresses a batch's records section for the log cleaner
// (storage.Compressor): a batch the cleaner rebuilds keeps its producer's
// codec, as Kafka's cleaner does, written the way Kafka writes each codec
// (so every client that reads Kafka's reads it): a gzip member, xerial-
// framed snappy (what the Java client writes), an LZ4 frame, a zstd frame.
// The same libraries read them back (decompressBatch, recordsReader).
func compressBatch(codec int, src []byte) ([]byte, error) {
	var out bytes.Buffer
	switch codec {
	case codecGzip:
		w := gzip.NewWriter(&out)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	case codecSnappy:
		return xerialSnappy(src), nil
	case codecLZ4:
		w := lz4.NewWriter(&out)
		if _, err := w.Write(src); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
	case codecZstd:
		enc, err := cleanerZstd()
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return enc.EncodeAll(src, nil), nil
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	return out.Bytes(), nil
}

// xerialBlockSize is snappy-java's default block size.
const xerialBlockSize = 32 << 10

// xerialSnappy frames src as snappy-java's SnappyOutputStream does: the
// xerial header (magic, version 1, compatible version 1), then blocks of
// a 4-byte big-endian length and a raw snappy block.
func xerialSnappy(src []byte) []byte {
	out := append([]byte{}, xerialHeader...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(src) > 0 {
		n := min(len(src), xerialBlockSize)
		block := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

// cleanerZstd is the cleaner's zstd encoder, made on first use (EncodeAll
// is safe for concurrent use). Its window is small, like the producers'
// (franz-go's 64 KiB), so decoders with a bounded window read its frames.
var cleanerZstd = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(64<<10), zstd.WithZeroFrames(true))
})
