package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// apiVersionsKey is ApiVersions, whose response header is special and
	// whose unsupported versions are answered rather than refused.
	apiVersionsKey = 18

	// bodyChunk is the first allocation for a frame body. Larger frames
	// grow by doubling as bytes arrive, never past the validated size.
	bodyChunk = 64 << 10

	// exactBodyMax is the largest request body allocated in one piece (once
	// its first byte has arrived): a default producer's max.request.size
	// (1 MiB) plus room for headers. Larger bodies grow from bodyChunk.
	exactBodyMax = 1<<20 + 64<<10
)

// readSize reads a frame's size prefix and checks it against [min, max].
// The 4-byte scratch is the caller's, so it is reused across frames.
func readSize(r io.Reader, scratch *[4]byte, min, max int32) (int32, error) {
	if _, err := io.ReadFull(r, scratch[:]); err != nil {
		return 0, err
	}
	size := int32(binary.BigEndian.Uint32(scratch[:]))
	switch {
	case size < min:
		return size, fmt.Errorf("%w: size %d, minimum %d", ErrFrameTooSmall, size, min)
	case size > max:
		return size, fmt.Errorf("%w: size %d, maximum %d", ErrFrameTooLarge, size, max)
	}
	return size, nil
}

// readBody reads exactly n bytes (n already validated). Small frames get one
// exact allocation; larger ones start at bodyChunk and double as data
// arrives, so a peer announcing 100 MiB and sending nothing holds 64 KiB, not
// 100 MiB. The final slice has len == cap == n.
func readBody(r io.Reader, n int) ([]byte, error) {
	return readBodyFrom(r, n, bodyChunk)
}

// readRequestBody reads a request body of n bytes (n already validated).
// A body up to exactBodyMax is allocated once, with its exact size, but only
// after its first byte has arrived, so a peer that announces a frame and
// goes silent still holds nothing; growing it by doubling instead cost a
// produce request five allocations and a second copy of its records. Larger
// bodies grow as their bytes arrive (readBody): their sender must deliver
// before it is given memory.
func readRequestBody(br *bufio.Reader, n int) ([]byte, error) {
	if n <= bodyChunk || n > exactBodyMax {
		return readBody(br, n)
	}
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return readBodyFrom(br, n, n)
}

// produceKey is Produce, whose large bodies come from producePool.
const produceKey = 0

// producePools recycle the buffers of large Produce bodies, in size
// classes exactBodyMax << i. A busy producer sends a megabyte request every
// millisecond or so (several at once with more partitions: franz-go puts a
// batch per partition into one request); with a fresh allocation each,
// zeroing the memory, growing it as bytes arrived and the runtime returning
// it to the kernel (madvise) were a fifth of a single broker's CPU at one
// partition and half of it at six. Produce is the one request whose body is
// dead once it is served: its records are copied into the log and nothing
// keeps them (other requests' byte fields, such as a group member's
// metadata, outlive the request, so they are not pooled). A buffer is taken
// only once the frame's first bytes are in, and the connection's read-ahead
// budget has already been charged the frame's size; larger bodies move up
// the classes as their bytes arrive (readProduceBody).
var producePools [producePoolClasses]sync.Pool

// producePoolClasses is the number of size classes: up to 16 MiB + 1 MiB.
const producePoolClasses = 5

// produceClass is the smallest class holding n bytes, or -1.
func produceClass(n int) int {
	for i := range producePoolClasses {
		if n <= exactBodyMax<<i {
			return i
		}
	}
	return -1
}

