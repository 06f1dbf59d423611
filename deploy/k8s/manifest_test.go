package k8s

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/strombroker/strom/internal/ordinal"
	"github.com/strombroker/strom/internal/server"
)

// imageUID is the uid:gid the image runs as (deploy/Dockerfile USER); the
// test also reads the Dockerfile so the two cannot drift apart silently.
const imageUID = "65532"

// clusterDomain is Kubernetes' default; the advertised names are written
// with it in strom.yaml.
const clusterDomain = "svc.cluster.local"

// manifest is strom.yaml split by kind/name.
type manifest struct {
	headless, client, sts, pdb obj
}

// obj is one decoded YAML mapping with path accessors that fail the test
// with the path when something is missing or of the wrong shape.
type obj map[string]any

func (o obj) get(t *testing.T, path ...string) any {
	t.Helper()
	var cur any = map[string]any(o)
	for i, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a mapping", strings.Join(path[:i], "."))
		}
		if cur, ok = m[k]; !ok {
			t.Fatalf("%s: missing", strings.Join(path[:i+1], "."))
		}
	}
	return cur
}

func (o obj) str(t *testing.T, path ...string) string {
	t.Helper()
	s, ok := o.get(t, path...).(string)
	if !ok {
		t.Fatalf("%s: not a scalar", strings.Join(path, "."))
	}
	return s
}

func (o obj) obj(t *testing.T, path ...string) obj {
	t.Helper()
	m, ok := o.get(t, path...).(map[string]any)
	if !ok {
		t.Fatalf("%s: not a mapping", strings.Join(path, "."))
	}
	return obj(m)
}

func (o obj) list(t *testing.T, path ...string) []obj {
	t.Helper()
	l, ok := o.get(t, path...).([]any)
	if !ok {
		t.Fatalf("%s: not a sequence", strings.Join(path, "."))
	}
	out := make([]obj, len(l))
	for i, v := range l {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s[%d]: not a mapping", strings.Join(path, "."), i)
		}
		out[i] = obj(m)
	}
	return out
}

func (o obj) strings(t *testing.T, path ...string) []string {
	t.Helper()
	l, ok := o.get(t, path...).([]any)
	if !ok {
		t.Fatalf("%s: not a sequence", strings.Join(path, "."))
	}
	out := make([]string, len(l))
	for i, v := range l {
		if out[i], ok = v.(string); !ok {
			t.Fatalf("%s[%d]: not a scalar", strings.Join(path, "."), i)
		}
	}
	return out
}

func (o obj) int(t *testing.T, path ...string) int {
	t.Helper()
	n, err := strconv.Atoi(o.str(t, path...))
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(path, "."), err)
	}
	return n
}

func loadManifest(t *testing.T) manifest {
	t.Helper()
	src, err := os.ReadFile("strom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := parseYAMLDocs(string(src))
	if err != nil {
		t.Fatalf("strom.yaml: %v", err)
	}
	byKey := map[string]obj{}
	for i, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("document %d is not a mapping", i)
		}
		o := obj(m)
		key := o.str(t, "kind") + "/" + o.str(t, "metadata", "name")
		if _, dup := byKey[key]; dup {
			t.Fatalf("%s defined twice", key)
		}
		byKey[key] = o
	}
	var mf manifest
	for key, dst := range map[string]*obj{
		"Service/strom-headless":    &mf.headless,
		"Service/strom":             &mf.client,
		"StatefulSet/strom":         &mf.sts,
		"PodDisruptionBudget/strom": &mf.pdb,
	} {
		o, ok := byKey[key]
		if !ok {
			t.Fatalf("strom.yaml has no %s (has %v)", key, keys(byKey))
		}
		*dst = o
		delete(byKey, key)
	}
	if len(byKey) > 0 {
		t.Fatalf("strom.yaml has objects this test does not check: %v", keys(byKey))
	}
	return mf
}

