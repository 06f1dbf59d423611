package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/strombroker/strom/internal/cluster"
	"github.com/strombroker/strom/internal/console"
	"github.com/strombroker/strom/internal/server"
)

// secured makes the broker's listener SASL_PLAINTEXT (PLAIN users "broker",
// a super user, and "console") with the authorizer on and nothing allowed
// without an ACL.
func secured(cfg *server.Config) {
	cfg.ListenerSecurityProtocols = map[string]string{"PLAINTEXT": "SASL_PLAINTEXT"}
	cfg.SASL.InterBrokerMechanism = "PLAIN"
	cfg.SASL.JAAS = map[string]string{"": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
		`username="broker" password="b-secret" user_broker="b-secret" user_console="c-secret";`}
	cfg.Authorizer = server.AuthorizerStandard
	cfg.SuperUsers = []string{"User:broker"}
	cfg.AllowEveryoneIfNoACLFound = false
}

// TestConsoleRespectsSecurity: the console is a client like any other. On
// a SASL listener without credentials it gets nothing (502, no data); as
// the principal its client options name it sees what that principal's ACLs
// allow: topic "visible" and its records, not topic "hidden" (403).
func TestConsoleRespectsSecurity(t *testing.T) {
	c := cluster.New(t, 1, secured)
	super := kgo.SASL(plain.Auth{User: "broker", Pass: "b-secret"}.AsMechanism())
	ctx := ctxFor(t, 30*time.Second)
	adm := kadm.NewClient(c.Client(super))
	for _, topic := range []string{"visible", "hidden"} {
		if r, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil || r.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, r.Err)
		}
	}
	acls := kadm.NewACLs().Allow("User:console").Topics("visible").Operations(kadm.OpDescribe, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acls); err != nil || res[0].Err != nil {
		t.Fatalf("create ACLs: %v %v", err, res)
	}
	cl := c.Client(super)
	defer cl.Close()
	for _, topic := range []string{"visible", "hidden"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("secret-of-" + topic)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	anon := serveWith(t, console.Config{Seeds: []string{c.Brokers[0].Addr()}, Timeout: 3 * time.Second})
	if code, body := get(t, anon, "/console/topics"); code != http.StatusBadGateway || strings.Contains(body, "visible") {
		t.Errorf("console without credentials: %d, lists visible %v", code, strings.Contains(body, "visible"))
	}
	as := serveWith(t, console.Config{Seeds: []string{c.Brokers[0].Addr()}, ClientOpts: []kgo.Opt{kgo.SASL(plain.Auth{User: "console", Pass: "c-secret"}.AsMechanism())}})
	code, body := get(t, as, "/console/topics")
	if code != http.StatusOK || !strings.Contains(body, ">visible<") || strings.Contains(body, "hidden") {
		t.Errorf("console as User:console: %d, lists visible %v, lists hidden %v", code, strings.Contains(body, ">visible<"), strings.Contains(body, "hidden"))
	}
	if code, body := get(t, as, "/console/browse?topic=visible&offset=0"); code != http.StatusOK || !strings.Contains(body, "secret-of-visible") {
		t.Errorf("browse visible: %d\n%s", code, body)
	}
	code, body = get(t, as, "/console/browse?topic=hidden&offset=0")
	if code != http.StatusForbidden || strings.Contains(body, "secret-of-hidden") {
		t.Errorf("browse hidden: %d, shows its record %v", code, strings.Contains(body, "secret-of-hidden"))
	}
}
