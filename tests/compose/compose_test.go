package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	project = "strom-test" // distinct from the default project "strom"
	image   = "strom:latest"
	// testBudget bounds the whole test, build included.
	testBudget = 3 * time.Minute
	// healthBudget bounds `up` until all three brokers report healthy.
	healthBudget = 90 * time.Second
)

var services = []string{"broker-1", "broker-2", "broker-3"}

// compose runs docker compose (v2 plugin) or docker-compose (v1) for the
// test project.
type compose struct {
	t    *testing.T
	argv []string // command and leading args, e.g. [docker compose -p strom-test -f ...]
	env  []string
	root string
}

// requireDocker skips the test, or fails it under CI=true, unless a Docker
// engine answers and some compose CLI is installed; it returns the compose
// command prefix.
func requireDocker(t *testing.T) []string {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is not usable: %s", why)
		}
		t.Skipf("SKIPPED: Docker is not usable (%s); install Docker with compose to run the compose cluster test", why)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		missing("no docker binary on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		missing(fmt.Sprintf("docker info: %v: %s", err, bytes.TrimSpace(out)))
	}
	if exec.CommandContext(ctx, "docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil && exec.CommandContext(ctx, p, "version").Run() == nil {
		return []string{p}
	}
	missing("neither `docker compose` nor docker-compose works")
	return nil
}

// repoRoot is the directory holding go.mod and docker-compose.yml.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("docker-compose.yml not found above the test directory")
		}
		dir = parent
	}
}

// freePorts returns n distinct host TCP ports that are free right now. The
// compose file publishes the EXTERNAL listeners on them and advertises
// localhost:<port>, so the test never collides with a cluster a developer
// runs on the default 19092/29092/39092, nor with other tests.
//
// They are taken below the kernel's ephemeral range (ip_local_port_range):
// docker binds them only at `compose up`, seconds after they are picked, and
// a port of that range may meanwhile become the local end of any outgoing
// connection on the machine (seen in CI: "bind: address already in use").
// startComposeFile still retries with new ports if one was taken.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	low := ephemeralLow()
	const floor = 10000
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			t.Fatalf("no %d free ports between %d and %d", n, floor, low)
		}
		p := floor + rand.IntN(low-floor)
		if slices.Contains(ports, p) {
			continue
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		ports = append(ports, p)
	}
	return ports
}

// ephemeralLow is the first port of the kernel's ephemeral range, 32768
// (Linux's default) when it cannot be read or leaves too little below it.
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < 20000 {
		return 32768
	}
	return low
}

// portTaken reports whether compose up failed because a host port it was
// to publish was in use.
func portTaken(out string) bool {
	return strings.Contains(out, "address already in use") || strings.Contains(out, "port is already allocated")
}

// run runs the command with the test's environment in the repository root
// and returns its combined output.
func (c *compose) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.root
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// compose runs a compose subcommand for the test project.
func (c *compose) compose(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, c.argv[0], append(append([]string{}, c.argv[1:]...), args...)...)
}

// logs attaches the brokers' last log lines to a failing test.
func (c *compose) logs() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := c.compose(ctx, "logs", "--no-color", "--tail", "40")
	c.t.Logf("compose logs:\n%s", out)
}

// containerID returns the container of a compose service.
func (c *compose) containerID(ctx context.Context, service string) string {
	c.t.Helper()
	out, err := c.compose(ctx, "ps", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" {
		c.t.Fatalf("compose ps -q %s: %v: %q", service, err, out)
	}
	return id
}