func keys(m map[string]obj) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// container is the broker container of the StatefulSet's pod template.
func (mf manifest) container(t *testing.T) obj {
	t.Helper()
	cs := mf.sts.list(t, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return cs[0]
}

// envVar is one container env entry: a literal value or a downward-API field.
type envVar struct{ name, value, fieldPath string }

func (mf manifest) env(t *testing.T) []envVar {
	t.Helper()
	var out []envVar
	seen := map[string]bool{}
	for _, e := range mf.container(t).list(t, "env") {
		v := envVar{name: e.str(t, "name")}
		if seen[v.name] {
			t.Fatalf("env %s defined twice", v.name)
		}
		seen[v.name] = true
		if _, ok := e["valueFrom"]; ok {
			v.fieldPath = e.str(t, "valueFrom", "fieldRef", "fieldPath")
		} else {
			v.value = e.str(t, "value")
		}
		out = append(out, v)
	}
	return out
}

// pod is what Kubernetes would give pod number i of the StatefulSet.
type pod struct {
	name, namespace, ip string
}

// varRef is Kubernetes' $(VAR) dependent-variable syntax.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandEnv resolves the container env for one pod the way the kubelet does:
// downward-API fields from the pod, and $(VAR) only for variables defined
// earlier in the list (a later or unknown one stays literally "$(VAR)").
func expandEnv(t *testing.T, vars []envVar, p pod) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range vars {
		switch v.fieldPath {
		case "":
			out[v.name] = varRef.ReplaceAllStringFunc(v.value, func(ref string) string {
				if val, ok := out[ref[2:len(ref)-1]]; ok {
					return val
				}
				return ref
			})
		case "metadata.name":
			out[v.name] = p.name
		case "metadata.namespace":
			out[v.name] = p.namespace
		case "status.podIP":
			out[v.name] = p.ip
		default:
			t.Fatalf("env %s: downward-API field %q not modelled by this test", v.name, v.fieldPath)
		}
		if strings.Contains(out[v.name], "$(") {
			t.Fatalf("env %s = %q: $(VAR) not defined earlier in the env list, the kubelet leaves it unexpanded", v.name, out[v.name])
		}
	}
	return out
}

// brokerConfig fills a server.Config from the STROM_* variables the way
// cmd/strom does for these settings, so the broker's own Validate judges the
// result. STROM_NODE_ID=ordinal goes through internal/ordinal with the pod
// name as hostname, as --node-id ordinal does. Unknown STROM_* variables fail
// the test: add them here when the manifest grows.
func brokerConfig(t *testing.T, env map[string]string, hostname string) server.Config {
	t.Helper()
	cfg := server.DefaultConfig()
	atoi := func(k string) int {
		n, err := strconv.Atoi(env[k])
		if err != nil {
			t.Fatalf("%s=%q: %v", k, env[k], err)
		}
		return n
	}
	for k, v := range env {
		if !strings.HasPrefix(k, "STROM_") {
			continue
		}
		var err error
		switch k {
		case "STROM_NODE_ID":
			if v != "ordinal" {
				t.Fatalf("STROM_NODE_ID=%q: every pod shares the template, so it must be ordinal", v)
			}
			cfg.NodeID, err = ordinal.FromHostname(hostname)
		case "STROM_LISTEN":
			cfg.Listeners, err = server.ParseListeners(v)
		case "STROM_ADVERTISE":
			cfg.AdvertisedListeners, err = server.ParseListeners(v)
		case "STROM_RAFT_ADDR":
			cfg.RaftAddr = v
		case "STROM_RAFT_ADVERTISE":
			cfg.RaftAdvertise = v
		case "STROM_GOSSIP_ADDR":
			cfg.GossipAddr = v
		case "STROM_GOSSIP_ADVERTISE":
			cfg.GossipAdvertise = v
		case "STROM_JOIN":
			cfg.Join = strings.Split(v, ",")
		case "STROM_BOOTSTRAP_EXPECT":
			cfg.BootstrapExpect = atoi(k)
		case "STROM_DEFAULT_REPLICATION_FACTOR":
			cfg.DefaultReplicationFactor = int16(atoi(k))
		case "STROM_MIN_INSYNC_REPLICAS":
			cfg.MinInsyncReplicas = atoi(k)
		case "STROM_DATA_DIR":
			cfg.DataDir = v
		case "STROM_HTTP_ADDR":
			cfg.HTTPAddr = v
		default:
			t.Fatalf("env %s is not modelled by this test", k)
		}
		if err != nil {
			t.Fatalf("%s=%q: %v", k, v, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("pod %s: broker config invalid: %v", hostname, err)
	}
	return cfg
}

// hostPort splits a host:port and checks the port is a valid TCP/UDP port.
func hostPort(t *testing.T, what, addr string) (string, int) {
	t.Helper()
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		t.Fatalf("%s %q: bad port", what, addr)
	}
	return host, port
}

// dnsLabel is an RFC 1123 label, what Kubernetes requires of pod and Service
// names used in DNS.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func checkDNSName(t *testing.T, what, name string) {
	t.Helper()
	if len(name) > 253 {
		t.Errorf("%s %q: longer than 253 characters", what, name)
	}
	for _, l := range strings.Split(name, ".") {
		if len(l) > 63 || !dnsLabel.MatchString(l) {
			t.Errorf("%s %q: label %q is not a valid DNS label", what, name, l)
		}
	}
}

