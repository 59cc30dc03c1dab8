package translate_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
)

// TestExecute covers the instruction executor: to, except, volatile,
// binary args, unknown namespaces and emits with acks.
func TestExecute(t *testing.T) {
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{Name: "/", OnConnect: "accept"}}})
	x := sc.tr.Executor()
	a := siotest.Dial(t, sc.url, "/", nil)
	b := siotest.Dial(t, sc.url, "/", nil)
	c := siotest.Dial(t, sc.url, "/", nil)
	ctx := context.Background()
	if n, err := x.Join(ctx, "/", []string{a.SID, b.SID}, []string{"team"}); err != nil || n != 2 {
		t.Fatalf("Join = %d, %v; want 2", n, err)
	}

	exec := func(js string) translate.Result {
		t.Helper()
		var in translate.Instruction
		if err := json.Unmarshal([]byte(js), &in); err != nil {
			t.Fatalf("instruction %s: %v", js, err)
		}
		res, err := x.Execute(ctx, &in, translate.ExecOptions{Count: true, WaitAcks: true})
		if err != nil {
			t.Fatalf("Execute(%s): %v", js, err)
		}
		return res
	}

	if r := exec(`{"event":"all","args":[1]}`); r.Recipients != 3 {
		t.Fatalf("recipients = %d, want 3", r.Recipients)
	}
	for _, cl := range []*siotest.Client{a, b, c} {
		args, _ := cl.WaitEvent("all")
		sameJSON(t, "all", args, `[1]`)
	}
	if r := exec(`{"namespace":"/","to":["team"],"except":["` + a.SID + `"],"event":"team","args":[{"x":{"_binary":"AAEC"}}]}`); r.Recipients != 1 {
		t.Fatalf("recipients = %d, want 1", r.Recipients)
	}
	args, p := b.WaitEvent("team")
	sameJSON(t, "binary arg", args, `[{"x":{"_placeholder":true,"num":0}}]`)
	if len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x00\x01\x02" {
		t.Fatalf("attachments = %q", p.Attachments)
	}
	// A volatile emit is dropped while the socket's transport is still
	// writing (as the reference drops it when the transport is not
	// writable), so send it until one lands; each try is followed by a
	// plain probe, which the connection delivers after any solo.
	landed := false
	for try := 0; try < 100 && !landed; try++ {
		if r := exec(`{"to":"` + c.SID + `","event":"solo","volatile":true}`); r.Recipients != 1 {
			t.Fatalf("recipients = %d, want 1", r.Recipients)
		}
		exec(`{"to":"` + c.SID + `","event":"probe"}`)
		for {
			p := c.Next()
			if p.Data == `["probe"]` {
				break
			}
			if p.Data != `["solo"]` {
				t.Fatalf("packet %+v, want solo or probe", p)
			}
			landed = true
		}
	}
	if !landed {
		t.Fatal("no volatile emit reached an idle socket in 100 tries")
	}
	// a and c got nothing else: the next event each sees is this one.
	exec(`{"event":"mark"}`)
	for _, cl := range []*siotest.Client{a, c} {
		p := cl.Next()
		if p.Type != '2' || p.Data != `["mark"]` {
			t.Fatalf("next packet = %+v, want the mark event", p)
		}
	}

	for _, bad := range []string{`{"event":""}`, `{"event":"connect"}`, `{"event":"e","args":[{"_binary":"@@"}]}`} {
		var in translate.Instruction
		_ = json.Unmarshal([]byte(bad), &in)
		if _, err := x.Execute(ctx, &in, translate.ExecOptions{}); !errors.Is(err, translate.ErrInvalidInstruction) {
			t.Fatalf("Execute(%s) = %v, want ErrInvalidInstruction", bad, err)
		}
	}
	in := translate.Instruction{Namespace: "/nowhere", Event: "e"}
	if _, err := x.Execute(ctx, &in, translate.ExecOptions{}); !errors.Is(err, translate.ErrUnknownNamespace) {
		t.Fatalf("Execute to /nowhere = %v, want ErrUnknownNamespace", err)
	}
}

// TestExecuteAccepted: Accepted is told the recipient count before the
// emit goes out, once, and never for an instruction that fails validation
// or for an emit that waits for acks.
func TestExecuteAccepted(t *testing.T) {
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{Name: "/", OnConnect: "accept"}}})
	x := sc.tr.Executor()
	a := siotest.Dial(t, sc.url, "/", nil)
	siotest.Dial(t, sc.url, "/", nil)
	tests := []struct {
		name     string
		ins      string
		waitAcks bool
		calls    []int // the recipient counts Accepted was given
		fails    bool
	}{
		{"to all", `{"event":"e"}`, false, []int{2}, false},
		{"to one", `{"to":["` + a.SID + `"],"event":"e"}`, false, []int{1}, false},
		{"invalid", `{"event":"connect"}`, false, nil, true},
		{"unknown namespace", `{"namespace":"/nowhere","event":"e"}`, false, nil, true},
		{"with acks", `{"to":["` + a.SID + `"],"event":"e","ack":{"timeout":"50ms"}}`, true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in translate.Instruction
			if err := json.Unmarshal([]byte(tt.ins), &in); err != nil {
				t.Fatal(err)
			}
			var calls []int
			_, err := x.Execute(context.Background(), &in, translate.ExecOptions{
				Count: true, WaitAcks: tt.waitAcks,
				Accepted: func(r translate.Result) { calls = append(calls, r.Recipients) },
			})
			if (err != nil) != tt.fails {
				t.Fatalf("Execute = %v, want failure %v", err, tt.fails)
			}
			if !slices.Equal(calls, tt.calls) {
				t.Fatalf("Accepted calls = %v, want %v", calls, tt.calls)
			}
		})
	}
}

// TestExecuteAcks: an emit with ack waits for each client; one slow
// client times out and is listed, the others' answers are returned.
func TestExecuteAcks(t *testing.T) {
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{Name: "/", OnConnect: "accept"}}})
	x := sc.tr.Executor()
	fast := siotest.Dial(t, sc.url, "/", nil)
	slow := siotest.Dial(t, sc.url, "/", nil)
	var in translate.Instruction
	if err := json.Unmarshal([]byte(`{"event":"q","args":["?"],"ack":{"timeout":"500ms"}}`), &in); err != nil {
		t.Fatal(err)
	}
	type out struct {
		res translate.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := x.Execute(context.Background(), &in, translate.ExecOptions{Count: true, WaitAcks: true})
		done <- out{res, err}
	}()
	_, p := fast.WaitEvent("q")
	if !p.HasID {
		t.Fatal("event with ack has no ack id")
	}
	fast.Send("43" + itoa(p.ID) + `["yes",{"n":1}]`)
	_ = slow // never answers
	var o out
	select {
	case o = <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Execute with ack never returned")
	}
	if o.err != nil || o.res.Recipients != 2 {
		t.Fatalf("Execute = %+v, %v", o.res, o.err)
	}
	if len(o.res.Acks) != 1 || o.res.Acks[0].Socket != fast.SID || !slices.Equal(o.res.Timeouts, []string{slow.SID}) {
		t.Fatalf("acks = %+v timeouts = %v; want the fast client's answer and the slow one timed out", o.res.Acks, o.res.Timeouts)
	}
	b, _ := json.Marshal(o.res.Acks[0].Args)
	sameJSON(t, "ack args", string(b), `["yes",{"n":1}]`)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
