package console_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Selectors the checks use.
const (
	countBrokers     = `document.querySelectorAll("#brokers tbody tr.broker").length`
	countControllers = `[...document.querySelectorAll("#brokers td.controller")].filter(e => e.textContent === "controller").length`
	countLeaders     = `[...document.querySelectorAll("#brokers td.role")].filter(e => e.textContent === "leader").length`
	countAlive       = `[...document.querySelectorAll("#brokers td.state")].filter(e => e.textContent === "alive").length`
	chartDrawn       = `(() => { const f = document.querySelector("figure.chart"); return Number(f.dataset.samples || 0) >= 3 && Number(f.dataset.last) > 0; })()`
)

// checkBrokers: every broker's console lists 3 alive brokers, exactly one
// controller and one Raft leader; broker 1's chart draws a rate.
func (f *consoleFixture) checkBrokers(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	for i, hs := range f.consoles {
		// Right after start-up a broker may briefly answer controller -1
		// while Raft settles; the page shows the broker's own view, so
		// reload until it names one.
		var got string
		f.c.WaitFor(fmt.Sprintf("console of broker %d to show 3 alive brokers, one controller, one Raft leader", i+1), 30*time.Second, func() bool {
			do(t, ctx, "brokers page", chromedp.Navigate(hs.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#brokers")))
			rows, ctrl, leaders, alive := eval[int](t, ctx, countBrokers), eval[int](t, ctx, countControllers), eval[int](t, ctx, countLeaders), eval[int](t, ctx, countAlive)
			racks := eval[string](t, ctx, `[...document.querySelectorAll("#brokers tr.broker td.rack")].map(e => e.textContent).join(" ")`)
			got = fmt.Sprintf("%d brokers (%d alive), %d controllers, %d raft leaders, racks %s", rows, alive, ctrl, leaders, racks)
			return rows == 3 && ctrl == 1 && leaders == 1 && alive == 3 && racks == "rack-a rack-b rack-c"
		})
		t.Logf("console of broker %d: %s", i+1, got)
	}
	stop := f.produceLoad(t)
	do(t, ctx, "throughput chart", chromedp.Navigate(f.consoles[0].URL+"/console/"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](chartDrawn)); err != nil {
		t.Fatalf("throughput chart never drew 3 rates, the last above 0: %v", err)
	}
	stop()
	do(t, ctx, "screenshot", s.shot("brokers"))
	t.Logf("brokers page: 3 brokers, chart shows %s records/s", text(t, ctx, "figure.chart .rate"))
}

// checkTopic: the topics list names orders; its page shows 3 partitions,
// each with ISR 1, 2, 3 and high watermark 10.
func (f *consoleFixture) checkTopic(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	do(t, ctx, "topics page", chromedp.Navigate(f.consoles[0].URL+"/console/topics"), chromedp.WaitVisible(chromedp.CSS("#topics")), s.shot("topics"))
	if n := eval[int](t, ctx, `[...document.querySelectorAll("#topics a")].filter(a => a.textContent === "orders").length`); n != 1 {
		t.Errorf("topics page lists orders %d times", n)
	}
	do(t, ctx, "topic page", chromedp.Click(`//table[@id="topics"]//a[text()="orders"]`), chromedp.WaitVisible(chromedp.CSS("#partitions")), s.shot("topic-orders"))
	isr := eval[[]string](t, ctx, `[...document.querySelectorAll("#partitions td.isr")].map(e => e.textContent)`)
	hw := eval[[]string](t, ctx, `[...document.querySelectorAll("#partitions td.hw")].map(e => e.textContent)`)
	if strings.Join(isr, "|") != "1, 2, 3|1, 2, 3|1, 2, 3" || strings.Join(hw, "|") != "10|10|10" {
		t.Errorf("topic page: ISR %q, high watermarks %q; want 3 × \"1, 2, 3\" and 3 × 10", isr, hw)
	}
}

// checkGroup: the groups list and the group page show billing's lag of 27.
func (f *consoleFixture) checkGroup(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	do(t, ctx, "groups page", chromedp.Navigate(f.consoles[1].URL+"/console/groups"), chromedp.WaitVisible(chromedp.CSS("#groups")), s.shot("groups"),
		chromedp.Click(`//table[@id="groups"]//a[text()="billing"]`), chromedp.WaitVisible(chromedp.CSS("#lag")), s.shot("group-billing"))
	total, state := text(t, ctx, "#total-lag"), text(t, ctx, "#state")
	rows, members := eval[int](t, ctx, `document.querySelectorAll("#lag tr.lag-row").length`), eval[int](t, ctx, `document.querySelectorAll("#members tbody tr").length`)
	if total != "27" || rows != 3 || state != "Stable" || members != 1 {
		t.Errorf("group page: total lag %q, %d lag rows, state %q, %d members; want 27, 3, Stable, 1", total, rows, state, members)
	}
}

// checkBrowse: the message browser, filled in like a user would, finds
// offset 4 of partition 1 (order 13) and shows its JSON value pretty-printed.
func (f *consoleFixture) checkBrowse(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	do(t, ctx, "message browser",
		chromedp.Navigate(f.consoles[2].URL+"/console/browse"),
		chromedp.WaitVisible(chromedp.CSS("#browse")),
		chromedp.SetValue(chromedp.CSS(`#browse input[name="topic"]`), "orders"),
		chromedp.SetValue(chromedp.CSS(`#browse input[name="partition"]`), "1"),
		chromedp.SetValue(chromedp.CSS(`#browse input[name="offset"]`), "4"),
		chromedp.SetValue(chromedp.CSS(`#browse input[name="n"]`), "3"),
		chromedp.Submit(chromedp.CSS(`#browse`)),
		chromedp.WaitVisible(chromedp.CSS(`#records tr.record`)),
		s.shot("browse-orders-1-offset-4"),
	)
	first := eval[string](t, ctx, `document.querySelector("#records tr.record").dataset.offset`)
	value := eval[string](t, ctx, `document.querySelector("#records tr.record td.value pre").textContent`)
	if first != "4" || !strings.Contains(value, "\"order\": 13,\n") {
		t.Errorf("browser: first offset %q, value %q; want offset 4 holding order 13, pretty-printed", first, value)
	}
}

// checkProduce: the produce form adds a record to partition 2, which the
// browser then finds at offset 10.
func (f *consoleFixture) checkProduce(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	do(t, ctx, "produce form",
		chromedp.Navigate(f.consoles[0].URL+"/console/produce"),
		chromedp.WaitVisible(chromedp.CSS("#produce")),
		chromedp.SetValue(chromedp.CSS(`#produce input[name="topic"]`), "orders"),
		chromedp.SetValue(chromedp.CSS(`#produce input[name="partition"]`), "2"),
		chromedp.SetValue(chromedp.CSS(`#produce input[name="key"]`), "from-browser"),
		chromedp.SetValue(chromedp.CSS(`#produce textarea[name="value"]`), `{"made":"in chromium"}`),
		chromedp.Submit(chromedp.CSS(`#produce`)),
		chromedp.WaitVisible(chromedp.CSS("#done")),
		s.shot("produce"),
	)
	done := text(t, ctx, "#done")
	do(t, ctx, "read back", chromedp.Click(chromedp.CSS("#view")), chromedp.WaitVisible(chromedp.CSS(`#records tr.record`)))
	value := eval[string](t, ctx, `document.querySelector("#records tr.record td.value pre").textContent`)
	if done != "produced at orders/2@10" || !strings.Contains(value, `"made": "in chromium"`) {
		t.Errorf("produce: %q, record read back %q", done, value)
	}
}

// produceLoad produces to topic "load" until the returned function is
// called (which waits for the producer to stop), so the chart has
// something to draw.
func (f *consoleFixture) produceLoad(t *testing.T) (stop func()) {
	t.Helper()
	cl := f.c.Client()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.ProduceSync(ctx, &kgo.Record{Topic: "load", Value: []byte("tick")})
		}
	}()
	return func() {
		cancel()
		<-done
		cl.Close()
	}
}