// containerPort returns the named container port and its protocol.
func (mf manifest) containerPorts(t *testing.T) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	seen := map[string]bool{}
	for _, p := range mf.container(t).list(t, "ports") {
		name := p.str(t, "name")
		if out[name] != nil {
			t.Fatalf("container port name %s used twice", name)
		}
		key := p.str(t, "containerPort") + "/" + p.str(t, "protocol")
		if seen[key] {
			t.Fatalf("container port %s listed twice", key)
		}
		seen[key] = true
		out[name] = p
	}
	return out
}

// checkService asserts every Service port targets a container port by name,
// with the same protocol and number, and returns the ports by name.
func checkService(t *testing.T, mf manifest, svc obj) map[string]int {
	t.Helper()
	name := svc.str(t, "metadata", "name")
	cports := mf.containerPorts(t)
	out := map[string]int{}
	for _, p := range svc.list(t, "spec", "ports") {
		pn := p.str(t, "name")
		cp, ok := cports[p.str(t, "targetPort")]
		if !ok {
			t.Errorf("Service %s port %s: targetPort %q is not a container port name", name, pn, p.str(t, "targetPort"))
			continue
		}
		if p.str(t, "protocol") != cp.str(t, "protocol") {
			t.Errorf("Service %s port %s: protocol %s, container port %s", name, pn, p.str(t, "protocol"), cp.str(t, "protocol"))
		}
		// Clients and peers use the per-pod DNS names, which bypass the
		// Service, so Service port and container port must be the same.
		if p.int(t, "port") != cp.int(t, "containerPort") {
			t.Errorf("Service %s port %s: %d, container port %d", name, pn, p.int(t, "port"), cp.int(t, "containerPort"))
		}
		out[pn] = p.int(t, "port")
	}
	// Every selector label must be on the pods, or the Service selects nothing.
	labels := mf.sts.obj(t, "spec", "template", "metadata", "labels")
	for k, v := range svc.obj(t, "spec", "selector") {
		if labels[k] != v {
			t.Errorf("Service %s selects %s=%v, pod template has %q", name, k, v, labels[k])
		}
	}
	return out
}