// readProduceBody reads a Produce body of n bytes (bodyChunk < n, n within
// the largest class, its first bytes already buffered in br) into pooled
// buffers; the caller hands the result back with releaseBody once the
// request is served and answered. It starts in the smallest class and moves
// up a class (a copy, but no allocation) each time the peer has filled the
// one it holds, so a peer that announces 16 MiB must send half of it before
// it holds that much, as with readBody's doubling.
func readProduceBody(br *bufio.Reader, n int) ([]byte, *[]byte, error) {
	class := 0
	pb := takeClass(class)
	b := (*pb)[:0]
	for len(b) < n {
		if len(b) == cap(b) {
			class++
			next := takeClass(class)
			b = (*next)[:copy(*next, b)]
			releaseBody(pb)
			pb = next
		}
		m, err := br.Read(b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil && len(b) < n {
			releaseBody(pb)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
	}
	return b, pb, nil
}

// takeClass is a buffer of size class c, pooled or new.
func takeClass(c int) *[]byte {
	if pb, _ := producePools[c].Get().(*[]byte); pb != nil {
		return pb
	}
	b := make([]byte, exactBodyMax<<c)
	return &b
}

// pooledBodyKey reports the API key of the frame whose first bytes br
// holds, when a body of n bytes is large enough to come from a pool.
func pooledBodyKey(br *bufio.Reader, n int) (int16, bool) {
	if n <= bodyChunk || produceClass(n) < 0 {
		return 0, false
	}
	k, err := br.Peek(2)
	if err != nil {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(k)), true
}

// releaseBody returns a pooled body (nil: none) to its pool.
func releaseBody(pb *[]byte) {
	if pb == nil {
		return
	}
	if c := produceClass(cap(*pb)); c >= 0 && cap(*pb) == exactBodyMax<<c {
		producePools[c].Put(pb)
	}
}

// readBodyFrom is readBody with the first allocation for large frames set by
// the caller: a client reading a peer it dialled (a follower's fetch answers,
// megabytes each) starts larger and copies less on the way.
func readBodyFrom(r io.Reader, n, first int) ([]byte, error) {
	if n <= first {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b := make([]byte, 0, first)
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(2*cap(b), n))
			copy(nb, b)
			b = nb
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil && len(b) < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b, nil
}

// versionTable is Config.Versions; nil accepts everything kmsg decodes.
type versionTable map[int16]VersionRange

// supports reports whether (key, version) is implemented; req is the kmsg
// request for key, bounding the version by what kmsg can decode.
func (vt versionTable) supports(req kmsg.Request, version int16) bool {
	if version < 0 || version > req.MaxVersion() {
		return false
	}
	if vt == nil {
		return true
	}
	vr, ok := vt[req.Key()]
	return ok && version >= vr.Min && version <= vr.Max
}

// apiKeys lists the table as ApiVersions entries sorted by key; a nil table
// lists every key kmsg knows at 0..its newest version.
func (vt versionTable) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	add := func(key, lo, hi int16) {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, lo, hi
		keys = append(keys, k)
	}
	if vt == nil {
		for key := int16(0); key <= kmsg.MaxKey; key++ {
			if req := kmsg.RequestForKey(key); req != nil {
				add(key, 0, req.MaxVersion())
			}
		}
		return keys
	}
	for key, vr := range vt {
		add(key, vr.Min, vr.Max)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}

// unsupportedAPIVersions builds the KIP-511 answer to an ApiVersions request
// at a version we do not speak: v0 body format, UNSUPPORTED_VERSION and our
// whole table, so the client can retry at a version we listed.
func unsupportedAPIVersions(keys []kmsg.ApiVersionsResponseApiKey) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = keys
	return resp
}

// decodeRequest decodes one request frame (everything after the size
// prefix): header, then body via kmsg. It never panics on any input.
//
// On error the returned Request still carries whatever header fields were
// read (Key, Version, CorrelationID), so that the caller can log them and,
// when the error wraps ErrUnsupportedVersion for ApiVersions, answer it.
// The body of an unsupported version is never parsed.
func decodeRequest(frame []byte, vt versionTable) (*Request, error) {
	r := kbin.Reader{Src: frame}
	req := &Request{
		Key:           r.Int16(),
		Version:       r.Int16(),
		CorrelationID: r.Int32(),
	}
	if !r.Ok() {
		return req, fmt.Errorf("%w: %d-byte request header", ErrMalformed, len(frame))
	}
	body := kmsg.RequestForKey(req.Key)
	if body == nil {
		return req, fmt.Errorf("%w: %d", ErrUnknownAPIKey, req.Key)
	}
	if !vt.supports(body, req.Version) {
		return req, fmt.Errorf("%w: %s (key %d) v%d", ErrUnsupportedVersion, kmsg.NameForKey(req.Key), req.Key, req.Version)
	}
	body.SetVersion(req.Version)
	if cid := r.NullableString(); cid != nil {
		req.ClientID = *cid
	}
	if body.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if !r.Ok() {
		return req, fmt.Errorf("%w: %s v%d request header truncated", ErrMalformed, kmsg.NameForKey(req.Key), req.Version)
	}
	if err := body.ReadFrom(r.Src); err != nil {
		return req, fmt.Errorf("%w: %s v%d body: %v", ErrMalformed, kmsg.NameForKey(req.Key), req.Version, err)
	}
	req.Body = body
	return req, nil
}

// appendResponse appends one response frame (size, correlation id, header
// tags, body) to dst. The ApiVersions response header never has tagged
// fields, even when the body is flexible.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, patched below
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0) // empty tagged fields
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
