package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Errors the console reports to the browser as 400 Bad Request: they are the
// caller's mistake, never the cluster's.
var (
	// ErrBadParam wraps a malformed or out-of-range query or form value.
	ErrBadParam = errors.New("console: bad parameter")
	// ErrUnknownTopic is a topic the cluster does not have (or does not show
	// to the console's principal).
	ErrUnknownTopic = errors.New("console: unknown topic")
	// ErrUnknownGroup is a group the cluster does not know.
	ErrUnknownGroup = errors.New("console: unknown group")
)

// Limits that bound the work of one request.
const (
	// DefaultMaxRecords caps the records one browse returns.
	DefaultMaxRecords = 100
	// DefaultTimeout bounds every request's conversation with the cluster.
	DefaultTimeout = 10 * time.Second
	// maxValueShown is how many bytes of a key, value or header the browser
	// shows; the rest is cut with a note, so one huge record cannot make a
	// page of megabytes.
	maxValueShown = 16 << 10
	// maxGroupsLag caps the groups whose lag the groups page computes (a
	// DescribeGroups and an OffsetFetch each); the rest are listed without.
	maxGroupsLag = 200
	// maxFormBytes caps a produce form's body.
	maxFormBytes = 1 << 20
)

// Config configures a Console.
type Config struct {
	// Seeds are the Kafka addresses the console dials: the serving broker's
	// own listener.
	Seeds []string
	// ClientOpts are extra franz-go options (SASL, TLS) for brokers whose
	// listeners want them.
	ClientOpts []kgo.Opt
	// WriteEnable turns on the produce form (console.write.enable).
	WriteEnable bool
	// MaxRecords caps records per browse; 0 means DefaultMaxRecords.
	MaxRecords int
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives errors the pages show as 502; nil discards them.
	Logger *slog.Logger
}

// Console serves the web console. Its handlers are safe for concurrent use.
type Console struct {
	cfg   Config
	cl    *kgo.Client
	adm   *kadm.Client
	pages map[string]*template.Template
	token string // CSRF token of this process, in every write form
	log   *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New builds a console. The client connects lazily, so New succeeds while
// the broker is still starting; Close releases the client.
func New(cfg Config) (*Console, error) {
	if len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("%w: no seed address", ErrBadParam)
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Seeds...), kgo.ClientID("strom-console"), kgo.RecordPartitioner(kgo.ManualPartitioner())}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), pages: pages, token: hex.EncodeToString(tok[:]), log: cfg.Logger}, nil
}

// Close closes the console's Kafka client.
func (c *Console) Close() { c.cl.Close() }

// parsePages parses the layout with each page's template, one set per page
// so that every page can define its own "content".
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := n[len("templates/") : len(n)-len(".html")]
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// Register adds the console's routes to mux, all under /console/, beside
// whatever else mux serves (/metrics).
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/{$}", c.page("brokers", c.brokersData))
	mux.HandleFunc("GET /console/topics", c.page("topics", c.topicsData))
	mux.HandleFunc("GET /console/topics/{topic}", c.page("topic", c.topicData))
	mux.HandleFunc("GET /console/groups", c.page("groups", c.groupsData))
	mux.HandleFunc("GET /console/groups/{group}", c.page("group", c.groupData))
	mux.HandleFunc("GET /console/browse", c.page("browse", c.browseData))
	mux.HandleFunc("GET /console/produce", c.produceForm)
	mux.HandleFunc("POST /console/produce", c.produce)
	mux.HandleFunc("GET /console/api/throughput", c.throughput)
	sub, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(sub)))
}

// pageData is what every page template receives.
type pageData struct {
	Title       string
	WriteEnable bool
	Data        any
}

// page serves a template filled by load. A load error that is the caller's
// (ErrBadParam, unknown topic or group) is a 400 or 404; any other is the
// cluster's and a 502.
func (c *Console) page(name string, load func(ctx context.Context, r *http.Request) (string, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), c.cfg.Timeout)
		defer cancel()
		title, data, err := load(ctx, r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.render(w, http.StatusOK, name, pageData{Title: title, WriteEnable: c.cfg.WriteEnable, Data: data})
	}
}

// fail answers err with an error page of the right status: 400 for the
// caller's mistakes, 404 for what does not exist, 403 for what the broker
// does not let the console's principal see or do, 502 for everything else
// (the cluster did not answer as it should).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrBadParam):
		status = http.StatusBadRequest
	case errors.Is(err, ErrUnknownTopic), errors.Is(err, ErrUnknownGroup):
		status = http.StatusNotFound
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed):
		status = http.StatusForbidden
	default:
		c.log.Warn("console request failed", "path", r.URL.Path, "err", err)
	}
	c.render(w, status, "error", pageData{Title: http.StatusText(status), WriteEnable: c.cfg.WriteEnable, Data: err.Error()})
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, d pageData) {
	t := c.pages[name]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