// waitHealthy polls the containers' health status until all are healthy.
func (c *compose) waitHealthy(ctx context.Context, ids []string) {
	c.t.Helper()
	deadline := time.Now().Add(healthBudget)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		out, err := c.run(ctx, "docker", append([]string{"inspect", "--format", "{{.Name}}={{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}"}, ids...)...)
		last = strings.TrimSpace(out)
		if err == nil && strings.Count(last, "/healthy") == len(ids) {
			c.t.Logf("all brokers healthy: %s", strings.ReplaceAll(last, "\n", " "))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	c.logs()
	c.t.Fatalf("brokers not healthy within %v: %s", healthBudget, last)
}

// cluster is a running compose project: its containers (ids[i] runs
// services[i], node id i+1), the host-port seeds of the EXTERNAL listeners
// and the compose network.
type cluster struct {
	*compose
	project string
	ids     []string
	seeds   []string
	network string
}

// startCompose builds the image (unless STROM_COMPOSE_IMAGE_BUILT=1), starts
// docker-compose.yml as project on free host ports, waits until every
// broker is healthy and registers `down -v` as cleanup.
func startCompose(ctx context.Context, t *testing.T, project string) *cluster {
	t.Helper()
	return startComposeFile(ctx, t, project, "docker-compose.yml", nil)
}

// startComposeFile is startCompose for any compose file of the repository
// root whose brokers are services broker-1..3 publishing their EXTERNAL
// listeners on STROM_HOST_PORT_1..3, with extraEnv (KEY=value) added to the
// environment of every compose command (up and the cleanup's down alike).
func startComposeFile(ctx context.Context, t *testing.T, project, file string, extraEnv []string) *cluster {
	t.Helper()
	argv := requireDocker(t)
	root := repoRoot(t)
	c := &compose{
		t:    t,
		argv: append(argv, "-p", project, "-f", filepath.Join(root, file)),
		root: root,
	}
	var ports []int
	pickPorts := func() {
		ports = freePorts(t, len(services))
		c.env = append(os.Environ(), extraEnv...)
		for i, p := range ports {
			c.env = append(c.env, fmt.Sprintf("STROM_HOST_PORT_%d=%d", i+1, p))
		}
	}
	pickPorts()

	if os.Getenv("STROM_COMPOSE_IMAGE_BUILT") != "1" {
		if out, err := c.run(ctx, "make", "image"); err != nil {
			t.Fatalf("make image: %v\n%s", err, out)
		}
	}
	// Leftovers of an interrupted earlier run would keep old data.
	if out, err := c.compose(ctx, "down", "-v", "--remove-orphans"); err != nil {
		t.Fatalf("compose down (cleanup of an earlier run): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer dcancel()
		if out, err := c.compose(dctx, "down", "-v", "--timeout", "10"); err != nil {
			t.Errorf("compose down -v: %v\n%s", err, out)
		}
	})

	for attempt := 1; ; attempt++ {
		out, err := c.compose(ctx, "up", "-d")
		if err == nil {
			break
		}
		if attempt == 3 || !portTaken(out) {
			t.Fatalf("compose up -d: %v\n%s", err, out)
		}
		t.Logf("compose up -d, attempt %d: a host port was taken meanwhile; again on new ports\n%s", attempt, out)
		if out, err := c.compose(ctx, "down", "-v", "--remove-orphans"); err != nil {
			t.Fatalf("compose down after a port clash: %v\n%s", err, out)
		}
		pickPorts()
	}
	cl := &cluster{compose: c, project: project, ids: make([]string, len(services))}
	for i, s := range services {
		cl.ids[i] = c.containerID(ctx, s)
	}
	c.waitHealthy(ctx, cl.ids)
	for _, p := range ports {
		cl.seeds = append(cl.seeds, net.JoinHostPort("localhost", strconv.Itoa(p)))
	}
	cl.network = networkOf(ctx, t, c, cl.ids[0])
	return cl
}

func TestComposeCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	start := time.Now()
	cl := startCompose(ctx, t, project)
	c, seeds := cl.compose, cl.seeds

	const topic = "compose-rf3"
	createRF3(ctx, t, c, seeds[0], topic)
	t.Logf("cluster up and RF3 topic created %v after compose up", time.Since(start).Round(100*time.Millisecond))

	values := produceConsume(ctx, t, c, seeds[1], seeds[2], topic, 200)
	inNetwork(ctx, t, c, cl.network, topic, len(values))
	hostClients(ctx, t, seeds[0])
}