func TestManifestServices(t *testing.T) {
	mf := loadManifest(t)
	h := mf.headless
	if got := h.str(t, "spec", "clusterIP"); got != "None" {
		t.Errorf("strom-headless clusterIP = %q, want None (headless: per-pod DNS records)", got)
	}
	if got := h.str(t, "spec", "publishNotReadyAddresses"); got != "true" {
		t.Errorf("strom-headless publishNotReadyAddresses = %q, want true: pods become Ready only after gossip found the peers", got)
	}
	hp := checkService(t, mf, h)
	want := map[string]int{"kafka": 9092, "raft": 9093, "gossip": 9094, "gossip-udp": 9094}
	for n, p := range want {
		if hp[n] != p {
			t.Errorf("strom-headless port %s = %d, want %d", n, hp[n], p)
		}
	}
	cports := mf.containerPorts(t)
	if cports["gossip"].str(t, "protocol") != "TCP" || cports["gossip-udp"].str(t, "protocol") != "UDP" {
		t.Errorf("gossip needs the same port on TCP and UDP (memberlist), got %v / %v", cports["gossip"], cports["gossip-udp"])
	}

	c := mf.client
	if ip, ok := c.obj(t, "spec")["clusterIP"]; ok && ip == "None" {
		t.Errorf("Service strom must have a cluster IP (it is the bootstrap address)")
	}
	cp := checkService(t, mf, c)
	if len(cp) != 1 || cp["kafka"] != 9092 {
		t.Errorf("Service strom ports = %v, want only kafka 9092", cp)
	}
}

func TestManifestStatefulSet(t *testing.T) {
	mf := loadManifest(t)
	s := mf.sts
	if got, want := s.str(t, "spec", "serviceName"), mf.headless.str(t, "metadata", "name"); got != want {
		t.Errorf("serviceName = %q, want the headless Service %q (it makes the per-pod DNS names)", got, want)
	}
	if got := s.str(t, "spec", "podManagementPolicy"); got != "Parallel" {
		t.Errorf("podManagementPolicy = %q, want Parallel: brokers wait for their quorum before they are Ready", got)
	}
	labels := s.obj(t, "spec", "template", "metadata", "labels")
	for k, v := range s.obj(t, "spec", "selector", "matchLabels") {
		if labels[k] != v {
			t.Errorf("selector %s=%v not on the pod template (%q)", k, v, labels[k])
		}
	}
	c := mf.container(t)
	if got := c.str(t, "image"); got != "strom:latest" {
		t.Errorf("image = %q, want strom:latest", got)
	}
	if got := c.str(t, "imagePullPolicy"); got != "IfNotPresent" {
		t.Errorf("imagePullPolicy = %q, want IfNotPresent (the image is built locally, make image)", got)
	}
	podSpec := s.obj(t, "spec", "template", "spec")
	if got := podSpec.str(t, "enableServiceLinks"); got != "false" {
		t.Errorf("enableServiceLinks = %q, want false: the Service named strom would inject STROM_PORT, STROM_SERVICE_HOST, ... into the broker's STROM_* namespace", got)
	}
}

