// Command scale measures a broker hosting many partitions: it starts
// bin/strom on a fresh data directory, creates topics (3 partitions each by
// default), produces a few records to every partition, restarts the broker
// and reports start-up time (process start until Metadata lists every
// topic), RSS (VmRSS / VmHWM), open file descriptors, goroutines and
// produce throughput to all partitions with acks=1 and acks=all.
//
//	go run ./deploy/scale --bin bin/strom --topics 3334 --partitions 3
//
// It is a measurement, not a test: nothing is asserted. Linux only (/proc).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	bin        string
	dir        string
	topics     int
	partitions int
	records    int
	recordSize int
	keep       bool
	reuse      bool
	profile    bool
	extra      string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/strom", "strom binary")
	flag.StringVar(&o.dir, "dir", "", "data directory (default: a new temporary one, removed afterwards)")
	flag.IntVar(&o.topics, "topics", 3334, "topics to create")
	flag.IntVar(&o.partitions, "partitions", 3, "partitions per topic")
	flag.IntVar(&o.records, "records", 200000, "records per produce throughput run")
	flag.IntVar(&o.recordSize, "record-size", 100, "record value bytes")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory")
	flag.BoolVar(&o.reuse, "reuse", false, "--dir already holds the topics: only restart and produce")
	flag.BoolVar(&o.profile, "profile", false, "save CPU profiles of the restart and of each produce run in the data directory")
	flag.StringVar(&o.extra, "broker-args", "", "extra broker flags, space separated")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type broker struct {
	cmd      *exec.Cmd
	kafka    string
	http     string
	started  time.Time
	exited   chan error
	logPath  string
	logFile  *os.File
	extraArg []string
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startBroker(o options, dir string, run int) (*broker, error) {
	var ports [4]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	b := &broker{
		kafka:   fmt.Sprintf("127.0.0.1:%d", ports[0]),
		http:    fmt.Sprintf("127.0.0.1:%d", ports[3]),
		exited:  make(chan error, 1),
		logPath: filepath.Join(dir, fmt.Sprintf("broker-%d.log", run)),
	}
	args := []string{"broker", "--data-dir", filepath.Join(dir, "data"), "--listen", b.kafka,
		"--raft-addr", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--gossip-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"--pprof-addr", b.http, "--log-level", "warn"}
	if o.extra != "" {
		args = append(args, strings.Fields(o.extra)...)
	}
	f, err := os.Create(b.logPath)
	if err != nil {
		return nil, err
	}
	b.logFile = f
	b.cmd = exec.Command(o.bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = f, f
	b.started = time.Now()
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { b.exited <- b.cmd.Wait() }()
	return b, nil
}

func (b *broker) stop() error {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		b.logFile.Close()
		return err
	case <-time.After(120 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
		b.logFile.Close()
		return errors.New("broker did not stop within 120s")
	}
}

// waitReady polls Metadata until it lists want topics with a leader for
// every partition, and returns how long after process start that was.
func (b *broker) waitReady(want int) (time.Duration, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-b.exited:
			b.exited <- err
			return 0, fmt.Errorf("broker exited: %v (log %s)", err, b.logPath)
		default:
		}
		if n, err := b.readyTopics(); err == nil && n >= want {
			return time.Since(b.started), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("broker not ready within 5 minutes (log %s)", b.logPath)
}

func (b *broker) readyTopics() (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.kafka), kgo.DialTimeout(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range md.Topics {
		if t.Err != nil || strings.HasPrefix(t.Topic, "__") {
			continue
		}
		ok := true
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n, nil
}

type sample struct {
	rssMiB, hwmMiB float64
	fds            int
	goroutines     int
}

func (s sample) String() string {
	return fmt.Sprintf("RSS %.0f MiB (peak %.0f MiB), %d open fds, %d goroutines", s.rssMiB, s.hwmMiB, s.fds, s.goroutines)
}

func (b *broker) sample() sample {
	var s sample
	pid := b.cmd.Process.Pid
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) >= 2 && (fs[0] == "VmRSS:" || fs[0] == "VmHWM:") {
				kb, _ := strconv.ParseFloat(fs[1], 64)
				if fs[0] == "VmRSS:" {
					s.rssMiB = kb / 1024
				} else {
					s.hwmMiB = kb / 1024
				}
			}
		}
		f.Close()
	}
	if es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(es)
	}
	if resp, err := http.Get("http://" + b.http + "/debug/pprof/goroutine?debug=1"); err == nil {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i := strings.LastIndex(line, " "); i >= 0 {
			s.goroutines, _ = strconv.Atoi(strings.TrimSpace(line[i+1:]))
		}
	}
	return s
}