// createRF3 creates topic with 3 partitions replicated on all three brokers
// through broker 1's host port, and waits until every partition has a full
// ISR, so that acks=all below needs every broker. opts are added to the
// client's (TLS and SASL for the secured cluster).
func createRF3(ctx context.Context, t *testing.T, c *compose, seed, topic string, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(rctx, 3, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.logs()
		t.Fatalf("create topic %s with RF 3 via %s: %v", topic, seed, err)
	}
	for {
		details, err := adm.ListTopics(rctx, topic)
		if err == nil {
			td := details[topic]
			full := td.Err == nil && len(td.Partitions) == 3
			for _, p := range td.Partitions {
				full = full && len(p.Replicas) == 3 && len(p.ISR) == 3 && p.Leader >= 1
			}
			if full {
				return
			}
		}
		select {
		case <-rctx.Done():
			c.logs()
			t.Fatalf("topic %s never had 3 partitions with 3 in-sync replicas: %v %+v", topic, err, details)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// produceConsume writes n records with acks=all through one host port and
// reads them back through another: the client must follow the advertised
// EXTERNAL addresses (localhost:<host port>) to every partition leader.
// opts are added to both clients' options.
func produceConsume(ctx context.Context, t *testing.T, c *compose, produceSeed, consumeSeed, topic string, n int, opts ...kgo.Opt) map[string]bool {
	t.Helper()
	pcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(produceSeed), kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	want := make(map[string]bool, n)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := fmt.Sprintf("record-%03d", i)
		want[v] = true
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(v)}
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pcl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		c.logs()
		t.Fatalf("produce %d records via %s: %v", n, produceSeed, err)
	}

	ccl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(consumeSeed), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer ccl.Close()
	got := make(map[string]bool, n)
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	for len(got) < n {
		fs := ccl.PollFetches(cctx)
		if cctx.Err() != nil {
			c.logs()
			t.Fatalf("consumed %d of %d records via %s before the deadline", len(got), n, consumeSeed)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Logf("fetch errors (retried): %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !want[string(r.Value)] {
				t.Errorf("consumed unexpected record %q", r.Value)
			}
			got[string(r.Value)] = true
		})
	}
	return got
}

// networkOf returns the compose network a broker container is attached to
// (<project>_default for both compose v1 and v2).
func networkOf(ctx context.Context, t *testing.T, c *compose, id string) string {
	t.Helper()
	out, err := c.run(ctx, "docker", "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id)
	nets := strings.Fields(out)
	if err != nil || len(nets) != 1 {
		t.Fatalf("docker inspect networks of %s: %v: %q", id, err, out)
	}
	return nets[0]
}

// inNetwork uses the image itself as the Kafka CLI from a throwaway
// container on the compose network: broker-N:9092 (INTERNAL) must serve
// metadata and the records produced from the host.
func inNetwork(ctx context.Context, t *testing.T, c *compose, network, topic string, n int) {
	t.Helper()
	dockerRun := func(args ...string) string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		full := append([]string{"run", "--rm", "--network", network, image}, args...)
		out, err := c.run(rctx, "docker", full...)
		if err != nil {
			c.logs()
			t.Fatalf("docker %s: %v\n%s", strings.Join(full, " "), err, out)
		}
		return out
	}

	out := dockerRun("topic", "list", "--json", "--brokers", "broker-1:9092")
	if !strings.Contains(out, `"`+topic+`"`) {
		t.Fatalf("topic list via broker-1:9092 inside the network does not show %s:\n%s", topic, out)
	}
	var parsed json.RawMessage
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &parsed); err != nil {
		t.Errorf("topic list --json is not JSON: %v\n%s", err, out)
	}

	out = dockerRun("consume", topic, "--from-beginning", "-n", strconv.Itoa(n), "--brokers", "broker-2:9092")
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "record-") {
			lines++
		}
	}
	if lines != n {
		t.Fatalf("consume inside the network via broker-2:9092 printed %d of %d records:\n%s", lines, n, out)
	}
}