func TestManifestPods(t *testing.T) {
	mf := loadManifest(t)
	set := mf.sts.str(t, "metadata", "name")
	headless := mf.headless.str(t, "metadata", "name")
	replicas := mf.sts.int(t, "spec", "replicas")
	vars := mf.env(t)
	cports := mf.containerPorts(t)
	kafkaPort := cports["kafka"].int(t, "containerPort")
	raftPort := cports["raft"].int(t, "containerPort")
	gossipPort := cports["gossip"].int(t, "containerPort")
	metricsPort := cports["metrics"].int(t, "containerPort")

	for _, ns := range []string{"default", "kafka-prod"} {
		podSuffix := "." + headless + "." + ns + "." + clusterDomain
		seen := map[string]string{} // every id and address → the pod that has it
		unique := func(what, v, podName string) {
			t.Helper()
			if other, dup := seen[what+" "+v]; dup {
				t.Errorf("ns %s: pods %s and %s share %s %s", ns, other, podName, what, v)
			}
			seen[what+" "+v] = podName
		}
		for i := range replicas {
			p := pod{name: ordinal.PodName(set, i), namespace: ns, ip: fmt.Sprintf("10.1.%d.%d", i/200, 10+i%200)}
			checkDNSName(t, "pod name", p.name)
			env := expandEnv(t, vars, p)
			cfg := brokerConfig(t, env, p.name)

			if cfg.BootstrapExpect != replicas {
				t.Errorf("STROM_BOOTSTRAP_EXPECT = %d, want replicas %d: a larger value never bootstraps, a smaller one forms a quorum without the rest", cfg.BootstrapExpect, replicas)
			}
			if cfg.NodeID != int32(i) {
				t.Errorf("pod %s: node id %d, want its ordinal %d", p.name, cfg.NodeID, i)
			}
			unique("node id", strconv.Itoa(int(cfg.NodeID)), p.name)

			// Kafka: bind every interface on the kafka port; advertise the
			// pod's stable DNS name on the same listener and port.
			if len(cfg.Listeners) != 1 || cfg.Listeners[0].Port != kafkaPort || !net.ParseIP(cfg.Listeners[0].Host).IsUnspecified() {
				t.Errorf("STROM_LISTEN = %q, want one listener on 0.0.0.0:%d", env["STROM_LISTEN"], kafkaPort)
			}
			if len(cfg.AdvertisedListeners) != 1 {
				t.Fatalf("STROM_ADVERTISE = %q, want one listener", env["STROM_ADVERTISE"])
			}
			adv := cfg.AdvertisedListeners[0]
			if adv.Name != cfg.Listeners[0].Name || adv.Port != kafkaPort || adv.Host != p.name+podSuffix {
				t.Errorf("pod %s: advertised Kafka %s://%s:%d, want %s://%s:%d", p.name, adv.Name, adv.Host, adv.Port, cfg.Listeners[0].Name, p.name+podSuffix, kafkaPort)
			}
			checkDNSName(t, "advertised Kafka host", adv.Host)
			unique("kafka address", net.JoinHostPort(adv.Host, strconv.Itoa(adv.Port)), p.name)

			// Raft: same shape on the raft port.
			if h, port := hostPort(t, "STROM_RAFT_ADDR", cfg.RaftAddr); !net.ParseIP(h).IsUnspecified() || port != raftPort {
				t.Errorf("STROM_RAFT_ADDR = %q, want 0.0.0.0:%d", cfg.RaftAddr, raftPort)
			}
			if h, port := hostPort(t, "STROM_RAFT_ADVERTISE", cfg.RaftAdvertise); h != p.name+podSuffix || port != raftPort {
				t.Errorf("pod %s: STROM_RAFT_ADVERTISE = %q, want %s:%d", p.name, cfg.RaftAdvertise, p.name+podSuffix, raftPort)
			} else {
				checkDNSName(t, "advertised Raft host", h)
			}
			unique("raft address", cfg.RaftAdvertise, p.name)

			// Gossip: memberlist needs an IP literal, the pod IP; the seed is
			// the headless Service name, which resolves to every pod.
			if h, port := hostPort(t, "STROM_GOSSIP_ADDR", cfg.GossipAddr); !net.ParseIP(h).IsUnspecified() || port != gossipPort {
				t.Errorf("STROM_GOSSIP_ADDR = %q, want 0.0.0.0:%d", cfg.GossipAddr, gossipPort)
			}
			if h, port := hostPort(t, "STROM_GOSSIP_ADVERTISE", cfg.GossipAdvertise); h != p.ip || port != gossipPort {
				t.Errorf("pod %s: STROM_GOSSIP_ADVERTISE = %q, want the pod IP %s:%d", p.name, cfg.GossipAdvertise, p.ip, gossipPort)
			}
			unique("gossip address", cfg.GossipAdvertise, p.name)
			if len(cfg.Join) != 1 {
				t.Fatalf("STROM_JOIN = %q, want the headless Service", env["STROM_JOIN"])
			}
			if h, port := hostPort(t, "STROM_JOIN", cfg.Join[0]); h != headless+"."+ns+"."+clusterDomain || port != gossipPort {
				t.Errorf("STROM_JOIN = %q, want %s.%s.%s:%d", cfg.Join[0], headless, ns, clusterDomain, gossipPort)
			}

			// Durability settings the 3-broker layout relies on.
			rf, isr := int(cfg.DefaultReplicationFactor), cfg.MinInsyncReplicas
			if rf > replicas || isr > rf || isr < 2 {
				t.Errorf("replication factor %d, min.insync.replicas %d with %d brokers: want 2 <= min.insync <= RF <= brokers", rf, isr, replicas)
			}
			if env["STROM_DATA_DIR"] == "" {
				t.Errorf("STROM_DATA_DIR unset")
			}
			// Metrics: on every interface, on the port the scrape
			// annotation and the container port name.
			if h, port := hostPort(t, "STROM_HTTP_ADDR", cfg.HTTPAddr); !net.ParseIP(h).IsUnspecified() || port != metricsPort {
				t.Errorf("STROM_HTTP_ADDR = %q, want 0.0.0.0:%d", cfg.HTTPAddr, metricsPort)
			}
		}
		if len(seen) != 4*replicas {
			t.Errorf("ns %s: %d distinct ids/addresses for %d pods, want %d", ns, len(seen), replicas, 4*replicas)
		}
	}
}