// checkFenced: with broker 3 stopped, broker 1's console shows it fenced
// and the other two alive.
func (f *consoleFixture) checkFenced(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	f.c.Stop(3)
	var got string
	f.c.WaitFor("broker 1's console to show broker 3 fenced", 30*time.Second, func() bool {
		do(t, ctx, "brokers page", chromedp.Navigate(f.consoles[0].URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#brokers")))
		got = eval[string](t, ctx, `[...document.querySelectorAll("#brokers tr.broker")].map(r => r.dataset.id + ":" + r.querySelector("td.state").textContent).join(" ")`)
		return got == "1:alive 2:alive 3:fenced"
	})
	do(t, ctx, "screenshot", s.shot("brokers-one-fenced"))
	t.Logf("brokers page after stopping broker 3: %s", got)
}

// checkReassigning: with broker 3 down, a partition reassigned onto it
// cannot finish; its topic page says so and shows broker 3 being added.
func (f *consoleFixture) checkReassigning(t *testing.T, ctx context.Context, s *shooter) {
	t.Helper()
	actx := ctxFor(t, 30*time.Second)
	adm := f.c.Admin()
	if _, err := adm.CreateTopic(actx, 1, 1, nil, "moving"); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatal(err)
	}
	var leader int32 = -1
	f.c.WaitFor("moving has a leader", 10*time.Second, func() bool {
		tds, err := adm.ListTopics(actx, "moving")
		if err == nil && len(tds["moving"].Partitions) == 1 {
			leader = tds["moving"].Partitions[0].Leader
		}
		return leader > 0
	})
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("moving", 0, []int32{leader, 3})
	if rs, err := adm.AlterPartitionAssignments(actx, req); err != nil || rs["moving"][0].Err != nil {
		t.Fatalf("reassign moving onto stopped broker 3: %v %+v", err, rs)
	}
	do(t, ctx, "topic page", chromedp.Navigate(f.consoles[0].URL+"/console/topics/moving"), chromedp.WaitVisible(chromedp.CSS("#reassigning")), s.shot("topic-reassigning"))
	if got := text(t, ctx, "#partitions td.reassignment"); got != "adding 3" {
		t.Errorf("reassignment column %q, want \"adding 3\"", got)
	}
}
