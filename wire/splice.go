package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
)

// FileRange is part of a file to send to the client as-is, with sendfile(2)
// where the connection allows it: the bytes go from the page cache to the
// socket without passing through the broker's memory.
type FileRange struct {
	File   *os.File
	Offset int64
	Length int64
}

// placeholderLen is the size of the unique marker a spliced range occupies
// in the encoded response until it is swapped for the file's bytes.
const placeholderLen = 16

type splice struct {
	marker [placeholderLen]byte
	fr     FileRange
}

// errSpliceShort is a file that yielded fewer bytes than promised (it was
// truncated under us); the frame is then unfinishable and the connection is
// closed, which the client treats like any broken connection.
var errSpliceShort = errors.New("wire: spliced file range ended early")

// Splice registers fr to be sent in place of the returned placeholder, which
// the handler puts into a bytes field of its response (Fetch records). When
// the response is written, the placeholder's bytes and their length prefix
// are replaced by fr's length and contents. wire owns fr.File from here on and
// closes it once the response is written or dropped; a placeholder that does
// not appear in the encoded response is simply closed. Only for the handler
// goroutine serving req.
func (r *Request) Splice(fr FileRange) []byte {
	var sp splice
	binary.LittleEndian.PutUint64(sp.marker[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(sp.marker[8:], rand.Uint64())
	sp.fr = fr
	r.splices = append(r.splices, sp)
	return sp.marker[:]
}

// SplicedLen is the number of bytes b stands for in the response: the
// length of the file range when b is a placeholder Splice returned for r,
// else len(b). For byte counters (Kafka's BytesOutPerSec); only for the
// handler goroutine serving req.
func (r *Request) SplicedLen(b []byte) int64 {
	if len(b) == placeholderLen {
		for i := range r.splices {
			if bytes.Equal(r.splices[i].marker[:], b) {
				return r.splices[i].fr.Length
			}
		}
	}
	return int64(len(b))
}

// DropSplices closes and forgets every range registered so far, for a
// handler that rebuilds its response (a Fetch long-poll reading again).
func (r *Request) DropSplices() {
	closeSplices(r.splices)
	r.splices = nil
}

func closeSplices(sps []splice) {
	for _, sp := range sps {
		if sp.fr.File != nil {
			sp.fr.File.Close()
		}
	}
}

// splicePiece is one piece of a spliced response: bytes from memory, or,
// when fr is set, a file range sent from the file.
type splicePiece struct {
	b  []byte
	fr *FileRange
}

// writeSpliced writes one encoded response frame whose placeholders are
// replaced by their file ranges. flexible tells how the bytes fields were
// length-prefixed: a compact uvarint (length+1) or a 4-byte int32.
func (c *conn) writeSpliced(frame []byte, flexible bool, sps []splice) error {
	defer closeSplices(sps)
	pieces, total := splicePieces(frame, flexible, sps)
	if total > MaxResponseSize {
		return fmt.Errorf("wire: response of %d bytes exceeds %d", total, MaxResponseSize)
	}
	binary.BigEndian.PutUint32(frame[:4], uint32(total))
	return c.writePieces(pieces)
}

// splicePieces cuts frame at each placeholder it finds (in registration
// order, after the size and correlation id), replacing the placeholder and
// its length prefix by the file range's real prefix and the range itself.
// A placeholder that is missing, or not preceded by a length prefix of
// placeholderLen bytes, is left out (writeSpliced still closes its file).
// It returns the pieces and the frame size they add up to (without the
// 4-byte size field).
func splicePieces(frame []byte, flexible bool, sps []splice) ([]splicePiece, int64) {
	var pieces []splicePiece
	total := int64(len(frame) - 4)
	emitted, search := 0, 8 // after the size and correlation id
	for i := range sps {
		sp := &sps[i]
		k := bytes.Index(frame[search:], sp.marker[:])
		if k < 0 {
			continue
		}
		k += search
		plen := 4
		if flexible {
			plen = 1
		}
		if k-plen < emitted || !placeholderPrefixOK(frame[k-plen:k], flexible) {
			continue
		}
		var prefix []byte
		if flexible {
			prefix = binary.AppendUvarint(nil, uint64(sp.fr.Length)+1)
		} else {
			prefix = binary.BigEndian.AppendUint32(nil, uint32(sp.fr.Length))
		}
		pieces = append(pieces, splicePiece{b: frame[emitted : k-plen]}, splicePiece{b: prefix}, splicePiece{fr: &sp.fr})
		total += int64(len(prefix)-plen) + sp.fr.Length - placeholderLen
		emitted = k + placeholderLen
		search = emitted
	}
	return append(pieces, splicePiece{b: frame[emitted:]}), total
}

// writePieces writes pieces in order: runs of in-memory pieces as one
// vectored write, each file range with sendFile.
func (c *conn) writePieces(pieces []splicePiece) error {
	var pending net.Buffers
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		var n int64
		for _, b := range pending {
			n += int64(len(b))
		}
		if err := c.armWrite(n); err != nil {
			return err
		}
		_, err := pending.WriteTo(c.nc)
		pending = nil
		return err
	}
	for _, p := range pieces {
		if p.fr == nil {
			if len(p.b) > 0 {
				pending = append(pending, p.b)
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.sendFile(p.fr); err != nil {
			return err
		}
	}
	return flush()
}

func placeholderPrefixOK(prefix []byte, flexible bool) bool {
	if flexible {
		return prefix[0] == placeholderLen+1
	}
	return binary.BigEndian.Uint32(prefix) == placeholderLen
}

// sendFile copies fr to the socket; for a TCP connection and a regular file,
// Go's ReadFrom uses sendfile(2). A TLS connection has no ReaderFrom (the
// bytes must be encrypted in user space), so it gets the plain copy.
func (c *conn) sendFile(fr *FileRange) error {
	if _, err := fr.File.Seek(fr.Offset, io.SeekStart); err != nil {
		return err
	}
	if err := c.armWrite(fr.Length); err != nil {
		return err
	}
	var n int64
	var err error
	if rf, ok := c.nc.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(io.LimitReader(fr.File, fr.Length))
	} else {
		n, err = io.Copy(c.nc, io.LimitReader(fr.File, fr.Length))
	}
	if err != nil {
		return err
	}
	if n != fr.Length {
		return fmt.Errorf("%w: %d of %d bytes", errSpliceShort, n, fr.Length)
	}
	return nil
}