func TestManifestStorageProbesSecurity(t *testing.T) {
	mf := loadManifest(t)
	c := mf.container(t)
	env := expandEnv(t, mf.env(t), pod{name: "strom-0", namespace: "default", ip: "10.0.0.1"})
	dataDir := env["STROM_DATA_DIR"]

	// The data volume: a claim template named data, mounted at the data dir,
	// not shadowed by a pod volume of the same name.
	var claim obj
	for _, vct := range mf.sts.list(t, "spec", "volumeClaimTemplates") {
		if vct.str(t, "metadata", "name") == "data" {
			claim = vct
		}
	}
	if claim == nil {
		t.Fatal("no volumeClaimTemplate named data")
	}
	if modes := claim.strings(t, "spec", "accessModes"); len(modes) != 1 || modes[0] != "ReadWriteOnce" {
		t.Errorf("data accessModes = %v, want [ReadWriteOnce]", modes)
	}
	if got := claim.str(t, "spec", "resources", "requests", "storage"); got != "10Gi" {
		t.Errorf("data storage = %q, want 10Gi", got)
	}
	if _, ok := mf.sts.obj(t, "spec", "template", "spec")["volumes"]; ok {
		t.Errorf("pod template declares volumes; a volume named data would shadow the claim template")
	}
	mounted := false
	for _, m := range c.list(t, "volumeMounts") {
		if m.str(t, "name") == "data" {
			mounted = m.str(t, "mountPath") == dataDir
			if !mounted {
				t.Errorf("data mounted at %q, STROM_DATA_DIR is %q", m.str(t, "mountPath"), dataDir)
			}
		}
	}
	if !mounted && dataDir != "" {
		t.Errorf("the data claim is not mounted at STROM_DATA_DIR %q: the broker would write into the read-only root filesystem", dataDir)
	}

	// Probes: strom health against this broker's own Kafka listener, with a
	// probe timeout longer than health's own 3 s default.
	dockerfile := readDockerfile(t)
	listeners, err := server.ParseListeners(env["STROM_LISTEN"])
	if err != nil {
		t.Fatal(err)
	}
	wantCmd := []string{dockerfile.entrypoint, "health", "--brokers", net.JoinHostPort("127.0.0.1", strconv.Itoa(listeners[0].Port))}
	for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		if _, ok := c[probe]; !ok {
			if probe != "startupProbe" {
				t.Errorf("%s missing", probe)
			}
			continue
		}
		cmd := c.strings(t, probe, "exec", "command")
		if strings.Join(cmd, " ") != strings.Join(wantCmd, " ") {
			t.Errorf("%s command %q, want %q", probe, cmd, wantCmd)
		}
		if to := c.int(t, probe, "timeoutSeconds"); to <= 3 {
			t.Errorf("%s timeoutSeconds %d: strom health itself waits up to 3s", probe, to)
		}
	}

	// Security: the image's numeric user, no root, read-only root filesystem
	// (the broker writes only under the data dir).
	if dockerfile.user != imageUID+":"+imageUID {
		t.Fatalf("deploy/Dockerfile USER %q, this test expects %s:%s", dockerfile.user, imageUID, imageUID)
	}
	psc := mf.sts.obj(t, "spec", "template", "spec", "securityContext")
	for _, k := range []string{"runAsUser", "runAsGroup", "fsGroup"} {
		if got := psc.str(t, k); got != imageUID {
			t.Errorf("pod securityContext.%s = %q, want %s (the image's USER)", k, got, imageUID)
		}
	}
	if psc.str(t, "runAsNonRoot") != "true" {
		t.Errorf("pod securityContext.runAsNonRoot must be true")
	}
	csc := c.obj(t, "securityContext")
	if csc.str(t, "readOnlyRootFilesystem") != "true" {
		t.Errorf("container readOnlyRootFilesystem must be true")
	}
	if v, ok := csc["runAsUser"]; ok && v != imageUID {
		t.Errorf("container securityContext.runAsUser %v overrides the pod's %s", v, imageUID)
	}
	if csc.str(t, "allowPrivilegeEscalation") != "false" {
		t.Errorf("container allowPrivilegeEscalation must be false")
	}
	for _, k := range []string{"requests", "limits"} {
		r := c.obj(t, "resources", k)
		if r.str(t, "cpu") == "" || r.str(t, "memory") == "" {
			t.Errorf("resources.%s needs cpu and memory", k)
		}
	}
}