// cpuProfile saves a CPU profile of the broker over d; with early it polls
// for the HTTP endpoint first, to catch start-up from its beginning.
func (b *broker) cpuProfile(path string, d time.Duration, early bool) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.http, int(d.Seconds()))
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if resp, err = http.Get(url); err == nil || !early || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	fmt.Println("saved", path)
	return f.Close()
}

func topicName(i int) string { return fmt.Sprintf("scale-%05d", i) }

func createTopics(b *broker, o options) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.kafka))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const batch = 100
	for i := 0; i < o.topics; i += batch {
		var names []string
		for j := i; j < min(i+batch, o.topics); j++ {
			names = append(names, topicName(j))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		resps, err := adm.CreateTopics(ctx, int32(o.partitions), 1, nil, names...)
		cancel()
		if err != nil {
			return err
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
				return fmt.Errorf("create %s: %w", r.Topic, r.Err)
			}
		}
	}
	return nil
}

// produce sends n records round-robin over every partition of every topic
// and returns records per second.
func produce(b *broker, o options, n int, acks kgo.Acks) (float64, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(b.kafka), kgo.RequiredAcks(acks),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(100000)}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	val := make([]byte, o.recordSize)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	total := o.topics * o.partitions
	for i := range n {
		p := i % total
		r := &kgo.Record{Topic: topicName(p / o.partitions), Partition: int32(p % o.partitions), Value: val}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d of %d records failed: %v", f, n, firstErr.Load())
	}
	return float64(n) / el.Seconds(), nil
}

func run(o options) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "strom-scale-")
		if err != nil {
			return err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	total := o.topics * o.partitions
	fmt.Printf("%d topics x %d partitions = %d partitions, data in %s\n", o.topics, o.partitions, total, dir)

	if !o.reuse {
		if err := createAndFill(o, dir); err != nil {
			return err
		}
	}
	return restartAndProduce(o, dir)
}

// createAndFill starts a broker on an empty directory, creates the topics,
// writes 3 records to every partition and stops it cleanly.
func createAndFill(o options, dir string) error {
	total := o.topics * o.partitions
	b, err := startBroker(o, dir, 1)
	if err != nil {
		return err
	}
	if _, err := b.waitReady(0); err != nil {
		return err
	}
	fmt.Printf("empty broker:            %v\n", b.sample())
	began := time.Now()
	if err := createTopics(b, o); err != nil {
		_ = b.stop()
		return fmt.Errorf("create topics: %w (broker log %s)", err, b.logPath)
	}
	if _, err := b.waitReady(o.topics); err != nil {
		_ = b.stop()
		return err
	}
	fmt.Printf("created in %.1fs:        %v\n", time.Since(began).Seconds(), b.sample())
	if _, err := produce(b, o, total*3, kgo.LeaderAck()); err != nil {
		_ = b.stop()
		return fmt.Errorf("fill: %w", err)
	}
	fmt.Printf("3 records/partition:     %v\n", b.sample())
	began = time.Now()
	if err := b.stop(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Printf("clean stop took %.1fs\n", time.Since(began).Seconds())
	return nil
}

// restartAndProduce starts the broker on the filled directory, reports how
// long it took to serve every topic and what it holds, and measures produce
// throughput to every partition.
func restartAndProduce(o options, dir string) error {
	total := o.topics * o.partitions
	b, err := startBroker(o, dir, 2)
	if err != nil {
		return err
	}
	defer b.stop()
	var prof chan error
	if o.profile {
		prof = make(chan error, 1)
		go func() { prof <- b.cpuProfile(filepath.Join(dir, "startup.pprof"), 8*time.Second, true) }()
	}
	up, err := b.waitReady(o.topics)
	if err != nil {
		return err
	}
	if prof != nil {
		if err := <-prof; err != nil {
			fmt.Println("start-up profile:", err)
		}
	}
	fmt.Printf("restart: ready in %.2fs: %v\n", up.Seconds(), b.sample())
	time.Sleep(3 * time.Second)
	fmt.Printf("idle 3s later:           %v\n", b.sample())
	for _, a := range []struct {
		name string
		acks kgo.Acks
	}{{"acks=1", kgo.LeaderAck()}, {"acks=all", kgo.AllISRAcks()}} {
		if o.profile {
			prof = make(chan error, 1)
			go func() {
				prof <- b.cpuProfile(filepath.Join(dir, "produce-"+strings.TrimPrefix(a.name, "acks=")+".pprof"), 5*time.Second, false)
			}()
		}
		rate, err := produce(b, o, o.records, a.acks)
		if prof != nil {
			if err := <-prof; err != nil {
				fmt.Println("produce profile:", err)
			}
		}
		if err != nil {
			return fmt.Errorf("produce %s: %w", a.name, err)
		}
		fmt.Printf("produce %-8s %d records x %d B over %d partitions: %.0f records/s; %v\n", a.name, o.records, o.recordSize, total, rate, b.sample())
	}
	return nil
}