func TestManifestDisruptionBudget(t *testing.T) {
	mf := loadManifest(t)
	replicas := mf.sts.int(t, "spec", "replicas")
	env := expandEnv(t, mf.env(t), pod{name: "strom-0", namespace: "default", ip: "10.0.0.1"})
	isr, err := strconv.Atoi(env["STROM_MIN_INSYNC_REPLICAS"])
	if err != nil {
		t.Fatal(err)
	}
	maxUnavail := mf.pdb.int(t, "spec", "maxUnavailable")
	if maxUnavail != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable = %d, want 1", maxUnavail)
	}
	// With that many brokers evicted, the controller keeps its Raft majority
	// and acks=all keeps min.insync.replicas.
	if up := replicas - maxUnavail; up < replicas/2+1 || up < isr {
		t.Errorf("%d of %d brokers up after evictions: need %d for the Raft majority and %d for min.insync.replicas", up, replicas, replicas/2+1, isr)
	}
	labels := mf.sts.obj(t, "spec", "template", "metadata", "labels")
	sel := mf.pdb.obj(t, "spec", "selector", "matchLabels")
	if len(sel) == 0 {
		t.Fatal("PodDisruptionBudget selects nothing")
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("PodDisruptionBudget selects %s=%v, pod template has %q", k, v, labels[k])
		}
	}
}

// dockerImage is what the manifest must agree with in deploy/Dockerfile.
type dockerImage struct {
	user       string // USER
	entrypoint string // first word of the exec-form ENTRYPOINT
}

func readDockerfile(t *testing.T) dockerImage {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var d dockerImage
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "USER":
			d.user = f[1]
		case "ENTRYPOINT":
			m := regexp.MustCompile(`^ENTRYPOINT \["([^"]+)"`).FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				t.Fatalf("deploy/Dockerfile: ENTRYPOINT not in exec form: %q", line)
			}
			d.entrypoint = m[1]
		}
	}
	if d.user == "" || d.entrypoint == "" {
		t.Fatalf("deploy/Dockerfile: USER %q, ENTRYPOINT %q", d.user, d.entrypoint)
	}
	return d
}
